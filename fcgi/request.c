/* CGI variables and urlencoded data into struct req (see request.h). */
#include "request.h"
#include "arena.h"
#include "text.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *
env_or(req_getenv_fn get, void *ctx, const char *name, const char *dflt)
{
	const char *v = get(ctx, name);

	return v != NULL ? v : dflt;
}

int
req_init(struct req *rq, struct arena *a, req_getenv_fn get, void *ctx)
{
	const char *uri, *q, *cl, *xk, *rk, *https, *scheme;
	char *path;
	long n;

	memset(rq, 0, sizeof(*rq));
	rq->arena = a;
	rq->method = env_or(get, ctx, "REQUEST_METHOD", "GET");
	uri = get(ctx, "REQUEST_URI");
	if (uri == NULL || uri[0] == '\0') {
		/* Not every server sends REQUEST_URI: rebuild it. */
		const char *sn = env_or(get, ctx, "SCRIPT_NAME", "");
		const char *pi = env_or(get, ctx, "PATH_INFO", "");
		const char *qs = env_or(get, ctx, "QUERY_STRING", "");
		uri = arena_printf(a, "%s%s%s%s", sn, pi, *qs ? "?" : "", qs);
	}
	rq->uri = uri;
	q = strchr(uri, '?');
	rq->query = q != NULL ? q + 1 : "";
	n = q != NULL ? (long)(q - uri) : (long)strlen(uri);
	path = arena_alloc(a, (size_t)n + 1);
	n = pct_decode(path, uri, (size_t)n, 0);
	if (n < 0 || path[0] != '/' || memchr(path, '\0', (size_t)n) != NULL)
		return 400;
	rq->path = path;
	if (req_parse_urlencoded(a, rq->query, strlen(rq->query), &rq->args) != 0)
		return 400;

	rq->host = env_or(get, ctx, "HTTP_HOST", "");
	/* As the web server saw it; nginx and lighttpd send both. */
	https = get(ctx, "HTTPS");
	scheme = get(ctx, "REQUEST_SCHEME");
	if (https != NULL && https[0] != '\0' && strcasecmp(https, "off") != 0)
		rq->scheme = "https";
	else
		rq->scheme = scheme != NULL && scheme[0] != '\0' ? scheme : "http";
	rq->origin = get(ctx, "HTTP_ORIGIN");
	rq->fetch_site = get(ctx, "HTTP_SEC_FETCH_SITE");
	rq->referer = get(ctx, "HTTP_REFERER");
	rq->content_type = env_or(get, ctx, "CONTENT_TYPE", "");
	xk = get(ctx, "HTTP_X_KEYCAST");
	rq->xkeycast = xk != NULL && strcmp(xk, "1") == 0;
	/* Never an HTTP_ name: lighttpd builds HTTP_X_KEYCAST_RENDER from
	 * X_Keycast_Render: and X-Keycast.Render: too, beyond a site's reach. */
	rk = get(ctx, "KEYCAST_RENDER");
	rq->render_key = rk != NULL && rk[0] != '\0' ? rk : NULL;
	rk = get(ctx, "KEYCAST_VIEW");
	rq->render_view = rk != NULL && rk[0] != '\0' ? rk : NULL;
	rk = get(ctx, "KEYCAST_AUTHORIZE");
	rq->authorize_key = rk != NULL && rk[0] != '\0' ? rk : NULL;
	rq->cookie = get(ctx, "HTTP_COOKIE");
	rq->remote_addr = env_or(get, ctx, "REMOTE_ADDR", "");
	cl = get(ctx, "CONTENT_LENGTH");
	if (cl != NULL && cl[0] != '\0') {
		char *end;
		rq->content_length = strtoll(cl, &end, 10);
		if (*end != '\0' || rq->content_length < 0)
			return 400;
	}
	return 0;
}

int
req_parse_urlencoded(struct arena *a, const char *s, size_t n, struct kv **out)
{
	struct kv **tail = out;
	size_t i = 0;

	*out = NULL;
	while (i < n) {
		size_t end = i, eq;
		struct kv *kv;
		char *name, *value;
		long nl, vl;

		while (end < n && s[end] != '&')
			end++;
		if (end == i) {
			i++;
			continue;
		}
		for (eq = i; eq < end && s[eq] != '='; eq++)
			;
		name = arena_alloc(a, eq - i + 1);
		nl = pct_decode(name, s + i, eq - i, 1);
		if (eq < end) {
			value = arena_alloc(a, end - eq);
			vl = pct_decode(value, s + eq + 1, end - eq - 1, 1);
		} else {
			value = arena_strdup(a, "");
			vl = 0;
		}
		if (nl < 0 || vl < 0)
			return -1;
		kv = arena_alloc(a, sizeof(*kv));
		kv->name = name;
		kv->name_len = (size_t)nl;
		kv->value = value;
		kv->len = (size_t)vl;
		kv->next = NULL;
		*tail = kv;
		tail = &kv->next;
		i = end + 1;
	}
	return 0;
}

const char *
kv_get(const struct kv *list, const char *name)
{
	for (; list != NULL; list = list->next)
		if (strcmp(list->name, name) == 0)
			return list->value;
	return NULL;
}

int
kv_all_utf8(const struct kv *list)
{
	for (; list != NULL; list = list->next) {
		if (memchr(list->name, '\0', list->name_len) != NULL ||
		    !utf8_valid(list->name, list->name_len))
			return 0;
		if (memchr(list->value, '\0', list->len) != NULL ||
		    !utf8_valid(list->value, list->len))
			return 0;
	}
	return 1;
}

const char *
req_back_url(const struct req *rq)
{
	const char *scheme, *path;
	char *origin;

	if (rq->referer == NULL || (scheme = strstr(rq->referer, "://")) == NULL)
		return "/";
	path = scheme + 3 + strcspn(scheme + 3, "/");
	origin = arena_strndup(rq->arena, rq->referer, (size_t)(path - rq->referer));
	if (*path == '\0' || !origin_same(origin, rq->scheme, rq->host) ||
	    !url_valid(path, strlen(path)))
		return "/";
	return path;
}

int
req_cross_site(const struct req *rq)
{
	return !origin_request_ok(rq->origin, rq->fetch_site, rq->scheme,
	    rq->host);
}
