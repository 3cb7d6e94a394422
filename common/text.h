/* Validation of the strings that cross process boundaries: keys and page
 * urls (docs/protocol.md, section 1), UTF-8 text, percent-decoding, and the origin
 * rule. Pure functions, shared by keycast-fcgi and keycast-pushd so both
 * refuse the same input. */
#ifndef KC_TEXT_H
#define KC_TEXT_H
#include <stddef.h>

#define KEY_MAX		256
#define URL_MAX		1024

/* 1..256 bytes of printable ASCII without spaces. */
int	key_valid(const char *s, size_t n);
/* A path (+query) starting with "/", no "//" scheme-relative start, no
 * scheme or host, printable ASCII without spaces, at most URL_MAX bytes. */
int	url_valid(const char *s, size_t n);
/* Well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF). */
int	utf8_valid(const char *s, size_t n);
/* Number of code points in valid UTF-8. */
size_t	utf8_len(const char *s, size_t n);
/* Decodes %XX and, when plus_is_space, '+' into dst (at least n+1 bytes).
 * Returns the decoded length, or -1 on a malformed escape. */
long	pct_decode(char *dst, const char *s, size_t n, int plus_is_space);

/* Splits the n bytes of "host[:port]" ("[v6][:port]"; a Host header, an
 * Origin's authority, a HOST:PORT spec) in place: the host is the first
 * *hostlen bytes (brackets kept), the port *portlen bytes at *port, or
 * *port is NULL when there is none. */
void	authority_split(const char *a, size_t n, size_t *hostlen,
	    const char **port, size_t *portlen);
/* The one origin rule: both daemons judge browser requests with these.
 * scheme is how the request reached us ("http" or "https": HTTPS or
 * REQUEST_SCHEME in FastCGI, X-Forwarded-Proto from the proxy at pushd),
 * host its Host header. origin_same: 1 when origin ("scheme://host[:port]"
 * as a browser sends it) is exactly that origin: same scheme, host name
 * and port, the scheme's default port implied on either side. "null",
 * file: and any other scheme never are. */
int	origin_same(const char *origin, const char *scheme, const char *host);
/* 1 when a request comes from the page's own origin as far as a browser
 * says: Sec-Fetch-Site, when sent, is "same-origin" or "none" (a typed
 * address), and Origin, when sent, is origin_same. NULL stands for a
 * header not sent; a client that sends neither is no browser and passes. */
int	origin_request_ok(const char *origin, const char *fetch_site,
	    const char *scheme, const char *host);

#endif
