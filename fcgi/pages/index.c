/* The start page, GET / (key "global"): the counter's value and the chat
 * rooms with their message counts. It reads the kept per-room counts of
 * sql/003_room_counts.sql, never messages: bounded work however much is
 * posted. The triggers on counters and messages send "global". */
#include <libpq-fe.h>
#include <string.h>

#include "keycast.h"

enum { INDEX_ROOMS, INDEX_COUNTER, INDEX_NSTMTS };

static const struct db_stmt stmts[INDEX_NSTMTS] = {
	[INDEX_ROOMS] = { "index_rooms",
	  "SELECT name, messages FROM index_rooms", 0 },
	/* Apart from the rooms: the counter shows even when none is listed. */
	[INDEX_COUNTER] = { "index_counter",
	  "SELECT value FROM counters WHERE name = 'global'", 0 },
};

static int
page_index(struct req *rq, struct resp *rs)
{
	struct arena *a = rq->arena;
	struct tpl_val *ctx = tpl_map(a), *rooms = tpl_list(a);
	PGresult *r;
	int i, rc;

	if ((rc = app_query(rq, &stmts[INDEX_COUNTER], NULL, &r)) != DB_OK)
		return app_db_error(rq, rs, rc);
	tpl_put(a, ctx, "counter", tpl_str(a, PQntuples(r) > 0 ?
	    PQgetvalue(r, 0, 0) : "0"));
	PQclear(r);
	if ((rc = app_query(rq, &stmts[INDEX_ROOMS], NULL, &r)) != DB_OK)
		return app_db_error(rq, rs, rc);
	for (i = 0; i < PQntuples(r); i++) {
		struct tpl_val *room = tpl_map(a);

		tpl_put(a, room, "name", tpl_str(a, PQgetvalue(r, i, 0)));
		tpl_put(a, room, "count", tpl_str(a, PQgetvalue(r, i, 1)));
		tpl_put(a, room, "one", tpl_bool(a,
		    strcmp(PQgetvalue(r, i, 1), "1") == 0));
		tpl_push(a, rooms, room);
	}
	tpl_put(a, ctx, "rooms", rooms);
	PQclear(r);
	return app_page(rq, rs, "keycast", "global", "index", ctx);
}

static const struct route routes[] = {
	{ "GET", "/", page_index },
};

static const struct feature_key keys[] = {
	{ "global", "/", "sql/002_notify.sql: triggers counters_notify and "
	  "messages_notify; sql/004_truncate_notify.sql on TRUNCATE", NULL },
};

static const char *const templates[] = { "index", NULL };
static const char *const migrations[] = { "001_schema.sql", "002_notify.sql",
    "003_room_counts.sql", "004_truncate_notify.sql", NULL };

const struct feature feature_index = {
	.name = "index",
	.routes = routes, .nroutes = KC_LEN(routes),
	.stmts = stmts, .nstmts = INDEX_NSTMTS,
	.templates = templates,
	.keys = keys, .nkeys = KC_LEN(keys),
	.migrations = migrations,
};
