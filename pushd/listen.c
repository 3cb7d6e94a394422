/* The LISTEN state machine (see listen.h): WAIT (backoff timer) ->
 * CONNECTING (PQconnectPoll) -> SENT (LISTEN in flight) -> UP. Any error
 * drops the connection and goes back to WAIT. In SENT and UP the loop
 * follows libpq's order: PQconsumeInput, drain PQnotifies, drain
 * PQgetResult while not busy. */
#include "listen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>
#include <libpq-fe.h>

#include "log.h"
#include "metrics.h"
#include "xmalloc.h"

#define BACKOFF_MIN_MS		100
#define BACKOFF_MAX_MS		5000
#define CONNECT_TIMEOUT_MS	10000

enum lstate { L_WAIT, L_CONNECTING, L_SENT, L_UP };

struct pgl {
	struct event_base	*base;
	char			*conninfo;
	char			*channel;
	const struct pgl_cb	*cb;
	void			*arg;
	PGconn			*conn;
	enum lstate		 state;
	struct event		*sock_ev;	/* on PQsocket, rebuilt */
	struct event		*timer;		/* backoff or connect timeout */
	unsigned		 attempt;	/* failures since the last UP */
	int			 ever_up;
};

static void connect_start(struct pgl *l);

static void
arm_timer(struct pgl *l, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(l->timer, &tv);
}

static void
drop_conn(struct pgl *l)
{
	if (l->sock_ev != NULL)
		event_free(l->sock_ev);
	l->sock_ev = NULL;
	if (l->conn != NULL)
		PQfinish(l->conn);
	l->conn = NULL;
}

static void
fail(struct pgl *l, const char *what, const char *why)
{
	size_t n = strlen(why);
	unsigned ms = BACKOFF_MIN_MS;
	int was_up = l->state == L_UP;

	/* libpq's messages end with a newline. */
	while (n > 0 && (why[n - 1] == '\n' || why[n - 1] == ' '))
		n--;
	if (was_up || l->attempt == 0)
		log_warn("LISTEN %s: %s: %.*s; reconnecting", l->channel, what,
		    (int)n, why);
	else
		log_debug("LISTEN %s: %s: %.*s", l->channel, what, (int)n, why);
	drop_conn(l);
	l->state = L_WAIT;
	evtimer_del(l->timer);
	for (unsigned i = 0; i < l->attempt && ms < BACKOFF_MAX_MS; i++)
		ms *= 2;
	if (ms > BACKOFF_MAX_MS)
		ms = BACKOFF_MAX_MS;
	/* Jitter: somewhere in [ms/2, ms], never under the minimum, so
	 * several pushd do not reconnect in lockstep. */
	ms = ms / 2 + (unsigned)(random() % (ms / 2 + 1));
	if (ms < BACKOFF_MIN_MS)
		ms = BACKOFF_MIN_MS;
	l->attempt++;
	arm_timer(l, ms);
	if (was_up && l->cb->down != NULL)
		l->cb->down(l->arg);
}

static void on_sock(evutil_socket_t fd, short what, void *arg);

static int
watch(struct pgl *l, short what)
{
	int fd = PQsocket(l->conn);

	if (l->sock_ev != NULL)
		event_free(l->sock_ev);
	l->sock_ev = NULL;
	if (fd < 0)
		return -1;
	l->sock_ev = event_new(l->base, fd, what, on_sock, l);
	if (l->sock_ev == NULL || event_add(l->sock_ev, NULL) != 0)
		return -1;
	return 0;
}

/* Watches for reading, and for writing while libpq has output queued. */
static void
watch_io(struct pgl *l)
{
	int r = PQflush(l->conn);

	if (r == -1) {
		fail(l, "send failed", PQerrorMessage(l->conn));
		return;
	}
	if (watch(l, EV_READ | EV_PERSIST | (r == 1 ? EV_WRITE : 0)) != 0)
		fail(l, "no socket", PQerrorMessage(l->conn));
}

char *
pgl_listen_sql(PGconn *conn, const char *channel)
{
	char *id, *sql;

	if ((id = PQescapeIdentifier(conn, channel, strlen(channel))) == NULL)
		return NULL;
	sql = xmalloc(strlen(id) + 8);
	sprintf(sql, "LISTEN %s", id);
	PQfreemem(id);
	return sql;
}

static void
connected(struct pgl *l)
{
	char *sql;
	int ok;

	if (PQsetnonblocking(l->conn, 1) != 0) {
		fail(l, "setnonblocking", PQerrorMessage(l->conn));
		return;
	}
	if ((sql = pgl_listen_sql(l->conn, l->channel)) == NULL) {
		fail(l, "bad channel name", PQerrorMessage(l->conn));
		return;
	}
	ok = PQsendQuery(l->conn, sql);
	free(sql);
	if (!ok) {
		fail(l, "sending LISTEN", PQerrorMessage(l->conn));
		return;
	}
	l->state = L_SENT;
	watch_io(l);
}

static void
up(struct pgl *l)
{
	evtimer_del(l->timer);
	l->state = L_UP;
	if (l->ever_up) {
		metrics.pg_reconnects++;
		log_info("LISTEN %s active again after %u failed attempt%s",
		    l->channel, l->attempt, l->attempt == 1 ? "" : "s");
	} else {
		log_info("LISTEN %s active", l->channel);
	}
	l->ever_up = 1;
	l->attempt = 0;
	if (l->cb->up != NULL)
		l->cb->up(l->arg);
}

