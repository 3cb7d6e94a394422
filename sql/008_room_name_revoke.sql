-- A chat socket authorized while its room had no row carries the tag
-- room-name:<name> (no room:<id> exists yet). A room row appearing under
-- that name (created private by its owner, or public by a first post and
-- made private later) or renamed to it sends that tag, so pushd asks again
-- and the socket gets the room's own tag, or is refused.
CREATE FUNCTION rooms_revoke_name() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM keycast_revoke('room-name:' || NEW.name);
	RETURN NULL;
END
$$;

CREATE TRIGGER rooms_revoke_name AFTER INSERT OR UPDATE OF name ON rooms
	FOR EACH ROW EXECUTE FUNCTION rooms_revoke_name();
