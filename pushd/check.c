/* keycast-pushd --check (see check.h). It runs instead of the daemon, so
 * it may block, but never past a link's deadline: libpq queries are sent
 * asynchronously and awaited with poll(2), the render goes through the
 * daemon's own render client on a private event loop (whose requests time
 * out by themselves), and the WebSocket is read by a wslay client context.
 * A link that depends on a failed one is reported as skipped. */
#include "check.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <wslay/wslay.h>

#include "addr.h"
#include "buf.h"
#include "clock.h"
#include "handshake.h"
#include "hub.h"
#include "listen.h"
#include "render.h"
#include "text.h"
#include "ws.h"
#include "xmalloc.h"

enum outcome { OK, FAILED, SKIPPED };

struct check {
	const struct check_opts	*o;
	FILE			*out;
	const char		*key;
	PGconn			*db;		/* from the database link */
	char			*fragment;	/* from the render link */
	size_t			 fragment_len;
	int			 failed;
};

/* Prints one result line; a cause spanning lines (libpq's) becomes one. */
static void
report(struct check *c, enum outcome oc, const char *link, const char *fmt,
    ...)
    __attribute__((format(printf, 4, 5)));

static void
report(struct check *c, enum outcome oc, const char *link, const char *fmt,
    ...)
{
	static const char *const word[] = { "ok  ", "FAILED", "skipped" };
	struct buf b, line;
	va_list ap;

	buf_init(&b);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	/* Runs of white space (libpq's "\n\t") become one space. */
	buf_init(&line);
	for (size_t i = 0; i < b.len; i++) {
		if (!isspace((unsigned char)b.data[i]))
			buf_putc(&line, b.data[i]);
		else if (line.len > 0 && line.data[line.len - 1] != ' ')
			buf_putc(&line, ' ');
	}
	while (line.len > 0 && line.data[line.len - 1] == ' ')
		line.len--;
	fprintf(c->out, "%s %s: %.*s\n", word[oc], link, (int)line.len,
	    line.len > 0 ? line.data : "");
	fflush(c->out);
	buf_cleanup(&b);
	buf_cleanup(&line);
	if (oc != OK)
		c->failed = 1;
}

/* Milliseconds left before deadline, at least 0. */
static int
left(int64_t deadline)
{
	int64_t ms = deadline - clock_ms();

	return ms > 0 ? (int)ms : 0;
}

/* Waits until fd is ready for events or deadline passes. Returns 1 when
 * ready, 0 at the deadline, -1 on a poll error. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		int r = poll(&p, 1, left(deadline));

		if (r >= 0)
			return r > 0;
		if (errno != EINTR)
			return -1;
	}
}

/* libpq */

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
	int r = wait_fd(PQsocket(conn), POLLIN, deadline);

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

static void
check_database(struct check *c)
{
	char err[512];

	if ((c->db = db_connect(c->o->db, err, sizeof(err))) == NULL) {
		report(c, FAILED, "database", "%s", err);
		return;
	}
	report(c, OK, "database", "connected to %s as %s on %s:%s "
	    "(PostgreSQL %s)", PQdb(c->db), PQuser(c->db), PQhost(c->db),
	    PQport(c->db), PQparameterStatus(c->db, "server_version"));
}

/* LISTEN on the database link's connection; NOTIFY from a second one in its
 * own transaction, as the app does; the payload must come back. */
