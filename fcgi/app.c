/* The request cycle shared by every page (see app.h). */
#include "app.h"
#include "arena.h"
#include "db.h"
#include "log.h"
#include "template.h"
#include "text.h"

#include <stdio.h>
#include <string.h>

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
	app->db = db_new(conninfo, page_stmts, page_nstmts);
	app->routes = page_routes;
	app->nroutes = page_nroutes;
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
	memset(app, 0, sizeof(*app));
}

void
app_handle(struct app *app, struct req *rq, struct resp *rs)
{
	int rc;

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
	rq->match.route->handler(rq, rs);
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
	if (rq->xkeycast || rq->render_key != NULL || app == NULL) {
		resp_text(rs, status, msg);
		return 0;
	}
	ctx = tpl_map(rq->arena);
	tpl_put(rq->arena, ctx, "title", tpl_str(rq->arena, resp_reason(status)));
	tpl_put(rq->arena, ctx, "status", tpl_int(rq->arena, status));
	tpl_put(rq->arena, ctx, "message", tpl_str(rq->arena, msg));
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
