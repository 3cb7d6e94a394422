/* Validation of the strings that cross process boundaries: keys and page
 * urls (DESIGN contracts), UTF-8 text, and percent-decoding. Pure functions,
 * shared by keycast-fcgi and keycast-pushd so both refuse the same input. */
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
/* 1 when a browser's Origin ("http[s]://host[:port]") names the Host
 * header's host: same host name, and the same port when Host carries one
 * (the scheme's default port when the Origin has none); a Host without a
 * port, as proxies that pass $host send it, matches any port. Both
 * daemons judge Origin with this one rule. */
int	origin_matches_host(const char *origin, const char *host);

#endif
