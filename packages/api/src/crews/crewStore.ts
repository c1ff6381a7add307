import { type DatabasePool, sql } from '@ghostnet/db';
import type { CrewEventType } from '@ghostnet/events';
import { type DatabaseTransactionConnection, UniqueIntegrityConstraintViolationError } from 'slonik';
import { z } from 'zod';
import { ApiError } from '../http/errors.ts';
import { enqueueAppEvent } from '../outbox/outbox.ts';
import { CrewRole, MAX_CREW_MEMBERS, shortAddress } from './rules.ts';

export const CrewRow = z.object({
  id: z.string().uuid(),
  name: z.string(),
  tag: z.string(),
  description: z.string(),
  created_by: z.string(),
  created_at: z.number(),
  member_count: z.number(),
});
export type CrewRow = z.infer<typeof CrewRow>;

export const MemberRow = z.object({
  address: z.string(),
  crew_id: z.string(),
  role: CrewRole,
  joined_at: z.number(),
});
export type MemberRow = z.infer<typeof MemberRow>;

export interface CrewStoreOptions {
  pool: DatabasePool;
  chainId: number;
  /** Runs after every commit that wrote outbox rows (wakes the publisher; the crash test hook lives here). */
  afterCommit?: () => void;
}

const crewColumns = sql.fragment`id, name, tag, description, created_by, created_at, member_count`;

/**
 * Crew changes. Every rule is the database's: the unique index on lower(name) and the primary key on the
 * member's address decide races, the crew row's lock serializes joins and leaves of one crew, and the crew
 * event describing the change is written to the outbox in the same transaction.
 */
const RoleRow = z.object({ role: CrewRole });
const AddressRow = z.object({ address: z.string() });
const MembershipRow = MemberRow.extend({ crew_name: z.string(), crew_tag: z.string() });

export class CrewStore {
  readonly #pool: DatabasePool;
  readonly #chainId: number;
  readonly #afterCommit: () => void;

  constructor(options: CrewStoreOptions) {
    this.#pool = options.pool;
    this.#chainId = options.chainId;
    this.#afterCommit = options.afterCommit ?? (() => {});
  }

