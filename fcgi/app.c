/* The request cycle shared by every feature (see app.h, keycast.h). */
#include "app.h"
#include "arena.h"
#include "db.h"
#include "log.h"
#include "router.h"
#include "template.h"
#include "text.h"
#include "xmalloc.h"
#include "pages/features.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Failed sign-ins allowed per window (see --signin-* in keycast-fcgi). */
#define FAIL_PER_ADDR	20
#define FAIL_PER_NAME	5
#define FAIL_WINDOW_S	300
#define SESSION_IDLE_DAYS 30

#define X(name) extern const struct feature feature_##name;
KC_FEATURES(X)
#undef X

const struct feature *const app_features[] = {
#define X(name) &feature_##name,
KC_FEATURES(X)
#undef X
};
const size_t app_nfeatures = KC_LEN(app_features);

/* The layout's own templates; the features name theirs. */
static const char *const layout_templates[] = { "layout", "error", "header" };

/* 1 when the statement name of f->stmts[i] is used by an earlier one: all
 * are prepared on the same session. */
static int
stmt_taken(const struct feature *f, size_t i)
{
	const char *name = f->stmts[i].name;
	size_t j, k;

	for (j = 0; j < app_nfeatures && app_features[j] != f; j++)
		for (k = 0; k < app_features[j]->nstmts; k++)
			if (strcmp(app_features[j]->stmts[k].name, name) == 0)
				return 1;
	for (k = 0; k < i; k++)
		if (strcmp(f->stmts[k].name, name) == 0)
			return 1;
	return 0;
}

static int
check_feature(const struct feature *f, char *err, size_t errlen)
{
	size_t i;

	if (f->name == NULL) {
		snprintf(err, errlen, "a feature has no name");
		return -1;
	}
	for (i = 0; i < f->nroutes; i++) {
		const struct route *r = &f->routes[i];

		if (r->method == NULL || r->pattern == NULL ||
		    r->handler == NULL || r->pattern[0] != '/' ||
		    (strcmp(r->method, "GET") != 0 &&
		    strcmp(r->method, "POST") != 0)) {
			snprintf(err, errlen, "feature %s: route %zu is "
			    "incomplete (method GET or POST, pattern /..., "
			    "handler)", f->name, i);
			return -1;
		}
	}
	for (i = 0; i < f->nstmts; i++) {
		if (f->stmts[i].name == NULL || f->stmts[i].sql == NULL) {
			snprintf(err, errlen, "feature %s: statement %zu has "
			    "no name or no SQL", f->name, i);
			return -1;
		}
		if (stmt_taken(f, i)) {
			snprintf(err, errlen, "feature %s: statement name %s is "
			    "already taken", f->name, f->stmts[i].name);
			return -1;
		}
	}
	for (i = 0; i < f->nkeys; i++) {
		const struct feature_key *fk = &f->keys[i];

		if (fk->key == NULL || fk->url == NULL || fk->url[0] != '/') {
			snprintf(err, errlen, "feature %s: key %zu needs a key "
			    "and a url pattern /...", f->name, i);
			return -1;
		}
	}
	return 0;
}

int
app_check_features(char *err, size_t errlen)
{
	size_t i, nidentify = 0;

	for (i = 0; i < app_nfeatures; i++) {
		if (check_feature(app_features[i], err, errlen) != 0)
			return -1;
		nidentify += app_features[i]->identify != NULL;
	}
	if (nidentify > 1) {
		snprintf(err, errlen, "more than one feature has an identify hook");
		return -1;
	}
	return 0;
}

static int
has_templates(const struct tpl_set *set, const char *dir,
    const char *const *names, size_t n, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < n && names[i] != NULL; i++) {
		if (!tpl_has(set, names[i])) {
			snprintf(err, errlen, "%s/%s.mustache: missing template",
			    dir, names[i]);
			return -1;
		}
	}
	return 0;
}