static void
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
		report(c, SKIPPED, link, "needs the database");
		return;
	}
	/* A valid key that no page uses: a running pushd counts it and finds
	 * no client to render for. */
	snprintf(payload, sizeof(payload), "/__keycast-check/%ld-%lld-%u",
	    (long)getpid(), (long long)t0, (unsigned)random());
	if ((sql = pgl_listen_sql(c->db, ch)) == NULL) {
		report(c, FAILED, link, "%s", PQerrorMessage(c->db));
		goto done;
	}
	if (db_run(c->db, deadline, sql, 0, NULL, err, sizeof(err)) != 0) {
		report(c, FAILED, link, "LISTEN %s: %s", ch, err);
		goto done;
	}
	if ((sender = db_connect(c->o->db, err, sizeof(err))) == NULL) {
		report(c, FAILED, link, "a second connection for NOTIFY: %s",
		    err);
		goto done;
	}
	params[0] = ch;
	params[1] = payload;
	if (db_run(sender, deadline, "SELECT pg_notify($1, $2)", 2, params,
	    err, sizeof(err)) != 0) {
		report(c, FAILED, link, "NOTIFY %s: %s", ch, err);
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
			report(c, FAILED, link, "LISTEN %s and NOTIFY were "
			    "accepted but %s (a pooler in transaction mode "
			    "between here and PostgreSQL drops notifications)",
			    ch, err);
			goto done;
		}
	}
	report(c, OK, link, "a NOTIFY on channel %s came back in %lld ms", ch,
	    (long long)(clock_ms() - t0));
done:
	if (sender != NULL)
		PQfinish(sender);
	free(sql);
}

/* The render */

struct render_wait {
	struct event_base	*base;
	struct rnd_result	 res;	/* body and error copied below */
	char			*body;
	char			*error;
	int			 done;
};

static void
render_done(void *arg, const struct rnd_result *res)
{
	struct render_wait *w = arg;

	w->res = *res;
	w->body = xstrndup(res->body != NULL ? res->body : "", res->len);
	w->error = res->error != NULL ? xstrdup(res->error) : NULL;
	w->done = 1;
	event_base_loopbreak(w->base);
}

/* 1 when a 200 body looks like a whole page rather than a fragment. */
static int
is_whole_page(const char *s, size_t n)
{
	while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) {
		s++;
		n--;
	}
	return (n >= 9 && strncasecmp(s, "<!doctype", 9) == 0) ||
	    (n >= 5 && strncasecmp(s, "<html", 5) == 0);
}

/* What pushd does with a render status other than 200 (hub_verdict). */
static const char *
status_effect(int status)
{
	uint16_t code = 0;

	if (hub_verdict(status, NULL, 0, &code) == HUB_RETRY)
		return status == 503 ? "the app cannot reach PostgreSQL? "
		    "pushd retries with backoff" : "pushd retries with backoff";
	switch (code) {
	case WS_CLOSE_NOT_FOUND: return "pushd closes the url's clients "
		    "with 4404 (no such page)";
	case WS_CLOSE_FORBIDDEN: return "pushd closes the url's clients "
		    "with 4403";
	default: return "pushd closes the url's clients with 1011: a render "
		    "must answer 200 with the fragment";
	}
}

static void
check_render(struct check *c)
{
	const struct check_opts *o = c->o;
	const char *link = "render";
	struct render_wait w;
	struct rnd *r = NULL;
	char err[256];
	uint16_t code;

	memset(&w, 0, sizeof(w));
	if ((w.base = event_base_new()) == NULL) {
		report(c, FAILED, link, "cannot create an event loop");
		goto done;
	}
	if ((r = rnd_new(w.base, o->app, &(struct rnd_opts){ .conns = 1,
	    .wire_ms = RND_WIRE_MS, .queue_ms = RND_QUEUE_MS }, err,
	    sizeof(err))) == NULL) {
		report(c, FAILED, link, "--app %s", err);
		goto done;
	}
	rnd_submit(r, c->key, o->url, NULL, o->host, render_done, &w);
	/* The render client times its requests out (RND_WIRE_MS). */
	if (event_base_dispatch(w.base) < 0 || !w.done) {
		report(c, FAILED, link, "the event loop failed");
		goto done;
	}
	if (w.res.status < 0) {
		report(c, FAILED, link, "keycast-fcgi at %s: %s", o->app,
		    w.error);
	} else if (w.res.status != 200) {
		report(c, FAILED, link, "keycast-fcgi at %s answered %d for "
		    "%s (key %s): %s", o->app, w.res.status, o->url, c->key,
		    status_effect(w.res.status));
	} else if (is_whole_page(w.body, w.res.len)) {
		report(c, FAILED, link, "keycast-fcgi at %s answered %s with a "
		    "whole page, not a fragment: does the app honour "
		    "KEYCAST_RENDER?", o->app, o->url);
	} else if (hub_verdict(200, w.body, w.res.len, &code) == HUB_DROP) {
		report(c, FAILED, link, "keycast-fcgi at %s answered %s with a "
		    "fragment that is not valid UTF-8: pushd does not send it",
		    o->app, o->url);
	} else {
		report(c, OK, link, "keycast-fcgi at %s rendered %s (key %s) "
		    "as a %zu-byte fragment in %.1f ms", o->app, o->url, c->key,
		    w.res.len, w.res.seconds * 1e3);
		c->fragment = w.body;
		c->fragment_len = w.res.len;
		w.body = NULL;
	}
done:
	rnd_free(r);
	if (w.base != NULL)
		event_base_free(w.base);
	free(w.body);
	free(w.error);
}

