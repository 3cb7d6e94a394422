/* The LISTEN state machine (see listen.h): WAIT (backoff timer) ->
 * RESOLVING (evdns, only for host names) -> CONNECTING (PQconnectPoll) ->
 * SENT (LISTEN in flight) -> UP. Any error drops the connection and goes
 * back to WAIT. In SENT and UP the loop follows libpq's order:
 * PQconsumeInput, drain PQnotifies, drain PQgetResult while not busy.
 * libpq would resolve a host name inside PQconnectPoll, blocking the loop:
 * names are looked up here first, with evdns, and handed to libpq as
 * hostaddr (host stays for TLS and the password file), again on every
 * attempt so a moved database is found. */
#include "listen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <arpa/inet.h>
#include <libpq-fe.h>

#include "buf.h"
#include "log.h"
#include "metrics.h"
#include "xmalloc.h"

#define BACKOFF_MIN_MS		100
#define CONNECT_TIMEOUT_MS	10000
#define MAX_HOSTS		16	/* in a host=a,b,c list */

enum lstate { L_WAIT, L_RESOLVING, L_CONNECTING, L_SENT, L_UP };

/* One host name being looked up. */
struct lookup {
	struct pgl				*l;
	struct evdns_getaddrinfo_request	*req;	/* NULL when done */
	char					 addr[INET6_ADDRSTRLEN];
};

struct pgl {
	struct event_base	*base;
	char			*conninfo;
	char			*channel;
	char			*revoke;	/* second channel or NULL */
	const struct pgl_cb	*cb;
	void			*arg;
	PGconn			*conn;
	enum lstate		 state;
	struct event		*sock_ev;	/* on PQsocket, rebuilt */
	struct event		*timer;		/* backoff or connect timeout */
	unsigned		 attempt;	/* failures since the last UP */
	unsigned		 retry_max_ms;
	int			 ever_up;
	struct evdns_base	*dns;		/* borrowed */
	char			*hosts[MAX_HOSTS];	/* host= split; NULL
							   when nothing to
							   resolve */
	unsigned		 nhosts;
	struct lookup		 lookups[MAX_HOSTS];
	unsigned		 pending;	/* lookups running */
	char			 lookup_err[256];
};

static void connect_start(struct pgl *l);

static void
arm_timer(struct pgl *l, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(l->timer, &tv);
}

static void
cancel_lookups(struct pgl *l)
{
	for (unsigned i = 0; i < l->nhosts; i++) {
		struct evdns_getaddrinfo_request *req = l->lookups[i].req;

		/* The cancel calls back, which must not start anything. */
		l->lookups[i].req = NULL;
		if (req != NULL)
			evdns_getaddrinfo_cancel(req);
	}
	l->pending = 0;
}

static void
drop_conn(struct pgl *l)
{
	cancel_lookups(l);
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

	/* libpq's messages end with a newline; log_msg folds the others. */
	while (n > 0 && (why[n - 1] == '\n' || why[n - 1] == ' '))
		n--;
	if (n == 0) {
		why = "libpq gave no reason";
		n = strlen(why);
	}
	if (was_up || l->attempt == 0)
		log_warn("LISTEN %s: %s: %.*s; reconnecting", l->channel, what,
		    (int)n, why);
	else
		log_debug("LISTEN %s: %s: %.*s", l->channel, what, (int)n, why);
	drop_conn(l);
	l->state = L_WAIT;
	evtimer_del(l->timer);
	/* Short while the server is down (an attempt is one refused
	 * connect), so LISTEN is back within retry_max_ms of its return. */
	for (unsigned i = 0; i < l->attempt && ms < l->retry_max_ms; i++)
		ms *= 2;
	if (ms > l->retry_max_ms)
		ms = l->retry_max_ms;
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
	if (l->revoke != NULL) {
		/* One query string, two results: up waits for both. */
		char *sql2 = pgl_listen_sql(l->conn, l->revoke);
		size_t n;

		if (sql2 == NULL) {
			free(sql);
			fail(l, "bad revoke channel name",
			    PQerrorMessage(l->conn));
			return;
		}
		n = strlen(sql);
		sql = xrealloc(sql, n + strlen(sql2) + 3);
		sprintf(sql + n, "; %s", sql2);
		free(sql2);
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
		else if (l->revoke != NULL &&
		    strcmp(n->relname, l->revoke) == 0 && l->cb->revoke != NULL)
			l->cb->revoke(l->arg, n->extra, strlen(n->extra));
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
	case L_RESOLVING:
		return;
	}
}

