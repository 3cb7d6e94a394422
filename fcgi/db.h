/* The worker's one PostgreSQL connection: connected lazily, with the
 * session's timeouts set and the application's statements prepared on
 * every (re)connect. When PostgreSQL goes away a call fails fast with
 * DB_UNAVAILABLE (the page answers 503) and the next request tries to
 * connect again, so no restart is needed; a session made stale by a schema
 * change or a failover is replaced and the statement retried once. */
#ifndef KC_DB_H
#define KC_DB_H
#include <libpq-fe.h>

#include "keycast.h"

struct db;

/* stmts (a static table, borrowed) is prepared on each connect. */
struct db	*db_new(const char *conninfo, const struct db_stmt *stmts,
		    size_t nstmts);
void		 db_free(struct db *db);
/* statement_timeout and lock_timeout of the sessions from the next
 * connect on, in ms (0: none, PostgreSQL's default). */
void		 db_set_timeouts(struct db *db, int statement_ms, int lock_ms);
/* Runs a prepared statement, connecting first if needed. On DB_OK *res
 * holds the result (caller PQclears it); otherwise *res is NULL and the
 * cause is logged. */
int		 db_exec(struct db *db, const char *stmt, int nparams,
		    const char *const *params, PGresult **res);

#endif