/* The WebSocket through the web server */

/* Appends s percent-encoded for a query value (RFC 3986 unreserved and
 * "/" stay as they are). */
static void
put_query_value(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~/", ch) != NULL)
			buf_putc(b, (char)ch);
		else
			buf_printf(b, "%%%02X", ch);
	}
}

/* "http://HOST[:PORT][/]" into the Host header value and the connect
 * address "HOST:PORT". Returns 0, or -1 when via is not such a URL. */
static int
parse_via(const char *via, char *host, size_t hostsz, char *addr,
    size_t addrsz)
{
	const char *h = via + 7, *end, *port;
	size_t n, hostlen, portlen;

	if (strncasecmp(via, "http://", 7) != 0)
		return -1;
	end = h + strcspn(h, "/");
	if (*end == '/' && end[1] != '\0')
		return -1;
	n = (size_t)(end - h);
	if (n == 0 || n >= hostsz || n + 4 >= addrsz)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (h[i] <= ' ' || h[i] > '~' || h[i] == '@')
			return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	authority_split(host, n, &hostlen, &port, &portlen);
	snprintf(addr, addrsz, "%s%s", host, port == NULL ? ":80" : "");
	return 0;
}

struct wsc {
	int		 fd;
	const char	*pre;		/* frame bytes read with the head */
	size_t		 prelen;
	char		*text;		/* the first text message */
	size_t		 len;
	int		 closed;	/* a close frame came */
	uint16_t	 code;
	char		 reason[124];
};

