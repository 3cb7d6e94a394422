/* Chat rooms (key "/chat/<room>") and the count of messages posted today
 * across rooms (key "global", url /live/today), which the layout's header
 * shows on every page as a second realtime root. Mutations only change
 * rows: the triggers of sql/002_notify.sql and sql/006_chat.sql send the
 * NOTIFYs inside the same transaction, so a change typed in psql and a
 * click notify alike.
 * A chat room renders one fragment per view class (anon: no form; user:
 * the form, and a delete button on every message that CSS shows only on
 * the viewer's own; moderator: delete shown on all), never per user: what
 * is personal comes from <body data-viewer> and a <style> in <head>. A
 * private room does not exist for those who may not see it (404). */
#include <ctype.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keycast.h"
#include "text.h"

#define ROOM_MAX	32
#define TEXT_MAX	500

enum {
	CHAT_RECENT, CHAT_POST, CHAT_ROOM, CHAT_ROOM_NEW, CHAT_USER,
	CHAT_MEMBER_ADD, CHAT_MEMBER_REMOVE, CHAT_MSG_AUTHOR, CHAT_MSG_DELETE,
	CHAT_TODAY, CHAT_NSTMTS
};

static const struct db_stmt stmts[CHAT_NSTMTS] = {
	[CHAT_RECENT] = { "chat_recent",
	  "SELECT author, body, to_char(created_at AT TIME ZONE 'UTC', "
	  "'HH24:MI'), to_char(created_at AT TIME ZONE 'UTC', "
	  "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), id, user_id FROM (SELECT id, "
	  "author, body, created_at, user_id FROM messages WHERE room = $1 "
	  "ORDER BY id DESC LIMIT 50) m ORDER BY id", 1 },
	[CHAT_POST] = { "chat_post",
	  "INSERT INTO messages (room, author, body, user_id) "
	  "VALUES ($1, $2, $3, $4::bigint)", 4 },
	[CHAT_ROOM] = { "chat_room",
	  "SELECT r.id, r.private, coalesce(r.owner_id, 0), EXISTS (SELECT 1 "
	  "FROM room_members m WHERE m.room_id = r.id AND m.user_id = "
	  "$2::bigint) FROM rooms r WHERE r.name = $1", 2 },
	/* An owner re-creating their room may change its privacy. */
	[CHAT_ROOM_NEW] = { "chat_room_new",
	  "INSERT INTO rooms (name, owner_id, private) VALUES ($1, $2::bigint, "
	  "$3::boolean) ON CONFLICT (name) DO UPDATE SET private = "
	  "EXCLUDED.private WHERE rooms.owner_id = EXCLUDED.owner_id "
	  "RETURNING id", 3 },
	[CHAT_USER] = { "chat_user",
	  "SELECT id FROM users WHERE lower(name) = lower($1)", 1 },
	[CHAT_MEMBER_ADD] = { "chat_member_add",
	  "INSERT INTO room_members (room_id, user_id) VALUES ($1::bigint, "
	  "$2::bigint) ON CONFLICT DO NOTHING", 2 },
	[CHAT_MEMBER_REMOVE] = { "chat_member_remove",
	  "DELETE FROM room_members WHERE room_id = $1::bigint AND "
	  "user_id = $2::bigint", 2 },
	[CHAT_MSG_AUTHOR] = { "chat_msg_author",
	  "SELECT coalesce(user_id, 0) FROM messages WHERE id = $1::bigint AND "
	  "room = $2", 2 },
	[CHAT_MSG_DELETE] = { "chat_msg_delete",
	  "DELETE FROM messages WHERE id = $1::bigint AND room = $2", 2 },
	/* The per-day counts kept by sql/006_chat.sql: never reads messages. */
	[CHAT_TODAY] = { "chat_today",
	  "SELECT coalesce((SELECT messages FROM chat_days WHERE day = "
	  "(now() AT TIME ZONE 'UTC')::date), 0)", 0 },
};

/* A chat room as one viewer may see it (the page, its API and the
 * authorize answer decide alike). */
struct room_access {
	long long	 id;		/* rooms.id, 0 when the room has no row */
	int		 private;
	long long	 owner;		/* users.id, 0 when nobody owns it */
	const char	*view;		/* "anon", "user" or "moderator" */
	int		 deny;		/* 0, or 401/403/404 for this viewer */
	const char	*reason;	/* one line, when deny */
};

static const char NO_ROOM[] = "There is no room here.";

