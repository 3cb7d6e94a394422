/* The request-head parser and the upgrade checks (see handshake.h). The
 * parser is a byte-at-a-time state machine, so a head split anywhere parses
 * the same as one in a single piece; the fuzz target checks exactly that. */
#include "handshake.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "deflate.h"
#include "text.h"
#include "ws.h"

enum {
	S_START,	/* before the request line; empty lines are skipped */
	S_METHOD,
	S_TARGET,
	S_VERSION,
	S_RL_LF,	/* CR after the version seen */
	S_LINE,		/* start of a header line (or the blank line) */
	S_NAME,
	S_VALUE_WS,	/* optional whitespace after the colon */
	S_VALUE,
	S_VALUE_LF,	/* CR after a value seen */
	S_END_LF,	/* CR of the blank line seen */
	S_DONE,
	S_ERROR,
};

enum {
	F_NONE,		/* a header we do not keep */
	F_HOST,
	F_ORIGIN,
	F_UPGRADE,
	F_CONNECTION,
	F_WS_KEY,
	F_WS_VERSION,
	F_FETCH_SITE,
	F_FWD_PROTO,
	F_FORWARDED_FOR,	/* only its last element is kept */
	F_REAL_IP,
	F_COOKIE,		/* kept in its own buffers: longer than */
	F_AUTHORIZATION,	/* HS_FIELD_MAX */
	F_EXTENSIONS,
};

static const struct {
	const char	*name;
	int		 field;
} fields[] = {
	{ "host", F_HOST },
	{ "origin", F_ORIGIN },
	{ "upgrade", F_UPGRADE },
	{ "connection", F_CONNECTION },
	{ "sec-websocket-key", F_WS_KEY },
	{ "sec-websocket-version", F_WS_VERSION },
	{ "sec-fetch-site", F_FETCH_SITE },
	{ "x-forwarded-proto", F_FWD_PROTO },
	{ "x-forwarded-for", F_FORWARDED_FOR },
	{ "x-real-ip", F_REAL_IP },
	{ "cookie", F_COOKIE },
	{ "authorization", F_AUTHORIZATION },
	{ "sec-websocket-extensions", F_EXTENSIONS },
};

void
hs_init(struct hs_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->state = S_START;
	p->ws_version = -1;
}

int
hs_error_status(enum hs_rc rc)
{
	switch (rc) {
	case HS_ETOOBIG:
		return 431;
	case HS_ETARGET:
		return 414;
	case HS_EVERSION:
		return 505;
	default:
		return 400;
	}
}

static int
is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != 0 && strchr("!#$%&'*+-.^_`|~", c));
}

/* Does the comma-separated token list s[0..n) hold tok (any case)? */
static int
list_has(const char *s, size_t n, const char *tok)
{
	size_t i = 0, tlen = strlen(tok);

	while (i < n) {
		size_t start, end;

		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
			i++;
		start = i;
		while (i < n && s[i] != ',')
			i++;
		end = i;
		while (end > start && (s[end - 1] == ' ' || s[end - 1] == '\t'))
			end--;
		if (end - start == tlen && strncasecmp(s + start, tok, tlen) == 0)
			return 1;
	}
	return 0;
}

static int
set_once(char *dst, int *seen, const char *v, size_t n)
{
	if (*seen)
		return -1;
	*seen = 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return 0;
}

/* set_once into a short field (dstsz bytes): a longer value is kept as ""
 * ("sent, but none of the values we know"). */
static int
set_short(char *dst, size_t dstsz, int *seen, const char *v, size_t n)
{
	return set_once(dst, seen, v, n < dstsz ? n : 0);
}

