import type { JetStreamManager, StreamConfig, StreamInfo } from '@nats-io/jetstream';
import { configDrift, type Drift } from './streamConfig.ts';

export interface EnsuredStream {
  info: StreamInfo;
  created: boolean;
  /** Differences between the checked-in config and the live stream: reported, never silently applied. */
  drift: Drift[];
  /** The stream's incarnation: a cursor from another epoch is never trusted. */
  epoch: string;
}

export function epochOf(info: StreamInfo): string {
  return info.created;
}

export async function ensureStream(jsm: JetStreamManager, config: StreamConfig): Promise<EnsuredStream> {
  let info: StreamInfo;
  let created = false;
  try {
    info = await jsm.streams.info(config.name);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    try {
      info = await jsm.streams.add(config);
      created = true;
    } catch (addError) {
      // Another process created it between our info and add: theirs is as good as ours.
      if (!String((addError as Error).message).includes('already in use')) throw addError;
      info = await jsm.streams.info(config.name);
    }
  }
  return { info, created, drift: configDrift(config, info.config), epoch: epochOf(info) };
}

export function isNotFound(error: unknown): boolean {
  const e = error as { code?: unknown; message?: string; api_error?: { err_code?: number } };
  return (
    e?.api_error?.err_code === 10059 ||
    e?.api_error?.err_code === 10014 ||
    /not found/i.test(e?.message ?? '')
  );
}
