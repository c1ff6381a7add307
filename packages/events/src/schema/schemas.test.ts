import { encodeTestLog } from '@ghostnet/test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { ghostCoreEventsAbi, traceScanEventsAbi } from '../abi/index.ts';
import { createLogDecoder } from '../decode/index.ts';
import { toFeedEvents } from '../frontend/index.ts';
import { eventSchemas } from './entries.ts';
import { SCHEMAS_DIR, staleSchemas } from './files.ts';
import { renderSchema } from './jsonSchema.ts';

const decode = createLogDecoder({
  chainId: 31337,
  addresses: { GhostCore: `0x${'01'.repeat(20)}`, TraceScan: `0x${'02'.repeat(20)}` },
});

function allEnvelopes() {
  return [
    ...ghostCoreEventsAbi.map((e) => ({ e, address: `0x${'01'.repeat(20)}` })),
    ...traceScanEventsAbi.map((e) => ({ e, address: `0x${'02'.repeat(20)}` })),
  ].map(({ e, address }) =>
    decode(encodeTestLog(e, address), {
      blockTimestampMs: 1_700_000_000_000,
      txFrom: `0x${'03'.repeat(20)}`,
      observedAt: 1_700_000_000_001,
      enrichment:
        e.name === 'DeathsSubmitted'
          ? { victims: [{ address: `0x${'04'.repeat(20)}`, amountLost: '5' }] }
          : e.name === 'ScanFinalized'
            ? { survivors: '3' }
            : undefined,
    }),
  );
}

describe('schemas/', () => {
  it('is in sync with the zod sources (run `npm run schemas` when this fails)', () => {
    expect(staleSchemas(eventSchemas)).toEqual([]);
  });

  it('validates every decoded envelope, and the feed events made from them', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const load = (id: string) => ajv.compile(JSON.parse(renderSchema(id, eventSchemas[id]!)));
    const message = load('stream-message');
    const feed = load('feed-event');
    const envelopes = allEnvelopes();
    expect(envelopes).toHaveLength(13);
    for (const envelope of envelopes) {
      expect(message(envelope), JSON.stringify(message.errors)).toBe(true);
      for (const event of toFeedEvents(envelope)) expect(feed(event), JSON.stringify(feed.errors)).toBe(true);
    }
  });

  it('rejects what the zod schema rejects: an uppercase address', () => {
    const ajv = new Ajv2020({ strict: false });
    const validate = ajv.compile(JSON.parse(renderSchema('chain-envelope', eventSchemas['chain-envelope']!)));
    const [envelope] = allEnvelopes();
    expect(validate(envelope)).toBe(true);
    expect(validate({ ...envelope, address: `0x${'AB'.repeat(20)}` })).toBe(false);
    expect(SCHEMAS_DIR.endsWith('/schemas/')).toBe(true);
  });
});
