-- The index page's room list at a bounded cost: one row per room with its
-- message count and last activity, kept by statement-level triggers (one
-- upsert per room a statement touches, not per message), so listing rooms
-- never reads messages. The defaults lobby, help and random are pinned: no
-- number of other rooms pushes them off the page.
CREATE TABLE rooms (
	name		text PRIMARY KEY,
	messages	bigint NOT NULL DEFAULT 0 CHECK (messages >= 0),
	last_at		timestamptz NOT NULL DEFAULT '-infinity',
	pin		smallint UNIQUE		-- listing order of a pinned room
);
CREATE INDEX rooms_recent ON rooms (last_at DESC) WHERE pin IS NULL;

-- No message may change while the counts are taken.
LOCK TABLE messages IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO rooms (name, pin) VALUES ('lobby', 1), ('help', 2), ('random', 3);
INSERT INTO rooms AS r (name, messages, last_at)
	SELECT room, count(*), max(created_at) FROM messages GROUP BY room
	ON CONFLICT (name) DO UPDATE SET messages = EXCLUDED.messages,
	    last_at = EXCLUDED.last_at;

-- Adds delta messages (negative to remove) last active at t to room; an
-- unpinned room left without messages is no longer listed.
CREATE FUNCTION rooms_add(room text, delta bigint, t timestamptz) RETURNS void
LANGUAGE sql AS $$
	INSERT INTO rooms AS r (name, messages, last_at)
		VALUES (room, greatest(delta, 0), t)
		ON CONFLICT (name) DO UPDATE SET messages = r.messages + delta,
		    last_at = greatest(r.last_at, t);
	DELETE FROM rooms WHERE name = room AND messages = 0 AND pin IS NULL;
$$;

CREATE FUNCTION rooms_count() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	-- Rooms in name order, so concurrent statements lock them alike.
	IF TG_OP = 'INSERT' THEN
		PERFORM rooms_add(room, count(*), max(created_at))
		FROM new_rows GROUP BY room ORDER BY room;
	ELSIF TG_OP = 'DELETE' THEN
		PERFORM rooms_add(room, -count(*), '-infinity')
		FROM old_rows GROUP BY room ORDER BY room;
	ELSE
		PERFORM rooms_add(room, sum(n), max(t)) FROM (
			SELECT room, -1 AS n, '-infinity'::timestamptz AS t FROM old_rows
			UNION ALL
			SELECT room, 1, now() FROM new_rows) c
		GROUP BY room HAVING sum(n) <> 0 ORDER BY room;
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER rooms_count_insert AFTER INSERT ON messages
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION rooms_count();
CREATE TRIGGER rooms_count_delete AFTER DELETE ON messages
	REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION rooms_count();
CREATE TRIGGER rooms_count_update AFTER UPDATE ON messages
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION rooms_count();

-- What the index page lists: the pinned rooms in their order, then the 47
-- most recently active others (50 in all), read through rooms_recent.
CREATE VIEW index_rooms AS
	SELECT name, messages FROM (
		(SELECT name, messages, pin, last_at FROM rooms
		 WHERE pin IS NOT NULL)
		UNION ALL
		(SELECT name, messages, NULL, last_at FROM rooms
		 WHERE pin IS NULL ORDER BY last_at DESC LIMIT 47)) l
	ORDER BY pin NULLS LAST, last_at DESC, name;
