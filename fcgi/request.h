/* One HTTP request as keycast-fcgi sees it: CGI params parsed into fields,
 * the query and an urlencoded body decoded into name/value lists. All
 * memory lives in the request's arena. struct req is in keycast.h. The parsing functions do no I/O so
 * they are unit-tested and fuzzable without a web server. */
#ifndef KC_REQUEST_H
#define KC_REQUEST_H
#include <stddef.h>

#include "keycast.h"

#define REQ_BODY_MAX	(64 * 1024)

/* Reads a CGI variable; the callback abstracts FCGX's environment. */
typedef const char *(*req_getenv_fn)(void *ctx, const char *name);

/* Fills rq from CGI variables. Returns 0, or an HTTP status (400) when
 * the request line cannot be understood. */
int		 req_init(struct req *rq, struct arena *a, req_getenv_fn get,
		    void *ctx);
/* Decodes "a=1&b=&a=2" into a list (repeated keys kept in order, empty
 * values allowed). Returns 0, or -1 on a malformed percent escape. */
int		 req_parse_urlencoded(struct arena *a, const char *s, size_t n,
		    struct kv **out);
/* 1 when every name and value in list is valid UTF-8 without NUL. */
int		 kv_all_utf8(const struct kv *list);
/* The path of a same-origin Referer (where a refused form came from),
 * else "/". */
const char	*req_back_url(const struct req *rq);
/* 1 when a POST does not come from the page's own origin (the rule of
 * origin_request_ok: Sec-Fetch-Site other than same-origin/none, or an
 * Origin other than scheme://Host). */
int		 req_cross_site(const struct req *rq);

#endif
