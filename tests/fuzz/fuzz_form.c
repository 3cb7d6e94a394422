/* libFuzzer target for fcgi/request.c: the input is split at its first
 * NUL into a REQUEST_URI and a body; both go through the same decoding as
 * a real request (path, query, form, UTF-8, cross-site and Referer checks). */
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "fcgi/request.h"

struct env {
	const char	*uri;
	const char	*origin;
};

static const char *
get(void *ctx, const char *name)
{
	struct env *e = ctx;

	if (strcmp(name, "REQUEST_URI") == 0)
		return e->uri;
	if (strcmp(name, "HTTP_HOST") == 0)
		return "example.com:8080";
	if (strcmp(name, "HTTP_ORIGIN") == 0 || strcmp(name, "HTTP_REFERER") == 0)
		return e->origin;
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct arena *a;
	const char *d = (const char *)data, *nul = memchr(d, '\0', size);
	size_t ulen = nul != NULL ? (size_t)(nul - d) : size;
	struct env e;
	struct req rq;
	struct kv *form;

	if (a == NULL)
		a = arena_new();
	arena_reset(a);
	e.uri = arena_strndup(a, d, ulen);
	e.origin = e.uri;
	if (req_init(&rq, a, get, &e) == 0) {
		kv_all_utf8(rq.args);
		req_cross_site(&rq);
		req_back_url(&rq);
	}
	if (nul != NULL && req_parse_urlencoded(a, nul + 1, size - ulen - 1,
	    &form) == 0) {
		kv_all_utf8(form);
		kv_get(form, "text");
	}
	return 0;
}
