/* The request cycle shared by every page (see app.h). */
#include "app.h"
#include "arena.h"
#include "db.h"
#include "log.h"
#include "template.h"
#include "text.h"
#include "xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Failed sign-ins allowed per window (see --signin-* in keycast-fcgi). */
#define FAIL_PER_ADDR	20
#define FAIL_PER_NAME	5
#define FAIL_WINDOW_S	300

/* Two features' tables as one, owned by the caller. */
static void *
concat(const void *a, size_t na, const void *b, size_t nb, size_t size)
{
	char *out = xmalloc((na + nb) * size);

	memcpy(out, a, na * size);
	memcpy(out + na * size, b, nb * size);
	return out;
}

int
app_init(struct app *app, const char *template_dir, const char *conninfo,
    char *err, size_t errlen)
{
	size_t i;

	memset(app, 0, sizeof(*app));
	app->tpl = tpl_set_new();
	if (tpl_load_dir(app->tpl, template_dir, err, errlen) != 0)
		goto fail;
	for (i = 0; page_templates[i] != NULL; i++) {
		if (!tpl_has(app->tpl, page_templates[i])) {
			snprintf(err, errlen, "%s/%s.mustache: missing template",
			    template_dir, page_templates[i]);
			goto fail;
		}
	}
	if (tpl_set_check(app->tpl, err, errlen) != 0)
		goto fail;
	app->stmts = concat(page_stmts, page_nstmts, acct_stmts, acct_nstmts,
	    sizeof(*app->stmts));
	app->db = db_new(conninfo, app->stmts, page_nstmts + acct_nstmts);
	app->routes = concat(page_routes, page_nroutes, acct_routes,
	    acct_nroutes, sizeof(*app->routes));
	app->nroutes = page_nroutes + acct_nroutes;
	app->fail_per_addr = FAIL_PER_ADDR;
	app->fail_per_name = FAIL_PER_NAME;
	app->fail_window_s = FAIL_WINDOW_S;
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

void
app_handle(struct app *app, struct req *rq, struct resp *rs)
{
	int rc;

	if (rq->render_key != NULL && rq->authorize_key != NULL) {
		app_error(rq, rs, 400, "A request renders or authorizes, not both.");
		return;
	}
	if (rq->render_key != NULL && rq->cookie != NULL) {
		/* A render is shared by every viewer of its class: one
		 * browser's cookie must never shape it. */
		log_error("render request carries a cookie");
		app_error(rq, rs, 500, "A render request must carry no cookie.");
		return;
	}
	if (rq->render_key == NULL) {
		rc = acct_identify(rq);
		if (rc != DB_OK) {
			app_db_error(rq, rs, rc);
			return;
		}
	}
	if (rq->authorize_key != NULL) {
		authz_answer(rq, rs);
		return;
	}
	rc = route_match(app->routes, app->nroutes, rq->method, rq->path,
	    rq->arena, &rq->match);
	if (rc == ROUTE_NOT_FOUND) {
		app_error(rq, rs, 404, "There is no page at this address.");
		return;
	}
	if (rc == ROUTE_BAD_METHOD) {
		app_error(rq, rs, 405, "This address does not accept that method.");
		resp_header(rs, "Allow", "%s", rq->match.allow);
		return;
	}
	if (strcmp(rq->method, "POST") == 0) {
		if (req_cross_site(rq)) {
			app_error(rq, rs, 403, "Cross-site form posts are refused.");
			return;
		}
		if (rq->body_len > 0 && strncasecmp(rq->content_type,
		    "application/x-www-form-urlencoded", 33) != 0) {
			app_error(rq, rs, 415,
			    "Send the form as application/x-www-form-urlencoded.");
			return;
		}
		if (req_parse_urlencoded(rq->arena, rq->body, rq->body_len,
		    &rq->form) != 0) {
			app_error(rq, rs, 400, "The form data is malformed.");
			return;
		}
	}
	if (!kv_all_utf8(rq->args) || !kv_all_utf8(rq->form)) {
		app_error(rq, rs, 422, "Text must be valid UTF-8.");
		return;
	}
	acct_forget_stale(rq, rs);
	rq->match.route->handler(rq, rs);
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

int
app_page(struct req *rq, struct resp *rs, const char *title, const char *key,
    const char *tpl, struct tpl_val *ctx)
{
	struct app *app = rq->app;
	char err[256];

	buf_reset(&rs->body);
	rs->status = 200;
	if (rq->render_key != NULL) {
		/* pushd's render request: the fragment alone, same template. */
		if (tpl_render(app->tpl, tpl, ctx, &rs->body, err, sizeof(err)) != 0)
			goto fail;
		resp_header(rs, "Cache-Control", "no-store");
		return 0;
	}
	{
		struct buf frag;
		struct tpl_val *page = tpl_map(rq->arena);
		int rc;

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
	}
	resp_header(rs, "Cache-Control", "no-store");
	return 0;
fail:
	log_error("rendering %s: %s", tpl, err);
	return app_error(rq, rs, 500, "The page could not be rendered.");
}

int
app_mutated(struct req *rq, struct resp *rs, const char *page)
{
	if (rq->xkeycast) {
		resp_text(rs, 204, NULL);
		return 0;
	}
	resp_redirect(rs, 303, page);
	return 0;
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
		return 0;
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
	return 0;
}

int
app_db_error(struct req *rq, struct resp *rs, int dbrc)
{
	if (dbrc == DB_UNAVAILABLE) {
		app_error(rq, rs, 503,
		    "The database is unavailable right now; try again shortly.");
		resp_header(rs, "Retry-After", "1");
		return 0;
	}
	if (dbrc == DB_BUSY) {
		app_error(rq, rs, 503, "The database is busy (a long query or a "
		    "schema change holds a lock); try again shortly.");
		resp_header(rs, "Retry-After", "1");
		return 0;
	}
	return app_error(rq, rs, 500, "Something went wrong on our side.");
}

int
app_need_user(struct req *rq, struct resp *rs)
{
	if (rq->viewer.id != 0)
		return 1;
	if (rq->xkeycast)
		resp_text(rs, 401, "Sign in first.");
	else
		resp_redirect(rs, 303, "/signin");
	return 0;
}