static void resolve_start(struct pgl *l);

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct pgl *l = arg;

	if (l->state == L_WAIT)
		resolve_start(l);
	else if (l->state != L_UP)
		fail(l, l->state == L_RESOLVING ? "resolving" : "connecting",
		    "timed out");
}

/* libpq's notices, and errors that come while no query runs (a FATAL from
 * a terminated backend), go to stderr as bare lines unless taken here. */
static void
on_notice(void *arg, const char *message)
{
	struct pgl *l = arg;
	enum log_level level = LOG_INFO;
	size_t n = strlen(message);

	if (strncmp(message, "FATAL", 5) == 0 ||
	    strncmp(message, "PANIC", 5) == 0 ||
	    strncmp(message, "ERROR", 5) == 0 ||
	    strncmp(message, "WARNING", 7) == 0)
		level = LOG_WARN;
	while (n > 0 && message[n - 1] == '\n')
		n--;
	log_msg(level, "LISTEN %s: PostgreSQL says: %.*s", l->channel,
	    (int)n, message);
}

static void
on_resolved(int err, struct evutil_addrinfo *res, void *arg)
{
	struct lookup *lk = arg;
	struct pgl *l = lk->l;
	unsigned i = (unsigned)(lk - l->lookups);

	/* Cancelled by drop_conn, which reset pending. */
	if (err == EVUTIL_EAI_CANCEL) {
		if (res != NULL)
			evutil_freeaddrinfo(res);
		return;
	}
	lk->req = NULL;
	if (err != 0 && l->lookup_err[0] == '\0') {
		snprintf(l->lookup_err, sizeof(l->lookup_err), "%s: %s",
		    l->hosts[i], evutil_gai_strerror(err));
	} else if (err == 0 && res != NULL) {
		evutil_inet_ntop(res->ai_family, res->ai_family == AF_INET6 ?
		    (void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr :
		    (void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr,
		    lk->addr, sizeof(lk->addr));
		log_debug("LISTEN %s: %s is %s", l->channel, l->hosts[i],
		    lk->addr);
	}
	if (res != NULL)
		evutil_freeaddrinfo(res);
	if (--l->pending > 0)
		return;
	if (l->lookup_err[0] != '\0') {
		char why[256];

		snprintf(why, sizeof(why), "%s", l->lookup_err);
		fail(l, "cannot resolve", why);
		return;
	}
	connect_start(l);
}

/* Looks up every name of host=, then connects. */
static void
resolve_start(struct pgl *l)
{
	struct evutil_addrinfo hints;
	unsigned n = l->nhosts;

	if (n == 0 || l->dns == NULL) {
		connect_start(l);
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	l->state = L_RESOLVING;
	l->lookup_err[0] = '\0';
	l->pending = n;
	arm_timer(l, CONNECT_TIMEOUT_MS);
	for (unsigned i = 0; i < n; i++) {
		struct lookup *lk = &l->lookups[i];
		const char *h = l->hosts[i];
		struct in_addr v4;

		lk->l = l;
		lk->addr[0] = '\0';
		lk->req = NULL;
		/* Socket directories and addresses need no lookup: an empty
		 * hostaddr item means "use host" to libpq. */
		if (h[0] == '\0' || h[0] == '/' || h[0] == '@' ||
		    strchr(h, ':') != NULL || inet_pton(AF_INET, h, &v4) == 1) {
			l->pending--;
			continue;
		}
		/* The callback may run inside this call (hosts file, cache):
		 * then it returns NULL and may have connected already. */
		lk->req = evdns_getaddrinfo(l->dns, h, NULL, &hints,
		    on_resolved, lk);
		if (l->state != L_RESOLVING)
			return;
	}
	if (l->pending == 0 && l->state == L_RESOLVING)
		connect_start(l);
}

static void
connect_start(struct pgl *l)
{
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
	    "tcp_user_timeout", "dbname", "hostaddr", NULL };
	const char *vals[] = { "keycast-pushd", "1", "10", "5", "3", "15000",
	    l->conninfo, NULL, NULL };
	struct buf ha;

	buf_init(&ha);
	if (l->nhosts > 0 && l->dns != NULL) {
		/* One hostaddr per host, after the conninfo (which has none,
		 * or nothing was looked up). */
		for (unsigned i = 0; i < l->nhosts; i++)
			buf_printf(&ha, "%s%s", i > 0 ? "," : "",
			    l->lookups[i].addr);
		vals[7] = ha.data;
	}
	l->conn = PQconnectStartParams(keys, vals, 1);
	buf_cleanup(&ha);
	if (l->conn == NULL) {
		fail(l, "cannot connect", "out of memory");
		return;
	}
	PQsetNoticeProcessor(l->conn, on_notice, l);
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

/* The host names of conninfo (or PGHOST) to look up before each attempt;
 * none when it gives hostaddr (or PGHOSTADDR) or no host. */
static void
find_hosts(struct pgl *l)
{
	PQconninfoOption *opts = PQconninfoParse(l->conninfo, NULL);
	const char *host = NULL, *hostaddr = NULL;
	char *list, *p, *save = NULL;

	for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++) {
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
	}
	if (host == NULL)
		host = getenv("PGHOST");
	if (hostaddr == NULL)
		hostaddr = getenv("PGHOSTADDR");
	if (host != NULL && host[0] != '\0' &&
	    (hostaddr == NULL || hostaddr[0] == '\0')) {
		/* strtok would skip empty items: keep them, they count. */
		list = xstrdup(host);
		for (p = list; l->nhosts < MAX_HOSTS; p = save + 1) {
			save = strchr(p, ',');
			if (save != NULL)
				*save = '\0';
			l->hosts[l->nhosts++] = xstrdup(p);
			if (save == NULL)
				break;
		}
		free(list);
	}
	PQconninfoFree(opts);
}

struct pgl *
pgl_new(struct event_base *base, const char *conninfo, const char *channel,
    const struct pgl_opts *o, const struct pgl_cb *cb, void *arg)
{
	struct pgl *l = xcalloc(1, sizeof(*l));

	l->base = base;
	l->dns = o->dns;
	l->retry_max_ms = o->retry_max_ms > BACKOFF_MIN_MS ? o->retry_max_ms :
	    BACKOFF_MIN_MS;
	l->conninfo = xstrdup(conninfo);
	l->channel = xstrdup(channel);
	l->revoke = o->revoke_channel != NULL ? xstrdup(o->revoke_channel) :
	    NULL;
	l->cb = cb;
	l->arg = arg;
	l->timer = evtimer_new(base, on_timer, l);
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	find_hosts(l);
	resolve_start(l);
	return l;
}

void
pgl_free(struct pgl *l)
{
	if (l == NULL)
		return;
	drop_conn(l);
	event_free(l->timer);
	for (unsigned i = 0; i < l->nhosts; i++)
		free(l->hosts[i]);
	free(l->conninfo);
	free(l->channel);
	free(l->revoke);
	free(l);
}

int
pgl_is_up(const struct pgl *l)
{
	return l->state == L_UP;
}