/* A header line ended: keep what we need from it. */
static int
end_field(struct hs_parser *p)
{
	const char *v = p->value;
	size_t n = p->value_len;

	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	switch (p->field) {
	case F_HOST:
		return set_once(p->host, &p->has_host, v, n);
	case F_ORIGIN:
		return set_once(p->origin, &p->has_origin, v, n);
	case F_WS_KEY:
		return set_once(p->ws_key, &p->has_ws_key, v, n);
	case F_FETCH_SITE:
		return set_short(p->fetch_site, sizeof(p->fetch_site),
		    &p->has_fetch_site, v, n);
	case F_FWD_PROTO:
		return set_short(p->fwd_proto, sizeof(p->fwd_proto),
		    &p->has_fwd_proto, v, n);
	case F_FORWARDED_FOR:
		/* The last element is the one the nearest proxy appended; a
		 * later header line continues the list. */
		while (n > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			n--;
		}
		memcpy(p->forwarded_for, v, n);
		p->forwarded_for[n] = '\0';
		p->has_forwarded_for = 1;
		return 0;
	case F_REAL_IP:
		return set_once(p->real_ip, &p->has_real_ip, v, n);
	case F_COOKIE:
		while (p->cookie_len > 0 &&
		    (p->cookie[p->cookie_len - 1] == ' ' ||
		    p->cookie[p->cookie_len - 1] == '\t'))
			p->cookie_len--;
		p->cookie[p->cookie_len] = '\0';
		p->has_cookie = 1;
		return 0;
	case F_AUTHORIZATION:
		if (p->has_authorization)
			return -1;
		while (p->authorization_len > 0 &&
		    (p->authorization[p->authorization_len - 1] == ' ' ||
		    p->authorization[p->authorization_len - 1] == '\t'))
			p->authorization_len--;
		p->authorization[p->authorization_len] = '\0';
		p->has_authorization = 1;
		return 0;
	case F_EXTENSIONS:
		/* Several lines make one list (RFC 6455 9.1); a list too long
		 * to keep is ignored: the connection goes uncompressed. */
		if (p->extensions_len > 0)
			n += 2;
		if (p->extensions_long ||
		    p->extensions_len + n > HS_EXT_MAX) {
			p->extensions_long = 1;
			p->extensions_len = 0;
			p->extensions[0] = '\0';
			return 0;
		}
		if (p->extensions_len > 0) {
			memcpy(p->extensions + p->extensions_len, ", ", 2);
			p->extensions_len += 2;
			n -= 2;
		}
		memcpy(p->extensions + p->extensions_len, v, n);
		p->extensions_len += n;
		p->extensions[p->extensions_len] = '\0';
		return 0;
	case F_UPGRADE:
		if (list_has(v, n, "websocket"))
			p->upgrade_websocket = 1;
		return 0;
	case F_CONNECTION:
		if (list_has(v, n, "upgrade"))
			p->connection_upgrade = 1;
		return 0;
	case F_WS_VERSION:
		if (p->ws_version != -1)
			return -1;
		if (n == 0 || n > 3 || strspn(v, "0123456789") < n) {
			p->ws_version = -2;
		} else {
			p->ws_version = 0;
			for (size_t i = 0; i < n; i++)
				p->ws_version = p->ws_version * 10 + (v[i] - '0');
		}
		return 0;
	}
	return 0;
}

static void
start_field(struct hs_parser *p)
{
	p->field = F_NONE;
	p->value_len = 0;
	if (p->name_len > sizeof(p->name))
		return;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (strlen(fields[i].name) == p->name_len &&
		    memcmp(fields[i].name, p->name, p->name_len) == 0) {
			p->field = fields[i].field;
			/* A second Cookie line continues the list. */
			if (p->field == F_COOKIE && p->cookie_len > 0) {
				memcpy(p->cookie + p->cookie_len, "; ", 2);
				p->cookie_len += 2;
			}
			return;
		}
	}
}

/* The request line's version, collected in p->value. */
static enum hs_rc
end_version(struct hs_parser *p)
{
	const char *v = p->value;

	if (p->value_len == 8 && memcmp(v, "HTTP/1.", 7) == 0 &&
	    v[7] >= '0' && v[7] <= '9') {
		p->minor = v[7] - '0';
		p->value_len = 0;
		return HS_MORE;
	}
	if (p->value_len >= 6 && memcmp(v, "HTTP/", 5) == 0 &&
	    v[5] >= '0' && v[5] <= '9')
		return HS_EVERSION;
	return HS_EBAD;
}

