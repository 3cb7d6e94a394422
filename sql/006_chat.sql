-- The header's "messages today" (key global, url /live/today) at a bounded
-- cost: one row per UTC day with the number of messages created that day,
-- kept by statement-level triggers (one upsert per day a statement
-- touches, not per message), so the count never reads messages. Each
-- trigger also sends 'global' inside the changing transaction (the row
-- trigger of 002_notify.sql does too: PostgreSQL folds the two into one).
-- Nothing notifies at 00:00 UTC: pages already open keep yesterday's count
-- until the day's first message, unless a scheduler runs
-- SELECT keycast_notify('global') then.
CREATE TABLE chat_days (
	day		date PRIMARY KEY,
	messages	bigint NOT NULL CHECK (messages >= 0)
);

-- No message may change while the counts are taken.
LOCK TABLE messages IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO chat_days (day, messages)
	SELECT (created_at AT TIME ZONE 'UTC')::date, count(*) FROM messages
	GROUP BY 1;

-- Adds n messages (negative to remove) per day, days in order so that
-- concurrent statements lock their rows alike.
CREATE FUNCTION chat_days_count() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		INSERT INTO chat_days AS d (day, messages)
		SELECT (created_at AT TIME ZONE 'UTC')::date, count(*)
		FROM new_rows GROUP BY 1 ORDER BY 1
		ON CONFLICT (day) DO UPDATE SET messages = d.messages +
		    EXCLUDED.messages;
	ELSIF TG_OP = 'DELETE' THEN
		UPDATE chat_days d SET messages = d.messages - o.n FROM (
			SELECT (created_at AT TIME ZONE 'UTC')::date AS day,
			    count(*) AS n FROM old_rows GROUP BY 1) o
		WHERE d.day = o.day;
	ELSE
		INSERT INTO chat_days AS d (day, messages)
		SELECT day, sum(n) FROM (
			SELECT (created_at AT TIME ZONE 'UTC')::date AS day, -1 AS n
			FROM old_rows
			UNION ALL
			SELECT (created_at AT TIME ZONE 'UTC')::date, 1
			FROM new_rows) c
		GROUP BY day HAVING sum(n) <> 0 ORDER BY day
		ON CONFLICT (day) DO UPDATE SET messages = d.messages +
		    EXCLUDED.messages;
	END IF;
	PERFORM keycast_notify('global');
	RETURN NULL;
END
$$;

CREATE TRIGGER chat_days_insert AFTER INSERT ON messages
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION chat_days_count();
CREATE TRIGGER chat_days_delete AFTER DELETE ON messages
	REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION chat_days_count();
CREATE TRIGGER chat_days_update AFTER UPDATE ON messages
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION chat_days_count();

-- TRUNCATE has no transition tables: every day goes to zero.
CREATE FUNCTION chat_days_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM chat_days;
	PERFORM keycast_notify('global');
	RETURN NULL;
END
$$;

CREATE TRIGGER chat_days_truncate AFTER TRUNCATE ON messages
	FOR EACH STATEMENT EXECUTE FUNCTION chat_days_truncate();
