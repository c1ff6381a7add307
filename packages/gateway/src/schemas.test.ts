import { ServerFrame } from '@ghostnet/client/protocol';
import { renderSchema } from '@ghostnet/events';
import { staleSchemas } from '@ghostnet/events/schema-files';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { framesOf, replayFrame } from './feed/frames.ts';
import { gatewaySchemas } from './schemas.ts';
import { addressOf, deathsSubmitted, jackedIn, reorgNotice } from './test/envelopes.ts';

describe('gateway schemas/', () => {
  it('are in sync with the zod sources (run `npm run schemas -w @ghostnet/gateway` when this fails)', () => {
    expect(staleSchemas(gatewaySchemas)).toEqual([]);
  });

  it('accept the frames the gateway actually sends, and the zod schema agrees', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const validate = ajv.compile(
      JSON.parse(renderSchema('gateway-server-frame', gatewaySchemas['gateway-server-frame']!)),
    );
    const frames = [
      ...framesOf(7, jackedIn(31337, addressOf(1), { amount: '9000000000000000000000' })),
      ...framesOf(8, deathsSubmitted(31337, [addressOf(2), addressOf(3)])),
      ...framesOf(9, reorgNotice(31337, [7])),
    ];
    expect(frames).toHaveLength(5);
    const all = [...frames, replayFrame(6, 9, '2026-01-01T00:00:00Z', frames)].map((f) => JSON.parse(f));
    for (const frame of all) {
      expect(validate(frame), JSON.stringify(validate.errors)).toBe(true);
      expect(ServerFrame.safeParse(frame).success).toBe(true);
    }
    expect(validate({ type: 'FEED_EVENT', sequenceId: 1, index: 0, count: 0, event: {} })).toBe(false);
  });
});
