-- Accounts, sessions, room ownership and membership, and the revocation
-- channel. Sessions keep only the SHA-256 (hex) of their token: a copy of
-- this table signs nobody in. Every change that can take a viewer's right
-- away sends one tag on 'keycast_revoke' inside the changing transaction,
-- so keycast-pushd re-authorizes the sockets carrying it whether the change
-- came from the app or from psql:
--   DELETE FROM sessions            -> session:<token_hash>
--   room_members row removed        -> user:<user_id>
--   users.role changed, user gone   -> user:<id>
--   rooms.private / owner changed, room deleted -> room:<id>
-- Names: 1 to 32 of A-Z a-z 0-9 _ . -, unique ignoring case.
CREATE TABLE users (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name		text NOT NULL CHECK (name ~ '^[A-Za-z0-9_.-]{1,32}$'),
	pw_hash		text NOT NULL,		-- crypto_pwhash_str (Argon2id)
	role		text NOT NULL DEFAULT 'user'
			    CHECK (role IN ('user', 'moderator')),
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_name ON users (lower(name));

CREATE TABLE sessions (
	token_hash	text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
	user_id		bigint NOT NULL REFERENCES users ON DELETE CASCADE,
	created_at	timestamptz NOT NULL DEFAULT now(),
	last_seen	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Failed sign-ins of the last window, per client address and per name
-- (the name as typed, lower-cased, whether or not such a user exists).
CREATE TABLE signin_failures (
	at		timestamptz NOT NULL DEFAULT now(),
	addr		text NOT NULL,
	name		text NOT NULL
);
CREATE INDEX signin_failures_addr ON signin_failures (addr, at);
CREATE INDEX signin_failures_name ON signin_failures (name, at);

-- Rooms gain an id (the room:<id> tag), an owner and a private flag. Rooms
-- nobody owns (lobby, help, random, any name posted to) stay public.
ALTER TABLE rooms ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
	ADD COLUMN owner_id bigint REFERENCES users ON DELETE SET NULL,
	ADD COLUMN private boolean NOT NULL DEFAULT false;

CREATE TABLE room_members (
	room_id		bigint NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
	user_id		bigint NOT NULL REFERENCES users ON DELETE CASCADE,
	PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_members_user ON room_members (user_id);

-- The author is the user; author keeps the name as it was when posted
-- (and the names of messages older than accounts).
ALTER TABLE messages ADD COLUMN user_id bigint REFERENCES users
	ON DELETE SET NULL;

-- An owned room stays when its last message goes; others as before.
CREATE OR REPLACE FUNCTION rooms_add(room text, delta bigint, t timestamptz)
RETURNS void
LANGUAGE sql AS $$
	INSERT INTO rooms AS r (name, messages, last_at)
		VALUES (room, greatest(delta, 0), t)
		ON CONFLICT (name) DO UPDATE SET messages = r.messages + delta,
		    last_at = greatest(r.last_at, t);
	DELETE FROM rooms WHERE name = room AND messages = 0 AND pin IS NULL
		AND owner_id IS NULL;
$$;

-- TRUNCATE keeps owned rooms (with their membership) too.
CREATE OR REPLACE FUNCTION messages_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM keycast_notify('/chat/' || name) FROM rooms WHERE messages > 0
	ORDER BY name;
	PERFORM keycast_notify('global');
	DELETE FROM rooms WHERE pin IS NULL AND owner_id IS NULL;
	UPDATE rooms SET messages = 0 WHERE messages <> 0;
	RETURN NULL;
END
$$;

-- The index page (key global, one view for everyone) never lists a
-- private room.
CREATE OR REPLACE VIEW index_rooms AS
	SELECT name, messages FROM (
		(SELECT name, messages, pin, last_at FROM rooms
		 WHERE pin IS NOT NULL AND NOT private)
		UNION ALL
		(SELECT name, messages, NULL, last_at FROM rooms
		 WHERE pin IS NULL AND NOT private ORDER BY last_at DESC LIMIT 47)) l
	ORDER BY pin NULLS LAST, last_at DESC, name;

CREATE FUNCTION keycast_revoke(tag text) RETURNS void
LANGUAGE sql AS $$
	SELECT pg_notify('keycast_revoke', tag)
$$;

CREATE FUNCTION sessions_revoke() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM keycast_revoke('session:' || OLD.token_hash);
	RETURN NULL;
END
$$;
CREATE TRIGGER sessions_revoke AFTER DELETE ON sessions
	FOR EACH ROW EXECUTE FUNCTION sessions_revoke();

CREATE FUNCTION room_members_revoke() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM keycast_revoke('user:' || OLD.user_id);
	RETURN NULL;
END
$$;
CREATE TRIGGER room_members_revoke AFTER DELETE ON room_members
	FOR EACH ROW EXECUTE FUNCTION room_members_revoke();

CREATE FUNCTION users_revoke() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM keycast_revoke('user:' || OLD.id);
	RETURN NULL;
END
$$;
CREATE TRIGGER users_revoke_role AFTER UPDATE OF role ON users
	FOR EACH ROW WHEN (OLD.role IS DISTINCT FROM NEW.role)
	EXECUTE FUNCTION users_revoke();
CREATE TRIGGER users_revoke_delete AFTER DELETE ON users
	FOR EACH ROW EXECUTE FUNCTION users_revoke();

-- The chat page's key re-renders too: an anonymous view of a room made
-- private must stop showing it.
CREATE FUNCTION rooms_revoke() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM keycast_revoke('room:' || OLD.id);
	PERFORM keycast_notify('global');
	RETURN NULL;
END
$$;
CREATE TRIGGER rooms_revoke_change AFTER UPDATE OF private, owner_id ON rooms
	FOR EACH ROW WHEN (OLD.private IS DISTINCT FROM NEW.private OR
	    OLD.owner_id IS DISTINCT FROM NEW.owner_id)
	EXECUTE FUNCTION rooms_revoke();
CREATE TRIGGER rooms_revoke_delete AFTER DELETE ON rooms
	FOR EACH ROW EXECUTE FUNCTION rooms_revoke();
