/* The application: what a worker holds (templates, database connection,
 * the features' routes and statements) and the request cycle around the
 * features' handlers (keycast.h is what features see). The features are
 * the ones fcgi/pages/features.h names. */
#ifndef KC_APP_H
#define KC_APP_H
#include <stddef.h>

#include "keycast.h"
#include "request.h"
#include "response.h"
#include "db.h"

struct tpl_set;

struct app {
	struct tpl_set		*tpl;		/* owned */
	struct db		*db;		/* owned */
	struct route		*routes;	/* owned: every feature's routes */
	size_t			 nroutes;
	struct db_stmt		*stmts;		/* owned: every feature's statements */
	int			 fail_per_addr;	/* failed sign-ins per client */
	int			 fail_per_name;	/* and per account, */
	int			 fail_window_s;	/* within this many seconds */
	int			 session_idle_days; /* a session unused this long
						   ends */
};

/* The registered features, in fcgi/pages/features.h's order (static). */
extern const struct feature *const app_features[];
extern const size_t app_nfeatures;

/* Loads and checks templates from dir and the features' tables (every
 * template a feature names exists, statement names are unique and have
 * SQL); -1 with a message naming the file or feature otherwise. */
int	app_init(struct app *app, const char *template_dir, const char *conninfo,
	    char *err, size_t errlen);
void	app_cleanup(struct app *app);
/* Runs one request already parsed into rq (body read) and fills rs;
 * returns the answer's status. */
int	app_handle(struct app *app, struct req *rq, struct resp *rs);

/* The answer to pushd's authorize request (authorize.c), from the
 * features' keys and authorize hooks. Returns the answer's status. */
int	authz_answer(struct req *rq, struct resp *rs);
/* Checks the features' tables without a database or templates (unit
 * test and app_init): -1 with err naming the feature and entry. */
int	app_check_features(char *err, size_t errlen);

#endif
