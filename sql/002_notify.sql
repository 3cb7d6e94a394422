-- Changes notify the keys whose pages show them, inside the changing
-- transaction, however they are made (the app, psql, a batch job).
-- PostgreSQL folds identical notifications of one transaction into one,
-- so a bulk UPDATE costs one render per key, not one per row.
-- The channel is 'keycast' unless the setting keycast.channel says otherwise
-- (ALTER DATABASE ... SET keycast.channel = '...').
CREATE FUNCTION keycast_channel() RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT coalesce(nullif(current_setting('keycast.channel', true), ''),
	    'keycast')
$$;

CREATE FUNCTION keycast_notify(key text) RETURNS void
LANGUAGE sql AS $$
	SELECT pg_notify(keycast_channel(), key)
$$;

CREATE FUNCTION counters_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM keycast_notify('/counter');
	PERFORM keycast_notify('global');
	RETURN NULL;
END
$$;

CREATE TRIGGER counters_notify AFTER INSERT OR UPDATE OR DELETE ON counters
	FOR EACH ROW EXECUTE FUNCTION counters_notify();

CREATE FUNCTION messages_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		PERFORM keycast_notify('/chat/' || OLD.room);
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		PERFORM keycast_notify('/chat/' || NEW.room);
	END IF;
	PERFORM keycast_notify('global');
	RETURN NULL;
END
$$;

CREATE TRIGGER messages_notify AFTER INSERT OR UPDATE OR DELETE ON messages
	FOR EACH ROW EXECUTE FUNCTION messages_notify();

-- TRUNCATE has no rows to name: refresh the index page at least.
CREATE FUNCTION messages_truncate_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM keycast_notify('global');
	RETURN NULL;
END
$$;

CREATE TRIGGER messages_truncate_notify AFTER TRUNCATE ON messages
	FOR EACH STATEMENT EXECUTE FUNCTION messages_truncate_notify();
