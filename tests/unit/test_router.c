/* fcgi/router.c: literal and parameter segments, 404, 405 + Allow, HEAD. */
#include <string.h>

#include "arena.h"
#include "fcgi/router.h"
#include "tap.h"

static int h_index(struct req *rq, struct resp *rs) { (void)rq; (void)rs; return 0; }
static int h_chat(struct req *rq, struct resp *rs) { (void)rq; (void)rs; return 0; }
static int h_post(struct req *rq, struct resp *rs) { (void)rq; (void)rs; return 0; }
static int h_inc(struct req *rq, struct resp *rs) { (void)rq; (void)rs; return 0; }

static const struct route table[] = {
	{ "GET", "/", h_index },
	{ "GET", "/chat/:room", h_chat },
	{ "POST", "/api/chat/:room/messages", h_post },
	{ "POST", "/api/counter/increment", h_inc },
	{ "GET", "/a/:x/b/:y", h_chat },
};
#define N (sizeof(table) / sizeof(table[0]))

int
main(void)
{
	struct arena *a = arena_new();
	struct route_match m;

	ok(route_match(table, N, "GET", "/", a, &m) == ROUTE_OK &&
	    m.route->handler == h_index, "GET / matches the index");
	ok(route_match(table, N, "GET", "/chat/lobby", a, &m) == ROUTE_OK &&
	    m.route->handler == h_chat, "GET /chat/lobby matches");
	is_str(route_param(&m, "room"), "lobby", "room parameter captured");
	ok(route_param(&m, "nope") == NULL, "unknown parameter is NULL");
	ok(route_match(table, N, "POST", "/api/chat/dev/messages", a, &m) ==
	    ROUTE_OK && m.route->handler == h_post, "parameter in the middle");
	is_str(route_param(&m, "room"), "dev", "middle parameter captured");
	ok(route_match(table, N, "GET", "/a/1/b/2", a, &m) == ROUTE_OK,
	    "two parameters");
	is_str(route_param(&m, "x"), "1", "first of two parameters");
	is_str(route_param(&m, "y"), "2", "second of two parameters");

	ok(route_match(table, N, "GET", "/nope", a, &m) == ROUTE_NOT_FOUND,
	    "unknown path is 404");
	ok(route_match(table, N, "GET", "/chat/", a, &m) == ROUTE_NOT_FOUND,
	    "empty parameter segment is 404");
	ok(route_match(table, N, "GET", "/chat/lobby/x", a, &m) == ROUTE_NOT_FOUND,
	    "extra segment is 404");
	ok(route_match(table, N, "GET", "/chat/lobby/", a, &m) == ROUTE_NOT_FOUND,
	    "trailing slash is 404");
	ok(route_match(table, N, "GET", "", a, &m) == ROUTE_NOT_FOUND,
	    "empty path is 404");

	ok(route_match(table, N, "GET", "/api/counter/increment", a, &m) ==
	    ROUTE_BAD_METHOD, "GET on a POST route is 405");
	is_str(m.allow, "POST", "Allow lists POST");
	ok(route_match(table, N, "DELETE", "/chat/x", a, &m) == ROUTE_BAD_METHOD,
	    "DELETE on a GET route is 405");
	is_str(m.allow, "GET, HEAD", "Allow lists GET and HEAD");
	ok(route_match(table, N, "HEAD", "/chat/x", a, &m) == ROUTE_OK &&
	    m.route->handler == h_chat, "HEAD matches a GET route");
	ok(route_match(table, N, "HEAD", "/api/counter/increment", a, &m) ==
	    ROUTE_BAD_METHOD, "HEAD does not match a POST route");
	arena_free(a);
	return tap_done();
}
