/* Allocation that aborts on out-of-memory: small allocations failing means
 * the process cannot do anything useful, so callers never check for NULL. */
#ifndef KC_XMALLOC_H
#define KC_XMALLOC_H
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
