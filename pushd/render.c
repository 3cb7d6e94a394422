/* The FastCGI render client (see render.h). Jobs wait in a FIFO; a kick
 * event hands them to idle connections (or opens a closed slot) outside any
 * caller's stack. A job has two deadlines: queue_ms from rnd_submit while it
 * waits (a hung app fails the queued jobs too), then wire_ms from when a
 * connection takes it. A job past its wire deadline fails, but its
 * connection waits one more wire_ms for the late answer, so a slow app
 * keeps its connections rather than getting new ones; it is closed only
 * then, or when it fails, since its stream position is unknown. A request
 * that dies on a reused connection before any answer byte is retried once
 * on a fresh one: the app may have closed it while idle. */
#include "render.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "addr.h"
#include "text.h"
#include "buf.h"
#include "clock.h"
#include "fcgi_codec.h"
#include "log.h"
#include "metrics.h"
#include "xmalloc.h"

#define REQUEST_ID	1

enum cstate { C_CLOSED, C_CONNECTING, C_IDLE, C_BUSY };

struct rnd_conn {
	struct rnd		*r;
	struct bufferevent	*bev;
	enum cstate		 state;
	unsigned		 served;	/* requests answered on it */
	struct rnd_job		*job;
	struct fcgc_resp	 resp;
};

struct rnd_job {
	struct rnd	*r;
	struct rnd_job	*prev, *next;	/* in the queue */
	struct rnd_conn	*conn;		/* while running */
	struct buf	 req;		/* the encoded records */
	rnd_done_fn	*cb;		/* NULL once cancelled */
	void		*arg;
	char		*url;		/* for log lines */
	int64_t		 t0;		/* clock_us at rnd_submit */
	struct event	 deadline;	/* queue_ms after rnd_submit, then
					   wire_ms after a connection took it */
	int		 retried;
	int		 late;		/* failed at the wire deadline; its
					   connection awaits the answer */
};

struct rnd {
	struct event_base	*base;
	struct evdns_base	*dns;		/* borrowed; NULL: use addr */
	struct addr		 addr;		/* resolved by rnd_new */
	char			*host;		/* a name to resolve on every
						   connect, or NULL */
	int			 port;
	unsigned		 wire_ms, queue_ms;
	char			*spec;
	struct rnd_conn		*conns;
	unsigned		 nconns;
	struct rnd_job		*head, *tail;
	struct event		*kick;
	int			 down;		/* last attempt failed */
};

static void
queue_remove(struct rnd *r, struct rnd_job *j)
{
	if (j->prev != NULL)
		j->prev->next = j->next;
	else
		r->head = j->next;
	if (j->next != NULL)
		j->next->prev = j->prev;
	else
		r->tail = j->prev;
	j->prev = j->next = NULL;
}

static void
queue_push(struct rnd *r, struct rnd_job *j, int front)
{
	if (front) {
		j->prev = NULL;
		j->next = r->head;
		if (r->head != NULL)
			r->head->prev = j;
		else
			r->tail = j;
		r->head = j;
	} else {
		j->next = NULL;
		j->prev = r->tail;
		if (r->tail != NULL)
			r->tail->next = j;
		else
			r->head = j;
		r->tail = j;
	}
	event_active(r->kick, 0, 0);
}

static void
job_free(struct rnd_job *j)
{
	event_del(&j->deadline);
	buf_cleanup(&j->req);
	free(j->url);
	free(j);
}

/* Says once that the app stopped or started answering. */
static void
note_health(struct rnd *r, const struct rnd_result *res)
{
	if (res->status == -1 && !r->down) {
		r->down = 1;
		log_warn("render: app at %s: %s", r->spec, res->error);
	} else if (res->status != -1 && r->down) {
		r->down = 0;
		log_info("render: app at %s answers again", r->spec);
	}
}