  async create(input: { address: string; name: string; tag: string; description: string }): Promise<CrewRow> {
    const crew = await this.#write(async (tx) => {
      const row = await tx.one(sql.type(CrewRow)`
        INSERT INTO api_crews (name, tag, description, created_by, member_count)
        VALUES (${input.name}, ${input.tag}, ${input.description}, ${input.address}, 1)
        RETURNING ${crewColumns}`);
      await tx.query(sql.unsafe`
        INSERT INTO api_crew_members (address, crew_id, role) VALUES (${input.address}, ${row.id}, 'leader')`);
      await this.#event(
        tx,
        row,
        'CREATED',
        input.address,
        `${shortAddress(input.address)} founded ${row.name}`,
      );
      return row;
    });
    return crew;
  }

  async join(crewId: string, address: string): Promise<void> {
    await this.#write(async (tx) => {
      const crew = await this.#lockCrew(tx, crewId);
      if (crew.member_count >= MAX_CREW_MEMBERS) {
        throw new ApiError(409, 'CREW_FULL', `crew has ${MAX_CREW_MEMBERS} members`);
      }
      await tx.query(sql.unsafe`
        INSERT INTO api_crew_members (address, crew_id, role) VALUES (${address}, ${crew.id}, 'member')`);
      await tx.query(sql.unsafe`UPDATE api_crews SET member_count = member_count + 1 WHERE id = ${crew.id}`);
      await this.#event(tx, crew, 'JOINED', address, `${shortAddress(address)} joined ${crew.name}`);
    });
  }

  /** Leaves; a leaving leader hands over to the longest-standing officer, else member; the last one dissolves. */
  async leave(crewId: string, address: string): Promise<{ dissolved: boolean; newLeader: string | null }> {
    return this.#write(async (tx) => {
      const crew = await this.#lockCrew(tx, crewId);
      const role = await tx.maybeOneFirst(sql.type(RoleRow)`
        DELETE FROM api_crew_members WHERE address = ${address} AND crew_id = ${crew.id} RETURNING role`);
      if (!role) throw new ApiError(409, 'NOT_A_MEMBER', 'you are not a member of this crew');
      await this.#event(tx, crew, 'LEFT', address, `${shortAddress(address)} left ${crew.name}`);
      if (crew.member_count <= 1) {
        await tx.query(sql.unsafe`DELETE FROM api_crews WHERE id = ${crew.id}`);
        await this.#event(tx, crew, 'DISSOLVED', address, `${crew.name} dissolved`);
        return { dissolved: true, newLeader: null };
      }
      await tx.query(sql.unsafe`UPDATE api_crews SET member_count = member_count - 1 WHERE id = ${crew.id}`);
      if (role !== 'leader') return { dissolved: false, newLeader: null };
      const successor = await tx.oneFirst(sql.type(AddressRow)`
        UPDATE api_crew_members SET role = 'leader'
        WHERE address = (
          SELECT address FROM api_crew_members WHERE crew_id = ${crew.id}
          ORDER BY (role = 'officer') DESC, joined_at, join_order LIMIT 1)
        RETURNING address`);
      await this.#event(
        tx,
        crew,
        'LEADER_CHANGED',
        successor,
        `${shortAddress(successor)} now leads ${crew.name}`,
      );
      return { dissolved: false, newLeader: successor };
    });
  }

  /** The leader promotes a member to officer or demotes an officer. */
  async setRole(crewId: string, leader: string, member: string, role: 'officer' | 'member'): Promise<void> {
    await this.#write(async (tx) => {
      const crew = await this.#lockCrew(tx, crewId);
      const callerRole = await tx.maybeOneFirst(sql.type(RoleRow)`
        SELECT role FROM api_crew_members WHERE address = ${leader} AND crew_id = ${crew.id}`);
      if (callerRole !== 'leader') throw new ApiError(403, 'NOT_LEADER', 'only the leader changes roles');
      if (member === leader) throw new ApiError(409, 'IS_LEADER', 'the leader keeps the lead until leaving');
      const updated = await tx.maybeOneFirst(sql.type(AddressRow)`
        UPDATE api_crew_members SET role = ${role}
        WHERE address = ${member} AND crew_id = ${crew.id} RETURNING address`);
      if (!updated) throw new ApiError(404, 'MEMBER_NOT_FOUND', 'no such member in this crew');
    });
  }

  async get(crewId: string): Promise<{ crew: CrewRow; members: MemberRow[] } | null> {
    const crew = await this.#pool.maybeOne(
      sql.type(CrewRow)`SELECT ${crewColumns} FROM api_crews WHERE id = ${crewId}`,
    );
    if (!crew) return null;
    const members = await this.#pool.any(sql.type(MemberRow)`
      SELECT address, crew_id, role, joined_at FROM api_crew_members WHERE crew_id = ${crewId}
      ORDER BY CASE role WHEN 'leader' THEN 0 WHEN 'officer' THEN 1 ELSE 2 END, joined_at, join_order`);
    return { crew, members: [...members] };
  }

  async membershipOf(address: string): Promise<(MemberRow & { crew_name: string; crew_tag: string }) | null> {
    return this.#pool.maybeOne(sql.type(MembershipRow)`
      SELECT m.address, m.crew_id, m.role, m.joined_at, c.name AS crew_name, c.tag AS crew_tag
      FROM api_crew_members m JOIN api_crews c ON c.id = m.crew_id WHERE m.address = ${address}`);
  }

  async #lockCrew(tx: DatabaseTransactionConnection, crewId: string): Promise<CrewRow> {
    const crew = await tx.maybeOne(sql.type(CrewRow)`
      SELECT ${crewColumns} FROM api_crews WHERE id = ${crewId} FOR UPDATE`);
    if (!crew) throw new ApiError(404, 'CREW_NOT_FOUND', 'no such crew');
    return crew;
  }

  async #event(
    tx: DatabaseTransactionConnection,
    crew: CrewRow,
    eventType: CrewEventType,
    address: string,
    message: string,
  ): Promise<void> {
    await enqueueAppEvent(tx, {
      chainId: this.#chainId,
      name: 'CrewEvent',
      args: { crewId: crew.id, crewName: crew.name, eventType, address, message },
    });
  }

  async #write<T>(work: (tx: DatabaseTransactionConnection) => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await this.#pool.transaction(work);
    } catch (error) {
      throw translate(error);
    }
    this.#afterCommit();
    return result;
  }
}

function translate(error: unknown): unknown {
  if (error instanceof UniqueIntegrityConstraintViolationError) {
    if (error.constraint === 'api_crews_name_ci') {
      return new ApiError(409, 'CREW_NAME_TAKEN', 'a crew with this name exists (names ignore case)');
    }
    if (error.constraint === 'api_crew_members_pkey') {
      return new ApiError(409, 'ALREADY_IN_CREW', 'you are already in a crew: leave it first');
    }
  }
  return error;
}
