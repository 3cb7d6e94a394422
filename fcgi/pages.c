/* The demo application's pages: the index (key "global"), the shared
 * counter (key "/counter") and chat rooms (key "/chat/<room>"). Mutations
 * only change rows: the triggers in sql/ send the NOTIFYs inside the same
 * transaction, so a change typed in psql and a click notify alike.
 * A chat room renders one fragment per view class (anon: no form; user:
 * the form, and a delete button on every message that CSS shows only on
 * the viewer's own; moderator: delete shown on all), never per user: what
 * is personal comes from <body data-viewer> and a <style> in <head>. A
 * private room does not exist for those who may not see it (404). */
#include "app.h"
#include "arena.h"
#include "db.h"
#include "template.h"
#include "text.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROOM_MAX	32
#define TEXT_MAX	500

const struct db_stmt page_stmts[] = {
	{ "counter_get", "SELECT value FROM counters WHERE name = $1", 1 },
	{ "counter_add",
	  "INSERT INTO counters (name, value) VALUES ($1, $2::bigint) "
	  "ON CONFLICT (name) DO UPDATE SET value = counters.value + "
	  "EXCLUDED.value, updated_at = now() RETURNING value", 2 },
	{ "chat_recent",
	  "SELECT author, body, to_char(created_at AT TIME ZONE 'UTC', "
	  "'HH24:MI'), to_char(created_at AT TIME ZONE 'UTC', "
	  "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), id, user_id FROM (SELECT id, "
	  "author, body, created_at, user_id FROM messages WHERE room = $1 "
	  "ORDER BY id DESC LIMIT 50) m ORDER BY id", 1 },
	{ "chat_post",
	  "INSERT INTO messages (room, author, body, user_id) "
	  "VALUES ($1, $2, $3, $4::bigint)", 4 },
	{ "chat_room",
	  "SELECT r.id, r.private, coalesce(r.owner_id, 0), EXISTS (SELECT 1 "
	  "FROM room_members m WHERE m.room_id = r.id AND m.user_id = "
	  "$2::bigint) FROM rooms r WHERE r.name = $1", 2 },
	/* An owner re-creating their room may change its privacy. */
	{ "chat_room_new",
	  "INSERT INTO rooms (name, owner_id, private) VALUES ($1, $2::bigint, "
	  "$3::boolean) ON CONFLICT (name) DO UPDATE SET private = "
	  "EXCLUDED.private WHERE rooms.owner_id = EXCLUDED.owner_id "
	  "RETURNING id", 3 },
	{ "chat_user", "SELECT id FROM users WHERE lower(name) = lower($1)", 1 },
	{ "chat_member_add",
	  "INSERT INTO room_members (room_id, user_id) VALUES ($1::bigint, "
	  "$2::bigint) ON CONFLICT DO NOTHING", 2 },
	{ "chat_member_remove",
	  "DELETE FROM room_members WHERE room_id = $1::bigint AND "
	  "user_id = $2::bigint", 2 },
	{ "chat_msg_author",
	  "SELECT coalesce(user_id, 0) FROM messages WHERE id = $1::bigint AND "
	  "room = $2", 2 },
	{ "chat_msg_delete",
	  "DELETE FROM messages WHERE id = $1::bigint AND room = $2", 2 },
	/* index_rooms (sql/003_room_counts.sql) reads the kept per-room
	 * counts, never messages: bounded work however much is posted. */
	{ "index_summary",
	  "SELECT name, messages, (SELECT value FROM counters WHERE "
	  "name = 'global') FROM index_rooms", 0 },
};
const size_t page_nstmts = sizeof(page_stmts) / sizeof(page_stmts[0]);

const char *const page_templates[] = { "layout", "error", "index", "counter",
    "chat", "account", "header", NULL };

static const char NO_ROOM[] = "There is no room here.";