/* Gives j's caller res (status -1 for a failure), once. */
static void
job_report(struct rnd *r, struct rnd_job *j, struct rnd_result *res)
{
	rnd_done_fn *cb = j->cb;

	res->seconds = (double)(clock_us() - j->t0) / 1e6;
	/* A late answer says nothing new: the app is still too slow. */
	if (!j->late)
		note_health(r, res);
	j->cb = NULL;
	if (cb != NULL)
		cb(j->arg, res);
}

/* Ends j with res and frees it. */
static void
job_finish(struct rnd *r, struct rnd_job *j, struct rnd_result *res)
{
	job_report(r, j, res);
	job_free(j);
}

static void
job_fail(struct rnd *r, struct rnd_job *j, const char *why)
{
	struct rnd_result res = { .status = -1, .error = why };

	job_finish(r, j, &res);
}

static void
conn_close(struct rnd_conn *c)
{
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	c->bev = NULL;
	c->state = C_CLOSED;
	c->served = 0;
	c->job = NULL;
}

/* The running job of c is over; c goes back to the pool or is closed. */
static struct rnd_job *
conn_take_job(struct rnd_conn *c, int reusable)
{
	struct rnd_job *j = c->job;

	c->job = NULL;
	j->conn = NULL;
	if (reusable) {
		c->state = C_IDLE;
		c->served++;
	} else {
		conn_close(c);
	}
	event_active(c->r->kick, 0, 0);
	return j;
}

/* may_retry: the connection died, rather than the app being slow. */
static void
conn_failed(struct rnd_conn *c, const char *why, int may_retry)
{
	struct rnd *r = c->r;
	int fresh_death = c->resp.received == 0 && c->served > 0;
	struct rnd_job *j = conn_take_job(c, 0);

	/* A job nobody awaits (cancelled, or reported late) is not sent
	 * again. */
	if (may_retry && fresh_death && !j->retried && j->cb != NULL) {
		j->retried = 1;
		queue_push(r, j, 1);
		return;
	}
	job_fail(r, j, why);
}

/* The app is down: fail the queue now rather than one connect at a time;
 * each url retries with its own backoff. */
static void
fail_queue(struct rnd *r, const char *why)
{
	while (r->head != NULL) {
		struct rnd_job *j = r->head;

		queue_remove(r, j);
		job_fail(r, j, why);
	}
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct rnd_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	enum fcgc_rc rc = FCGC_MORE;

	if (c->job == NULL) {
		/* Nothing asked: bytes from an idle connection are junk. */
		conn_close(c);
		return;
	}
	while (rc == FCGC_MORE && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		size_t used;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		rc = fcgc_resp_feed(&c->resp, v.iov_base, v.iov_len, &used);
		evbuffer_drain(in, used);
	}
	if (rc == FCGC_MORE)
		return;
	if (rc == FCGC_DONE) {
		struct rnd_result res = {
			.status = c->resp.status,
			.head = c->resp.out.data,
			.head_len = (size_t)(c->resp.body - c->resp.out.data),
			.body = c->resp.body,
			.len = c->resp.body_len,
		};
		/* The answer's buffers outlive the connection's reuse. */
		struct fcgc_resp resp = c->resp;
		struct rnd_job *j;

		if (resp.err.len > 0)
			log_warn("render: app stderr for %s: %.*s",
			    c->job->url, (int)resp.err.len, resp.err.data);
		fcgc_resp_init(&c->resp, REQUEST_ID, RND_BODY_MAX);
		j = conn_take_job(c, evbuffer_get_length(in) == 0);
		job_finish(c->r, j, &res);
		fcgc_resp_cleanup(&resp);
		return;
	}
	if (rc == FCGC_EREFUSED) {
		/* Overloaded or busy: may pass, so a failure to retry. */
		conn_failed(c, "the app refused the request", 0);
		return;
	}
	{
		/* The app's fault, which no retry fixes. */
		struct rnd_result res = {
			.status = RND_UNUSABLE,
			.error = rc == FCGC_ETOOBIG ?
			    "the fragment is larger than 1 MiB" :
			    "the answer is not valid FastCGI/CGI",
		};

		job_finish(c->r, conn_take_job(c, 0), &res);
	}
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct rnd_conn *c = arg;
	char why[160];

	if (what & BEV_EVENT_CONNECTED) {
		int one = 1;

		c->state = c->job != NULL ? C_BUSY : C_IDLE;
		if (c->r->addr.sa.ss_family != AF_UNIX)
			setsockopt(bufferevent_getfd(bev), IPPROTO_TCP,
			    TCP_NODELAY, &one, sizeof(one));
		return;
	}
	if (c->job == NULL) {
		conn_close(c);		/* the app closed an idle connection */
		return;
	}
	if (c->state == C_CONNECTING) {
		struct rnd *r = c->r;

		int dnserr = bufferevent_socket_get_dns_error(bev);

		if (dnserr != 0)
			snprintf(why, sizeof(why), "cannot resolve %s: %s",
			    r->host, evutil_gai_strerror(dnserr));
		else
			snprintf(why, sizeof(why), "cannot connect: %s",
			    strerror(EVUTIL_SOCKET_ERROR()));
		conn_failed(c, why, 0);
		fail_queue(r, why);
		return;
	}
	if (what & BEV_EVENT_EOF)
		snprintf(why, sizeof(why), "the app closed the connection");
	else
		snprintf(why, sizeof(why), "connection error: %s",
		    strerror(EVUTIL_SOCKET_ERROR()));
	conn_failed(c, why, 1);
}

