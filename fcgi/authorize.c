/* pushd's authorize request: once per WebSocket, before any fragment, the
 * app says whether this viewer may watch url U under key K and which view
 * class it belongs to. A page's url belongs to exactly one key (/ <->
 * global, /counter <-> /counter, /chat/ROOM <-> /chat/ROOM) and carries no
 * query, so no socket can make up its own (key, url) groups: anything else
 * is 403 (4403), except a url that only answers other methods (an API
 * route), which cannot be rendered: 405 (pushd closes 1011, as when such a
 * render failed before authorize). The tags name what the answer depended
 * on; a revoke of any of them makes pushd ask again. */
#include "app.h"
#include "buf.h"
#include "router.h"

#include <string.h>

static int
deny(struct resp *rs, int status, const char *reason)
{
	resp_reset(rs);
	resp_text(rs, status, reason);
	return 0;
}

int
authz_answer(struct req *rq, struct resp *rs)
{
	const char *key = rq->authorize_key, *room = NULL, *view = "public";
	struct room_access ra;
	struct buf tags;
	int rc;

	if (strcmp(rq->method, "GET") != 0)
		return deny(rs, 403, "authorize requests are GET");
	rc = route_match(rq->app->routes, rq->app->nroutes, "GET", rq->path,
	    rq->arena, &rq->match);
	if (rc == ROUTE_BAD_METHOD)
		return deny(rs, 405, "not a page");
	if (rq->query[0] != '\0' || strchr(rq->uri, '?') != NULL)
		return deny(rs, 403, "url does not belong to key");
	if (strcmp(rq->path, "/") == 0 && strcmp(key, "global") == 0)
		;
	else if (strcmp(rq->path, "/counter") == 0 && strcmp(key, "/counter") == 0)
		;
	else if (strncmp(rq->path, "/chat/", 6) == 0 &&
	    strcmp(rq->path, key) == 0)
		room = rq->path + 6;
	else
		return deny(rs, 403, "url does not belong to key");
	/* A session cookie that names no session: signed out (or made up). */
	if (rq->viewer.stale)
		return deny(rs, 401, "signed out: sign in again");
	memset(&ra, 0, sizeof(ra));
	if (room != NULL) {
		rc = chat_access(rq, room, &ra);
		if (rc != DB_OK)
			return deny(rs, 503, "database unavailable");
		if (ra.deny == 404)
			return deny(rs, 403, "url does not belong to key");
		if (ra.deny != 0)
			return deny(rs, ra.deny, ra.reason);
		view = ra.view;
	}
	resp_reset(rs);
	resp_text(rs, 200, NULL);
	resp_header(rs, "Keycast-View", "%s", view);
	buf_init(&tags);
	if (rq->viewer.id != 0)
		buf_printf(&tags, "session:%s user:%lld", rq->viewer.session,
		    rq->viewer.id);
	if (ra.id != 0)
		buf_printf(&tags, "%sroom:%lld", tags.len > 0 ? " " : "", ra.id);
	if (tags.len > 0)
		resp_header(rs, "Keycast-Tags", "%.*s", (int)tags.len, tags.data);
	buf_cleanup(&tags);
	return 0;
}
