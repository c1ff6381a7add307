import { ConfigError } from '@ghostnet/config';
import { describe, expect, it } from 'vitest';
import { projectorEnv } from './env.ts';

const base = { DATABASE_URL: 'postgres://p@db.example/ghostnet', CHAIN_ID: '31337' };

describe('projector env', () => {
  it('wants the epoch of the stream a derived start sequence belongs to', () => {
    expect(() => projectorEnv({ ...base, DERIVED_FROM_SEQUENCE: '5000' })).toThrow(ConfigError);
    expect(() => projectorEnv({ ...base, DERIVED_FROM_SEQUENCE: '5000' })).toThrow(
      /DERIVED_FROM_EPOCH: required with DERIVED_FROM_SEQUENCE/,
    );
    const epoch = '2026-12-01T10:00:00.123456789Z';
    expect(projectorEnv({ ...base, DERIVED_FROM_SEQUENCE: '5000', DERIVED_FROM_EPOCH: epoch })).toMatchObject(
      {
        DERIVED_FROM_SEQUENCE: 5000,
        DERIVED_FROM_EPOCH: epoch,
      },
    );
    expect(projectorEnv(base).DERIVED_FROM_SEQUENCE).toBe(0);
  });

  it('prepares statements unless told not to (a pooler in transaction mode)', () => {
    expect(projectorEnv(base).PROJECTOR_PREPARE_STATEMENTS).toBe(true);
    expect(
      projectorEnv({ ...base, PROJECTOR_PREPARE_STATEMENTS: 'false' }).PROJECTOR_PREPARE_STATEMENTS,
    ).toBe(false);
  });
  it('runs every projection unless PROJECTOR_PROJECTIONS names some, and refuses a name it does not know', () => {
    expect(projectorEnv(base).PROJECTOR_PROJECTIONS).toEqual([
      'feed',
      'game',
      'scans',
      'leaderboards',
      'crews',
    ]);
    expect(
      projectorEnv({ ...base, PROJECTOR_PROJECTIONS: 'game, leaderboards' }).PROJECTOR_PROJECTIONS,
    ).toEqual(['game', 'leaderboards']);
    expect(() => projectorEnv({ ...base, PROJECTOR_PROJECTIONS: 'game,leaderbords' })).toThrow(
      /PROJECTOR_PROJECTIONS: unknown projection 'leaderbords' \(known: /,
    );
    // Empty is unset, as for every variable; an empty name in a list is not.
    expect(projectorEnv({ ...base, PROJECTOR_PROJECTIONS: '' }).PROJECTOR_PROJECTIONS).toHaveLength(5);
    expect(() => projectorEnv({ ...base, PROJECTOR_PROJECTIONS: 'game,' })).toThrow(/unknown projection ''/);
    expect(() => projectorEnv({ ...base, PROJECTOR_PROJECTIONS: 'game,game' })).toThrow(/named twice: game/);
  });
});
