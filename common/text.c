/* Key, url and UTF-8 validation, percent-decoding and the origin rule (see
 * text.h). */
#include "text.h"

#include <string.h>
#include <strings.h>

int
key_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > KEY_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f)
			return 0;
	}
	return 1;
}

int
url_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > URL_MAX || s[0] != '/')
		return 0;
	if (n > 1 && (s[1] == '/' || s[1] == '\\'))
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || c == '#')
			return 0;
	}
	return 1;
}

int
utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t len;
		unsigned cp, min;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			len = 2; cp = c & 0x1f; min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3; cp = c & 0x0f; min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4; cp = c & 0x07; min = 0x10000;
		} else {
			return 0;
		}
		if (n - i < len)
			return 0;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

size_t
utf8_len(const char *s, size_t n)
{
	size_t i, count = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			count++;
	return count;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long
pct_decode(char *dst, const char *s, size_t n, int plus_is_space)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			int hi, lo;

			if (n - i < 3)
				return -1;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			dst[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (s[i] == '+' && plus_is_space) {
			dst[o++] = ' ';
		} else {
			dst[o++] = s[i];
		}
	}
	dst[o] = '\0';
	return (long)o;
}

void
authority_split(const char *a, size_t n, size_t *hostlen,
    const char **port, size_t *portlen)
{
	const char *colon = NULL;

	if (n > 0 && a[0] == '[') {
		const char *rb = memchr(a, ']', n);
		if (rb != NULL && (size_t)(rb - a) + 1 < n && rb[1] == ':')
			colon = rb + 1;
	} else {
		colon = memrchr(a, ':', n);
	}
	if (colon == NULL) {
		*hostlen = n;
		*port = NULL;
		*portlen = 0;
	} else {
		*hostlen = (size_t)(colon - a);
		*port = colon + 1;
		*portlen = n - *hostlen - 1;
	}
}

/* The port of an authority as a number, the default when it has none (or
 * an empty one, RFC 3986 3.2.3); -1 when it is not 1..65535. */
static long
port_or_default(const char *port, size_t n, long dflt)
{
	long v = 0;

	if (port == NULL || n == 0)
		return dflt;
	if (n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (port[i] < '0' || port[i] > '9')
			return -1;
		v = v * 10 + (port[i] - '0');
	}
	return v >= 1 && v <= 65535 ? v : -1;
}

/* The default port of "http" or "https" (any case), else -1. */
static long
scheme_port(const char *s, size_t n)
{
	if (n == 4 && strncasecmp(s, "http", 4) == 0)
		return 80;
	if (n == 5 && strncasecmp(s, "https", 5) == 0)
		return 443;
	return -1;
}

int
origin_same(const char *origin, const char *scheme, const char *host)
{
	const char *sep, *auth, *oport, *hport;
	size_t slen, alen, ohost, oportlen, hhost, hportlen;
	long dflt, op, hp;

	if ((sep = strstr(origin, "://")) == NULL)
		return 0;	/* "null" */
	slen = (size_t)(sep - origin);
	dflt = scheme_port(origin, slen);
	if (dflt < 0 || slen != strlen(scheme) ||
	    strncasecmp(origin, scheme, slen) != 0)
		return 0;
	auth = sep + 3;
	if ((sep = strchr(auth, '/')) != NULL && sep[1] != '\0')
		return 0;	/* an Origin has no path */
	alen = sep != NULL ? (size_t)(sep - auth) : strlen(auth);
	authority_split(auth, alen, &ohost, &oport, &oportlen);
	authority_split(host, strlen(host), &hhost, &hport, &hportlen);
	if (ohost == 0 || ohost != hhost || strncasecmp(auth, host, ohost) != 0)
		return 0;
	op = port_or_default(oport, oportlen, dflt);
	hp = port_or_default(hport, hportlen, dflt);
	return op > 0 && op == hp;
}

int
origin_request_ok(const char *origin, const char *fetch_site,
    const char *scheme, const char *host)
{
	/* same-site is a sibling host (another port, another subdomain): a
	 * page there must not act here. */
	if (fetch_site != NULL && strcmp(fetch_site, "same-origin") != 0 &&
	    strcmp(fetch_site, "none") != 0)
		return 0;
	return origin == NULL || origin_same(origin, scheme, host);
}
