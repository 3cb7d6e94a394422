/* One HTTP request as keycast-fcgi sees it: CGI params parsed into fields,
 * the query and an urlencoded body decoded into name/value lists. All
 * memory lives in the request's arena. The parsing functions do no I/O so
 * they are unit-tested and fuzzable without a web server. */
#ifndef KC_REQUEST_H
#define KC_REQUEST_H
#include <stddef.h>

#include "router.h"

#define REQ_BODY_MAX	(64 * 1024)

struct arena;
struct app;

struct kv {
	const char	*name;		/* NUL-terminated; may hold NUL (see name_len) */
	size_t		 name_len;
	const char	*value;		/* NUL-terminated; may hold NUL (see len) */
	size_t		 len;
	struct kv	*next;
};

/* Who sent the request, from its kc_session cookie (page requests only:
 * a render never looks at cookies). */
struct viewer {
	long long	 id;		/* users.id; 0 when anonymous */
	const char	*name;		/* NULL when anonymous */
	int		 moderator;	/* users.role = 'moderator' */
	const char	*session;	/* SHA-256 hex of the token, or NULL */
	int		 stale;		/* a kc_session that names no session
					 * (signed out, or garbage) */
};

struct req {
	struct app	*app;		/* borrowed: the worker's application */
	struct arena	*arena;		/* owns the decoded strings below; the
					 * raw CGI ones (method, host, origin...)
					 * are libfcgi's, valid until the request
					 * is finished */
	const char	*method;
	const char	*uri;		/* raw REQUEST_URI, path + query */
	const char	*path;		/* decoded path */
	const char	*query;		/* raw query, "" when none */
	const char	*host;
	const char	*scheme;	/* "https" (HTTPS set), else REQUEST_SCHEME,
					 * else "http" */
	const char	*origin;	/* NULL when absent */
	const char	*fetch_site;	/* Sec-Fetch-Site, NULL when absent */
	const char	*referer;	/* NULL when absent */
	const char	*content_type;
	const char	*render_key;	/* KEYCAST_RENDER from pushd, or NULL */
	const char	*render_view;	/* KEYCAST_VIEW of a render, or NULL */
	const char	*authorize_key;	/* KEYCAST_AUTHORIZE from pushd, or NULL */
	const char	*cookie;	/* Cookie header, NULL when absent */
	const char	*remote_addr;	/* REMOTE_ADDR, "" when absent */
	struct viewer	 viewer;	/* filled by app_handle */
	int		 xkeycast;	/* X-Keycast: 1 (fetch from keycast.js) */
	long long	 content_length;
	const char	*body;
	size_t		 body_len;
	struct kv	*args;		/* decoded query, in order */
	struct kv	*form;		/* decoded urlencoded body, in order */
	struct route_match match;
};

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
/* The first value of name, or NULL. */
const char	*kv_get(const struct kv *list, const char *name);
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
