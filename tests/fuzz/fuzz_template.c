/* libFuzzer target for fcgi/template.c: the input is compiled as a
 * template (and partial "p" of itself) and, when it compiles, rendered
 * against a context with strings, a list and a nested map. */
#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "fcgi/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tpl_set *set = tpl_set_new();
	struct arena *a = arena_new();
	struct tpl_val *ctx = tpl_map(a), *list = tpl_list(a), *m = tpl_map(a);
	struct buf out;
	char err[256];

	tpl_put(a, m, "b", tpl_str(a, "<&\"'>"));
	tpl_put(a, ctx, "a", m);
	tpl_push(a, list, tpl_int(a, 1));
	tpl_push(a, list, m);
	tpl_put(a, ctx, "list", list);
	tpl_put(a, ctx, "yes", tpl_bool(a, 1));
	buf_init(&out);
	if (tpl_add(set, "t", (const char *)data, size, "fuzz", err,
	    sizeof(err)) == 0 &&
	    tpl_add(set, "p", (const char *)data, size, "fuzz", err,
	    sizeof(err)) == 0) {
		tpl_set_check(set, err, sizeof(err));
		tpl_render(set, "t", ctx, &out, err, sizeof(err));
	}
	buf_cleanup(&out);
	arena_free(a);
	tpl_set_free(set);
	return 0;
}
