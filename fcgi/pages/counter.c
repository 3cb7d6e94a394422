/* The shared counter: GET /counter shows it (key "/counter"), two POSTs
 * change it. The handlers only change the row: the trigger counters_notify
 * (sql/002_notify.sql) sends "/counter" and "global" (the index shows the
 * value too) in the same transaction, so psql edits notify alike. */
#include <libpq-fe.h>

#include "keycast.h"

enum { COUNTER_GET, COUNTER_ADD, COUNTER_NSTMTS };

static const struct db_stmt stmts[COUNTER_NSTMTS] = {
	[COUNTER_GET] = { "counter_get",
	  "SELECT value FROM counters WHERE name = $1", 1 },
	[COUNTER_ADD] = { "counter_add",
	  "INSERT INTO counters (name, value) VALUES ($1, $2::bigint) "
	  "ON CONFLICT (name) DO UPDATE SET value = counters.value + "
	  "EXCLUDED.value, updated_at = now() RETURNING value", 2 },
};

static int
page_counter(struct req *rq, struct resp *rs)
{
	struct arena *a = rq->arena;
	struct tpl_val *ctx = tpl_map(a);
	const char *params[] = { "global" };
	PGresult *r;
	int rc;

	if ((rc = app_query(rq, &stmts[COUNTER_GET], params, &r)) != DB_OK)
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

	if ((rc = app_query(rq, &stmts[COUNTER_ADD], params, &r)) != DB_OK)
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

static const struct route routes[] = {
	{ "GET", "/counter", page_counter },
	{ "POST", "/api/counter/increment", api_increment },
	{ "POST", "/api/counter/decrement", api_decrement },
};

static const struct feature_key keys[] = {
	{ "/counter", "/counter",
	  "sql/002_notify.sql: trigger counters_notify on counters", NULL },
};

static const char *const templates[] = { "counter", NULL };
static const char *const migrations[] = { "001_schema.sql", "002_notify.sql",
    "004_truncate_notify.sql", NULL };

const struct feature feature_counter = {
	.name = "counter",
	.routes = routes, .nroutes = KC_LEN(routes),
	.stmts = stmts, .nstmts = COUNTER_NSTMTS,
	.templates = templates,
	.keys = keys, .nkeys = KC_LEN(keys),
	.migrations = migrations,
};
