-- The demo's data: named counters (the page shows 'global') and chat
-- messages, indexed for "the last 50 of a room".
CREATE TABLE counters (
	name		text PRIMARY KEY CHECK (char_length(name) BETWEEN 1 AND 64),
	value		bigint NOT NULL DEFAULT 0,
	updated_at	timestamptz NOT NULL DEFAULT now()
);
INSERT INTO counters (name) VALUES ('global');

CREATE TABLE messages (
	id		bigserial PRIMARY KEY,
	room		text NOT NULL CHECK (room ~ '^[a-z0-9-]{1,32}$'),
	author		text NOT NULL CHECK (char_length(author) BETWEEN 1 AND 32),
	body		text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 500),
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_room_id ON messages (room, id DESC);
