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
	char			 error[256];
};

static void
db_set_error(struct db *db, const char *what, const char *cause)
{
	size_t n;
	char *p;

	snprintf(db->error, sizeof(db->error), "%s: %s", what, cause);
	/* libpq's messages span lines; ours are one line per event. */
	for (p = db->error; *p != '\0'; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	n = strlen(db->error);
	while (n > 0 && (db->error[n - 1] == '\n' || db->error[n - 1] == ' '))
		db->error[--n] = '\0';
}

struct db *
db_new(const char *conninfo, const struct db_stmt *stmts, size_t nstmts)
{
	struct db *db = xcalloc(1, sizeof(*db));

	db->conninfo = xstrdup(conninfo);
	db->stmts = stmts;
	db->nstmts = nstmts;
	return db;
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

static int
db_ensure(struct db *db)
{
	/* Defaults first: keywords the user's conninfo sets override them. */
	const char *const keys[] = { "connect_timeout", "application_name",
	    "dbname", NULL };
	const char *const vals[] = { "2", "keycast-fcgi", db->conninfo, NULL };
	size_t i;

	if (db->conn != NULL && PQconsumeInput(db->conn) &&
	    PQstatus(db->conn) == CONNECTION_OK && !peer_closed(db->conn))
		return DB_OK;
	if (db->conn != NULL) {
		db_set_error(db, "connection lost", PQerrorMessage(db->conn));
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
	for (i = 0; i < db->nstmts; i++) {
		PGresult *r = PQprepare(db->conn, db->stmts[i].name,
		    db->stmts[i].sql, db->stmts[i].nparams, NULL);
		int ok = PQresultStatus(r) == PGRES_COMMAND_OK;

		if (!ok)
			db_set_error(db, db->stmts[i].name, PQresultErrorMessage(r));
		PQclear(r);
		if (!ok) {
			log_error("cannot prepare statement %s", db->error);
			db_disconnect(db);
			return DB_UNAVAILABLE;
		}
	}
	if (db->was_down)
		log_info("connected to PostgreSQL again");
	db->was_down = 0;
	return DB_OK;
}

int
db_exec(struct db *db, const char *stmt, int nparams,
    const char *const *params, PGresult **res)
{
	PGresult *r;
	ExecStatusType st;

	*res = NULL;
	if (db_ensure(db) != DB_OK)
		return DB_UNAVAILABLE;
	r = PQexecPrepared(db->conn, stmt, nparams, params, NULL, NULL, 0);
	st = PQresultStatus(r);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		*res = r;
		return DB_OK;
	}
	db_set_error(db, stmt, r != NULL ? PQresultErrorMessage(r) :
	    PQerrorMessage(db->conn));
	PQclear(r);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		log_error("lost PostgreSQL connection: %s", db->error);
		db->was_down = 1;
		db_disconnect(db);
		return DB_UNAVAILABLE;
	}
	log_error("query failed: %s", db->error);
	return DB_FAILED;
}
