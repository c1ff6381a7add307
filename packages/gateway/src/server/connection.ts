import type { WebSocket } from 'uWebSockets.js';
import type { ClientFrame } from '@ghostnet/client/protocol';

/**
 * Where a socket is in the protocol:
 * new → (AUTH) authenticating → authenticated → (RECONNECT) resuming → live → closed.
 * An anonymous socket (when the public feed is allowed) goes from new straight to resuming.
 */
export type Phase = 'new' | 'authenticating' | 'authenticated' | 'resuming' | 'live' | 'closed';

/** Per-socket state, kept small: it is most of what an idle connection costs. */
export interface Connection {
  id: number;
  phase: Phase;
  address: string | null;
  /** Token expiry, Unix ms (0 for anonymous). */
  expiresAt: number;
  /** sha-256 (hex) of the session token, to find it among logged-out sessions. */
  tokenHash: string | null;
  openedAt: number;
  /** A token from the session cookie on the upgrade request, verified at open. */
  cookieToken: string | null;
  /** A handler is awaiting something; frames that arrive meanwhile wait in `queue`, in order. */
  busy: boolean;
  queue: ClientFrame[] | null;
  errors: number;
  /** Holds a connection-limit lease. */
  leased: boolean;
  /** Extra send-buffer allowance after a large REPLAY/FULL_SYNC, until the socket has drained it. */
  allowance: number;
  /** PINGs this socket may still have answered now, and when that was computed (Unix ms). */
  pingTokens: number;
  pingAt: number;
  ws: WebSocket<Connection> | null;
}

export function newConnection(id: number, cookieToken: string | null, now: number): Connection {
  return {
    id,
    phase: 'new',
    address: null,
    expiresAt: 0,
    tokenHash: null,
    openedAt: now,
    cookieToken,
    busy: false,
    queue: null,
    errors: 0,
    leased: false,
    allowance: 0,
    // Full at the first PING: the bucket refills from time 0.
    pingTokens: 0,
    pingAt: 0,
    ws: null,
  };
}

/** `name=value` from a Cookie header, or null. */
export function readCookie(header: string, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(value);
      } catch {
        return value;
      }
    }
  }
  return null;
}
