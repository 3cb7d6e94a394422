/* A static route table of {method, pattern, handler}. Patterns are literal
 * segments or ":name" parameters matching one non-empty segment. Matching
 * reports 404 (no pattern fits the path), 405 (a pattern fits but not for
 * this method; Allow is filled) or the route with its parameters. HEAD
 * matches GET routes. */
#ifndef KC_ROUTER_H
#define KC_ROUTER_H
#include <stddef.h>

#include "keycast.h"

enum { ROUTE_OK = 0, ROUTE_NOT_FOUND = -1, ROUTE_BAD_METHOD = -2 };

/* path is the decoded path without the query. */
int		 route_match(const struct route *table, size_t n, const char *method,
		    const char *path, struct arena *a, struct route_match *m);

#endif
