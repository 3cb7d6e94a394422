-- TRUNCATE has no rows for the row triggers of 002_notify.sql, so a
-- statement trigger notifies every key whose page it changes: counters ->
-- /counter and global; messages -> each room that had messages (rooms, kept
-- by 003_room_counts.sql, names them without reading messages) and global.
-- Notifies are sent only if the TRUNCATE commits, like every other.
-- counters_notify reads no row, so the row trigger's function serves.
CREATE TRIGGER counters_truncate_notify AFTER TRUNCATE ON counters
	FOR EACH STATEMENT EXECUTE FUNCTION counters_notify();

-- BEFORE: the rooms that had messages are still counted.
CREATE FUNCTION messages_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM keycast_notify('/chat/' || name) FROM rooms WHERE messages > 0
	ORDER BY name;
	PERFORM keycast_notify('global');
	DELETE FROM rooms WHERE pin IS NULL;
	UPDATE rooms SET messages = 0 WHERE messages <> 0;
	RETURN NULL;
END
$$;

DROP TRIGGER messages_truncate_notify ON messages;
DROP FUNCTION messages_truncate_notify();
CREATE TRIGGER messages_truncate BEFORE TRUNCATE ON messages
	FOR EACH STATEMENT EXECUTE FUNCTION messages_truncate();