/* j, out of the queue, waited queue_ms for a connection. */
static void
fail_unplaced(struct rnd *r, struct rnd_job *j)
{
	char why[96];

	snprintf(why, sizeof(why), "no connection to the app came free "
	    "within %u ms", r->queue_ms);
	job_fail(r, j, why);
}

static void
arm(struct rnd_job *j, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(&j->deadline, &tv);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct rnd_job *j = arg;
	struct rnd *r = j->r;
	char why[96];

	if (j->conn != NULL && !j->late) {
		struct rnd_result res = { .status = -1, .error = why };

		snprintf(why, sizeof(why), "no answer within %u ms",
		    r->wire_ms);
		job_report(r, j, &res);
		j->late = 1;
		arm(j, r->wire_ms);
		return;
	}
	if (j->conn != NULL) {
		conn_failed(j->conn, "no late answer either", 0);
		return;
	}
	queue_remove(r, j);
	fail_unplaced(r, j);
}

static int
conn_open(struct rnd_conn *c)
{
	struct rnd *r = c->r;
	int rc;

	c->bev = bufferevent_socket_new(r->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		return -1;
	bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
	c->state = C_CONNECTING;
	metrics.app_connects++;
	/* Refused comes later as an event; a missing unix socket fails here.
	 * A name is looked up again on every connect, off the loop, so the
	 * app may move. */
	if (r->host != NULL && r->dns != NULL)
		rc = bufferevent_socket_connect_hostname(c->bev, r->dns,
		    AF_UNSPEC, r->host, r->port);
	else
		rc = bufferevent_socket_connect(c->bev,
		    (struct sockaddr *)&r->addr.sa, (int)r->addr.len);
	if (rc != 0) {
		int e = errno;

		bufferevent_free(c->bev);
		c->bev = NULL;
		c->state = C_CLOSED;
		errno = e;
		return -1;
	}
	bufferevent_enable(c->bev, EV_READ);
	return 0;
}

static void
conn_start(struct rnd_conn *c, struct rnd_job *j)
{
	c->job = j;
	j->conn = c;
	arm(j, c->r->wire_ms);
	fcgc_resp_cleanup(&c->resp);
	fcgc_resp_init(&c->resp, REQUEST_ID, RND_BODY_MAX);
	if (c->state == C_IDLE)
		c->state = C_BUSY;
	if (bufferevent_write(c->bev, j->req.data, j->req.len) != 0)
		conn_failed(c, "cannot queue the request", 0);
}

static void
on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct rnd *r = arg;

	while (r->head != NULL) {
		struct rnd_conn *c = NULL;
		struct rnd_job *j;
		unsigned i;

		for (i = 0; i < r->nconns && c == NULL; i++)
			if (r->conns[i].state == C_IDLE)
				c = &r->conns[i];
		for (i = 0; i < r->nconns && c == NULL; i++)
			if (r->conns[i].state == C_CLOSED)
				c = &r->conns[i];
		if (c == NULL)
			return;
		j = r->head;
		queue_remove(r, j);
		/* Its deadline event may not have run yet this turn. */
		if (clock_us() - j->t0 >= (int64_t)r->queue_ms * 1000) {
			fail_unplaced(r, j);
			continue;
		}
		if (c->state == C_CLOSED && conn_open(c) != 0) {
			char why[160];

			snprintf(why, sizeof(why), "cannot connect: %s",
			    strerror(errno));
			job_fail(r, j, why);
			fail_queue(r, why);
			return;
		}
		conn_start(c, j);
	}
}