static void
on_input(struct pgl *l)
{
	PGnotify *n;
	PGresult *res;
	int listen_ok = 0;

	if (!PQconsumeInput(l->conn)) {
		fail(l, "connection lost", PQerrorMessage(l->conn));
		return;
	}
	while ((n = PQnotifies(l->conn)) != NULL) {
		if (strcmp(n->relname, l->channel) == 0 && l->cb->notify != NULL)
			l->cb->notify(l->arg, n->extra, strlen(n->extra));
		PQfreemem(n);
	}
	while (!PQisBusy(l->conn) && (res = PQgetResult(l->conn)) != NULL) {
		ExecStatusType st = PQresultStatus(res);

		if (l->state == L_SENT && st == PGRES_COMMAND_OK) {
			listen_ok = 1;
		} else if (st == PGRES_FATAL_ERROR) {
			char why[512];
			snprintf(why, sizeof(why), "%s", PQresultErrorMessage(res));
			PQclear(res);
			fail(l, "LISTEN failed", why);
			return;
		}
		PQclear(res);
	}
	if (PQstatus(l->conn) == CONNECTION_BAD) {
		fail(l, "connection lost", PQerrorMessage(l->conn));
		return;
	}
	if (listen_ok && !PQisBusy(l->conn))
		up(l);
}

static void
on_sock(evutil_socket_t fd, short what, void *arg)
{
	struct pgl *l = arg;

	switch (l->state) {
	case L_CONNECTING:
		switch (PQconnectPoll(l->conn)) {
		case PGRES_POLLING_READING:
			if (watch(l, EV_READ) != 0)
				fail(l, "connecting", "no socket");
			return;
		case PGRES_POLLING_WRITING:
			if (watch(l, EV_WRITE) != 0)
				fail(l, "connecting", "no socket");
			return;
		case PGRES_POLLING_OK:
			connected(l);
			return;
		default:
			fail(l, "cannot connect", PQerrorMessage(l->conn));
			return;
		}
	case L_SENT:
	case L_UP:
		if (what & EV_WRITE) {
			watch_io(l);
			if (l->state == L_WAIT)
				return;
		}
		if (what & EV_READ)
			on_input(l);
		return;
	case L_WAIT:
		return;
	}
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct pgl *l = arg;

	if (l->state == L_WAIT)
		connect_start(l);
	else if (l->state != L_UP)
		fail(l, "connecting", "timed out");
}

static void
connect_start(struct pgl *l)
{
	/* XXX: a host name in the conninfo is resolved inside
	 * PQconnectStart, blocking the loop; hostaddr= or a socket directory
	 * avoids it. Resolving asynchronously would need libpq's help. */
	/* Defaults first: the conninfo (expanded from dbname) comes last, so
	 * whatever it names wins. application_name shows who is listening in
	 * pg_stat_activity. The connection is idle for hours, so without
	 * keepalives a DB host crash or a NAT dropping its state would leave
	 * it half-open (LISTEN "up", nothing arriving) until the kernel's 2 h
	 * default: probes after 10 s idle, every 5 s, 3 unanswered (~25 s),
	 * and unacknowledged data past 15 s, end it. libpq skips these TCP
	 * settings on a unix socket.
	 * XXX: a server whose kernel answers while its backend hangs still
	 * passes; an empty query now and then, failing the connection when
	 * unanswered, would catch that too. */
	static const char *const keys[] = { "application_name", "keepalives",
	    "keepalives_idle", "keepalives_interval", "keepalives_count",
	    "tcp_user_timeout", "dbname", NULL };
	const char *vals[] = { "keycast-pushd", "1", "10", "5", "3", "15000",
	    l->conninfo, NULL };

	l->conn = PQconnectStartParams(keys, vals, 1);
	if (l->conn == NULL) {
		fail(l, "cannot connect", "out of memory");
		return;
	}
	if (PQstatus(l->conn) == CONNECTION_BAD) {
		fail(l, "cannot connect", PQerrorMessage(l->conn));
		return;
	}
	l->state = L_CONNECTING;
	arm_timer(l, CONNECT_TIMEOUT_MS);
	/* libpq: start as if PQconnectPoll had said POLLING_WRITING. */
	if (watch(l, EV_WRITE) != 0)
		fail(l, "cannot connect", PQerrorMessage(l->conn));
}

struct pgl *
pgl_new(struct event_base *base, const char *conninfo, const char *channel,
    const struct pgl_cb *cb, void *arg)
{
	struct pgl *l = xcalloc(1, sizeof(*l));

	l->base = base;
	l->conninfo = xstrdup(conninfo);
	l->channel = xstrdup(channel);
	l->cb = cb;
	l->arg = arg;
	l->timer = evtimer_new(base, on_timer, l);
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	connect_start(l);
	return l;
}

void
pgl_free(struct pgl *l)
{
	if (l == NULL)
		return;
	drop_conn(l);
	event_free(l->timer);
	free(l->conninfo);
	free(l->channel);
	free(l);
}

int
pgl_is_up(const struct pgl *l)
{
	return l->state == L_UP;
}
