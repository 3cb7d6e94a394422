/* A static route table of {method, pattern, handler}. Patterns are literal
 * segments or ":name" parameters matching one non-empty segment. Matching
 * reports 404 (no pattern fits the path), 405 (a pattern fits but not for
 * this method; Allow is filled) or the route with its parameters. HEAD
 * matches GET routes. */
#ifndef KC_ROUTER_H
#define KC_ROUTER_H
#include <stddef.h>

struct arena;
struct req;
struct resp;

typedef int (*route_fn)(struct req *rq, struct resp *rs);

struct route {
	const char	*method;	/* "GET" or "POST" */
	const char	*pattern;	/* "/chat/:room" */
	route_fn	 handler;
};

#define ROUTE_PARAMS_MAX	4

struct route_match {
	const struct route	*route;
	size_t			 nparams;
	const char		*names[ROUTE_PARAMS_MAX];	/* borrowed from pattern */
	const char		*values[ROUTE_PARAMS_MAX];	/* arena copies */
	char			 allow[64];	/* "GET, HEAD" on 405 */
};

enum { ROUTE_OK = 0, ROUTE_NOT_FOUND = -1, ROUTE_BAD_METHOD = -2 };

/* path is the decoded path without the query. */
int		 route_match(const struct route *table, size_t n, const char *method,
		    const char *path, struct arena *a, struct route_match *m);
const char	*route_param(const struct route_match *m, const char *name);

#endif
