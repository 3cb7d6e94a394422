/* common/arena.c: alignment, growth, big blocks, reset. */
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "tap.h"

int
main(void)
{
	struct arena *a = arena_new();
	char *s, *big, *p1, *p2;
	int i, aligned = 1;

	for (i = 1; i < 100; i++)
		if ((uintptr_t)arena_alloc(a, (size_t)i) % 16 != 0)
			aligned = 0;
	ok(aligned, "allocations are 16-byte aligned");
	s = arena_printf(a, "%s-%d", "room", 42);
	is_str(s, "room-42", "arena_printf");
	is_str(arena_strndup(a, "abcdef", 3), "abc", "arena_strndup");
	p1 = arena_alloc(a, 16);
	big = arena_alloc(a, 1 << 20);
	memset(big, 'x', 1 << 20);
	p2 = arena_alloc(a, 16);
	ok(p2 == p1 + 16 && (big + (1 << 20) <= p1 || big >= p2 + 16),
	    "a 1 MiB allocation gets its own block: the standard one keeps filling");
	p1 = arena_calloc(a, 64);
	ok(p1[0] == 0 && p1[63] == 0, "arena_calloc zeroes");
	for (i = 0; i < 1000; i++)
		arena_alloc(a, 100);
	arena_reset(a);
	p1 = arena_alloc(a, 16);
	arena_reset(a);
	p2 = arena_alloc(a, 16);
	ok(p1 == p2, "after reset allocation starts over in the kept block");
	big = arena_alloc(a, 1 << 20);
	arena_reset(a);
	p2 = arena_alloc(a, 16);
	ok(p1 == p2, "reset after a big block keeps the standard block");
	arena_free(a);
	/* A crash here loses the plan line, which the TAP driver reports. */
	arena_free(NULL);
	return tap_done();
}