static int
room_valid(const char *room)
{
	size_t i, n = strlen(room);

	if (n == 0 || n > ROOM_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = room[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return 1;
}

static int
page_index(struct req *rq, struct resp *rs)
{
	struct arena *a = rq->arena;
	struct tpl_val *ctx = tpl_map(a), *rooms = tpl_list(a);
	PGresult *r;
	int i, rc;

	rc = db_exec(rq->app->db, "index_summary", 0, NULL, &r);
	if (rc != DB_OK)
		return app_db_error(rq, rs, rc);
	for (i = 0; i < PQntuples(r); i++) {
		struct tpl_val *room = tpl_map(a);

		tpl_put(a, room, "name", tpl_str(a, PQgetvalue(r, i, 0)));
		tpl_put(a, room, "count", tpl_str(a, PQgetvalue(r, i, 1)));
		tpl_put(a, room, "one", tpl_bool(a,
		    strcmp(PQgetvalue(r, i, 1), "1") == 0));
		tpl_push(a, rooms, room);
	}
	tpl_put(a, ctx, "counter", tpl_str(a, PQntuples(r) > 0 &&
	    !PQgetisnull(r, 0, 2) ? PQgetvalue(r, 0, 2) : "0"));
	tpl_put(a, ctx, "rooms", rooms);
	PQclear(r);
	return app_page(rq, rs, "keycast", "global", "index", ctx);
}

static int
page_counter(struct req *rq, struct resp *rs)
{
	struct arena *a = rq->arena;
	struct tpl_val *ctx = tpl_map(a);
	const char *params[] = { "global" };
	PGresult *r;
	int rc;

	rc = db_exec(rq->app->db, "counter_get", 1, params, &r);
	if (rc != DB_OK)
		return app_db_error(rq, rs, rc);
	tpl_put(a, ctx, "value", tpl_str(a, PQntuples(r) > 0 ?
	    PQgetvalue(r, 0, 0) : "0"));
	PQclear(r);
	return app_page(rq, rs, "Shared Real-Time Counter", "/counter",
	    "counter", ctx);
}

static int
counter_add(struct req *rq, struct resp *rs, const char *delta)
{
	const char *params[] = { "global", delta };
	PGresult *r;
	int rc;

	rc = db_exec(rq->app->db, "counter_add", 2, params, &r);
	if (rc != DB_OK)
		return app_db_error(rq, rs, rc);
	PQclear(r);
	return app_mutated(rq, rs, "/counter");
}

static int
api_increment(struct req *rq, struct resp *rs)
{
	return counter_add(rq, rs, "1");
}

static int
api_decrement(struct req *rq, struct resp *rs)
{
	return counter_add(rq, rs, "-1");
}

int
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
	rc = db_exec(rq->app->db, "chat_room", 2, params, &r);
	if (rc != DB_OK)
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
	if (ra->private && !member && ra->owner != v->id) {
		ra->deny = v->id == 0 ? 401 : 403;
		ra->reason = v->id == 0 ? "sign in to see this room" :
		    "not a member";
	}
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
	for (i = 0; i < sizeof(views) / sizeof(views[0]); i++)
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
		rc = chat_access(rq, room, &ra);
		if (rc != DB_OK)
			return app_db_error(rq, rs, rc);
		if (ra.deny != 0)
			return app_error(rq, rs, 404, NO_ROOM);
		view = ra.view;
	}
	params[0] = room;
	rc = db_exec(rq->app->db, "chat_recent", 1, params, &r);
	if (rc != DB_OK)
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

/* Trims ASCII whitespace in place; returns the trimmed start. */
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
 * go on, else the answer is written (401/303, or 404 for a private room
 * the viewer may not see) and -1 returned. */
static int
mutation_room(struct req *rq, struct resp *rs, const char *room,
    struct room_access *ra)
{
	int rc;

	if (!app_need_user(rq, rs))
		return -1;
	rc = chat_access(rq, room, ra);
	if (rc != DB_OK) {
		app_db_error(rq, rs, rc);
		return -1;
	}
	if (ra->deny != 0) {
		app_error(rq, rs, 404, NO_ROOM);
		return -1;
	}
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
	const char *params[4];
	char *text;
	size_t tlen;
	PGresult *r;
	int rc;

	if (mutation_room(rq, rs, room, &ra) != 0)
		return 0;
	text = trim(rq->arena, kv_get(rq->form, "text") ?
	    kv_get(rq->form, "text") : "");
	tlen = utf8_len(text, strlen(text));
	if (tlen < 1 || tlen > TEXT_MAX)
		return app_error(rq, rs, 422,
		    "A message must be 1 to 500 characters.");
	params[0] = room;
	params[1] = rq->viewer.name;
	params[2] = text;
	params[3] = viewer_id(rq);
	rc = db_exec(rq->app->db, "chat_post", 4, params, &r);
	if (rc != DB_OK)
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

	if (mutation_room(rq, rs, room, &ra) != 0)
		return 0;
	if (strspn(id, "0123456789") != strlen(id) || strlen(id) > 18)
		return app_error(rq, rs, 404, "There is no such message.");
	params[0] = id;
	params[1] = room;
	rc = db_exec(rq->app->db, "chat_msg_author", 2, params, &r);
	if (rc != DB_OK)
		return app_db_error(rq, rs, rc);
	author = PQntuples(r) == 1 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
	PQclear(r);
	if (author < 0)
		return app_error(rq, rs, 404, "There is no such message.");
	if (author != rq->viewer.id && strcmp(ra.view, "moderator") != 0)
		return app_error(rq, rs, 403,
		    "Only its author, the room's owner or a moderator may "
		    "delete a message.");
	rc = db_exec(rq->app->db, "chat_msg_delete", 2, params, &r);
	if (rc != DB_OK)
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

	if (!app_need_user(rq, rs))
		return 0;
	if (room == NULL || !room_valid(room))
		return app_error(rq, rs, 422,
		    "Room names are 1 to 32 of a-z, 0-9 and -.");
	priv = kv_get(rq->form, "private");
	params[0] = room;
	params[1] = viewer_id(rq);
	params[2] = priv != NULL && strcmp(priv, "1") == 0 ? "true" : "false";
	rc = db_exec(rq->app->db, "chat_room_new", 3, params, &r);
	if (rc != DB_OK)
		return app_db_error(rq, rs, rc);
	made = PQntuples(r) == 1;
	PQclear(r);
	if (!made)
		return app_error(rq, rs, 403, "That room already exists.");
	return app_mutated(rq, rs, arena_printf(rq->arena, "/chat/%s", room));
}

/* Adds (stmt chat_member_add) or removes a member; the room's owner only. */
static int
members_change(struct req *rq, struct resp *rs, const char *stmt)
{
	const char *room = route_param(&rq->match, "room");
	const char *name = kv_get(rq->form, "name");
	struct room_access ra;
	const char *params[2];
	char rid[24], uid[24];
	PGresult *r;
	int rc, found;

	if (mutation_room(rq, rs, room, &ra) != 0)
		return 0;
	if (ra.owner == 0 || ra.owner != rq->viewer.id)
		return app_error(rq, rs, 403,
		    "Only the room's owner may change its members.");
	params[0] = name != NULL ? name : "";
	rc = db_exec(rq->app->db, "chat_user", 1, params, &r);
	if (rc != DB_OK)
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
	rc = db_exec(rq->app->db, stmt, 2, params, &r);
	if (rc != DB_OK)
		return app_db_error(rq, rs, rc);
	PQclear(r);
	return app_mutated(rq, rs, arena_printf(rq->arena, "/chat/%s", room));
}

static int
api_member_add(struct req *rq, struct resp *rs)
{
	return members_change(rq, rs, "chat_member_add");
}

/* The trigger on room_members sends user:<id> on keycast_revoke: the
 * removed member's sockets on a private room close with 4403. */
static int
api_member_remove(struct req *rq, struct resp *rs)
{
	return members_change(rq, rs, "chat_member_remove");
}

const struct route page_routes[] = {
	{ "GET", "/", page_index },
	{ "GET", "/counter", page_counter },
	{ "POST", "/api/counter/increment", api_increment },
	{ "POST", "/api/counter/decrement", api_decrement },
	{ "GET", "/chat/:room", page_chat },
	{ "POST", "/api/chat/:room/messages", api_chat_post },
	{ "POST", "/api/chat/:room/messages/:id/delete", api_chat_delete },
	{ "POST", "/api/chat/:room/members", api_member_add },
	{ "POST", "/api/chat/:room/members/remove", api_member_remove },
	{ "POST", "/api/rooms", api_room_new },
};
const size_t page_nroutes = sizeof(page_routes) / sizeof(page_routes[0]);
