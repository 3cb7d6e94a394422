/* pushd's authorize request: once per WebSocket root, before any fragment,
 * the app says whether this viewer may watch url U under key K and which
 * view class it belongs to (docs/protocol.md). A url belongs to exactly
 * one key, the one of the first feature_key whose url pattern it matches
 * (its parameters put into the key pattern), and carries no query and no
 * %XX escape, so no socket can make up its own (key, url) groups: anything else is 403
 * (4403), except a url that only answers other methods (an API route),
 * which cannot be rendered: 405 (pushd closes 1011, as when such a render
 * failed before authorize). The tags name what the answer depended on; a
 * revoke of any of them makes pushd ask again. */
#include "app.h"
#include "buf.h"
#include "router.h"

#include <string.h>

static int
deny(struct resp *rs, int status, const char *reason)
{
	resp_reset(rs);
	resp_text(rs, status, reason);
	return status;
}

/* The key pattern with m's parameters put in place of its ":name"
 * segments (a ':' that starts the pattern or follows a '/'). */
static const char *
key_expand(struct arena *a, const char *pat, const struct route_match *m)
{
	struct buf out;
	const char *p = pat, *v, *res;

	buf_init(&out);
	while (*p != '\0') {
		if (*p == ':' && (p == pat || p[-1] == '/')) {
			const char *end = strchrnul(p, '/');
			char *name = arena_strndup(a, p + 1, (size_t)(end - p - 1));

			v = route_param(m, name);
			buf_puts(&out, v != NULL ? v : "");
			p = end;
			continue;
		}
		buf_append(&out, p, 1);
		p++;
	}
	res = arena_strndup(a, out.data != NULL ? out.data : "", out.len);
	buf_cleanup(&out);
	return res;
}

/* The feature_key that url (rq->path) belongs to when it is key's, with
 * rq->match holding the url's parameters; NULL otherwise. */
static const struct feature_key *
key_of(struct req *rq, const char *key)
{
	size_t i, j;

	for (i = 0; i < app_nfeatures; i++) {
		const struct feature *f = app_features[i];

		for (j = 0; j < f->nkeys; j++) {
			const struct feature_key *k = &f->keys[j];
			struct route r = { "GET", k->url, NULL };

			if (route_match(&r, 1, "GET", rq->path, rq->arena,
			    &rq->match) != ROUTE_OK)
				continue;
			/* The url is this entry's: the first match decides. */
			if (strcmp(key_expand(rq->arena, k->key, &rq->match),
			    key) == 0)
				return k;
			return NULL;
		}
	}
	return NULL;
}

int
authz_answer(struct req *rq, struct resp *rs)
{
	const struct feature_key *k;
	struct authz az = { "public", 0, NULL, NULL };
	struct buf tags;
	int rc;

	if (strcmp(rq->method, "GET") != 0)
		return deny(rs, 403, "authorize requests are GET");
	rc = route_match(rq->app->routes, rq->app->nroutes, "GET", rq->path,
	    rq->arena, &rq->match);
	if (rc == ROUTE_BAD_METHOD)
		return deny(rs, 405, "not a page");
	/* A %XX escape spells a page another way: one more group of the
	 * same page, as a query would be. */
	if (rq->query[0] != '\0' || strchr(rq->uri, '?') != NULL ||
	    strchr(rq->uri, '%') != NULL)
		return deny(rs, 403, "url does not belong to key");
	if ((k = key_of(rq, rq->authorize_key)) == NULL)
		return deny(rs, 403, "url does not belong to key");
	/* A session cookie that names no session: signed out (or made up). */
	if (rq->viewer.stale)
		return deny(rs, 401, "signed out: sign in again");
	if (k->authorize != NULL) {
		rc = k->authorize(rq, &az);
		if (rc != DB_OK)
			return deny(rs, 503, "database unavailable");
		if (az.deny != 0)
			return deny(rs, az.deny, az.reason != NULL ? az.reason :
			    "refused");
	}
	resp_reset(rs);
	resp_text(rs, 200, NULL);
	resp_header(rs, "Keycast-View", "%s", az.view);
	buf_init(&tags);
	if (rq->viewer.id != 0)
		buf_printf(&tags, "session:%s user:%lld", rq->viewer.session,
		    rq->viewer.id);
	if (az.tags != NULL && az.tags[0] != '\0')
		buf_printf(&tags, "%s%s", tags.len > 0 ? " " : "", az.tags);
	if (tags.len > 0)
		resp_header(rs, "Keycast-Tags", "%.*s", (int)tags.len, tags.data);
	buf_cleanup(&tags);
	return 200;
}
