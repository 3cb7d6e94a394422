/* Route matching over a small static table (see router.h). Tables are a few
 * dozen entries at most, so a linear scan beats any index. */
#include "router.h"
#include "arena.h"

#include <string.h>

/* Matches one pattern against path; fills params on success. */
static int
pattern_match(const char *pat, const char *path, struct arena *a,
    struct route_match *m)
{
	m->nparams = 0;
	for (;;) {
		const char *pe, *se;

		if (*pat != '/' || *path != '/')
			return 0;
		pat++;
		path++;
		pe = strchrnul(pat, '/');
		se = strchrnul(path, '/');
		if (*pat == ':') {
			if (se == path || m->nparams == ROUTE_PARAMS_MAX)
				return 0;
			m->names[m->nparams] = pat + 1;
			m->values[m->nparams] = arena_strndup(a, path,
			    (size_t)(se - path));
			m->nparams++;
		} else if (pe - pat != se - path ||
		    memcmp(pat, path, (size_t)(pe - pat)) != 0) {
			return 0;
		}
		pat = pe;
		path = se;
		if (*pat == '\0' && *path == '\0')
			return 1;
		if (*pat == '\0' || *path == '\0')
			return 0;
	}
}

static void
allow_add(struct route_match *m, const char *method)
{
	size_t len = strlen(m->allow);

	if (strstr(m->allow, method) != NULL)
		return;
	if (len + strlen(method) + 3 >= sizeof(m->allow))
		return;
	if (len > 0) {
		memcpy(m->allow + len, ", ", 2);
		len += 2;
	}
	strcpy(m->allow + len, method);
}

int
route_match(const struct route *table, size_t n, const char *method,
    const char *path, struct arena *a, struct route_match *m)
{
	const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
	int path_seen = 0;
	size_t i;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < n; i++) {
		if (!pattern_match(table[i].pattern, path, a, m))
			continue;
		if (strcmp(table[i].method, want) == 0) {
			m->route = &table[i];
			return ROUTE_OK;
		}
		path_seen = 1;
		allow_add(m, table[i].method);
		if (strcmp(table[i].method, "GET") == 0)
			allow_add(m, "HEAD");
	}
	m->nparams = 0;
	return path_seen ? ROUTE_BAD_METHOD : ROUTE_NOT_FOUND;
}

const char *
route_param(const struct route_match *m, const char *name)
{
	size_t i, len = strlen(name);

	for (i = 0; i < m->nparams; i++) {
		const char *nm = m->names[i];
		if (strncmp(nm, name, len) == 0 && (nm[len] == '/' || nm[len] == '\0'))
			return m->values[i];
	}
	return NULL;
}