int
app_init(struct app *app, const char *template_dir, const char *conninfo,
    char *err, size_t errlen)
{
	size_t i, nroutes = 0, nstmts = 0;

	memset(app, 0, sizeof(*app));
	if (app_check_features(err, errlen) != 0)
		return -1;
	app->tpl = tpl_set_new();
	if (tpl_load_dir(app->tpl, template_dir, err, errlen) != 0)
		goto fail;
	if (has_templates(app->tpl, template_dir, layout_templates,
	    KC_LEN(layout_templates), err, errlen) != 0)
		goto fail;
	for (i = 0; i < app_nfeatures; i++) {
		const struct feature *f = app_features[i];

		if (f->templates != NULL && has_templates(app->tpl,
		    template_dir, f->templates, SIZE_MAX, err, errlen) != 0)
			goto fail;
		nroutes += f->nroutes;
		nstmts += f->nstmts;
	}
	if (tpl_set_check(app->tpl, err, errlen) != 0)
		goto fail;
	app->routes = xcalloc(nroutes + 1, sizeof(*app->routes));
	app->stmts = xcalloc(nstmts + 1, sizeof(*app->stmts));
	nstmts = 0;
	for (i = 0; i < app_nfeatures; i++) {
		const struct feature *f = app_features[i];

		/* (memcpy from a NULL table, even of 0 bytes, is undefined) */
		if (f->nroutes > 0)
			memcpy(app->routes + app->nroutes, f->routes,
			    f->nroutes * sizeof(*f->routes));
		app->nroutes += f->nroutes;
		if (f->nstmts > 0)
			memcpy(app->stmts + nstmts, f->stmts,
			    f->nstmts * sizeof(*f->stmts));
		nstmts += f->nstmts;
	}
	app->db = db_new(conninfo, app->stmts, nstmts);
	app->fail_per_addr = FAIL_PER_ADDR;
	app->fail_per_name = FAIL_PER_NAME;
	app->fail_window_s = FAIL_WINDOW_S;
	app->session_idle_days = SESSION_IDLE_DAYS;
	return 0;
fail:
	tpl_set_free(app->tpl);
	app->tpl = NULL;
	return -1;
}

void
app_cleanup(struct app *app)
{
	tpl_set_free(app->tpl);
	db_free(app->db);
	free(app->routes);
	free(app->stmts);
	memset(app, 0, sizeof(*app));
}

/* The handler's answer: a status returned with rs untouched is answered
 * with the error page; any other status must be the one it answered. */
static int
run_handler(struct req *rq, struct resp *rs)
{
	int status = rq->match.route->handler(rq, rs);
	int untouched = rs->status == 200 && rs->body.len == 0;

	if (status >= 400 && untouched)
		return app_error(rq, rs, status, resp_reason(status));
	if (status != rs->status) {
		log_error("%s %s: the handler returned %d but answered %d",
		    rq->method, rq->path, status, rs->status);
		if (status < 100 || status > 599)
			return app_error(rq, rs, 500,
			    "Something went wrong on our side.");
	}
	return rs->status;
}

static int
identify(struct req *rq, struct resp *rs)
{
	size_t i;

	for (i = 0; i < app_nfeatures; i++)
		if (app_features[i]->identify != NULL)
			return app_features[i]->identify(rq, rs);
	return DB_OK;
}

int
app_handle(struct app *app, struct req *rq, struct resp *rs)
{
	int rc;

	if (rq->render_key != NULL && rq->authorize_key != NULL)
		return app_error(rq, rs, 400,
		    "A request renders or authorizes, not both.");
	if (rq->render_key != NULL && rq->cookie != NULL) {
		/* A render is shared by every viewer of its class: one
		 * browser's cookie must never shape it. */
		log_error("render request carries a cookie");
		return app_error(rq, rs, 500,
		    "A render request must carry no cookie.");
	}
	if (rq->render_key == NULL && (rc = identify(rq, rs)) != DB_OK)
		return app_db_error(rq, rs, rc);
	if (rq->authorize_key != NULL)
		return authz_answer(rq, rs);
	rc = route_match(app->routes, app->nroutes, rq->method, rq->path,
	    rq->arena, &rq->match);
	if (rc == ROUTE_NOT_FOUND)
		return app_error(rq, rs, 404, "There is no page at this address.");
	if (rc == ROUTE_BAD_METHOD) {
		app_error(rq, rs, 405, "This address does not accept that method.");
		resp_header(rs, "Allow", "%s", rq->match.allow);
		return 405;
	}
	if (strcmp(rq->method, "POST") == 0) {
		if (req_cross_site(rq))
			return app_error(rq, rs, 403,
			    "Cross-site form posts are refused.");
		if (rq->body_len > 0 && strncasecmp(rq->content_type,
		    "application/x-www-form-urlencoded", 33) != 0)
			return app_error(rq, rs, 415,
			    "Send the form as application/x-www-form-urlencoded.");
		if (req_parse_urlencoded(rq->arena, rq->body, rq->body_len,
		    &rq->form) != 0)
			return app_error(rq, rs, 400, "The form data is malformed.");
	}
	if (!kv_all_utf8(rq->args) || !kv_all_utf8(rq->form))
		return app_error(rq, rs, 422, "Text must be valid UTF-8.");
	return run_handler(rq, rs);
}

int
app_query(struct req *rq, const struct db_stmt *st, const char *const *params,
    PGresult **res)
{
	return db_exec(rq->app->db, st->name, st->nparams, params, res);
}

/* Who is signed in, for the header, <body data-viewer> and the <style>
 * that marks the viewer's own messages (all outside the realtime root). */
