/* keycast.h: everything a feature uses. A feature is one file under
 * fcgi/pages/ (fcgi/pages/counter.c is the shortest) exporting one const
 * struct feature: its routes, its prepared statements, its templates, the
 * keys its pages subscribe to and what notifies them. Register it with one
 * line in fcgi/pages/features.h and one in fcgi/pages/pages.am; its
 * migration is sql/NNN_<feature>.sql. docs/realtime-page.md walks through
 * adding one.
 *
 * Memory: everything a request builds (strings, template values, route
 * parameters) lives in the request's arena, rq->arena, and is freed at once
 * when the request ends: a handler never frees. Tables a feature hands the
 * framework (routes, statements, templates, keys) are static and borrowed
 * for the life of the process. */
#ifndef KC_KEYCAST_H
#define KC_KEYCAST_H
#include <stddef.h>

#include "arena.h"	/* arena_printf, arena_strdup, arena_strndup: strings
			 * that live as long as the request (rq->arena) */
#include "buf.h"

/* libpq's result (include <libpq-fe.h> to read it: PQntuples, PQgetvalue,
 * PQgetisnull; PQclear it when done). */
typedef struct pg_result PGresult;

/* ---- the request ------------------------------------------------------ */

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

#define ROUTE_PARAMS_MAX	4

struct route;

/* What the router found: the route and its ":name" parameters. */
struct route_match {
	const struct route	*route;
	size_t			 nparams;
	const char		*names[ROUTE_PARAMS_MAX];	/* borrowed from pattern */
	const char		*values[ROUTE_PARAMS_MAX];	/* arena copies */
	char			 allow[64];	/* "GET, HEAD" on 405 */
};

struct app;

/* One HTTP request. Strings are the arena's (decoded ones) or libfcgi's
 * (raw CGI ones: method, host, origin...), valid until the request ends. */
struct req {
	struct app	*app;		/* borrowed: the worker's application */
	struct arena	*arena;		/* owns what the request allocates */
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
	const char	*render_key;	/* pushd's render request (KEYCAST_RENDER):
					 * answer the fragment of this key; NULL
					 * for a browser's request */
	const char	*render_view;	/* KEYCAST_VIEW of a render, or NULL */
	const char	*authorize_key;	/* KEYCAST_AUTHORIZE from pushd, or NULL */
	const char	*cookie;	/* Cookie header, NULL when absent */
	const char	*remote_addr;	/* REMOTE_ADDR, "" when absent */
	struct viewer	 viewer;	/* filled before the handler runs */
	int		 xkeycast;	/* X-Keycast: 1 (fetch from keycast.js) */
	long long	 content_length;
	const char	*body;
	size_t		 body_len;
	struct kv	*args;		/* decoded query, in order */
	struct kv	*form;		/* decoded urlencoded POST body, in order;
					 * every name and value is valid UTF-8 */
	struct route_match match;
};

/* The first value of name in list (rq->args, rq->form), or NULL. */
const char	*kv_get(const struct kv *list, const char *name);
/* The value of the route's ":name" parameter, or NULL. */
const char	*route_param(const struct route_match *m, const char *name);

/* ---- the response ----------------------------------------------------- */

struct resp {
	int		 status;
	const char	*content_type;	/* static string */
	struct buf	 headers;	/* "Name: value\r\n" lines */
	struct buf	 body;
};

