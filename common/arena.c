/* Request-lifetime bump allocator (see arena.h). Blocks form a list; large
 * requests get a block of their own so the common block size stays small. */
#include "arena.h"
#include "xmalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK	(16 * 1024)
#define ARENA_ALIGN	16

struct block {
	struct block	*next;
	size_t		 used;
	size_t		 cap;
	_Alignas(ARENA_ALIGN) unsigned char data[];
};

struct arena {
	struct block	*head;	/* owned; the block being filled */
	struct block	*first;	/* the standard block kept by arena_reset */
};

static struct block *
block_new(size_t cap)
{
	struct block *b = xmalloc(sizeof(*b) + cap);

	b->next = NULL;
	b->used = 0;
	b->cap = cap;
	return b;
}

struct arena *
arena_new(void)
{
	struct arena *a = xmalloc(sizeof(*a));

	a->head = a->first = block_new(ARENA_BLOCK);
	return a;
}

static void
blocks_free(struct block *b)
{
	while (b != NULL) {
		struct block *next = b->next;
		free(b);
		b = next;
	}
}

void
arena_free(struct arena *a)
{
	if (a == NULL)
		return;
	blocks_free(a->head);
	free(a);
}

void
arena_reset(struct arena *a)
{
	struct block *b = a->head;

	/* Keep only the first standard-sized block: a request that needed a
	 * big block must not leave the worker holding it for good. */
	while (b != NULL) {
		struct block *next = b->next;
		if (b != a->first)
			free(b);
		b = next;
	}
	a->first->next = NULL;
	a->first->used = 0;
	a->head = a->first;
}

void *
arena_alloc(struct arena *a, size_t n)
{
	struct block *b = a->head;
	size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	void *p;

	if (need == 0)
		need = ARENA_ALIGN;
	if (b->cap - b->used < need) {
		if (need > ARENA_BLOCK / 4) {
			/* Big: its own block, behind the head so the head keeps filling. */
			struct block *big = block_new(need);
			big->used = need;
			big->next = b->next;
			b->next = big;
			return big->data;
		}
		b = block_new(ARENA_BLOCK);
		b->next = a->head;
		a->head = b;
	}
	p = b->data + b->used;
	b->used += need;
	return p;
}

void *
arena_calloc(struct arena *a, size_t n)
{
	void *p = arena_alloc(a, n);

	memset(p, 0, n);
	return p;
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *
arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap, ap2;
	int n;
	char *p;

	va_start(ap, fmt);
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		n = 0;
	p = arena_alloc(a, (size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}