static enum hs_rc
step(struct hs_parser *p, unsigned char c)
{
	switch (p->state) {
	case S_START:
		if (c == '\r' || c == '\n')
			return HS_MORE;
		p->state = S_METHOD;
		/* FALLTHROUGH */
	case S_METHOD:
		if (c == ' ') {
			if (p->method_len == 0)
				return HS_EBAD;
			p->state = S_TARGET;
			return HS_MORE;
		}
		if (!is_tchar(c) || p->method_len + 1 >= sizeof(p->method))
			return HS_EBAD;
		p->method[p->method_len++] = (char)c;
		return HS_MORE;
	case S_TARGET:
		if (c == ' ') {
			if (p->target_len == 0)
				return HS_EBAD;
			p->state = S_VERSION;
			return HS_MORE;
		}
		if (c <= 0x20 || c >= 0x7f)
			return HS_EBAD;
		if (p->target_len >= HS_TARGET_MAX)
			return HS_ETARGET;
		p->target[p->target_len++] = (char)c;
		return HS_MORE;
	case S_VERSION:
		if (c == '\r' || c == '\n') {
			enum hs_rc rc = end_version(p);
			if (rc != HS_MORE)
				return rc;
			p->state = c == '\r' ? S_RL_LF : S_LINE;
			return HS_MORE;
		}
		if (p->value_len >= 8)
			return HS_EBAD;
		p->value[p->value_len++] = (char)c;
		return HS_MORE;
	case S_RL_LF:
	case S_VALUE_LF:
		if (c != '\n')
			return HS_EBAD;
		p->state = S_LINE;
		return HS_MORE;
	case S_LINE:
		if (c == '\r') {
			p->state = S_END_LF;
			return HS_MORE;
		}
		if (c == '\n')
			goto done;
		p->name_len = 0;
		p->state = S_NAME;
		/* FALLTHROUGH */
	case S_NAME:
		if (c == ':') {
			if (p->name_len == 0)
				return HS_EBAD;
			start_field(p);
			p->state = S_VALUE_WS;
			return HS_MORE;
		}
		/* No whitespace before the colon, no obs-fold (RFC 7230 3.2.4). */
		if (!is_tchar(c))
			return HS_EBAD;
		if (p->name_len < sizeof(p->name))
			p->name[p->name_len] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		if (p->name_len <= sizeof(p->name))
			p->name_len++;
		return HS_MORE;
	case S_VALUE_WS:
		if (c == ' ' || c == '\t')
			return HS_MORE;
		p->state = S_VALUE;
		/* FALLTHROUGH */
	case S_VALUE:
		if (c == '\r' || c == '\n') {
			if (end_field(p) != 0)
				return HS_EBAD;
			p->state = c == '\r' ? S_VALUE_LF : S_LINE;
			return HS_MORE;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return HS_EBAD;
		if (p->field == F_FORWARDED_FOR && c == ',') {
			p->value_len = 0;
			return HS_MORE;
		}
		if (p->field == F_COOKIE) {
			/* The head's own limit keeps it under HS_HEAD_MAX. */
			if (p->cookie_len >= HS_HEAD_MAX - 2)
				return HS_EBAD;
			p->cookie[p->cookie_len++] = (char)c;
			return HS_MORE;
		}
		if (p->field == F_AUTHORIZATION) {
			if (p->authorization_len >= HS_AUTH_MAX)
				return HS_EBAD;
			p->authorization[p->authorization_len++] = (char)c;
			return HS_MORE;
		}
		if (p->field == F_EXTENSIONS && p->value_len >= HS_FIELD_MAX) {
			/* Not ours to refuse: only compression is lost. */
			p->extensions_long = 1;
			return HS_MORE;
		}
		if (p->field != F_NONE) {
			if (p->value_len >= HS_FIELD_MAX)
				return HS_EBAD;
			p->value[p->value_len++] = (char)c;
		}
		return HS_MORE;
	case S_END_LF:
		if (c != '\n')
			return HS_EBAD;
		goto done;
	}
	return HS_EBAD;
done:
	/* RFC 7230 5.4: an HTTP/1.1 request without Host is refused. */
	if (p->minor >= 1 && !p->has_host)
		return HS_EBAD;
	p->method[p->method_len] = '\0';
	p->target[p->target_len] = '\0';
	return HS_DONE;
}

enum hs_rc
hs_feed(struct hs_parser *p, const char *data, size_t n, size_t *used)
{
	size_t i;
	enum hs_rc rc = HS_MORE;

	*used = 0;
	if (p->state == S_DONE)
		return HS_DONE;
	if (p->state == S_ERROR)
		return p->err;
	for (i = 0; i < n; i++) {
		if (p->total >= HS_HEAD_MAX) {
			rc = HS_ETOOBIG;
			break;
		}
		p->total++;
		rc = step(p, (unsigned char)data[i]);
		if (rc != HS_MORE) {
			i++;
			break;
		}
	}
	*used = i;
	if (rc == HS_DONE) {
		p->state = S_DONE;
	} else if (rc != HS_MORE) {
		p->state = S_ERROR;
		p->err = rc;
	}
	return rc;
}

static int
path_is(const struct hs_parser *p, const char *path)
{
	size_t n = strlen(path);

	return strncmp(p->target, path, n) == 0 &&
	    (p->target[n] == '\0' || p->target[n] == '?');
}

enum hs_route
hs_route(const struct hs_parser *p)
{
	if (path_is(p, "/__realtime"))
		return HS_REALTIME;
	if (path_is(p, "/healthz"))
		return HS_HEALTHZ;
	if (path_is(p, "/metrics"))
		return HS_METRICS;
	return HS_NOT_FOUND;
}

long
hs_query_param(const char *query, size_t qlen, const char *name, char *out,
    size_t outsz)
{
	char tmp[HS_TARGET_MAX + 1];
	size_t nlen = strlen(name), i = 0;

	while (i < qlen) {
		size_t end = i;
		long len;

		while (end < qlen && query[end] != '&')
			end++;
		if (end - i > nlen && query[i + nlen] == '=' &&
		    memcmp(query + i, name, nlen) == 0) {
			const char *v = query + i + nlen + 1;
			size_t vlen = end - i - nlen - 1;

			if (vlen >= sizeof(tmp))
				return -2;
			len = pct_decode(tmp, v, vlen, 1);
			if (len < 0 || (size_t)len >= outsz)
				return -2;
			memcpy(out, tmp, (size_t)len + 1);
			return len;
		}
		if (end - i == nlen && memcmp(query + i, name, nlen) == 0) {
			out[0] = '\0';
			return 0;
		}
		i = end + 1;
	}
	return -1;
}

static int
ws_key_valid(const char *k)
{
	/* Base64 of 16 bytes: 22 characters and "==" (RFC 6455 4.1). */
	if (strlen(k) != 24 || strcmp(k + 22, "==") != 0)
		return 0;
	for (int i = 0; i < 22; i++) {
		char c = k[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return 0;
	}
	return 1;
}

static const char bad_key[] =
    "key must be 1..256 printable ASCII characters, no spaces";
static const char bad_url[] = "url must be a path starting with / (at most "
    "1 KiB, no scheme or host)";

/* Where a parameter's value lies in the query. */
struct span {
	uint16_t	off, len;
};

/* Percent-decodes the value at sp into dst (room for it and a NUL).
 * Returns its length or -1. */
static long
decode_span(const char *q, struct span sp, char *dst)
{
	return pct_decode(dst, q + sp.off, sp.len, 1);
}

/* v2's repeated key/url parameters (protocol.md "several roots") into
 * u->pairs: the i-th url pairs with the i-th key, every key has one or
 * none has; duplicates are kept once. Returns 0, or -1 with *why. */
static int
parse_pairs(const char *q, size_t qlen, struct hs_upgrade *u,
    const char **why)
{
	/* A parameter takes at least 4 bytes ("key&"). */
	struct span keys[HS_TARGET_MAX / 4 + 1], urls[HS_TARGET_MAX / 4 + 1];
	size_t nk = 0, nu = 0, i = 0, end = 0;

	while (i < qlen) {
		size_t e = i, eq;

		while (e < qlen && q[e] != '&')
			e++;
		eq = i;
		while (eq < e && q[eq] != '=')
			eq++;
		if (eq - i == 3 && (memcmp(q + i, "key", 3) == 0 ||
		    memcmp(q + i, "url", 3) == 0)) {
			struct span sp = { (uint16_t)(eq < e ? eq + 1 : e),
			    (uint16_t)(eq < e ? e - eq - 1 : 0) };

			if (q[i] == 'k')
				keys[nk++] = sp;
			else
				urls[nu++] = sp;
		}
		i = e + 1;
	}
	if (nk == 0) {
		*why = "missing key parameter";
		return -1;
	}
	if (nu != 0 && nu != nk) {
		*why = "every key needs its url, or no url is given";
		return -1;
	}
	u->npairs = 0;
	for (size_t k = 0; k < nk; k++) {
		char *key = u->strs + end, *url;
		long kn = decode_span(q, keys[k], key), un;
		size_t next;
		unsigned d;

		if (kn < 0 || !key_valid(key, (size_t)kn)) {
			*why = bad_key;
			return -1;
		}
		next = end + (size_t)kn + 1;
		url = key;
		un = kn;
		if (nu > 0) {
			url = u->strs + next;
			un = decode_span(q, urls[k], url);
			next += (size_t)(un >= 0 ? un : 0) + 1;
		}
		if (un < 0 || !url_valid(url, (size_t)un)) {
			*why = bad_url;
			return -1;
		}
		for (d = 0; d < u->npairs; d++)
			if (strcmp(u->pairs[d].key, key) == 0 &&
			    strcmp(u->pairs[d].url, url) == 0)
				break;
		if (d < u->npairs)
			continue;
		if (u->npairs == HS_ROOTS_MAX) {
			u->npairs++;
			break;
		}
		u->pairs[u->npairs].key = key;
		u->pairs[u->npairs].url = url;
		u->npairs++;
		end = next;
	}
	u->key_len = strlen(u->pairs[0].key);
	memcpy(u->key, u->pairs[0].key, u->key_len + 1);
	u->url_len = strlen(u->pairs[0].url);
	memcpy(u->url, u->pairs[0].url, u->url_len + 1);
	*why = NULL;
	return 0;
}

/* Refuses an upgrade: hs_upgrade_check's failure return. */
static int
refuse(int *status, const char **why, int st, const char *reason)
{
	*status = st;
	*why = reason;
	return -1;
}

int
hs_upgrade_check(const struct hs_parser *p, char *const *allow, size_t nallow,
    struct hs_upgrade *u, int *status, const char **why)
{
	const char *q = strchr(p->target, '?');
	size_t qlen = q != NULL ? strlen(q + 1) : 0;
	struct deflate_offer offer;
	char vbuf[4];
	long n;

	q = q != NULL ? q + 1 : "";
	u->accept[0] = '\0';
	if (strcmp(p->method, "GET") != 0)
		return refuse(status, why, 405, "WebSocket upgrades use GET");
	if (p->minor < 1)
		return refuse(status, why, 400,
		    "WebSocket upgrades need HTTP/1.1");
	if (!p->upgrade_websocket || !p->connection_upgrade)
		return refuse(status, why, 426, "not a WebSocket upgrade "
		    "(Upgrade/Connection headers)");
	if (p->ws_version != 13)
		return refuse(status, why, 426,
		    "unsupported Sec-WebSocket-Version (13 only)");
	/* The Host goes into render requests as HTTP_HOST. */
	if (!key_valid(p->host, strlen(p->host)))
		return refuse(status, why, 400, "missing or malformed Host");
	if (!p->has_ws_key || !ws_key_valid(p->ws_key))
		return refuse(status, why, 400,
		    "missing or malformed Sec-WebSocket-Key");
	/* A valid upgrade from here on: what is refused below is refused
	 * after the 101, with a close code a browser can read. */
	if (ws_accept_key(p->ws_key, strlen(p->ws_key), u->accept) != 0)
		return refuse(status, why, 500,
		    "cannot compute Sec-WebSocket-Accept");
	n = hs_query_param(q, qlen, "v", vbuf, sizeof(vbuf));
	if (n == -1 || (n == 1 && vbuf[0] == '1'))
		u->version = 1;
	else if (n == 1 && vbuf[0] == '2')
		u->version = 2;
	else
		return refuse(status, why, 400, "unknown protocol version "
		    "(v=1 or v=2)");
	u->deflate = !p->extensions_long && p->extensions_len > 0 &&
	    deflate_offer_parse(p->extensions, p->extensions_len, &offer) == 1;
	if (u->version == 2) {
		if (parse_pairs(q, qlen, u, why) != 0)
			return refuse(status, why, 400, *why);
		goto origin;
	}
	n = hs_query_param(q, qlen, "key", u->key, sizeof(u->key));
	if (n < 0 || !key_valid(u->key, (size_t)n))
		return refuse(status, why, 400, n == -1 ?
		    "missing key parameter" : bad_key);
	u->key_len = (size_t)n;
	n = hs_query_param(q, qlen, "url", u->url, sizeof(u->url));
	if (n == -1) {
		memcpy(u->url, u->key, u->key_len + 1);
		n = (long)u->key_len;
	}
	if (n < 0 || !url_valid(u->url, (size_t)n))
		return refuse(status, why, 400, bad_url);
	u->url_len = (size_t)n;
	u->npairs = 1;
	u->pairs[0].key = u->key;
	u->pairs[0].url = u->url;
origin:
	/* pushd speaks plain HTTP: an https page reaches it through a proxy,
	 * which says so in X-Forwarded-Proto (the shipped sites set it). */
	if (!origin_request_ok(p->has_origin ? p->origin : NULL,
	    p->has_fetch_site ? p->fetch_site : NULL,
	    p->has_fwd_proto ? p->fwd_proto : "http", p->host)) {
		int allowed = 0;

		for (size_t i = 0; p->has_origin && !allowed && i < nallow; i++)
			allowed = strcasecmp(p->origin, allow[i]) == 0;
		if (!allowed)
			return refuse(status, why, 403, "Origin is not the "
			    "page's own (scheme, Host and port) nor an "
			    "--allow-origin");
	}
	*why = NULL;
	return 0;
}
