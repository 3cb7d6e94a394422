/* The live poll, the example of docs/realtime-page.md: GET /poll/:id shows
 * a question with one bar per option, POST /api/poll/:id/vote adds a vote.
 * The vote handler only inserts a row: the trigger of sql/007_poll.sql
 * notifies "/poll/<id>" in the same transaction, and keycast-pushd renders
 * this page again for everyone watching it. */
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "keycast.h"

enum { POLL_QUESTION, POLL_OPTIONS, POLL_VOTE, POLL_NSTMTS };

static const struct db_stmt stmts[POLL_NSTMTS] = {
	[POLL_QUESTION] = { "poll_question",
	    "SELECT question FROM poll WHERE id = $1::bigint", 1 },
	[POLL_OPTIONS] = { "poll_options",
	    "SELECT o.id, o.label, count(v.id) FROM poll_option o "
	    "LEFT JOIN vote v ON v.option_id = o.id "
	    "WHERE o.poll_id = $1::bigint GROUP BY o.id ORDER BY o.id", 1 },
	/* Inserts nothing when the option is not one of this poll's. */
	[POLL_VOTE] = { "poll_vote",
	    "INSERT INTO vote (poll_id, option_id) SELECT poll_id, id "
	    "FROM poll_option WHERE poll_id = $1::bigint AND id = $2::bigint "
	    "RETURNING id", 2 },
};

/* An id as the URL shows it: digits without a leading zero, so that no
 * page subscribes to "/poll/01", a key no NOTIFY ever names. */
static int
id_valid(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	return n >= 1 && n <= 18 && s[0] != '0' &&
	    strspn(s, "0123456789") == n;
}

/* The poll's question into *question (arena), NULL when there is none. */
static int
poll_question(struct req *rq, const char *id, const char **question)
{
	const char *params[] = { id };
	PGresult *r;
	int rc;

	*question = NULL;
	rc = app_query(rq, &stmts[POLL_QUESTION], params, &r);
	if (rc != DB_OK)
		return rc;
	if (PQntuples(r) == 1)
		*question = arena_strdup(rq->arena, PQgetvalue(r, 0, 0));
	PQclear(r);
	return DB_OK;
}

static int
page_poll(struct req *rq, struct resp *rs)
{
	struct arena *a = rq->arena;
	const char *id = route_param(&rq->match, "id");
	struct tpl_val *ctx = tpl_map(a), *options = tpl_list(a);
	const char *params[] = { id }, *question;
	long long votes, total = 0;
	PGresult *r;
	int i, rc;

	if (!id_valid(id))
		return app_error(rq, rs, 404, "There is no such poll.");
	rc = poll_question(rq, id, &question);
	if (rc != DB_OK)
		return app_db_error(rq, rs, rc);
	if (question == NULL)
		return app_error(rq, rs, 404, "There is no such poll.");
	rc = app_query(rq, &stmts[POLL_OPTIONS], params, &r);
	if (rc != DB_OK)
		return app_db_error(rq, rs, rc);
	for (i = 0; i < PQntuples(r); i++)
		total += strtoll(PQgetvalue(r, i, 2), NULL, 10);
	for (i = 0; i < PQntuples(r); i++) {
		struct tpl_val *o = tpl_map(a);

		votes = strtoll(PQgetvalue(r, i, 2), NULL, 10);
		tpl_put(a, o, "id", tpl_str(a, PQgetvalue(r, i, 0)));
		tpl_put(a, o, "label", tpl_str(a, PQgetvalue(r, i, 1)));
		tpl_put(a, o, "votes", tpl_int(a, votes));
		/* The bar's width: the option's share, rounded. */
		tpl_put(a, o, "percent", tpl_int(a,
		    total > 0 ? (votes * 100 + total / 2) / total : 0));
		tpl_push(a, options, o);
	}
	PQclear(r);
	tpl_put(a, ctx, "poll", tpl_str(a, id));
	tpl_put(a, ctx, "question", tpl_str(a, question));
	tpl_put(a, ctx, "total", tpl_int(a, total));
	tpl_put(a, ctx, "one", tpl_bool(a, total == 1));
	tpl_put(a, ctx, "options", options);
	return app_page(rq, rs, question, arena_printf(a, "/poll/%s", id),
	    "poll", ctx);
}

static int
api_poll_vote(struct req *rq, struct resp *rs)
{
	const char *id = route_param(&rq->match, "id");
	const char *params[] = { id, kv_get(rq->form, "option") };
	const char *question;
	PGresult *r;
	int rc, voted;

	if (!id_valid(id))
		return app_error(rq, rs, 404, "There is no such poll.");
	if (!id_valid(params[1]))
		return app_error(rq, rs, 422, "Choose one of the poll's options.");
	rc = poll_question(rq, id, &question);
	if (rc != DB_OK)
		return app_db_error(rq, rs, rc);
	if (question == NULL)
		return app_error(rq, rs, 404, "There is no such poll.");
	rc = app_query(rq, &stmts[POLL_VOTE], params, &r);
	if (rc != DB_OK)
		return app_db_error(rq, rs, rc);
	voted = PQntuples(r) == 1;
	PQclear(r);
	if (!voted)
		return app_error(rq, rs, 422, "That is not an option of this poll.");
	return app_mutated(rq, rs, arena_printf(rq->arena, "/poll/%s", id));
}

static const struct route routes[] = {
	{ "GET", "/poll/:id", page_poll },
	{ "POST", "/api/poll/:id/vote", api_poll_vote },
};

static const char *const templates[] = { "poll", NULL };

static const struct feature_key keys[] = {
	{ "/poll/:id", "/poll/:id",
	  "sql/007_poll.sql: triggers vote_notify and poll_option_notify",
	  NULL },
};

static const char *const migrations[] = { "002_notify.sql", "007_poll.sql",
    NULL };

const struct feature feature_poll = {
	.name = "poll",
	.routes = routes, .nroutes = KC_LEN(routes),
	.stmts = stmts, .nstmts = KC_LEN(stmts),
	.templates = templates,
	.keys = keys, .nkeys = KC_LEN(keys),
	.migrations = migrations,
};