static int
room_valid(const char *room)
{
	size_t i, n;

	if (room == NULL || (n = strlen(room)) == 0 || n > ROOM_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = room[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return 1;
}

/* Room access for rq's viewer; DB_OK or an app_query code. */
static int
chat_access(struct req *rq, const char *room, struct room_access *ra)
{
	const struct viewer *v = &rq->viewer;
	const char *params[2];
	char uid[24];
	PGresult *r;
	int rc, member = 0;

	memset(ra, 0, sizeof(*ra));
	if (!room_valid(room)) {
		ra->deny = 404;
		ra->reason = "no such room";
		return DB_OK;
	}
	snprintf(uid, sizeof(uid), "%lld", v->id);
	params[0] = room;
	params[1] = uid;
	if ((rc = app_query(rq, &stmts[CHAT_ROOM], params, &r)) != DB_OK)
		return rc;
	if (PQntuples(r) == 1) {
		ra->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		ra->private = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
		ra->owner = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
		member = strcmp(PQgetvalue(r, 0, 3), "t") == 0;
	}
	PQclear(r);
	if (v->id == 0)
		ra->view = "anon";
	else if (v->moderator || (ra->owner != 0 && ra->owner == v->id))
		ra->view = "moderator";
	else
		ra->view = "user";
	/* (A private room whose owner was deleted has owner 0, as has an
	 * anonymous viewer: it is nobody's own.) */
	if (ra->private && !member && (ra->owner == 0 || ra->owner != v->id)) {
		ra->deny = v->id == 0 ? 401 : 403;
		ra->reason = v->id == 0 ? "sign in to see this room" :
		    "not a member";
	}
	return DB_OK;
}

/* pushd's authorize request for /chat/ROOM: the room's view class, or
 * refused; a room this viewer may not know of is "not this key's url". */
static int
chat_authorize(struct req *rq, struct authz *az)
{
	struct room_access ra;
	int rc;

	if ((rc = chat_access(rq, route_param(&rq->match, "room"), &ra)) != DB_OK)
		return rc;
	if (ra.deny == 404) {
		az->deny = 403;
		az->reason = "url does not belong to key";
		return DB_OK;
	}
	az->deny = ra.deny;
	az->reason = ra.reason;
	az->view = ra.view;
	/* A room without a row yet has no id: its name's tag is revoked
	 * when the row appears (sql/008_room_name_revoke.sql), or a room
	 * created private would go on showing to whoever watched first. */
	if (ra.id != 0)
		az->tags = arena_printf(rq->arena, "room:%lld", ra.id);
	else
		az->tags = arena_printf(rq->arena, "room-name:%s",
		    route_param(&rq->match, "room"));
	return DB_OK;
}

/* The view class of a render (pushd's KEYCAST_VIEW), or NULL if unknown;
 * a render without one gets the anonymous view, which shows least. */
static const char *
render_view(const struct req *rq)
{
	static const char *const views[] = { "anon", "user", "moderator" };
	size_t i;

	if (rq->render_view == NULL)
		return "anon";
	for (i = 0; i < KC_LEN(views); i++)
		if (strcmp(rq->render_view, views[i]) == 0)
			return views[i];
	return NULL;
}

static int
page_chat(struct req *rq, struct resp *rs)
{
	struct arena *a = rq->arena;
	const char *room = route_param(&rq->match, "room");
	struct tpl_val *ctx, *msgs;
	struct room_access ra;
	const char *params[1], *view;
	PGresult *r;
	int i, rc;

	if (!room_valid(room))
		return app_error(rq, rs, 404, "Room names are 1 to 32 of a-z, 0-9 and -.");
	if (rq->render_key != NULL) {
		/* pushd authorized every viewer of this class already. */
		if ((view = render_view(rq)) == NULL)
			return app_error(rq, rs, 400, "Unknown view class.");
	} else {
		if ((rc = chat_access(rq, room, &ra)) != DB_OK)
			return app_db_error(rq, rs, rc);
		if (ra.deny != 0)
			return app_error(rq, rs, 404, NO_ROOM);
		view = ra.view;
	}
	params[0] = room;
	if ((rc = app_query(rq, &stmts[CHAT_RECENT], params, &r)) != DB_OK)
		return app_db_error(rq, rs, rc);
	ctx = tpl_map(a);
	msgs = tpl_list(a);
	for (i = 0; i < PQntuples(r); i++) {
		struct tpl_val *m = tpl_map(a);

		tpl_put(a, m, "author", tpl_str(a, PQgetvalue(r, i, 0)));
		tpl_put(a, m, "text", tpl_str(a, PQgetvalue(r, i, 1)));
		tpl_put(a, m, "time", tpl_str(a, PQgetvalue(r, i, 2)));
		tpl_put(a, m, "iso", tpl_str(a, PQgetvalue(r, i, 3)));
		tpl_put(a, m, "id", tpl_str(a, PQgetvalue(r, i, 4)));
		tpl_put(a, m, "uid", tpl_str(a, PQgetisnull(r, i, 5) ? NULL :
		    PQgetvalue(r, i, 5)));
		tpl_push(a, msgs, m);
	}
	PQclear(r);
	tpl_put(a, ctx, "room", tpl_str(a, room));
	tpl_put(a, ctx, "messages", msgs);
	tpl_put(a, ctx, "view", tpl_str(a, view));
	tpl_put(a, ctx, "signed_in", tpl_bool(a, strcmp(view, "anon") != 0));
	tpl_put(a, ctx, "moderator", tpl_bool(a, strcmp(view, "moderator") == 0));
	return app_page(rq, rs, arena_printf(a, "#%s", room),
	    arena_printf(a, "/chat/%s", room), "chat", ctx);
}

/* Trims ASCII whitespace; returns an arena copy. */
static char *
trim(struct arena *a, const char *s)
{
	size_t n = strlen(s);

	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	return arena_strndup(a, s, n);
}

/* The signed-in viewer's access to the room of a mutation: 0 when it may
 * go on, else the answer is written (401/303, 404 for a private room the
 * viewer may not see, 503) and its status returned. */
static int
mutation_room(struct req *rq, struct resp *rs, const char *room,
    struct room_access *ra)
{
	int rc;

	if ((rc = app_need_user(rq, rs)) != 0)
		return rc;
	if ((rc = chat_access(rq, room, ra)) != DB_OK)
		return app_db_error(rq, rs, rc);
	if (ra->deny != 0)
		return app_error(rq, rs, 404, NO_ROOM);
	return 0;
}

static const char *
viewer_id(struct req *rq)
{
	return arena_printf(rq->arena, "%lld", rq->viewer.id);
}

static int
api_chat_post(struct req *rq, struct resp *rs)
{
	const char *room = route_param(&rq->match, "room");
	struct room_access ra;
	const char *params[4], *field;
	char *text;
	size_t tlen;
	PGresult *r;
	int rc;

	if ((rc = mutation_room(rq, rs, room, &ra)) != 0)
		return rc;
	field = kv_get(rq->form, "text");
	text = trim(rq->arena, field != NULL ? field : "");
	tlen = utf8_len(text, strlen(text));
	if (tlen < 1 || tlen > TEXT_MAX)
		return app_error(rq, rs, 422,
		    "A message must be 1 to 500 characters.");
	params[0] = room;
	params[1] = rq->viewer.name;
	params[2] = text;
	params[3] = viewer_id(rq);
	if ((rc = app_query(rq, &stmts[CHAT_POST], params, &r)) != DB_OK)
		return app_db_error(rq, rs, rc);
	PQclear(r);
	return app_mutated(rq, rs, arena_printf(rq->arena, "/chat/%s", room));
}

static int
api_chat_delete(struct req *rq, struct resp *rs)
{
	const char *room = route_param(&rq->match, "room");
	const char *id = route_param(&rq->match, "id");
	struct room_access ra;
	const char *params[2];
	long long author;
	PGresult *r;
	int rc;

	if ((rc = mutation_room(rq, rs, room, &ra)) != 0)
		return rc;
	if (strspn(id, "0123456789") != strlen(id) || strlen(id) > 18)
		return app_error(rq, rs, 404, "There is no such message.");
	params[0] = id;
	params[1] = room;
	if ((rc = app_query(rq, &stmts[CHAT_MSG_AUTHOR], params, &r)) != DB_OK)
		return app_db_error(rq, rs, rc);
	author = PQntuples(r) == 1 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
	PQclear(r);
	if (author < 0)
		return app_error(rq, rs, 404, "There is no such message.");
	if (author != rq->viewer.id && strcmp(ra.view, "moderator") != 0)
		return app_error(rq, rs, 403,
		    "Only its author, the room's owner or a moderator may "
		    "delete a message.");
	if ((rc = app_query(rq, &stmts[CHAT_MSG_DELETE], params, &r)) != DB_OK)
		return app_db_error(rq, rs, rc);
	PQclear(r);
	return app_mutated(rq, rs, arena_printf(rq->arena, "/chat/%s", room));
}

static int
api_room_new(struct req *rq, struct resp *rs)
{
	const char *room = kv_get(rq->form, "room"), *priv;
	const char *params[3];
	PGresult *r;
	int rc, made;

	if ((rc = app_need_user(rq, rs)) != 0)
		return rc;
	if (!room_valid(room))
		return app_error(rq, rs, 422,
		    "Room names are 1 to 32 of a-z, 0-9 and -.");
	priv = kv_get(rq->form, "private");
	params[0] = room;
	params[1] = viewer_id(rq);
	params[2] = priv != NULL && strcmp(priv, "1") == 0 ? "true" : "false";
	if ((rc = app_query(rq, &stmts[CHAT_ROOM_NEW], params, &r)) != DB_OK)
		return app_db_error(rq, rs, rc);
	made = PQntuples(r) == 1;
	PQclear(r);
	if (!made)
		return app_error(rq, rs, 403, "That room already exists.");
	return app_mutated(rq, rs, arena_printf(rq->arena, "/chat/%s", room));
}

/* Adds (CHAT_MEMBER_ADD) or removes a member; the room's owner only. */
static int
members_change(struct req *rq, struct resp *rs, const struct db_stmt *st)
{
	const char *room = route_param(&rq->match, "room");
	const char *name = kv_get(rq->form, "name");
	struct room_access ra;
	const char *params[2];
	char rid[24], uid[24];
	PGresult *r;
	int rc, found;

	if ((rc = mutation_room(rq, rs, room, &ra)) != 0)
		return rc;
	if (ra.owner == 0 || ra.owner != rq->viewer.id)
		return app_error(rq, rs, 403,
		    "Only the room's owner may change its members.");
	params[0] = name != NULL ? name : "";
	if ((rc = app_query(rq, &stmts[CHAT_USER], params, &r)) != DB_OK)
		return app_db_error(rq, rs, rc);
	found = PQntuples(r) == 1;
	if (found)
		snprintf(uid, sizeof(uid), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	if (!found)
		return app_error(rq, rs, 422, "No user has that name.");
	snprintf(rid, sizeof(rid), "%lld", ra.id);
	params[0] = rid;
	params[1] = uid;
	if ((rc = app_query(rq, st, params, &r)) != DB_OK)
		return app_db_error(rq, rs, rc);
	PQclear(r);
	return app_mutated(rq, rs, arena_printf(rq->arena, "/chat/%s", room));
}

static int
api_member_add(struct req *rq, struct resp *rs)
{
	return members_change(rq, rs, &stmts[CHAT_MEMBER_ADD]);
}

/* The trigger on room_members sends user:<id> on keycast_revoke: the
 * removed member's sockets on a private room close with 4403. */
static int
api_member_remove(struct req *rq, struct resp *rs)
{
	return members_change(rq, rs, &stmts[CHAT_MEMBER_REMOVE]);
}

/* Puts "today", the messages posted today (UTC) across rooms, into ctx. */
static int
put_today(struct req *rq, struct tpl_val *ctx)
{
	PGresult *r;
	int rc;

	if ((rc = app_query(rq, &stmts[CHAT_TODAY], NULL, &r)) != DB_OK)
		return rc;
	tpl_put(rq->arena, ctx, "today", tpl_str(rq->arena,
	    PQgetvalue(r, 0, 0)));
	tpl_put(rq->arena, ctx, "today_one", tpl_bool(rq->arena,
	    strcmp(PQgetvalue(r, 0, 0), "1") == 0));
	PQclear(r);
	return DB_OK;
}

/* GET /live/today: the header's count, the fragment for pushd and a page
 * of its own for a browser. */
static int
page_today(struct req *rq, struct resp *rs)
{
	struct tpl_val *ctx = tpl_map(rq->arena);
	int rc;

	if ((rc = put_today(rq, ctx)) != DB_OK)
		return app_db_error(rq, rs, rc);
	return app_page(rq, rs, "Messages today", "global", "today", ctx);
}

static const struct route routes[] = {
	{ "GET", "/chat/:room", page_chat },
	{ "POST", "/api/chat/:room/messages", api_chat_post },
	{ "POST", "/api/chat/:room/messages/:id/delete", api_chat_delete },
	{ "POST", "/api/chat/:room/members", api_member_add },
	{ "POST", "/api/chat/:room/members/remove", api_member_remove },
	{ "POST", "/api/rooms", api_room_new },
	{ "GET", "/live/today", page_today },
};

static const struct feature_key keys[] = {
	{ "/chat/:room", "/chat/:room",
	  "sql/002_notify.sql: trigger messages_notify on messages",
	  chat_authorize },
	{ "global", "/live/today",
	  "sql/006_chat.sql: trigger chat_days_count on messages", NULL },
};

static const char *const templates[] = { "chat", "today", NULL };
static const char *const migrations[] = { "001_schema.sql", "002_notify.sql",
    "003_room_counts.sql", "004_truncate_notify.sql", "005_accounts.sql",
    "006_chat.sql", "008_room_name_revoke.sql", NULL };

const struct feature feature_chat = {
	.name = "chat",
	.routes = routes, .nroutes = KC_LEN(routes),
	.stmts = stmts, .nstmts = CHAT_NSTMTS,
	.templates = templates,
	.keys = keys, .nkeys = KC_LEN(keys),
	.migrations = migrations,
	.layout = put_today,
};