static void
put_viewer(struct req *rq, struct tpl_val *page)
{
	struct arena *a = rq->arena;

	if (rq->viewer.id == 0)
		return;
	tpl_put(a, page, "viewer_id", tpl_int(a, rq->viewer.id));
	tpl_put(a, page, "viewer_name", tpl_str(a, rq->viewer.name));
}

/* The features' values for the layout (their layout hooks). */
static int
put_layout(struct req *rq, struct tpl_val *page)
{
	size_t i;
	int rc;

	for (i = 0; i < app_nfeatures; i++)
		if (app_features[i]->layout != NULL &&
		    (rc = app_features[i]->layout(rq, page)) != DB_OK)
			return rc;
	return DB_OK;
}

int
app_page(struct req *rq, struct resp *rs, const char *title, const char *key,
    const char *tpl, struct tpl_val *ctx)
{
	struct app *app = rq->app;
	struct tpl_val *page;
	struct buf frag;
	char err[256];
	int rc;

	buf_reset(&rs->body);
	rs->status = 200;
	if (rq->render_key != NULL) {
		/* pushd's render request: the fragment alone, same template. */
		if (tpl_render(app->tpl, tpl, ctx, &rs->body, err, sizeof(err)) != 0)
			goto fail;
		resp_header(rs, "Cache-Control", "no-store");
		return 200;
	}
	page = tpl_map(rq->arena);
	if ((rc = put_layout(rq, page)) != DB_OK)
		return app_db_error(rq, rs, rc);
	buf_init(&frag);
	rc = tpl_render(app->tpl, tpl, ctx, &frag, err, sizeof(err));
	if (rc == 0) {
		tpl_put(rq->arena, page, "title", tpl_str(rq->arena, title));
		tpl_put(rq->arena, page, "key", tpl_str(rq->arena, key));
		put_viewer(rq, page);
		tpl_put(rq->arena, page, "fragment",
		    tpl_strn(rq->arena, frag.data ? frag.data : "", frag.len));
		rc = tpl_render(app->tpl, "layout", page, &rs->body, err,
		    sizeof(err));
	}
	buf_cleanup(&frag);
	if (rc != 0)
		goto fail;
	resp_header(rs, "Cache-Control", "no-store");
	return 200;
fail:
	log_error("rendering %s: %s", tpl, err);
	return app_error(rq, rs, 500, "The page could not be rendered.");
}

int
app_mutated(struct req *rq, struct resp *rs, const char *page)
{
	if (rq->xkeycast) {
		resp_text(rs, 204, NULL);
		return 204;
	}
	resp_redirect(rs, 303, page);
	return 303;
}

int
app_error(struct req *rq, struct resp *rs, int status, const char *msg)
{
	struct app *app = rq->app;
	struct tpl_val *ctx;
	char err[256];

	resp_reset(rs);
	if (rq->xkeycast || rq->render_key != NULL ||
	    rq->authorize_key != NULL || app == NULL) {
		resp_text(rs, status, msg);
		return status;
	}
	ctx = tpl_map(rq->arena);
	tpl_put(rq->arena, ctx, "title", tpl_str(rq->arena, resp_reason(status)));
	tpl_put(rq->arena, ctx, "status", tpl_int(rq->arena, status));
	tpl_put(rq->arena, ctx, "message", tpl_str(rq->arena, msg));
	put_viewer(rq, ctx);
	/* A refused plain form (JavaScript off) links back to its page. */
	if (strcmp(rq->method, "POST") == 0)
		tpl_put(rq->arena, ctx, "back", tpl_str(rq->arena, req_back_url(rq)));
	rs->status = status;
	if (tpl_render(app->tpl, "error", ctx, &rs->body, err, sizeof(err)) != 0) {
		log_error("rendering error page: %s", err);
		resp_text(rs, status, msg);
	}
	return status;
}

int
app_db_error(struct req *rq, struct resp *rs, int dbrc)
{
	if (dbrc == DB_UNAVAILABLE) {
		app_error(rq, rs, 503,
		    "The database is unavailable right now; try again shortly.");
		resp_header(rs, "Retry-After", "1");
		return 503;
	}
	if (dbrc == DB_BUSY) {
		app_error(rq, rs, 503, "The database is busy (a long query or a "
		    "schema change holds a lock); try again shortly.");
		resp_header(rs, "Retry-After", "1");
		return 503;
	}
	return app_error(rq, rs, 500, "Something went wrong on our side.");
}

int
app_need_user(struct req *rq, struct resp *rs)
{
	if (rq->viewer.id != 0)
		return 0;
	if (rq->xkeycast) {
		resp_text(rs, 401, "Sign in first.");
		return 401;
	}
	resp_redirect(rs, 303, "/signin");
	return 303;
}