static ssize_t
wsc_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
    void *arg)
{
	struct wsc *w = arg;
	ssize_t n;

	if (w->prelen > 0) {
		n = (ssize_t)(len < w->prelen ? len : w->prelen);
		memcpy(buf, w->pre, (size_t)n);
		w->pre += n;
		w->prelen -= (size_t)n;
		return n;
	}
	n = recv(w->fd, buf, len, MSG_DONTWAIT);
	if (n > 0)
		return n;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
	else
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

static ssize_t
wsc_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *arg)
{
	struct wsc *w = arg;
	ssize_t n = send(w->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
	else
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

static int
wsc_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *arg)
{
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

static void
wsc_msg(wslay_event_context_ptr ctx,
    const struct wslay_event_on_msg_recv_arg *m, void *arg)
{
	struct wsc *w = arg;

	if (m->opcode == WSLAY_TEXT_FRAME && w->text == NULL) {
		w->text = xstrndup((const char *)m->msg, m->msg_length);
		w->len = m->msg_length;
	} else if (m->opcode == WSLAY_CONNECTION_CLOSE && !w->closed) {
		size_t n = m->msg_length > 2 ? m->msg_length - 2 : 0;

		w->closed = 1;
		w->code = m->status_code;
		if (n >= sizeof(w->reason))
			n = sizeof(w->reason) - 1;
		if (n > 0)
			memcpy(w->reason, m->msg + 2, n);
		w->reason[n] = '\0';
	}
}

/* What a close code from pushd means (DESIGN's contracts). */
static const char *
close_meaning(uint16_t code)
{
	switch (code) {
	case WS_CLOSE_GOING_AWAY: return "pushd is shutting down";
	case WS_CLOSE_POLICY: return "policy: too slow or a protocol limit";
	case WS_CLOSE_INTERNAL: return "pushd's internal error";
	case WS_CLOSE_BAD_KEY: return "bad key or url, or too many urls "
		    "under the key";
	case WS_CLOSE_FORBIDDEN: return "pushd refused the Origin (does the "
		    "web server pass Host with the port?), or the app forbids "
		    "the url";
	case WS_CLOSE_NOT_FOUND: return "the app says the url does not exist";
	default: return "unexpected";
	}
}

/* A hint for an HTTP answer other than 101 to the upgrade. */
static const char *
upgrade_hint(int status)
{
	switch (status) {
	case 400: return "pushd refused the request";
	case 403: return "refused by the web server, or by a keycast-pushd "
		    "older than its 4403 close";
	case 404: return "no /__realtime location, or pushd not behind it";
	case 426: return "the web server does not pass the Upgrade and "
		    "Connection headers";
	case 502: case 504: return "the web server cannot reach keycast-pushd";
	case 503: return "pushd is full or the web server's upstream is down";
	default: return "expected 101 Switching Protocols";
	}
}

/* Connects to a (resolved) address within deadline; returns the socket
 * (non-blocking) or -1 with err set. */
static int
connect_by(const struct addr *a, int64_t deadline, char *err, size_t errlen)
{
	int fd, soerr = 0, r;
	socklen_t sl = sizeof(soerr);

	fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&a->sa, a->len) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		snprintf(err, errlen, "cannot connect: %s", strerror(errno));
		goto fail;
	}
	if ((r = wait_fd(fd, POLLOUT, deadline)) <= 0) {
		snprintf(err, errlen, "cannot connect: %s", r == 0 ?
		    "timed out" : strerror(errno));
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 ||
	    soerr != 0) {
		snprintf(err, errlen, "cannot connect: %s",
		    strerror(soerr != 0 ? soerr : errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/* Reads an HTTP response head into b; returns the offset past its blank
 * line, or 0 with err set. */
static size_t
read_head(int fd, struct buf *b, int64_t deadline, char *err, size_t errlen)
{
	char chunk[2048];

	for (;;) {
		char *end;
		ssize_t n;
		int r;

		if (b->len > 0 && (end = strstr(b->data, "\r\n\r\n")) != NULL)
			return (size_t)(end - b->data) + 4;
		if (b->len > HS_HEAD_MAX) {
			snprintf(err, errlen, "an answer head larger than "
			    "%d bytes", HS_HEAD_MAX);
			return 0;
		}
		if ((r = wait_fd(fd, POLLIN, deadline)) <= 0) {
			snprintf(err, errlen, "no answer to the upgrade within "
			    "%d s%s", CHECK_LINK_MS / 1000, r < 0 ? " (poll "
			    "failed)" : "");
			return 0;
		}
		n = recv(fd, chunk, sizeof(chunk), 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "the connection ended before an "
			    "answer%s%s", n < 0 ? ": " : "",
			    n < 0 ? strerror(errno) : "");
			return 0;
		}
		/* A NUL would cut the strstr above short: the head is text. */
		if (memchr(chunk, '\0', (size_t)n) != NULL) {
			snprintf(err, errlen, "the answer is not HTTP");
			return 0;
		}
		buf_append(b, chunk, (size_t)n);
	}
}

/* The value of a header in a response head, copied into out; -1 when
 * absent. */
static int
head_field(const char *head, size_t headlen, const char *name, char *out,
    size_t outsz)
{
	size_t nlen = strlen(name);
	const char *p = head, *end = head + headlen;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		const char *v, *eol;

		p++;
		if ((size_t)(end - p) <= nlen || p[nlen] != ':' ||
		    strncasecmp(p, name, nlen) != 0)
			continue;
		v = p + nlen + 1;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		eol = v;
		while (eol < end && *eol != '\r' && *eol != '\n')
			eol++;
		snprintf(out, outsz, "%.*s", (int)(eol - v), v);
		return 0;
	}
	return -1;
}

static void
check_websocket(struct check *c)
{
	const char *link = "websocket";
	const struct check_opts *o = c->o;
	int64_t deadline = clock_ms() + CHECK_LINK_MS;
	struct wslay_event_callbacks cbs = {
		.recv_callback = wsc_recv,
		.send_callback = wsc_send,
		.genmask_callback = wsc_genmask,
		.on_msg_recv_callback = wsc_msg,
	};
	wslay_event_context_ptr ctx = NULL;
	struct wsc w;
	struct addr a;
	struct buf req, resp;
	unsigned char nonce[16];
	char host[256], addrspec[272], err[512], wskey[32], line[160];
	char accept[WS_ACCEPT_LEN + 1], got[WS_ACCEPT_LEN + 2];
	size_t off;
	int status = 0;

	memset(&w, 0, sizeof(w));
	w.fd = -1;
	buf_init(&req);
	buf_init(&resp);
	if (c->fragment == NULL) {
		report(c, SKIPPED, link, "needs a working render");
		goto done;
	}
	/* check_run validated via. */
	parse_via(o->via, host, sizeof(host), addrspec, sizeof(addrspec));
	if (addr_parse(addrspec, &a, err, sizeof(err)) != 0) {
		report(c, FAILED, link, "%s", err);
		goto done;
	}
	if ((w.fd = connect_by(&a, deadline, err, sizeof(err))) < 0) {
		report(c, FAILED, link, "%s: %s", o->via, err);
		goto done;
	}
	if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
		report(c, FAILED, link, "no random bytes for the key");
		goto done;
	}
	EVP_EncodeBlock((unsigned char *)wskey, nonce, sizeof(nonce));
	if (ws_accept_key(wskey, strlen(wskey), accept) != 0) {
		report(c, FAILED, link, "cannot compute the accept key");
		goto done;
	}
	/* As keycast.js asks: Origin matching Host, so a web server that does
	 * not pass Host on makes pushd close 4403 here as it would a browser's. */
	buf_puts(&req, "GET /__realtime?key=");
	put_query_value(&req, c->key);
	buf_puts(&req, "&url=");
	put_query_value(&req, o->url);
	buf_printf(&req, " HTTP/1.1\r\nHost: %s\r\nOrigin: http://%s\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
	    "User-Agent: keycast-pushd --check\r\n\r\n", host, host, wskey);
	if (send(w.fd, req.data, req.len, MSG_NOSIGNAL) != (ssize_t)req.len) {
		report(c, FAILED, link, "%s: cannot send the upgrade", o->via);
		goto done;
	}
	if ((off = read_head(w.fd, &resp, deadline, err, sizeof(err))) == 0) {
		report(c, FAILED, link, "%s: %s", o->via, err);
		goto done;
	}
	if (sscanf(resp.data, "HTTP/1.%*1[01] %3d", &status) != 1) {
		report(c, FAILED, link, "%s: the answer is not HTTP/1.x",
		    o->via);
		goto done;
	}
	if (status != 101) {
		/* pushd's refusals say why in a one-line text body; a web
		 * server's own error pages are HTML, not worth quoting. */
		size_t blen = strcspn(resp.data + off, "\r\n");

		line[0] = '\0';
		if (head_field(resp.data, off, "Content-Type", got,
		    sizeof(got)) == 0 && strncasecmp(got, "text/plain", 10) == 0)
			snprintf(line, sizeof(line), "%.*s", (int)(blen < 120 ?
			    blen : 120), resp.data + off);
		report(c, FAILED, link, "%s answered %d to the upgrade of "
		    "/__realtime: %s%s%s", o->via, status, upgrade_hint(status),
		    line[0] != '\0' ? ": " : "", line);
		goto done;
	}
	if (head_field(resp.data, off, "Sec-WebSocket-Accept", got,
	    sizeof(got)) != 0 || strcmp(got, accept) != 0) {
		report(c, FAILED, link, "%s: 101 without the right "
		    "Sec-WebSocket-Accept", o->via);
		goto done;
	}
	w.pre = resp.data + off;
	w.prelen = resp.len - off;
	if (wslay_event_context_client_init(&ctx, &cbs, &w) != 0) {
		report(c, FAILED, link, "cannot set up wslay");
		goto done;
	}
	while (w.text == NULL && !w.closed) {
		short ev = POLLIN | (wslay_event_want_write(ctx) ? POLLOUT : 0);
		int r = w.prelen > 0 ? 1 : wait_fd(w.fd, ev, deadline);

		if (r <= 0) {
			report(c, FAILED, link, "%s upgraded /__realtime but no "
			    "frame came within %d s", o->via,
			    CHECK_LINK_MS / 1000);
			goto done;
		}
		if (wslay_event_recv(ctx) != 0 || wslay_event_send(ctx) != 0) {
			report(c, FAILED, link, "%s upgraded /__realtime, then "
			    "the connection ended without a frame", o->via);
			goto done;
		}
	}
	if (w.text == NULL) {
		report(c, FAILED, link, "%s upgraded /__realtime, then pushd "
		    "closed it with %u (%s)%s%s", o->via, w.code,
		    close_meaning(w.code), w.reason[0] != '\0' ? ": " : "",
		    w.reason);
	} else if (w.len == c->fragment_len &&
	    memcmp(w.text, c->fragment, w.len) == 0) {
		report(c, OK, link, "%s upgraded /__realtime and the first "
		    "frame is the rendered fragment (%zu bytes)", o->via,
		    w.len);
	} else if (is_whole_page(w.text, w.len)) {
		report(c, FAILED, link, "%s upgraded /__realtime but the first "
		    "frame is a whole page, not a fragment", o->via);
	} else {
		report(c, OK, link, "%s upgraded /__realtime; the first frame "
		    "is a %zu-byte fragment that differs from the render (%zu "
		    "bytes): the data changed in between, or pushd renders "
		    "with another Host", o->via, w.len, c->fragment_len);
	}
done:
	if (ctx != NULL)
		wslay_event_context_free(ctx);
	if (w.fd >= 0)
		close(w.fd);
	free(w.text);
	buf_cleanup(&req);
	buf_cleanup(&resp);
}

int
check_run(const struct check_opts *o, FILE *out, FILE *err)
{
	struct check c;
	struct check_opts opts = *o;
	char host[256], addrspec[272];

	memset(&c, 0, sizeof(c));
	c.o = &opts;
	c.out = out;
	c.key = o->key != NULL ? o->key : o->url;
	if (!url_valid(o->url, strlen(o->url))) {
		fprintf(err, "keycast-pushd: --check %s: the url must be a path "
		    "starting with / (printable ASCII, no spaces, at most %d "
		    "bytes)\n", o->url, URL_MAX);
		return 2;
	}
	if (!key_valid(c.key, strlen(c.key))) {
		fprintf(err, "keycast-pushd: --key must be 1..%d printable "
		    "ASCII characters, no spaces\n", KEY_MAX);
		return 2;
	}
	if (o->via != NULL) {
		if (parse_via(o->via, host, sizeof(host), addrspec,
		    sizeof(addrspec)) != 0) {
			fprintf(err, "keycast-pushd: --via %s: expected "
			    "http://HOST[:PORT]\n", o->via);
			return 2;
		}
		/* Render as pushd will for clients coming that way. */
		if (opts.host == NULL)
			opts.host = host;
	}
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	check_database(&c);
	check_listen(&c);
	check_render(&c);
	if (o->via != NULL)
		check_websocket(&c);
	if (c.db != NULL)
		PQfinish(c.db);
	free(c.fragment);
	return c.failed ? 1 : 0;
}
