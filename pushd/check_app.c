/* keycast-pushd --check: the app link. The url is rendered through the
 * daemon's own render client on a private event loop (whose requests time
 * out by themselves), and judged as pushd would judge it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "check_links.h"
#include "hub.h"
#include "render.h"
#include "ws.h"
#include "xmalloc.h"

struct render_wait {
	struct event_base	*base;
	struct rnd_result	 res;	/* body and error copied below */
	char			*body;
	char			*error;
	int			 done;
};

static void
render_done(void *arg, const struct rnd_result *res)
{
	struct render_wait *w = arg;

	w->res = *res;
	w->body = xstrndup(res->body != NULL ? res->body : "", res->len);
	w->error = res->error != NULL ? xstrdup(res->error) : NULL;
	w->done = 1;
	event_base_loopbreak(w->base);
}

/* What pushd does with a render status other than 200 (hub_verdict). */
static const char *
status_effect(int status)
{
	uint16_t code = 0;

	if (hub_verdict(status, NULL, 0, &code) == HUB_RETRY)
		return status == 503 ? "the app cannot reach PostgreSQL? "
		    "pushd retries with backoff" : "pushd retries with backoff";
	switch (code) {
	case WS_CLOSE_NOT_FOUND: return "pushd closes the url's clients "
		    "with 4404 (no such page)";
	case WS_CLOSE_FORBIDDEN: return "pushd closes the url's clients "
		    "with 4403";
	default: return "pushd closes the url's clients with 1011: a render "
		    "must answer 200 with the fragment";
	}
}

void
check_render(struct check *c)
{
	const struct check_opts *o = c->o;
	const char *link = "render";
	struct render_wait w;
	struct rnd *r = NULL;
	char err[256];
	uint16_t code;

	memset(&w, 0, sizeof(w));
	if ((w.base = event_base_new()) == NULL) {
		check_report(c, CK_FAILED, link, "cannot create an event loop");
		goto done;
	}
	if ((r = rnd_new(w.base, o->app, &(struct rnd_opts){ .conns = 1,
	    .wire_ms = RND_WIRE_MS, .queue_ms = RND_QUEUE_MS }, err,
	    sizeof(err))) == NULL) {
		check_report(c, CK_FAILED, link, "--app %s", err);
		goto done;
	}
	rnd_submit(r, c->key, o->url, NULL, o->host, render_done, &w);
	/* The render client times its requests out (RND_WIRE_MS). */
	if (event_base_dispatch(w.base) < 0 || !w.done) {
		check_report(c, CK_FAILED, link, "the event loop failed");
		goto done;
	}
	if (w.res.status < 0) {
		check_report(c, CK_FAILED, link, "keycast-fcgi at %s: %s",
		    o->app, w.error);
	} else if (w.res.status != 200) {
		check_report(c, CK_FAILED, link, "keycast-fcgi at %s answered "
		    "%d for %s (key %s): %s", o->app, w.res.status, o->url, c->key,
		    status_effect(w.res.status));
	} else if (check_is_whole_page(w.body, w.res.len)) {
		check_report(c, CK_FAILED, link, "keycast-fcgi at %s answered "
		    "%s with a whole page, not a fragment: does the app "
		    "honour KEYCAST_RENDER?", o->app, o->url);
	} else if (hub_verdict(200, w.body, w.res.len, &code) == HUB_DROP) {
		check_report(c, CK_FAILED, link, "keycast-fcgi at %s answered "
		    "%s with a fragment that is not valid UTF-8: pushd does "
		    "not send it", o->app, o->url);
	} else {
		check_report(c, CK_OK, link, "keycast-fcgi at %s rendered %s "
		    "(key %s) as a %zu-byte fragment in %.1f ms", o->app,
		    o->url, c->key, w.res.len, w.res.seconds * 1e3);
		c->fragment = w.body;
		c->fragment_len = w.res.len;
		w.body = NULL;
	}
done:
	rnd_free(r);
	if (w.base != NULL)
		event_base_free(w.base);
	free(w.body);
	free(w.error);
}

