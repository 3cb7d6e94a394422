/* Unit tests for pushd/handshake.c: the request-head parser fed whole and
 * byte by byte, truncated, oversized and malformed heads, routing, query
 * decoding and every refusal of hs_upgrade_check; and the host:port
 * splitting (pushd/addr.c) that its Origin check shares with the render
 * client's SERVER_NAME/SERVER_PORT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pushd/addr.h"
#include "text.h"
#include "pushd/handshake.h"
#include "tap.h"

#define GOOD_KEY	"dGhlIHNhbXBsZSBub25jZQ=="

static const char good[] =
    "GET /__realtime?key=%2Fcounter&url=%2Fcounter%3Fpage%3D2 HTTP/1.1\r\n"
    "Host: example.com:8080\r\n"
    "Upgrade: websocket\r\n"
    "Connection: keep-alive, Upgrade\r\n"
    "Sec-WebSocket-Key: " GOOD_KEY "\r\n"
    "Origin: http://example.com:8080\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "User-Agent: test\r\n"
    "\r\n";

static enum hs_rc
parse(struct hs_parser *p, const char *s, size_t n, int bytewise, size_t *used)
{
	enum hs_rc rc = HS_MORE;
	size_t u, total = 0;

	hs_init(p);
	if (!bytewise) {
		rc = hs_feed(p, s, n, used);
		return rc;
	}
	for (size_t i = 0; i < n && rc == HS_MORE; i++) {
		rc = hs_feed(p, s + i, 1, &u);
		total += u;
	}
	*used = total;
	return rc;
}

/* Parses a whole head and runs the upgrade check on it: 0 when accepted,
 * else the status it is refused with (-1 when the head does not parse). */
static int
check(const char *head, char *const *allow, size_t nallow,
    struct hs_upgrade *u, const char **why)
{
	struct hs_parser p;
	size_t used;
	int status = 0;

	if (parse(&p, head, strlen(head), 0, &used) != HS_DONE)
		return -1;
	if (hs_upgrade_check(&p, allow, nallow, u, &status, why) == 0)
		return 0;
	return status;
}

/* good with one line replaced (or removed when repl is ""). */
static char *
variant(const char *line_start, const char *repl)
{
	static char out[2048];
	const char *a = strstr(good, line_start), *b;

	if (a == NULL)
		return NULL;
	b = strstr(a, "\r\n") + 2;
	snprintf(out, sizeof(out), "%.*s%s%s", (int)(a - good), good, repl, b);
	return out;
}

static void
test_good(void)
{
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		struct hs_parser p;
		struct hs_upgrade u;
		const char *why = "";
		size_t used;
		int status = 0;
		enum hs_rc rc;

		rc = parse(&p, good, strlen(good), bytewise, &used);
		ok(rc == HS_DONE && used == strlen(good), "good head parses %s",
		    bytewise ? "byte by byte" : "whole");
		is_str(p.method, "GET", "method");
		is_str(p.host, "example.com:8080", "Host");
		is_str(p.origin, "http://example.com:8080", "Origin");
		is_str(p.ws_key, GOOD_KEY, "Sec-WebSocket-Key");
		ok(p.upgrade_websocket && p.connection_upgrade &&
		    p.ws_version == 13 && p.minor == 1, "upgrade headers");
		ok(hs_route(&p) == HS_REALTIME, "routes to /__realtime");
		ok(hs_upgrade_check(&p, NULL, 0, &u, &status, &why) == 0 &&
		    why == NULL, "accepted");
		is_str(u.key, "/counter", "key decoded");
		is_str(u.url, "/counter?page=2", "url decoded");
		is_str(u.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "accept key");
	}
}

