/* The live poll: GET /poll/:id shows a question with one bar per option,
 * POST /api/poll/:id/vote adds a vote. The handler only inserts the row:
 * the trigger in sql/007_poll.sql notifies "/poll/<id>" in the same
 * transaction, and pushd re-renders this page for everyone watching. */
#include "app.h"
#include "arena.h"
#include "db.h"
#include "template.h"

#include <stdlib.h>
#include <string.h>

/* Ids as the URL shows them: digits without a leading zero, so that
 * "/poll/01" can never subscribe to a key no NOTIFY names. */
static int
id_valid(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	return n >= 1 && n <= 18 && s[0] != '0' &&
	    strspn(s, "0123456789") == n;
}

static int
page_poll(struct req *rq, struct resp *rs)
{
	struct arena *a = rq->arena;
	const char *id = route_param(&rq->match, "id");
	struct tpl_val *ctx = tpl_map(a), *options = tpl_list(a);
	const char *params[] = { id };
	const char *question;
	long long votes, total = 0;
	PGresult *r;
	int i, rc;

	if (!id_valid(id))
		return app_error(rq, rs, 404, "There is no such poll.");
	rc = db_exec(rq->app->db, "poll_question", 1, params, &r);
	if (rc != DB_OK)
		return app_db_error(rq, rs, rc);
	question = PQntuples(r) == 1 ? arena_strdup(a, PQgetvalue(r, 0, 0)) : NULL;
	PQclear(r);
	if (question == NULL)
		return app_error(rq, rs, 404, "There is no such poll.");
	rc = db_exec(rq->app->db, "poll_options", 1, params, &r);
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
	const char *option = kv_get(rq->form, "option");
	const char *params[] = { id, option };
	PGresult *r;
	int rc, found;

	if (!id_valid(id))
		return app_error(rq, rs, 404, "There is no such poll.");
	if (!id_valid(option))
		return app_error(rq, rs, 422, "Choose one of the poll's options.");
	rc = db_exec(rq->app->db, "poll_question", 1, params, &r);
	if (rc != DB_OK)
		return app_db_error(rq, rs, rc);
	found = PQntuples(r) == 1;
	PQclear(r);
	if (!found)
		return app_error(rq, rs, 404, "There is no such poll.");
	rc = db_exec(rq->app->db, "poll_vote", 2, params, &r);
	if (rc != DB_OK)
		return app_db_error(rq, rs, rc);
	found = PQntuples(r) == 1;
	PQclear(r);
	if (!found)
		return app_error(rq, rs, 422, "That is not an option of this poll.");
	return app_mutated(rq, rs, arena_printf(rq->arena, "/poll/%s", id));
}