struct rnd *
rnd_new(struct event_base *base, const char *spec, const struct rnd_opts *o,
    char *err, size_t errlen)
{
	struct rnd *r = xcalloc(1, sizeof(*r));
	unsigned nconns = o->conns;

	if (addr_parse(spec, &r->addr, err, errlen) != 0) {
		free(r);
		return NULL;
	}
	if (r->addr.name[0] != '\0') {
		r->host = xstrdup(r->addr.name);
		r->port = r->addr.port;
	}
	r->base = base;
	r->dns = o->dns;
	r->wire_ms = o->wire_ms;
	r->queue_ms = o->queue_ms;
	r->spec = xstrdup(spec);
	r->nconns = nconns;
	r->conns = xcalloc(nconns, sizeof(*r->conns));
	for (unsigned i = 0; i < nconns; i++) {
		r->conns[i].r = r;
		fcgc_resp_init(&r->conns[i].resp, REQUEST_ID, RND_BODY_MAX);
	}
	r->kick = event_new(base, -1, 0, on_kick, r);
	return r;
}

void
rnd_free(struct rnd *r)
{
	if (r == NULL)
		return;
	for (unsigned i = 0; i < r->nconns; i++) {
		struct rnd_conn *c = &r->conns[i];
		if (c->job != NULL)
			job_free(c->job);
		c->job = NULL;
		conn_close(c);
		fcgc_resp_cleanup(&c->resp);
	}
	while (r->head != NULL) {
		struct rnd_job *j = r->head;
		queue_remove(r, j);
		job_free(j);
	}
	event_free(r->kick);
	free(r->conns);
	free(r->host);
	free(r->spec);
	free(r);
}

/* Queues a request of encoded records (taken over); url is for logs. */
static struct rnd_job *
submit(struct rnd *r, struct buf *req, const char *url, rnd_done_fn *cb,
    void *arg)
{
	struct rnd_job *j = xcalloc(1, sizeof(*j));

	j->req = *req;
	j->r = r;
	j->url = xstrdup(url);
	j->cb = cb;
	j->arg = arg;
	j->t0 = clock_us();
	evtimer_assign(&j->deadline, r->base, on_deadline, j);
	arm(j, r->queue_ms);
	queue_push(r, j, 0);
	return j;
}

/* SERVER_NAME and SERVER_PORT from a Host value ("localhost" when none):
 * name gets the host part, *port the port (a tail of host, so already
 * NUL-terminated) or "80". */
static const char *
server_name(const char **host, char *name, size_t namesz, const char **port)
{
	const char *h = *host;
	size_t hostlen, portlen;

	if (h == NULL || h[0] == '\0')
		h = "localhost";
	authority_split(h, strlen(h), &hostlen, port, &portlen);
	snprintf(name, namesz, "%.*s", (int)hostlen, h);
	if (*port == NULL)
		*port = "80";
	*host = h;
	return name;
}