static void
test_incomplete_and_rest(void)
{
	struct hs_parser p;
	size_t used, n = strlen(good);
	char buf[2048];

	ok(parse(&p, good, n - 1, 0, &used) == HS_MORE && used == n - 1,
	    "truncated head: more needed");
	ok(hs_feed(&p, good + n - 1, 1, &used) == HS_DONE && used == 1,
	    "last byte completes it");
	ok(hs_feed(&p, "x", 1, &used) == HS_DONE && used == 0,
	    "after DONE nothing more is consumed");
	snprintf(buf, sizeof(buf), "%s\x89\x80", good);
	ok(parse(&p, buf, strlen(buf), 0, &used) == HS_DONE && used == n,
	    "bytes after the head are left for the WebSocket");
	ok(parse(&p, "", 0, 0, &used) == HS_MORE, "empty input");
	ok(parse(&p, "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 31, 0, &used) ==
	    HS_DONE && hs_route(&p) == HS_NOT_FOUND,
	    "leading empty lines are skipped");
	ok(parse(&p, "GET /metrics HTTP/1.1\nHost: a\n\n", 31, 0, &used) ==
	    HS_DONE && hs_route(&p) == HS_METRICS, "bare LF line ends");
	ok(parse(&p, "GET /healthz HTTP/1.0\r\n\r\n", 25, 0, &used) == HS_DONE &&
	    hs_route(&p) == HS_HEALTHZ && p.minor == 0,
	    "HTTP/1.0 without Host for /healthz");
	ok(parse(&p, "GET /healthzx HTTP/1.0\r\n\r\n", 26, 0, &used) == HS_DONE &&
	    hs_route(&p) == HS_NOT_FOUND, "prefix of a route is not the route");
}

static void
test_bad_heads(void)
{
	static const struct {
		const char	*head;
		enum hs_rc	 rc;
		const char	*what;
	} cases[] = {
		{ "GET  / HTTP/1.1\r\n\r\n", HS_EBAD, "empty target" },
		{ " GET / HTTP/1.1\r\n\r\n", HS_EBAD, "space before method" },
		{ "GETTINGLONG / HTTP/1.1\r\n\r\n", HS_EBAD, "method too long" },
		{ "GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n", HS_EBAD,
		    "space in header name" },
		{ "GET / HTTP/1.1\r\nHost: a\r\nName : x\r\n\r\n", HS_EBAD,
		    "space before colon" },
		{ "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", HS_EBAD,
		    "obs-fold" },
		{ "GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", HS_EBAD,
		    "empty header name" },
		{ "GET / HTTP/1.1\r\nHost: a\rX\r\n\r\n", HS_EBAD, "bare CR" },
		{ "GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", HS_EBAD,
		    "control character in a value" },
		{ "GET / HTTP/1.1\r\n\r\n", HS_EBAD, "HTTP/1.1 without Host" },
		{ "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", HS_EBAD,
		    "two Hosts" },
		{ "GET / HTTP/2.0\r\n\r\n", HS_EVERSION, "HTTP/2.0" },
		{ "GET / FTP/1.0\r\n\r\n", HS_EBAD, "not HTTP" },
		{ "GET / HTTP/1.1x\r\n\r\n", HS_EBAD, "junk after version" },
		{ "GET /\x7f HTTP/1.1\r\n\r\n", HS_EBAD, "DEL in target" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hs_parser p;
		size_t used;
		enum hs_rc rc = parse(&p, cases[i].head, strlen(cases[i].head),
		    0, &used);
		enum hs_rc rc2 = parse(&p, cases[i].head, strlen(cases[i].head),
		    1, &used);

		ok(rc == cases[i].rc && rc2 == cases[i].rc, "%s: %d (%d)",
		    cases[i].what, rc, hs_error_status(rc));
	}
	ok(hs_error_status(HS_EBAD) == 400 && hs_error_status(HS_ETOOBIG) == 431 &&
	    hs_error_status(HS_ETARGET) == 414 && hs_error_status(HS_EVERSION) == 505,
	    "error statuses");
}

static void
test_limits(void)
{
	struct hs_parser p;
	size_t used, n;
	char *big = malloc(20000);
	enum hs_rc rc;

	/* 9 KiB of headers. */
	n = (size_t)snprintf(big, 20000, "GET /__realtime?key=a HTTP/1.1\r\n"
	    "Host: a\r\n");
	while (n < 9 * 1024)
		n += (size_t)snprintf(big + n, 20000 - n, "X-Filler: %060d\r\n", 0);
	n += (size_t)snprintf(big + n, 20000 - n, "\r\n");
	ok(parse(&p, big, n, 0, &used) == HS_ETOOBIG && used == HS_HEAD_MAX,
	    "9 KiB head: 431 after exactly 8 KiB");
	rc = parse(&p, big, n, 1, &used);
	ok(rc == HS_ETOOBIG && used == HS_HEAD_MAX, "same byte by byte");
	ok(hs_feed(&p, "\r\n", 2, &used) == HS_ETOOBIG && used == 0,
	    "the error sticks");

	/* A head of exactly HS_HEAD_MAX bytes is fine. */
	n = (size_t)snprintf(big, 20000, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
	memset(big + n, 'y', HS_HEAD_MAX - n - 4);
	memcpy(big + HS_HEAD_MAX - 4, "\r\n\r\n", 4);
	ok(parse(&p, big, HS_HEAD_MAX, 0, &used) == HS_DONE,
	    "exactly 8 KiB is accepted");

	n = (size_t)snprintf(big, 20000, "GET /");
	memset(big + n, 'a', 5000);
	memcpy(big + n + 5000, " HTTP/1.1\r\n\r\n", 13);
	ok(parse(&p, big, n + 5013, 0, &used) == HS_ETARGET,
	    "5000-byte target: 414");

	/* A kept header longer than HS_FIELD_MAX is refused. */
	n = (size_t)snprintf(big, 20000, "GET / HTTP/1.1\r\nHost: ");
	memset(big + n, 'h', 300);
	memcpy(big + n + 300, "\r\n\r\n", 4);
	ok(parse(&p, big, n + 304, 0, &used) == HS_EBAD, "300-byte Host: 400");

	/* An unknown long header is just skipped. */
	n = (size_t)snprintf(big, 20000, "GET / HTTP/1.1\r\nHost: a\r\n"
	    "X-A-Very-Long-Header-Name-Longer-Than-32-Bytes: ");
	memset(big + n, 'v', 3000);
	memcpy(big + n + 3000, "\r\n\r\n", 4);
	ok(parse(&p, big, n + 3004, 0, &used) == HS_DONE,
	    "long unknown header skipped");
	free(big);
}

static void
test_upgrade_refusals(void)
{
	struct hs_upgrade u;
	const char *why;
	char *allow[] = { "https://app.example.org" };
	char head[2048];

	ok(check(variant("Upgrade:", ""), NULL, 0, &u, &why) == 426,
	    "no Upgrade: 426 (%s)", why);
	ok(check(variant("Connection:", "Connection: keep-alive\r\n"), NULL, 0,
	    &u, &why) == 426, "Connection without upgrade: 426");
	ok(check(variant("Sec-WebSocket-Version:",
	    "Sec-WebSocket-Version: 8\r\n"), NULL, 0, &u, &why) == 426,
	    "version 8: 426");
	ok(check(variant("Sec-WebSocket-Version:", ""), NULL, 0, &u, &why) == 426,
	    "no version: 426");
	ok(check(variant("Sec-WebSocket-Key:", ""), NULL, 0, &u, &why) == 400,
	    "no key: 400");
	ok(check(variant("Host:", "Host: a b\r\n"), NULL, 0, &u, &why) == 400,
	    "Host with a space: 400");
	ok(check(variant("Host:", "Host: caf\xc3\xa9\r\n"), NULL, 0, &u, &why) ==
	    400, "Host with non-ASCII bytes: 400");
	ok(check(variant("Sec-WebSocket-Key:", "Sec-WebSocket-Key: abc\r\n"),
	    NULL, 0, &u, &why) == 400, "short key: 400");
	ok(check(variant("GET", "POST /__realtime?key=a HTTP/1.1\r\n"), NULL, 0,
	    &u, &why) == 405, "POST: 405");
	ok(check(variant("GET", "GET /__realtime HTTP/1.1\r\n"), NULL, 0, &u,
	    &why) == 400, "no key parameter: 400 (%s)", why);
	ok(check(variant("GET", "GET /__realtime?key= HTTP/1.1\r\n"), NULL, 0,
	    &u, &why) == 400, "empty key: 400");
	ok(check(variant("GET", "GET /__realtime?key=a+b HTTP/1.1\r\n"), NULL, 0,
	    &u, &why) == 400, "key with a space: 400");
	ok(check(variant("GET", "GET /__realtime?key=%zz HTTP/1.1\r\n"), NULL, 0,
	    &u, &why) == 400, "bad escape: 400");
	ok(check(variant("GET", "GET /__realtime?key=global HTTP/1.1\r\n"), NULL,
	    0, &u, &why) == 400, "key that is no url and no url: 400");
	ok(check(variant("GET", "GET /__realtime?key=global&url=/ HTTP/1.1\r\n"),
	    NULL, 0, &u, &why) == 0 && strcmp(u.url, "/") == 0 &&
	    strcmp(u.key, "global") == 0, "key global, url /: accepted");
	ok(check(variant("GET", "GET /__realtime?key=a&url=http%3A%2F%2Fevil "
	    "HTTP/1.1\r\n"), NULL, 0, &u, &why) == 400, "url with scheme: 400");
	ok(check(variant("GET", "GET /__realtime?key=a&url=%2F%2Fevil.com "
	    "HTTP/1.1\r\n"), NULL, 0, &u, &why) == 400, "scheme-relative url: 400");
	ok(check(variant("GET", "GET /__realtime?url=/x&key=/y HTTP/1.1\r\n"),
	    NULL, 0, &u, &why) == 0 && strcmp(u.url, "/x") == 0,
	    "parameters in any order");
	{
		char *k = malloc(300);
		memset(k, 'k', 257);
		snprintf(head, sizeof(head), "GET /__realtime?key=/%.256s&url=/ "
		    "HTTP/1.1\r\n", k);
		ok(check(variant("GET", head), NULL, 0, &u, &why) == 400,
		    "257-byte key: 400");
		snprintf(head, sizeof(head), "GET /__realtime?key=/%.255s&url=/ "
		    "HTTP/1.1\r\n", k);
		ok(check(variant("GET", head), NULL, 0, &u, &why) == 0,
		    "256-byte key: accepted");
		free(k);
	}

	ok(check(variant("Origin:", "Origin: http://evil.com\r\n"), NULL, 0, &u,
	    &why) == 403, "foreign Origin: 403");
	ok(check(variant("Origin:", "Origin: http://example.com:9999\r\n"), NULL,
	    0, &u, &why) == 403, "other port: 403");
	ok(check(variant("Origin:", "Origin: http://EXAMPLE.com:8080\r\n"), NULL,
	    0, &u, &why) == 0, "host names compare without case");
	ok(check(variant("Origin:", "Origin: https://example.com:8080\r\n"), NULL,
	    0, &u, &why) == 403, "https Origin on a plain request: 403");
	ok(check(variant("Origin:", "Origin: https://example.com:8080\r\n"
	    "X-Forwarded-Proto: https\r\n"), NULL, 0, &u, &why) == 0,
	    "https Origin, the proxy says https: accepted");
	ok(check(variant("Origin:", "Origin: http://example.com:8080\r\n"
	    "X-Forwarded-Proto: https\r\n"), NULL, 0, &u, &why) == 403,
	    "http Origin, the proxy says https: 403");
	ok(check(variant("Origin:", "Origin: https://example.com:8080\r\n"
	    "X-Forwarded-Proto: httpsxxxxxxxxxxx\r\n"), NULL, 0, &u, &why) == 403,
	    "overlong X-Forwarded-Proto: 403");
	ok(check(variant("Origin:", "Origin: http://example.com:8080\r\n"
	    "Sec-Fetch-Site: same-site\r\n"), NULL, 0, &u, &why) == 403,
	    "Sec-Fetch-Site same-site: 403");
	ok(check(variant("Origin:", "Origin: http://example.com:8080\r\n"
	    "Sec-Fetch-Site: same-origin\r\n"), NULL, 0, &u, &why) == 0,
	    "Sec-Fetch-Site same-origin: accepted");
	ok(check(variant("Origin:", "Sec-Fetch-Site: cross-site\r\n"), NULL, 0,
	    &u, &why) == 403, "Sec-Fetch-Site cross-site without Origin: 403");
	ok(check(variant("Origin:", "Origin: https://app.example.org\r\n"
	    "Sec-Fetch-Site: cross-site\r\n"), allow, 1, &u, &why) == 0,
	    "allow-listed Origin from another site: accepted");
	ok(check(variant("Origin:", "Origin: null\r\n"), NULL, 0, &u, &why) ==
	    403, "Origin null: 403");
	ok(check(variant("Origin:", ""), NULL, 0, &u, &why) == 0,
	    "no Origin (not a browser): accepted");
	ok(check(variant("Origin:", "Origin: https://app.example.org\r\n"), allow,
	    1, &u, &why) == 0, "allow-listed Origin: accepted");
	ok(check(variant("Origin:", "Origin: https://app.example.org\r\n"), NULL,
	    0, &u, &why) == 403, "same Origin without the allow-list: 403");
	strcpy(head, variant("Host:", "Host: example.com\r\n"));
	ok(check(head, NULL, 0, &u, &why) == 403,
	    "Host without port is port 80, not the Origin's 8080: 403");
	strcpy(head, variant("Host:", "Host: example.com:80\r\n"));
	ok(check(variant("Origin:", "Origin: http://example.com\r\n"), NULL, 0,
	    &u, &why) == 403 && check(head, NULL, 0, &u, &why) == 403,
	    "port 8080 Origin vs Host :80: 403");
}

/* A valid upgrade refused only for its key, url or Origin has its accept
 * key, so pushd can accept and close with 4400/4403; any other refusal
 * has none and stays an HTTP answer. */
static void
test_refusals_for_browsers(void)
{
	struct hs_upgrade u;
	const char *why;

	ok(check(variant("GET", "GET /__realtime?key=a+b HTTP/1.1\r\n"), NULL,
	    0, &u, &why) == 400 && strcmp(u.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
	    == 0, "bad key: 400 with the accept key (closed 4400)");
	ok(check(variant("GET", "GET /__realtime?key=a&url=http%3A%2F%2Fevil "
	    "HTTP/1.1\r\n"), NULL, 0, &u, &why) == 400 && u.accept[0] != '\0',
	    "bad url: 400 with the accept key");
	ok(check(variant("Origin:", "Origin: http://evil.com\r\n"), NULL, 0, &u,
	    &why) == 403 && u.accept[0] != '\0',
	    "foreign Origin: 403 with the accept key (closed 4403)");
	ok(check(variant("Sec-WebSocket-Key:", ""), NULL, 0, &u, &why) == 400 &&
	    u.accept[0] == '\0', "no Sec-WebSocket-Key: a plain 400");
	ok(check(variant("Upgrade:", ""), NULL, 0, &u, &why) == 426 &&
	    u.accept[0] == '\0', "not an upgrade: a plain 426");
	ok(check(variant("Host:", "Host: a b\r\n"), NULL, 0, &u, &why) == 400 &&
	    u.accept[0] == '\0', "bad Host: a plain 400");
}

/* Only X-Forwarded-For's last element is kept: the one the nearest proxy
 * appended. */
static void
test_forwarded(void)
{
	struct hs_parser p;
	size_t used;
	char head[2048];

	snprintf(head, sizeof(head), "%.*sX-Forwarded-For: 10.0.0.1, "
	    "192.0.2.7\r\nX-Real-IP: 198.51.100.3\r\n\r\n",
	    (int)strlen(good) - 2, good);
	ok(parse(&p, head, strlen(head), 0, &used) == HS_DONE &&
	    p.has_forwarded_for && strcmp(p.forwarded_for, "192.0.2.7") == 0 &&
	    p.has_real_ip && strcmp(p.real_ip, "198.51.100.3") == 0,
	    "X-Forwarded-For: the last element; X-Real-IP");
	ok(parse(&p, head, strlen(head), 1, &used) == HS_DONE &&
	    strcmp(p.forwarded_for, "192.0.2.7") == 0, "same byte by byte");
	snprintf(head, sizeof(head), "%.*sX-Forwarded-For: 10.0.0.1\r\n"
	    "X-Forwarded-For: 2001:db8::1 \r\n\r\n", (int)strlen(good) - 2,
	    good);
	ok(parse(&p, head, strlen(head), 0, &used) == HS_DONE &&
	    strcmp(p.forwarded_for, "2001:db8::1") == 0,
	    "a second header line continues the list");
	ok(parse(&p, good, strlen(good), 0, &used) == HS_DONE &&
	    !p.has_forwarded_for && !p.has_real_ip, "absent: not set");
}

static void
test_query(void)
{
	char out[64];
	const char *q = "a=1&key=%2Fx%2By+z&empty=&flag&url=/p";

	ok(hs_query_param(q, strlen(q), "key", out, sizeof(out)) == 6 &&
	    strcmp(out, "/x+y z") == 0, "percent and plus decoding");
	ok(hs_query_param(q, strlen(q), "empty", out, sizeof(out)) == 0,
	    "empty value");
	ok(hs_query_param(q, strlen(q), "flag", out, sizeof(out)) == 0,
	    "name without =");
	ok(hs_query_param(q, strlen(q), "ke", out, sizeof(out)) == -1,
	    "prefix of a name is not the name");
	ok(hs_query_param(q, strlen(q), "missing", out, sizeof(out)) == -1,
	    "absent");
	ok(hs_query_param("key=%4", 6, "key", out, sizeof(out)) == -2,
	    "truncated escape");
	ok(hs_query_param("key=abcdef", 10, "key", out, 4) == -2, "too long");
}

static void
test_split_authority(void)
{
	static const struct {
		const char	*in;
		const char	*host;
		const char	*port;	/* NULL: none */
	} t[] = {
		{ "example.com", "example.com", NULL },
		{ "example.com:8080", "example.com", "8080" },
		{ "example.com:", "example.com", "" },
		{ "127.0.0.1:80", "127.0.0.1", "80" },
		{ "[::1]", "[::1]", NULL },
		{ "[::1]:8081", "[::1]", "8081" },
		{ "[::1]x:80", "[::1]x:80", NULL },
		{ "[::1", "[::1", NULL },
		{ "", "", NULL },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t hostlen, portlen;
		const char *port;
		int same;

		authority_split(t[i].in, strlen(t[i].in), &hostlen, &port,
		    &portlen);
		same = hostlen == strlen(t[i].host) &&
		    memcmp(t[i].in, t[i].host, hostlen) == 0;
		if (t[i].port == NULL)
			same = same && port == NULL;
		else
			same = same && port != NULL &&
			    portlen == strlen(t[i].port) &&
			    memcmp(port, t[i].port, portlen) == 0;
		ok(same, "split \"%s\": host \"%s\", port %s", t[i].in,
		    t[i].host, t[i].port != NULL ? t[i].port : "none");
	}
}

int
main(void)
{
	test_good();
	test_incomplete_and_rest();
	test_bad_heads();
	test_limits();
	test_upgrade_refusals();
	test_refusals_for_browsers();
	test_forwarded();
	test_query();
	test_split_authority();
	return tap_done();
}
