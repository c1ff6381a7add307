-- Crews (off-chain). The rules are the database's, so that they hold under any concurrency and across
-- instances: case-insensitive unique names, one crew per player (crew_members.address is the key), at most 50
-- members (member_count is kept under the crew row's lock and checked), exactly one leader per crew.
CREATE TABLE api_crews (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL CHECK (name ~ '^[A-Za-z0-9]+( [A-Za-z0-9]+)*$' AND char_length(name) BETWEEN 3 AND 24),
  tag text NOT NULL CHECK (tag ~ '^[A-Z0-9]{2,4}$'),
  description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 140),
  created_by text NOT NULL CHECK (created_by ~ '^0x[0-9a-f]{40}$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  member_count integer NOT NULL DEFAULT 0 CHECK (member_count BETWEEN 0 AND 50)
);
CREATE UNIQUE INDEX api_crews_name_ci ON api_crews (lower(name));
CREATE INDEX api_crews_created ON api_crews (created_at, id);

CREATE TABLE api_crew_members (
  address text PRIMARY KEY CHECK (address ~ '^0x[0-9a-f]{40}$'),
  crew_id uuid NOT NULL REFERENCES api_crews (id) ON DELETE CASCADE,
  role text NOT NULL CHECK (role IN ('leader', 'officer', 'member')),
  joined_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  -- Breaks joined_at ties: "longest-standing" must name exactly one member.
  join_order bigserial NOT NULL
);
CREATE UNIQUE INDEX api_crew_members_one_leader ON api_crew_members (crew_id) WHERE role = 'leader';
CREATE INDEX api_crew_members_crew ON api_crew_members (crew_id, joined_at, join_order);
