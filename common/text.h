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

#endif
