/* The demo application's pages: the index (key "global"), the shared
 * counter (key "/counter") and chat rooms (key "/chat/<room>"). Mutations
 * only change rows: the triggers in sql/ send the NOTIFYs inside the same
 * transaction, so a change typed in psql and a click notify alike. */
#include "app.h"
#include "arena.h"
#include "db.h"
#include "template.h"
#include "text.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define ROOM_MAX	32
#define AUTHOR_MAX	32
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
	  "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM (SELECT id, author, body, "
	  "created_at FROM messages WHERE room = $1 ORDER BY id DESC LIMIT 50) "
	  "m ORDER BY id", 1 },
	{ "chat_post",
	  "INSERT INTO messages (room, author, body) VALUES ($1, $2, $3)", 3 },
	/* index_rooms (sql/003_room_counts.sql) reads the kept per-room
	 * counts, never messages: bounded work however much is posted. */
	{ "index_summary",
	  "SELECT name, messages, (SELECT value FROM counters WHERE "
	  "name = 'global') FROM index_rooms", 0 },
};
const size_t page_nstmts = sizeof(page_stmts) / sizeof(page_stmts[0]);

const char *const page_templates[] = { "layout", "error", "index", "counter",
    "chat", NULL };

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

static int
page_chat(struct req *rq, struct resp *rs)
{
	struct arena *a = rq->arena;
	const char *room = route_param(&rq->match, "room");
	struct tpl_val *ctx, *msgs;
	const char *params[1];
	PGresult *r;
	int i, rc;

	if (!room_valid(room))
		return app_error(rq, rs, 404, "Room names are 1 to 32 of a-z, 0-9 and -.");
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
		tpl_push(a, msgs, m);
	}
	PQclear(r);
	tpl_put(a, ctx, "room", tpl_str(a, room));
	tpl_put(a, ctx, "messages", msgs);
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

static int
api_chat_post(struct req *rq, struct resp *rs)
{
	const char *room = route_param(&rq->match, "room");
	const char *params[3];
	char *author, *text;
	size_t alen, tlen;
	PGresult *r;
	int rc;

	if (!room_valid(room))
		return app_error(rq, rs, 404, "Room names are 1 to 32 of a-z, 0-9 and -.");
	author = trim(rq->arena, kv_get(rq->form, "author") ?
	    kv_get(rq->form, "author") : "");
	text = trim(rq->arena, kv_get(rq->form, "text") ?
	    kv_get(rq->form, "text") : "");
	alen = utf8_len(author, strlen(author));
	tlen = utf8_len(text, strlen(text));
	if (alen < 1 || alen > AUTHOR_MAX)
		return app_error(rq, rs, 422, "Your name must be 1 to 32 characters.");
	if (tlen < 1 || tlen > TEXT_MAX)
		return app_error(rq, rs, 422,
		    "A message must be 1 to 500 characters.");
	params[0] = room;
	params[1] = author;
	params[2] = text;
	rc = db_exec(rq->app->db, "chat_post", 3, params, &r);
	if (rc != DB_OK)
		return app_db_error(rq, rs, rc);
	PQclear(r);
	return app_mutated(rq, rs, arena_printf(rq->arena, "/chat/%s", room));
}

const struct route page_routes[] = {
	{ "GET", "/", page_index },
	{ "GET", "/counter", page_counter },
	{ "POST", "/api/counter/increment", api_increment },
	{ "POST", "/api/counter/decrement", api_decrement },
	{ "GET", "/chat/:room", page_chat },
	{ "POST", "/api/chat/:room/messages", api_chat_post },
};
const size_t page_nroutes = sizeof(page_routes) / sizeof(page_routes[0]);
