-- The Nats-Msg-Id of the message at last_sequence. A worker that finds the stream's creation time changed
-- looks at that sequence: the same message there means the same stream, reported differently (NATS replicas
-- that disagree on `created`), and the projection goes on; another one, or none, means a recreated stream,
-- rebuilt from sequence 1 as before. Null until the next batch commits, and after a rewind.
ALTER TABLE projection_checkpoints ADD COLUMN last_message_id text;