struct rnd_job *
rnd_submit(struct rnd *r, const char *key, const char *url, const char *view,
    const char *host, rnd_done_fn *cb, void *arg)
{
	const char *q = strchr(url, '?');
	char *path = xstrndup(url, q != NULL ? (size_t)(q - url) : strlen(url));
	char name[256];
	const char *port;
	struct buf req;

	server_name(&host, name, sizeof(name), &port);
	{
		const struct fcgc_param params[] = {
			{ "GATEWAY_INTERFACE", "CGI/1.1" },
			{ "SERVER_PROTOCOL", "HTTP/1.1" },
			{ "SERVER_SOFTWARE", "keycast-pushd" },
			{ "SERVER_NAME", name },
			{ "SERVER_PORT", port },
			{ "REMOTE_ADDR", "127.0.0.1" },
			{ "REQUEST_METHOD", "GET" },
			{ "REQUEST_URI", url },
			{ "SCRIPT_NAME", path },
			{ "PATH_INFO", "" },
			{ "QUERY_STRING", q != NULL ? q + 1 : "" },
			{ "HTTP_HOST", host },
			{ "KEYCAST_RENDER", key },
			{ "KEYCAST_VIEW", view },	/* last: left out when
							   NULL */
		};
		size_t n = sizeof(params) / sizeof(params[0]);

		buf_init(&req);
		fcgc_encode_request(&req, REQUEST_ID, 1, params,
		    view != NULL ? n : n - 1);
	}
	free(path);
	return submit(r, &req, url, cb, arg);
}

struct rnd_job *
rnd_authorize(struct rnd *r, const struct rnd_authz *a, rnd_done_fn *cb,
    void *arg)
{
	const char *q = strchr(a->url, '?');
	char *path = xstrndup(a->url, q != NULL ? (size_t)(q - a->url) :
	    strlen(a->url));
	const char *host = a->host, *port;
	char name[256];
	struct fcgc_param params[16];
	size_t n = 0;
	struct buf req;

	server_name(&host, name, sizeof(name), &port);
	params[n++] = (struct fcgc_param){ "GATEWAY_INTERFACE", "CGI/1.1" };
	params[n++] = (struct fcgc_param){ "SERVER_PROTOCOL", "HTTP/1.1" };
	params[n++] = (struct fcgc_param){ "SERVER_SOFTWARE", "keycast-pushd" };
	params[n++] = (struct fcgc_param){ "SERVER_NAME", name };
	params[n++] = (struct fcgc_param){ "SERVER_PORT", port };
	params[n++] = (struct fcgc_param){ "REMOTE_ADDR",
	    a->remote_addr != NULL ? a->remote_addr : "127.0.0.1" };
	params[n++] = (struct fcgc_param){ "REQUEST_METHOD", "GET" };
	params[n++] = (struct fcgc_param){ "REQUEST_URI", a->url };
	params[n++] = (struct fcgc_param){ "SCRIPT_NAME", "" };
	params[n++] = (struct fcgc_param){ "PATH_INFO", path };
	params[n++] = (struct fcgc_param){ "QUERY_STRING",
	    q != NULL ? q + 1 : "" };
	params[n++] = (struct fcgc_param){ "HTTP_HOST", host };
	params[n++] = (struct fcgc_param){ "KEYCAST_AUTHORIZE", a->key };
	if (a->origin != NULL)
		params[n++] = (struct fcgc_param){ "HTTP_ORIGIN", a->origin };
	if (a->cookie != NULL)
		params[n++] = (struct fcgc_param){ "HTTP_COOKIE", a->cookie };
	if (a->authorization != NULL)
		params[n++] = (struct fcgc_param){ "HTTP_AUTHORIZATION",
		    a->authorization };
	buf_init(&req);
	fcgc_encode_request(&req, REQUEST_ID, 1, params, n);
	free(path);
	return submit(r, &req, a->url, cb, arg);
}

void
rnd_cancel(struct rnd_job *j)
{
	if (j->conn != NULL) {
		j->cb = NULL;	/* freed when its answer or failure comes */
		return;
	}
	queue_remove(j->r, j);
	job_free(j);
}
