/* Per-worker PostgreSQL connection with prepared statements (see db.h).
 * Blocking libpq is right here: a prefork worker serves one request at a
 * time, and unix-socket connects fail at once when the server is down. */
#include "db.h"
#include "log.h"
#include "xmalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct db {
	char			*conninfo;	/* owned */
	const struct db_stmt	*stmts;		/* borrowed static table */
	size_t			 nstmts;
	PGconn			*conn;		/* owned; NULL when not connected */
	int			 was_down;	/* to log recovery once */
	char			 statement_ms[16];	/* session settings, */
	char			 lock_ms[16];		/* as set_config takes them */
	char			 fatal[256];	/* the server's last word on a
						 * session it ended, or "" */
	char			 error[512];
};

/* libpq's messages span lines; ours are one line per event. */
static void
db_set_error(struct db *db, const char *what, const char *cause)
{
	int n = snprintf(db->error, sizeof(db->error), "%s: ", what);

	if (n > 0 && (size_t)n < sizeof(db->error))
		log_oneline(db->error + n, sizeof(db->error) - (size_t)n, cause);
}

/* Server notices and the errors libpq gets while no query runs: one log
 * line each, at their severity, instead of libpq's bare lines on stderr.
 * A FATAL (the server ending the session, e.g. "terminating connection due
 * to administrator command") is kept as the reason of the "connection
 * lost" line that follows. */
static void
on_notice(void *arg, const PGresult *r)
{
	const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
	struct db *db = arg;
	char line[512];

	if (sev != NULL && (strcmp(sev, "FATAL") == 0 ||
	    strcmp(sev, "PANIC") == 0)) {
		log_oneline(db->fatal, sizeof(db->fatal), PQresultErrorMessage(r));
		return;
	}
	log_oneline(line, sizeof(line), PQresultErrorMessage(r));
	if (sev == NULL || strcmp(sev, "NOTICE") == 0 ||
	    strcmp(sev, "INFO") == 0 || strcmp(sev, "LOG") == 0 ||
	    strncmp(sev, "DEBUG", 5) == 0)
		log_info("PostgreSQL: %s", line);
	else if (strcmp(sev, "WARNING") == 0)
		log_warn("PostgreSQL: %s", line);
	else
		log_error("PostgreSQL: %s", line);
}

struct db *
db_new(const char *conninfo, const struct db_stmt *stmts, size_t nstmts)
{
	struct db *db = xcalloc(1, sizeof(*db));

	db->conninfo = xstrdup(conninfo);
	db->stmts = stmts;
	db->nstmts = nstmts;
	db_set_timeouts(db, 0, 0);
	return db;
}

void
db_set_timeouts(struct db *db, int statement_ms, int lock_ms)
{
	snprintf(db->statement_ms, sizeof(db->statement_ms), "%d", statement_ms);
	snprintf(db->lock_ms, sizeof(db->lock_ms), "%d", lock_ms);
}

void
db_free(struct db *db)
{
	if (db == NULL)
		return;
	if (db->conn != NULL)
		PQfinish(db->conn);
	free(db->conninfo);
	free(db);
}

static void
db_disconnect(struct db *db)
{
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
}

/* A server restart closes idle connections (after a FATAL message that
 * PQconsumeInput swallows without marking the connection bad): look for
 * the end of the stream before a query fails on it. */
static int
peer_closed(PGconn *conn)
{
	char c;
	ssize_t n = recv(PQsocket(conn), &c, 1, MSG_PEEK | MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR);
}

/* Why a connection that was up is not any more: the server's FATAL,
 * libpq's message, or when there is neither (the end of the stream seen
 * before libpq read it) what peer_closed saw. */
static const char *
lost_reason(struct db *db)
{
	const char *msg = PQerrorMessage(db->conn);

	if (db->fatal[0] != '\0')
		return db->fatal;
	if (msg[strspn(msg, " \t\r\n")] != '\0')
		return msg;
	return "the server closed the connection";
}

/* A lock wait or the statement ran out of time (lock_timeout,
 * statement_timeout): the database is busy, not broken. */
static int
timed_out(const PGresult *r)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	return state != NULL && (strcmp(state, "55P03") == 0 ||
	    strcmp(state, "57014") == 0);
}

/* Per-session settings and statements, on every (re)connect: DB_OK,
 * DB_BUSY when a lock held them up (preparing reads the tables), else
 * DB_UNAVAILABLE. */
