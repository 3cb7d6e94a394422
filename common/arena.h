/* A bump allocator for memory that lives exactly as long as one request:
 * everything is freed at once by arena_free, so request code never frees
 * piecemeal. Allocation aborts on out-of-memory like xmalloc. */
#ifndef KC_ARENA_H
#define KC_ARENA_H
#include <stddef.h>

struct arena;

struct arena	*arena_new(void);
void		 arena_free(struct arena *a);
/* Frees everything allocated so far but keeps the first block for reuse. */
void		 arena_reset(struct arena *a);
void		*arena_alloc(struct arena *a, size_t n);
void		*arena_calloc(struct arena *a, size_t n);
char		*arena_strndup(struct arena *a, const char *s, size_t n);
char		*arena_strdup(struct arena *a, const char *s);
char		*arena_printf(struct arena *a, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

#endif
