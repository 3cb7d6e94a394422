/* keycast-pushd --check: the PostgreSQL links. libpq queries are sent
 * asynchronously and awaited with poll(2) until the link's deadline. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libpq-fe.h>

#include "check_io.h"
#include "check_links.h"
#include "clock.h"
#include "listen.h"

/* Connects with libpq's own connect timeout; a connect_timeout in conninfo
 * wins over ours. Returns NULL with the cause in err. */
static PGconn *
db_connect(const char *conninfo, char *err, size_t errlen)
{
	static const char *const keys[] = { "connect_timeout", "dbname", NULL };
	char timeout[16];
	const char *values[] = { timeout, conninfo, NULL };
	PGconn *conn;

	snprintf(timeout, sizeof(timeout), "%d", CHECK_LINK_MS / 1000);
	conn = PQconnectdbParams(keys, values, 1);
	if (conn == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		snprintf(err, errlen, "%s", PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* Waits for input on conn and reads it. Returns 0, or -1 with err set. */
static int
db_input(PGconn *conn, int64_t deadline, const char *waiting, char *err,
    size_t errlen)
{
	int r = cio_wait(PQsocket(conn), POLLIN, deadline);

	if (r == 0) {
		snprintf(err, errlen, "%s within %d s", waiting,
		    CHECK_LINK_MS / 1000);
		return -1;
	}
	if (r < 0 || !PQconsumeInput(conn)) {
		snprintf(err, errlen, "%s", r < 0 ? strerror(errno) :
		    PQerrorMessage(conn));
		return -1;
	}
	return 0;
}

/* Runs one statement with parameters, awaiting its end until deadline.
 * Returns 0, or -1 with the cause in err. */
static int
db_run(PGconn *conn, int64_t deadline, const char *sql, int nparams,
    const char *const *params, char *err, size_t errlen)
{
	PGresult *res;
	int rc = 0;

	if (!PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL,
	    0)) {
		snprintf(err, errlen, "%s", PQerrorMessage(conn));
		return -1;
	}
	for (;;) {
		while (PQisBusy(conn))
			if (db_input(conn, deadline, "no answer", err,
			    errlen) != 0)
				return -1;
		if ((res = PQgetResult(conn)) == NULL)
			break;
		if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK &&
		    PQresultStatus(res) != PGRES_TUPLES_OK) {
			snprintf(err, errlen, "%s", PQresultErrorMessage(res));
			rc = -1;
		}
		PQclear(res);
	}
	return rc;
}

void
check_database(struct check *c)
{
	char err[512];

	if ((c->db = db_connect(c->o->db, err, sizeof(err))) == NULL) {
		check_report(c, CK_FAILED, "database", "%s", err);
		return;
	}
	check_report(c, CK_OK, "database", "connected to %s as %s on %s:%s "
	    "(PostgreSQL %s)", PQdb(c->db), PQuser(c->db), PQhost(c->db),
	    PQport(c->db), PQparameterStatus(c->db, "server_version"));
}

/* LISTEN on the database link's connection; NOTIFY from a second one in its
 * own transaction, as the app does; the payload must come back. */
void
check_listen(struct check *c)
{
	const char *link = "LISTEN/NOTIFY", *ch = c->o->channel;
	int64_t t0 = clock_ms(), deadline = t0 + CHECK_LINK_MS;
	PGconn *sender = NULL;
	char err[512], payload[96], *sql = NULL;
	const char *params[2];
	PGnotify *n;
	int got = 0;

	if (c->db == NULL) {
		check_report(c, CK_SKIPPED, link, "needs the database");
		return;
	}
	/* A valid key that no page uses: a running pushd counts it and finds
	 * no client to render for. */
	snprintf(payload, sizeof(payload), "/__keycast-check/%ld-%lld-%u",
	    (long)getpid(), (long long)t0, (unsigned)random());
	if ((sql = pgl_listen_sql(c->db, ch)) == NULL) {
		check_report(c, CK_FAILED, link, "%s", PQerrorMessage(c->db));
		goto done;
	}
	if (db_run(c->db, deadline, sql, 0, NULL, err, sizeof(err)) != 0) {
		check_report(c, CK_FAILED, link, "LISTEN %s: %s", ch, err);
		goto done;
	}
	if ((sender = db_connect(c->o->db, err, sizeof(err))) == NULL) {
		check_report(c, CK_FAILED, link, "a second connection for "
		    "NOTIFY: %s", err);
		goto done;
	}
	params[0] = ch;
	params[1] = payload;
	if (db_run(sender, deadline, "SELECT pg_notify($1, $2)", 2, params,
	    err, sizeof(err)) != 0) {
		check_report(c, CK_FAILED, link, "NOTIFY %s: %s", ch, err);
		goto done;
	}
	while (!got) {
		while ((n = PQnotifies(c->db)) != NULL) {
			if (strcmp(n->relname, ch) == 0 &&
			    strcmp(n->extra, payload) == 0)
				got = 1;
			PQfreemem(n);
		}
		if (!got && db_input(c->db, deadline, "no notification", err,
		    sizeof(err)) != 0) {
			check_report(c, CK_FAILED, link, "LISTEN %s and NOTIFY "
			    "were accepted but %s (a pooler in transaction "
			    "mode between here and PostgreSQL drops "
			    "notifications)", ch, err);
			goto done;
		}
	}
	check_report(c, CK_OK, link, "a NOTIFY on channel %s came back in "
	    "%lld ms", ch, (long long)(clock_ms() - t0));
done:
	if (sender != NULL)
		PQfinish(sender);
	free(sql);
}

