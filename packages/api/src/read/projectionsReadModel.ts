import { type DatabasePool, sql } from '@ghostnet/db';
import { ActiveBoost, type LevelName } from '@ghostnet/events';
import {
  readConsistent,
  readCrewStats,
  readLeaderboard,
  readLevelStats,
  readNetworkState,
  readPosition,
  readRecentFeed,
  readUser,
  readUserHistory,
} from '@ghostnet/projections';
import type { DatabasePoolConnection } from 'slonik';
import { z } from 'zod';
import { Batcher } from './batcher.ts';
import type { ConnectionLanes } from './connectionLanes.ts';
import type { Membership, Profile, ReadModel } from './readModel.ts';

const ProfileRow = z.object({
  player: z.string(),
  first_seen_at: z.number().nullable(),
  positions_count: z.number().nullable(),
  total_staked: z.string().nullable(),
  total_extracted: z.string().nullable(),
  total_principal_extracted: z.string().nullable(),
  total_lost: z.string().nullable(),
  ghost_streak_best: z.number().nullable(),
  position_id: z.string().nullable(),
  level: z.string().nullable(),
  amount: z.string().nullable(),
  entry_at: z.number().nullable(),
  ghost_streak: z.number().nullable(),
  next_scan_at: z.number().nullable(),
  earned: z.string().nullable(),
  boosts: z.array(ActiveBoost).nullable(),
  crew_id: z.string().nullable(),
  crew_name: z.string().nullable(),
  crew_tag: z.string().nullable(),
  role: z.enum(['leader', 'officer', 'member']).nullable(),
  joined_at: z.number().nullable(),
});

const MembershipRow = z.object({
  crew_id: z.string(),
  crew_name: z.string(),
  crew_tag: z.string(),
  role: z.enum(['leader', 'officer', 'member']),
  joined_at: z.number(),
});

async function membershipOf(pool: DatabasePool, address: string): Promise<Membership | null> {
  const row = await pool.maybeOne(sql.type(MembershipRow)`
    SELECT m.crew_id, c.name AS crew_name, c.tag AS crew_tag, m.role, m.joined_at
    FROM api_crew_members m JOIN api_crews c ON c.id = m.crew_id WHERE m.address = ${address}`);
  return (
    row && {
      crewId: row.crew_id,
      crewName: row.crew_name,
      crewTag: row.crew_tag,
      role: row.role,
      joinedAt: row.joined_at,
    }
  );
}

type ProfileRow = z.infer<typeof ProfileRow>;

/** The API's busiest read, as a plain query: several players at once. */
const profilesQuery = (addresses: readonly string[]) =>
  sql.type(ProfileRow)`SELECT * FROM api_profiles(${sql.array([...addresses], 'text')})`;

type Lane = Pick<DatabasePoolConnection, 'any'>;
const statementNames = new WeakMap<Lane, string>();
let statements = 0;

/**
 * The profiles on a held lane, as a named prepared statement: Postgres parses and plans the call once per
 * connection instead of on every request (Postgres CPU per call 221 → 141 µs, pgbench on a 2-core VM). Never
 * through the pool: slonik runs DISCARD ALL when it takes a connection back, which drops the statement while
 * pg still believes it prepared. So each lane (a connection as long as it is held) gets a name of its own, and
 * a stale statement is answered with the plain query and prepared again under a new name.
 */
async function profilesOnLane(db: Lane, addresses: readonly string[]): Promise<readonly ProfileRow[]> {
  let name = statementNames.get(db);
  if (!name) {
    name = `api_profiles_${++statements}`;
    statementNames.set(db, name);
  }
  try {
    return await db.any(
      sql.prepared(name, ProfileRow)`SELECT * FROM api_profiles(${sql.array([...addresses], 'text')})`,
    );
  } catch (error) {
    // Dropped under pg's feet, or the function's result type changed by a migration while we run.
    const stale = /prepared statement .* does not exist|cached plan must not change result type/;
    if (!stale.test(String((error as Error)?.message ?? error))) throw error;
    statementNames.delete(db);
    return db.any(profilesQuery(addresses));
  }
}

