/**
 * The one cookie the API uses, without a cookie plugin: @fastify/cookie adds a parsing hook and an onSend hook
 * to every request, and only two routes set a cookie.
 */
export const SESSION_COOKIE = 'ghostnet_session';

/** The value of cookie `name` in a Cookie header, or null. */
export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value);
      } catch {
        return null;
      }
    }
  }
  return null;
}

/** httpOnly, Secure, SameSite=Strict: never readable by scripts, never sent cross-site or over plain HTTP. */
export function sessionCookie(token: string, expiresAt: number): string {
  return `${SESSION_COOKIE}=${encodeURIComponent(token)}; Path=/; Expires=${new Date(expiresAt).toUTCString()}; HttpOnly; Secure; SameSite=Strict`;
}

export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly; Secure; SameSite=Strict`;
}