static int
db_setup(struct db *db)
{
	const char *params[] = { db->statement_ms, db->lock_ms };
	PGresult *r;
	size_t i;
	int ok, busy = 0;

	r = PQexecParams(db->conn, "SELECT set_config('statement_timeout', $1, "
	    "false), set_config('lock_timeout', $2, false)", 2, NULL, params,
	    NULL, NULL, 0);
	ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		db_set_error(db, "session settings", PQresultErrorMessage(r));
	PQclear(r);
	for (i = 0; ok && i < db->nstmts; i++) {
		r = PQprepare(db->conn, db->stmts[i].name, db->stmts[i].sql,
		    db->stmts[i].nparams, NULL);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		if (!ok) {
			db_set_error(db, db->stmts[i].name, PQresultErrorMessage(r));
			busy = timed_out(r);
		}
		PQclear(r);
	}
	return ok ? DB_OK : busy ? DB_BUSY : DB_UNAVAILABLE;
}

/* Whether the idle session can take a query. PQisBusy parses what arrived
 * meanwhile, so a FATAL the server sent before closing reaches on_notice
 * (a FATAL always ends the session). */
static int
session_alive(struct db *db)
{
	if (!PQconsumeInput(db->conn))
		return 0;
	(void)PQisBusy(db->conn);
	return db->fatal[0] == '\0' && PQstatus(db->conn) == CONNECTION_OK &&
	    !peer_closed(db->conn);
}

static int
db_ensure(struct db *db)
{
	/* Defaults first: keywords the user's conninfo sets override them. */
	const char *const keys[] = { "connect_timeout", "application_name",
	    "dbname", NULL };
	const char *const vals[] = { "2", "keycast-fcgi", db->conninfo, NULL };
	int rc;

	if (db->conn != NULL && session_alive(db))
		return DB_OK;
	if (db->conn != NULL) {
		db_set_error(db, "connection lost", lost_reason(db));
		log_warn("%s; reconnecting", db->error);
		db->was_down = 1;
	}
	db_disconnect(db);
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		db_set_error(db, "cannot connect to PostgreSQL",
		    PQerrorMessage(db->conn));
		if (!db->was_down)
			log_error("%s", db->error);
		db->was_down = 1;
		db_disconnect(db);
		return DB_UNAVAILABLE;
	}
	db->fatal[0] = '\0';
	PQsetNoticeReceiver(db->conn, on_notice, db);
	rc = db_setup(db);
	if (rc != DB_OK) {
		log_error("cannot set up the session: %s", db->error);
		db_disconnect(db);
		return rc;
	}
	if (db->was_down)
		log_info("connected to PostgreSQL again");
	db->was_down = 0;
	return DB_OK;
}

/* SQLSTATEs after which the session, not the statement, is wrong, and a
 * new one fixes it: a cached plan whose result type a schema change
 * altered (0A000), a prepared statement the session lost (26000), a
 * server that turned read-only under us in a failover (25006). */
static int
session_stale(const char *state)
{
	return strcmp(state, "0A000") == 0 || strcmp(state, "26000") == 0 ||
	    strcmp(state, "25006") == 0;
}

int
db_exec(struct db *db, const char *stmt, int nparams,
    const char *const *params, PGresult **res)
{
	int attempt;

	*res = NULL;
	for (attempt = 0;; attempt++) {
		PGresult *r;
		ExecStatusType st;
		char state[6] = "";
		int alone, busy, rc;

		if ((rc = db_ensure(db)) != DB_OK)
			return rc;
		/* Outside a transaction block the statement is a transaction
		 * of its own: an error the server reports rolls all of it
		 * back, so running it again cannot apply anything twice. In
		 * a block, the earlier statements would be lost with the
		 * session: never retried. */
		alone = PQtransactionStatus(db->conn) == PQTRANS_IDLE;
		r = PQexecPrepared(db->conn, stmt, nparams, params, NULL, NULL, 0);
		st = PQresultStatus(r);
		if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
			*res = r;
			return DB_OK;
		}
		if (r != NULL && PQresultErrorField(r, PG_DIAG_SQLSTATE) != NULL)
			snprintf(state, sizeof(state), "%s",
			    PQresultErrorField(r, PG_DIAG_SQLSTATE));
		busy = r != NULL && timed_out(r);
		db_set_error(db, stmt, r != NULL ? PQresultErrorMessage(r) :
		    PQerrorMessage(db->conn));
		PQclear(r);
		if (PQstatus(db->conn) != CONNECTION_OK) {
			/* The outcome of a statement cut off like this is
			 * unknown (it may have committed): not retried. */
			log_error("lost PostgreSQL connection: %s", db->error);
			db->was_down = 1;
			db_disconnect(db);
			return DB_UNAVAILABLE;
		}
		if (busy) {
			log_warn("query timed out: %s", db->error);
			return DB_BUSY;
		}
		if (!session_stale(state)) {
			log_error("query failed: %s", db->error);
			return DB_FAILED;
		}
		db_disconnect(db);
		if (attempt == 0 && alone) {
			log_warn("%s; reconnecting and retrying once", db->error);
			continue;
		}
		log_error("query failed %s: %s", alone ? "on a new session too" :
		    "inside a transaction (not retried)", db->error);
		return strcmp(state, "25006") == 0 ? DB_UNAVAILABLE : DB_FAILED;
	}
}
