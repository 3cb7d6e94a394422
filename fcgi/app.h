/* The application: what a worker holds (templates, database connection,
 * routes) and the request cycle around the page handlers. Page handlers
 * build a fragment with app_page and finish mutations with app_mutated, so
 * the layout, the render-request contract (fragment only) and the
 * JavaScript/no-JavaScript answers live in one place. */
#ifndef KC_APP_H
#define KC_APP_H
#include <stddef.h>

#include "request.h"
#include "response.h"
#include "db.h"

struct tpl_set;
struct tpl_val;

struct app {
	struct tpl_set		*tpl;		/* owned */
	struct db		*db;		/* owned */
	struct route		*routes;	/* owned: every feature's routes */
	size_t			 nroutes;
	struct db_stmt		*stmts;		/* owned: every feature's statements */
	int			 fail_per_addr;	/* failed sign-ins per client */
	int			 fail_per_name;	/* and per account, */
	int			 fail_window_s;	/* within this many seconds */
};

/* A chat room as one viewer may see it (pages.c decides, for the page,
 * its API and the authorize answer alike). */
struct room_access {
	long long	 id;		/* rooms.id, 0 when the room has no row */
	int		 private;
	long long	 owner;		/* users.id, 0 when nobody owns it */
	const char	*view;		/* "anon", "user" or "moderator" */
	int		 deny;		/* 0, or 401/403/404 for this viewer */
	const char	*reason;	/* one line, when deny */
};

/* Loads and checks templates from dir; -1 with a message naming the file
 * and line when one is missing or malformed. */
int	app_init(struct app *app, const char *template_dir, const char *conninfo,
	    char *err, size_t errlen);
void	app_cleanup(struct app *app);
/* Runs one request already parsed into rq (body read) and fills rs. */
void	app_handle(struct app *app, struct req *rq, struct resp *rs);

/* Renders template tpl with ctx as the realtime root of key: the fragment
 * alone for a pushd render request, else wrapped in the layout (without a
 * realtime root when key is NULL: pages that are never pushed). */
int	app_page(struct req *rq, struct resp *rs, const char *title,
	    const char *key, const char *tpl, struct tpl_val *ctx);
/* The answer after a successful mutation: 204 for keycast.js, 303 back
 * to the page for a plain form. */
int	app_mutated(struct req *rq, struct resp *rs, const char *page);
/* An error answer: a page for browsers, text for fetch and pushd. */
int	app_error(struct req *rq, struct resp *rs, int status, const char *msg);
/* Maps a db_exec failure to 503 (unavailable, busy) or 500. */
int	app_db_error(struct req *rq, struct resp *rs, int dbrc);
/* 1 when a user is signed in; else answers 401 (keycast.js) or 303 to
 * /signin (plain form) and returns 0. */
int	app_need_user(struct req *rq, struct resp *rs);

/* Accounts (accounts.c): sign-up, sign-in, sign-out, and who a request
 * comes from. */
extern const struct route	acct_routes[];
extern const size_t		acct_nroutes;
extern const struct db_stmt	acct_stmts[];
extern const size_t		acct_nstmts;
/* Fills rq->viewer from the kc_session cookie; DB_OK or a db_exec code. */
int	acct_identify(struct req *rq);
/* A page GET with a kc_session naming no session: the answer deletes the
 * cookie, so the page's WebSocket is anonymous instead of refused. */
void	acct_forget_stale(struct req *rq, struct resp *rs);

/* The answer to pushd's authorize request (authorize.c). */
int	authz_answer(struct req *rq, struct resp *rs);
/* Room access for rq's viewer (pages.c); DB_OK or a db_exec code. */
int	chat_access(struct req *rq, const char *room, struct room_access *ra);

/* Pages (pages.c). */
extern const struct route	page_routes[];
extern const size_t		page_nroutes;
extern const struct db_stmt	page_stmts[];
extern const size_t		page_nstmts;
extern const char *const	page_templates[];	/* NULL-terminated */

#endif