function toProfile(row: ProfileRow): Profile {
  const address = row.player;
  return {
    user:
      row.first_seen_at === null
        ? null
        : {
            address,
            createdAt: row.first_seen_at,
            positionsCount: row.positions_count!,
            totalStaked: row.total_staked!,
            totalExtracted: row.total_extracted!,
            totalPrincipalExtracted: row.total_principal_extracted!,
            totalLost: row.total_lost!,
            ghostStreakBest: row.ghost_streak_best!,
          },
    position:
      row.position_id === null
        ? null
        : {
            id: row.position_id,
            address,
            level: row.level as LevelName,
            stakedAmount: row.amount!,
            entryTimestamp: row.entry_at!,
            earnedYield: row.earned!,
            ghostStreak: row.ghost_streak!,
            nextScanTimestamp: row.next_scan_at,
            boosts: row.boosts!,
          },
    crew:
      row.crew_id === null
        ? null
        : {
            crewId: row.crew_id,
            crewName: row.crew_name!,
            crewTag: row.crew_tag!,
            role: row.role!,
            joinedAt: row.joined_at!,
          },
  };
}

function isMissingRelation(error: unknown): boolean {
  return /relation .* does not exist|42P01/.test(String((error as { message?: string })?.message ?? error));
}

const READ = ['game', 'feed', 'leaderboards', 'crews'] as const;

/** The ReadModel over @ghostnet/projections' readers. */
export function createProjectionsReadModel(
  pool: DatabasePool,
  options: {
    tvlCapacity?: string;
    lanes?: ConnectionLanes;
    /**
     * Profile reads wait for the one in flight and go out together (Batcher); after this long they go out
     * beside it (ms).
     */
    profilePatienceMs?: number;
  } = {},
): ReadModel {
  const lanes = options.lanes;
  // One call (api_profiles, migration 0108: a join over the projector's live views, whose README says "use them
  // for joins", with its plan cached) instead of readUser + readPosition (two snapshot transactions) + a
  // membership query: this is the API's busiest database read. A parity test keeps it equal to
  // readUser/readPosition.
  const profiles = new Batcher<Profile>(
    async (addresses) => {
      try {
        const rows = lanes
          ? await lanes.run((db) =>
              db === pool ? db.any(profilesQuery(addresses)) : profilesOnLane(db, addresses),
            )
          : await pool.any(profilesQuery(addresses));
        return new Map(rows.map((row) => [row.player, toProfile(row)]));
      } catch (error) {
        // No generation published yet (or one switching over right now): the readers know how to wait.
        if (!isMissingRelation(error)) throw error;
        const each = await Promise.all(
          addresses.map(async (address) => {
            const [user, position, crew] = await Promise.all([
              readUser(pool, address),
              readPosition(pool, address),
              membershipOf(pool, address),
            ]);
            return [address, { user: user.user, position: position.position, crew }] as const;
          }),
        );
        return new Map(each);
      }
    },
    { maxInFlight: 4, maxBatch: 64, patienceMs: options.profilePatienceMs ?? 5, maxQueued: 1_024 },
  );
  return {
    checkpoint: () =>
      readConsistent(pool, READ, async (ctx) =>
        READ.map((p) => {
          const g = ctx.active.get(p);
          return g ? `${g.schema}@${g.sequence}` : `${p}:none`;
        }).join(','),
      ),
    user: async (address) => (await readUser(pool, address)).user,
    profile: (address) => profiles.load(address),
    position: async (address) => (await readPosition(pool, address)).position,
    history: (address, page) => readUserHistory(pool, address, page),
    leaderboard: (query) => readLeaderboard(pool, query),
    levelStats: () => readLevelStats(pool),
    networkState: () => readNetworkState(pool, { tvlCapacity: options.tvlCapacity }),
    recentFeed: (page) => readRecentFeed(pool, page),
    crewStats: (query) => readCrewStats(pool, query),
  };
}