/* Adds a header line (Set-Cookie, Retry-After...) to the answer. */
void	resp_header(struct resp *rs, const char *name, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* ---- routes ----------------------------------------------------------- */

/* A handler answers the request into rs and returns the HTTP status of
 * that answer: what app_page, app_mutated, app_error or app_db_error
 * return. It may also return a status alone (e.g. return 404) without
 * writing rs: the framework then answers with its error page. */
typedef int (*route_fn)(struct req *rq, struct resp *rs);

struct route {
	const char	*method;	/* "GET" or "POST" (GET also serves HEAD) */
	const char	*pattern;	/* "/chat/:room": literal segments, or
					 * ":name" matching one non-empty segment */
	route_fn	 handler;
};

/* ---- templates (templates/NAME.mustache) ------------------------------ */

/* A template's values, all in the arena; names and strings are copied;
 * tpl_str(a, NULL) gives null. {{x}} renders strings, integers in decimal,
 * booleans as true/false, and nothing for null, maps and lists. Only
 * false, null, an empty list and a missing name are falsy. */
struct tpl_val;
struct tpl_val	*tpl_null(struct arena *a);
struct tpl_val	*tpl_bool(struct arena *a, int b);
struct tpl_val	*tpl_str(struct arena *a, const char *s);
struct tpl_val	*tpl_strn(struct arena *a, const char *s, size_t n);
struct tpl_val	*tpl_int(struct arena *a, long long v);
struct tpl_val	*tpl_map(struct arena *a);
struct tpl_val	*tpl_list(struct arena *a);
/* Sets map[name] = v (replacing an earlier value); returns map. */
struct tpl_val	*tpl_put(struct arena *a, struct tpl_val *map, const char *name,
		    struct tpl_val *v);
/* Appends v to list; returns list. */
struct tpl_val	*tpl_push(struct arena *a, struct tpl_val *list, struct tpl_val *v);

/* ---- the database ----------------------------------------------------- */

/* A prepared statement. A feature keeps its statements in a static table
 * indexed by its own enum (stmts[COUNTER_GET]), so a misspelt statement
 * fails to compile. name must be unique in the application (prefix it with
 * the feature's name): the start refuses duplicates. */
struct db_stmt {
	const char	*name;
	const char	*sql;
	int		 nparams;	/* $1..$nparams, passed as text */
};

/* DB_BUSY: lock_timeout or statement_timeout ran out (answer 503). */
enum { DB_OK = 0, DB_UNAVAILABLE = -1, DB_FAILED = -2, DB_BUSY = -3 };

/* Runs st (one of a registered feature's statements) with its nparams
 * params, connecting first if needed. DB_OK: *res holds the result (the
 * caller PQclears it). Otherwise *res is NULL, the cause is logged, and
 * the handler answers with app_db_error. Each call is its own transaction:
 * put the NOTIFY in a trigger, and it commits with the change. */
int	app_query(struct req *rq, const struct db_stmt *st,
	    const char *const *params, PGresult **res);

/* ---- answers ---------------------------------------------------------- */

/* Renders template tpl with ctx as the realtime root of key: the fragment
 * alone for a pushd render request, else wrapped in the layout (without a
 * realtime root when key is NULL: pages that are never pushed). Returns
 * 200, or the status of the error page when rendering failed. */
int	app_page(struct req *rq, struct resp *rs, const char *title,
	    const char *key, const char *tpl, struct tpl_val *ctx);
/* The answer after a successful mutation: 204 for keycast.js, 303 back to
 * page for a plain form. Returns that status. */
int	app_mutated(struct req *rq, struct resp *rs, const char *page);
/* An error answer (status >= 400): a page for browsers, text for fetch and
 * pushd. msg is one sentence for the reader. Returns status. */
int	app_error(struct req *rq, struct resp *rs, int status, const char *msg);
/* Answers an app_query failure: 503 (unavailable, busy) or 500. Returns
 * that status. */
int	app_db_error(struct req *rq, struct resp *rs, int dbrc);
/* 0 when a user is signed in; else answers 401 (keycast.js) or 303 to
 * /signin (plain form) and returns that status:
 *   if ((st = app_need_user(rq, rs)) != 0) return st; */
int	app_need_user(struct req *rq, struct resp *rs);

/* ---- the feature descriptor ------------------------------------------- */

/* What pushd asks before a browser may watch (key, url): the framework has
 * checked that url is the page of key (struct feature_key); the feature
 * may refuse or put the viewer in a view class. */
struct authz {
	const char	*view;		/* view class, "public" unless set */
	int		 deny;		/* 0, or 401/403/404 */
	const char	*reason;	/* one line when deny (the close reason) */
	const char	*tags;		/* space-separated revocation tags the
					 * answer depends on besides the viewer's
					 * session and user (e.g. "room:7"), or
					 * NULL; arena or static */
};

/* A key the feature's pages subscribe to and the GET route that renders
 * it. Both are route patterns: a url matching url (with its ":name"
 * parameters put into key) belongs to that key, and to no other. The
 * authorize request refuses any other (key, url) pair with 403. */
struct feature_key {
	const char	*key;		/* "/chat/:room", "global" */
	const char	*url;		/* "/chat/:room", "/live/today" */
	const char	*notified_by;	/* what sends the key (for readers and
					 * --check): "sql/006_chat.sql trigger
					 * chat_today on messages" */
	/* NULL: anyone may watch, view "public". Else it fills az (rq->match
	 * holds url's parameters) and returns DB_OK or an app_query code. */
	int		(*authorize)(struct req *rq, struct authz *az);
};

struct feature {
	const char		*name;		/* "counter": logs and errors */
	const struct route	*routes;
	size_t			 nroutes;
	const struct db_stmt	*stmts;		/* indexed by the feature's enum */
	size_t			 nstmts;
	const char *const	*templates;	/* NULL-terminated names it renders
						 * (templates/NAME.mustache): the
						 * start fails when one is missing */
	const struct feature_key *keys;
	size_t			 nkeys;
	const char *const	*migrations;	/* NULL-terminated sql/ files it
						 * needs, e.g. "006_chat.sql" */
	/* Optional: values for the layout of every full page (not renders,
	 * not error pages), put into page. DB_OK or an app_query code (the
	 * page then answers app_db_error). */
	int			(*layout)(struct req *rq, struct tpl_val *page);
	/* Optional, one feature only: fills rq->viewer for every request
	 * but renders, before routing; may add headers to rs (they stay
	 * unless the answer is an error). DB_OK or an app_query code. */
	int			(*identify)(struct req *rq, struct resp *rs);
};

/* Counts a static table: .routes = routes, .nroutes = KC_LEN(routes). */
#define KC_LEN(a)	(sizeof(a) / sizeof((a)[0]))

#endif
