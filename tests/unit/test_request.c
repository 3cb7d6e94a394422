/* fcgi/request.c: CGI variables, query and form decoding, cross-site check. */
#include <string.h>

#include "arena.h"
#include "fcgi/request.h"
#include "tap.h"

/* A CGI environment as NULL-terminated name/value pairs. */
static const char *
env_get(void *ctx, const char *name)
{
	const char *const *e = ctx;

	for (; e[0] != NULL; e += 2)
		if (strcmp(e[0], name) == 0)
			return e[1];
	return NULL;
}

static int
count(const struct kv *l)
{
	int n = 0;

	for (; l != NULL; l = l->next)
		n++;
	return n;
}

int
main(void)
{
	struct arena *a = arena_new();
	struct req rq;
	struct kv *kv;
	const char *env1[] = {
		"REQUEST_METHOD", "POST", "REQUEST_URI", "/chat/a%20b?x=1&y=&x=2",
		"HTTP_HOST", "example.com:8080", "HTTP_X_KEYCAST", "1",
		"CONTENT_LENGTH", "12", "HTTP_ORIGIN", "http://example.com:8080",
		NULL, NULL };
	const char *env2[] = { "SCRIPT_NAME", "/counter", "QUERY_STRING", "q=1",
		NULL, NULL };
	const char *env3[] = { "REQUEST_URI", "/%zz", NULL, NULL };
	const char *env4[] = { "REQUEST_URI", "/a%00b", NULL, NULL };
	const char *env5[] = { "REQUEST_URI", "/", "CONTENT_LENGTH", "-5", NULL, NULL };
	const char *env6[] = { "REQUEST_URI", "/", "KEYCAST_RENDER", "",
		NULL, NULL };
	const char *env7[] = { "REQUEST_URI", "/", "HTTP_X_KEYCAST_RENDER",
		"/counter", NULL, NULL };
	const char *env8[] = { "REQUEST_URI", "/", "KEYCAST_RENDER", "/counter",
		NULL, NULL };
	const char *env9[] = { "REQUEST_URI", "/", "HTTPS", "on",
		"REQUEST_SCHEME", "http", NULL, NULL };
	const char *env10[] = { "REQUEST_URI", "/", "HTTPS", "off",
		"REQUEST_SCHEME", "https", NULL, NULL };

	ok(req_init(&rq, a, env_get, env1) == 0, "request parses");
	is_str(rq.method, "POST", "method");
	is_str(rq.path, "/chat/a b", "path is percent-decoded");
	is_str(rq.query, "x=1&y=&x=2", "raw query kept");
	ok(count(rq.args) == 3, "repeated and empty query args kept");
	is_str(kv_get(rq.args, "x"), "1", "first of repeated keys");
	is_str(kv_get(rq.args, "y"), "", "empty value");
	ok(rq.xkeycast == 1, "X-Keycast: 1 seen");
	ok(rq.content_length == 12, "content length");
	ok(rq.render_key == NULL, "no render key");
	ok(!req_cross_site(&rq), "same-origin POST is not cross-site");

	rq.origin = "http://evil.example";
	ok(req_cross_site(&rq), "foreign Origin is cross-site");
	rq.origin = "http://example.com";
	ok(req_cross_site(&rq), "Origin without the port differs from Host");
	rq.origin = "https://example.com:8080";
	ok(req_cross_site(&rq), "an https Origin on an http request");
	rq.host = "example.com";
	rq.origin = "http://example.com:8080";
	ok(req_cross_site(&rq), "Host without port is port 80, not 8080");
	rq.origin = "http://example.com";
	ok(!req_cross_site(&rq), "Host without port, Origin on port 80");
	rq.host = "example.com:8080";
	rq.origin = "null";
	ok(req_cross_site(&rq), "Origin null is cross-site");
	rq.origin = NULL;
	rq.fetch_site = "cross-site";
	ok(req_cross_site(&rq), "Sec-Fetch-Site: cross-site");
	rq.fetch_site = "same-site";
	ok(req_cross_site(&rq), "Sec-Fetch-Site: same-site (a sibling host)");
	rq.fetch_site = "same-origin";
	ok(!req_cross_site(&rq), "Sec-Fetch-Site: same-origin");

	rq.referer = "http://example.com:8080/chat/lobby?x=1";
	is_str(req_back_url(&rq), "/chat/lobby?x=1", "same-origin Referer is the way back");
	rq.referer = "http://evil.example/chat/lobby";
	is_str(req_back_url(&rq), "/", "foreign Referer is not followed");
	rq.referer = "http://example.com:8080//evil.example/";
	is_str(req_back_url(&rq), "/", "scheme-relative path is not followed");
	rq.referer = NULL;
	is_str(req_back_url(&rq), "/", "no Referer: the start page");

	ok(req_init(&rq, a, env_get, env2) == 0, "no REQUEST_URI: rebuilt");
	is_str(rq.uri, "/counter?q=1", "uri from SCRIPT_NAME and QUERY_STRING");
	is_str(rq.method, "GET", "method defaults to GET");
	ok(req_init(&rq, a, env_get, env3) == 400, "bad escape in path is 400");
	ok(req_init(&rq, a, env_get, env4) == 400, "NUL in path is 400");
	ok(req_init(&rq, a, env_get, env5) == 400, "negative length is 400");
	ok(req_init(&rq, a, env_get, env6) == 0 && rq.render_key == NULL,
	    "an empty KEYCAST_RENDER is no render");
	ok(req_init(&rq, a, env_get, env7) == 0 && rq.render_key == NULL,
	    "HTTP_X_KEYCAST_RENDER (a client header) is never the marker");
	ok(req_init(&rq, a, env_get, env8) == 0 &&
	    rq.render_key != NULL && strcmp(rq.render_key, "/counter") == 0,
	    "KEYCAST_RENDER (from pushd) is the marker");
	ok(req_init(&rq, a, env_get, env2) == 0 && strcmp(rq.scheme, "http") == 0,
	    "no HTTPS nor REQUEST_SCHEME: http");
	ok(req_init(&rq, a, env_get, env9) == 0 && strcmp(rq.scheme, "https") == 0,
	    "HTTPS=on: https");
	ok(req_init(&rq, a, env_get, env10) == 0 && strcmp(rq.scheme, "https") == 0,
	    "HTTPS=off: REQUEST_SCHEME says");

	ok(req_parse_urlencoded(a, "author=Ann+Lee&text=caf%C3%A9%21", 32, &kv) == 0,
	    "form decodes");
	is_str(kv_get(kv, "author"), "Ann Lee", "plus is space in forms");
	is_str(kv_get(kv, "text"), "caf\xc3\xa9!", "percent-decoded UTF-8");
	ok(kv_all_utf8(kv), "valid UTF-8 form");
	ok(req_parse_urlencoded(a, "a&&b=&=c", 8, &kv) == 0 && count(kv) == 3,
	    "bare names, empty pairs skipped, empty name kept");
	is_str(kv_get(kv, "a"), "", "bare name has empty value");
	ok(req_parse_urlencoded(a, "a=%ff", 5, &kv) == 0 && !kv_all_utf8(kv),
	    "invalid UTF-8 detected");
	ok(req_parse_urlencoded(a, "a=x%00y", 7, &kv) == 0 && !kv_all_utf8(kv),
	    "NUL in a value is refused");
	ok(req_parse_urlencoded(a, "author%00x=bob", 14, &kv) == 0 && !kv_all_utf8(kv),
	    "NUL in a name is refused");
	ok(req_parse_urlencoded(a, "a=%g1", 5, &kv) == -1, "malformed escape");
	ok(req_parse_urlencoded(a, "", 0, &kv) == 0 && kv == NULL, "empty body");
	arena_free(a);
	return tap_done();
}
