/* Connections of keycast-pushd (see server.h).
 *
 * A connection is in one phase list: HEAD (reading the request head), AUTH
 * (a valid upgrade waiting for the app's authorize answer; its deadlines
 * are the render client's), OPEN (a WebSocket in the hub) or CLOSING
 * (answer or close frame sent, waiting for the peer to go). Each list has one fixed timeout, so appending at the
 * tail keeps it ordered by deadline and the tick only looks at heads; the
 * same holds for the list of connections whose output is blocked (entered
 * again at the tail each time a frame is done: each frame has its own
 * deadline, so a trickle of reads cannot keep a frame pinned) and for the
 * list of connections holding an unfinished client frame.
 *
 * A connection subscribes one root (v1) or several (v2: protocol.md), each
 * a (key, url) with its own hub member, authorization and view. Output is
 * at most: the frame being written (cur), control frames, and one pending
 * data frame per root, taken in turn. A newer frame of a root replaces its
 * pending one (conflation): the newer is a full fragment, or a diff from
 * what the client holds, which a pending frame never counts as (only the
 * frame written or being written does), so an older unsent one is
 * worthless. Every queued reference is counted on its frame (queued),
 * so the bytes of distinct queued frames are known and capped; the cap is
 * enforced from an event, never inside a broadcast. A connection is killed
 * (fd closed, lists and output left) at once but freed from a reaper event,
 * never inside a callback that may still use it. */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "addr.h"
#include "clock.h"
#include "handshake.h"
#include "log.h"
#include "metrics.h"
#include "peers.h"
#include "ws.h"
#include "xmalloc.h"

#define ACCEPT_BATCH	256	/* accepts per wake-up */
#define CTRL_MAX	64	/* queued control frames before giving up */
#define TICK_MS		250

enum phase { P_HEAD, P_OPEN, P_CLOSING, P_AUTH };
#define NPHASES	4
#define EARLY_MAX	4096	/* client bytes kept while authorizing */

struct ctrl {
	struct ctrl	*next;
	struct ws_frame	*f;
};

struct conn;

struct link {
	struct conn	*prev, *next;
};

/* One (key, url) of a connection. What a broadcast touches: the member,
 * its connection, its pending frame and the version it holds. */
struct root {
	struct hub_member	 m;
	struct conn		*c;
	struct ws_frame		*pending;	/* the next data frame (a
						   queued reference) */
	uint32_t		 pending_ver;	/* of pending's snap */
	uint32_t		 have;		/* the version written or being
						   written; a conflated frame
						   never counts */
	unsigned		 have_valid : 1;
	unsigned		 answered : 1;	/* its first authorization came */
	struct vw_client	*vw;		/* owned: its authorization */
};

/* What a v2 connection has beyond its first root. */
struct roots {
	int64_t			 resync_at;	/* ms its resync minute began */
	unsigned		 resyncs;	/* resyncs in that minute */
	unsigned		 n;		/* roots in r */
	struct root		 r[];		/* the second root on */
};

/* What an upgrade keeps while its authorize answers are out (P_AUTH):
 * off the connection, which then costs no more than it did with one root. */
struct authwait {
	char			 accept[WS_ACCEPT_LEN + 1];
	char			*early;		/* owned: bytes that came after
						   the head before the answers */
	size_t			 nearly;
	char			(*views)[AZ_VIEW_MAX + 1];	/* owned; v2:
						   each root's, as answered */
};

struct conn {
	/* What a broadcast touches for every client comes first, on as few
	 * cache lines as possible (the fan-out loop is memory-bound). */
	struct root		 r0;		/* the first (v1: only) root */
	struct srv		*s;
	struct ws_frame		*cur;		/* being written */
	struct ctrl		*ctrl_head, *ctrl_tail;
	int			 fd;
	enum phase		 phase;
	unsigned char		 snap_flags;	/* SNAP_V2, SNAP_DEFLATE */
	unsigned char		 npending;	/* roots with a pending frame */
	unsigned char		 next_root;	/* whose pending goes next */
	unsigned char		 nwait;		/* roots awaiting their first
						   authorization */
	unsigned		 dead : 1;
	unsigned		 local : 1;	/* loopback or unix peer */
	unsigned		 blocked : 1;	/* in the blocked list */
	unsigned		 partial : 1;	/* in the partial list */
	unsigned		 writing : 1;	/* wev is armed */
	unsigned		 closing_sent : 1; /* close frame or answer queued */
	unsigned		 shut_wr : 1;	/* our side is shut down */
	unsigned		 ws : 1;	/* upgraded: bytes count as sent */
	unsigned		 nctrl;
	size_t			 off;
	struct link		 ph;		/* phase list; reap list */
	struct link		 bl;		/* blocked list */
	struct link		 pl;		/* partial list */
	int64_t			 due;		/* the phase's deadline */
	int64_t			 last_rx;	/* ms of the last byte read */
	int64_t			 blocked_at;	/* ms the frame being written
						   found the socket full */
	int64_t			 partial_at;	/* ms an unfinished client
						   frame began */
	struct hs_parser	*hs;		/* a head split over reads */
	struct ws_in		*in;		/* an unfinished client frame */
	struct peer		*peer;		/* its address's count */
	struct roots		*more;		/* owned; v2 only */
	struct authwait		*aw;		/* owned; in P_AUTH only */
	struct event		 rev, wev;
};

struct clist {
	struct conn	*head, *tail;
	size_t		 link;		/* offset of the struct link used */
};

struct srv {
	struct event_base	*base;
	struct hub		*hub;
	struct srv_config	 cfg;
	const struct srv_hooks	*hooks;
	void			*arg;
	int			 lfd;
	int			 spare_fd;	/* given up to shed on EMFILE */
	char			*unix_path;	/* to unlink at the end */
	struct event		*accept_ev;
	struct event		*accept_resume;	/* after an accept pause */
	struct event		*tick;
	struct event		*reap_ev;
	struct event		*cap_ev;	/* sheds output past the cap */
	struct clist		 lists[NPHASES];	/* by phase */
	struct clist		 blocked;
	struct clist		 partial;
	struct conn		*reap;
	unsigned long		 nconns;
	unsigned long		 nclients;
	unsigned long		 nauth;		/* in P_AUTH */
	size_t			 out_bytes;	/* of distinct queued frames */
	int64_t			 shed_logged;
	int64_t			 pause_logged;
	int64_t			 cap_logged;
	int64_t			 addr_logged;
	int			 draining;
	struct ws_frame		*beat;
};

#define container_of(p, type, field) \
	((type *)(void *)((char *)(p) - offsetof(type, field)))

static unsigned
nroots(const struct conn *c)
{
	return 1 + (c->more != NULL ? c->more->n : 0);
}

static struct root *
root_at(struct conn *c, unsigned i)
{
	return i == 0 ? &c->r0 : &c->more->r[i - 1];
}

static struct link *
link_of(const struct clist *l, struct conn *c)
{
	return (struct link *)(void *)((char *)c + l->link);
}

static void
list_add(struct clist *l, struct conn *c)
{
	struct link *k = link_of(l, c);

	k->next = NULL;
	k->prev = l->tail;
	if (l->tail != NULL)
		link_of(l, l->tail)->next = c;
	else
		l->head = c;
	l->tail = c;
}

static void
list_del(struct clist *l, struct conn *c)
{
	struct link *k = link_of(l, c);

	if (k->prev != NULL)
		link_of(l, k->prev)->next = k->next;
	else
		l->head = k->next;
	if (k->next != NULL)
		link_of(l, k->next)->prev = k->prev;
	else
		l->tail = k->prev;
	k->prev = k->next = NULL;
}

/* The frame being written found the socket full: its deadline starts. */
static void
blocked_add(struct srv *s, struct conn *c)
{
	c->blocked_at = clock_ms();
	list_add(&s->blocked, c);
	c->blocked = 1;
}

static void
blocked_del(struct srv *s, struct conn *c)
{
	if (!c->blocked)
		return;
	list_del(&s->blocked, c);
	c->blocked = 0;
}

static void
partial_del(struct srv *s, struct conn *c)
{
	if (!c->partial)
		return;
	list_del(&s->partial, c);
	c->partial = 0;
}

/* A queue takes a reference to f: its bytes count once, however many
 * queues hold it. */
static struct ws_frame *
out_hold(struct srv *s, struct ws_frame *f)
{
	if (f->queued++ == 0) {
		s->out_bytes += f->len;
		if (s->out_bytes > s->cfg.max_output)
			event_active(s->cap_ev, 0, 0);
	}
	return ws_frame_ref(f);
}

static void
out_drop(struct srv *s, struct ws_frame *f)
{
	if (f == NULL)
		return;
	if (--f->queued == 0)
		s->out_bytes -= f->len;
	ws_frame_unref(f);
}

static void
drop_pending(struct conn *c)
{
	for (unsigned i = 0; c->npending > 0 && i < nroots(c); i++) {
		struct root *r = root_at(c, i);

		if (r->pending != NULL) {
			out_drop(c->s, r->pending);
			r->pending = NULL;
			c->npending--;
		}
	}
}

/* c's roots leave the hub and their authorizations end. */
static void
roots_end(struct conn *c)
{
	for (unsigned i = 0; i < nroots(c); i++) {
		struct root *r = root_at(c, i);

		hub_leave(&r->m);
		vw_end(r->vw);
		r->vw = NULL;
	}
}

/* Drops everything queued for c. */
static void
out_clear(struct conn *c)
{
	struct ctrl *q;

	out_drop(c->s, c->cur);
	c->cur = NULL;
	drop_pending(c);
	while ((q = c->ctrl_head) != NULL) {
		c->ctrl_head = q->next;
		out_drop(c->s, q->f);
		free(q);
	}
	c->ctrl_tail = NULL;
	c->nctrl = 0;
}

static void
set_phase(struct conn *c, enum phase p, int64_t due)
{
	struct srv *s = c->s;

	list_del(&s->lists[c->phase], c);
	if (c->phase == P_OPEN)
		s->nclients--;
	if (c->phase == P_AUTH)
		s->nauth--;
	c->phase = p;
	c->due = due;
	list_add(&s->lists[p], c);
	if (p == P_OPEN)
		s->nclients++;
	if (p == P_AUTH)
		s->nauth++;
}

static void
conn_kill(struct conn *c, const char *why)
{
	struct srv *s = c->s;

	if (c->dead)
		return;
	c->dead = 1;
	log_debug("client %d closed: %s", c->fd, why);
	roots_end(c);
	if (c->phase == P_OPEN)
		s->nclients--;
	if (c->phase == P_AUTH)
		s->nauth--;
	list_del(&s->lists[c->phase], c);
	blocked_del(s, c);
	partial_del(s, c);
	out_clear(c);
	peers_leave(s->cfg.peers, c->peer);
	c->peer = NULL;
	event_del(&c->rev);
	event_del(&c->wev);
	close(c->fd);
	c->fd = -1;
	s->nconns--;
	c->ph.next = s->reap;
	s->reap = c;
	event_active(s->reap_ev, 0, 0);
}

static void
authwait_free(struct authwait *aw)
{
	if (aw == NULL)
		return;
	free(aw->early);
	free(aw->views);
	free(aw);
}

static void
conn_free(struct conn *c)
{
	free(c->hs);
	authwait_free(c->aw);
	ws_in_free(c->in);
	free(c->more);
	free(c);
}

static void
on_reap(evutil_socket_t fd, short what, void *arg)
{
	struct srv *s = arg;
	struct conn *c;

	while ((c = s->reap) != NULL) {
		s->reap = c->ph.next;
		conn_free(c);
	}
	if (s->draining && s->nconns == 0 && s->hooks->drained != NULL)
		s->hooks->drained(s->arg);
}

static void
sent(struct ws_frame *f)
{
	if (f->is_data)
		metrics.frames_sent++;
}

/* Everything queued went out: end blocking; a closing connection now
 * shuts its side down and waits for the peer's end. */
static void
output_empty(struct conn *c)
{
	if (c->writing) {
		event_del(&c->wev);
		c->writing = 0;
	}
	blocked_del(c->s, c);
	if (c->phase == P_CLOSING && c->closing_sent && !c->shut_wr) {
		shutdown(c->fd, SHUT_WR);
		c->shut_wr = 1;
	}
}

static struct ws_frame *
next_frame(struct conn *c)
{
	struct ctrl *q = c->ctrl_head;
	struct ws_frame *f;

	/* Control frames first: a data frame is only ever pending whole. */
	if (q != NULL) {
		c->ctrl_head = q->next;
		if (c->ctrl_head == NULL)
			c->ctrl_tail = NULL;
		c->nctrl--;
		f = q->f;
		free(q);
		return f;
	}
	if (c->npending == 0)
		return NULL;
	/* Roots take turns: a busy one cannot starve the others. */
	for (unsigned k = 0, n = nroots(c); k < n; k++) {
		unsigned i = (c->next_root + k) % n;
		struct root *r = root_at(c, i);

		if (r->pending == NULL)
			continue;
		c->next_root = (unsigned char)((i + 1) % n);
		c->npending--;
		f = r->pending;
		r->pending = NULL;
		/* Being written now: what the next diff must start from. */
		r->have = r->pending_ver;
		r->have_valid = 1;
		return f;
	}
	return NULL;
}

static void
conn_flush(struct conn *c)
{
	int done = 0;	/* a frame was finished */

	for (;;) {
		ssize_t n;

		if (c->cur == NULL) {
			c->cur = next_frame(c);
			c->off = 0;
			if (c->cur == NULL) {
				output_empty(c);
				return;
			}
		}
		n = send(c->fd, c->cur->data + c->off, c->cur->len - c->off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			conn_kill(c, strerror(errno));
			return;
		}
		if (c->ws)
			metrics.bytes_sent += (uint64_t)n;
		c->off += (size_t)n;
		if (c->off == c->cur->len) {
			sent(c->cur);
			out_drop(c->s, c->cur);
			c->cur = NULL;
			done = 1;
		}
	}
	if (!c->writing) {
		event_add(&c->wev, NULL);
		c->writing = 1;
	}
	/* A frame's deadline runs from when it first found the socket full
	 * to its last byte: bytes trickling out do not extend it. */
	if (c->blocked && done)
		blocked_del(c->s, c);
	if (!c->blocked)
		blocked_add(c->s, c);
}

static int
output_idle(const struct conn *c)
{
	return c->cur == NULL && c->ctrl_head == NULL && c->npending == 0;
}

/* Writes f (borrowed) to an idle c at once; what the kernel refuses
 * becomes cur. */
static void
send_now(struct conn *c, struct ws_frame *f)
{
	ssize_t n = send(c->fd, f->data, f->len, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n == (ssize_t)f->len) {
		if (c->ws)
			metrics.bytes_sent += (uint64_t)n;
		sent(f);
		output_empty(c);
		return;
	}
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR) {
		conn_kill(c, strerror(errno));
		return;
	}
	if (n > 0 && c->ws)
		metrics.bytes_sent += (uint64_t)n;
	c->cur = out_hold(c->s, f);
	c->off = n > 0 ? (size_t)n : 0;
	conn_flush(c);
}

/* Queues r's data frame f (borrowed) of version ver: written at once when
 * nothing is queued, else it replaces r's pending frame. */
static void
root_push(struct root *r, struct ws_frame *f, uint32_t ver)
{
	struct conn *c = r->c;

	if (c->dead)
		return;
	if (output_idle(c)) {
		r->have = ver;
		r->have_valid = 1;
		send_now(c, f);
		return;
	}
	if (r->pending != NULL) {
		metrics.conflated++;
		out_drop(c->s, r->pending);
	} else {
		c->npending++;
	}
	r->pending = out_hold(c->s, f);
	r->pending_ver = ver;
}

/* Queues f (borrowed; not a fragment) for c: written at once when nothing
 * is queued. */
static void
conn_push(struct conn *c, struct ws_frame *f)
{
	struct ctrl *q;

	if (c->dead)
		return;
	if (output_idle(c)) {
		send_now(c, f);
		return;
	}
	if (c->nctrl >= CTRL_MAX) {
		conn_kill(c, "control frames pile up unread");
		return;
	}
	q = xmalloc(sizeof(*q));
	q->f = out_hold(c->s, f);
	q->next = NULL;
	if (c->ctrl_tail != NULL)
		c->ctrl_tail->next = q;
	else
		c->ctrl_head = q;
	c->ctrl_tail = q;
	c->nctrl++;
}

static void
on_write(evutil_socket_t fd, short what, void *arg)
{
	conn_flush(arg);
}

/* Leaves the hub and waits for the peer to go; the caller queues the
 * close frame or the answer. */
static void
begin_close(struct conn *c)
{
	roots_end(c);
	drop_pending(c);
	partial_del(c->s, c);
	set_phase(c, P_CLOSING, clock_ms() + SRV_CLOSE_GRACE_MS);
}

static void
conn_close_ws(struct conn *c, uint16_t code, const char *reason)
{
	struct ws_frame *f;

	if (c->dead || c->phase != P_OPEN)
		return;
	log_debug("client %d: closing with %u (%s)", c->fd, code, reason);
	begin_close(c);
	c->closing_sent = 1;
	f = ws_frame_close(code, reason);
	conn_push(c, f);
	ws_frame_unref(f);
}

static const char *
status_text(int status)
{
	switch (status) {
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 414: return "URI Too Long";
	case 426: return "Upgrade Required";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Internal Server Error";
	}
}

/* Answers a plain HTTP request and closes. body may be NULL (HEAD). */
static void
http_reply(struct conn *c, int status, const char *ctype, const char *extra,
    const char *body, size_t len, int head_only)
{
	struct buf b;
	struct ws_frame *f;

	buf_init(&b);
	buf_printf(&b, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\n"
	    "Connection: close\r\n%s\r\n", status, status_text(status), ctype,
	    len, extra != NULL ? extra : "");
	if (!head_only && len > 0)
		buf_append(&b, body, len);
	begin_close(c);
	c->closing_sent = 1;
	f = ws_frame_raw(b.data, b.len);
	buf_cleanup(&b);
	conn_push(c, f);
	ws_frame_unref(f);
}

static void
http_error(struct conn *c, int status, const char *why)
{
	char body[256];
	const char *extra = NULL;
	int n;

	if (status == 426)
		extra = "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n";
	else if (status == 405)
		extra = "Allow: GET\r\n";
	else if (status == 503)
		extra = "Retry-After: 5\r\n";
	n = snprintf(body, sizeof(body), "%s\n", why);
	if (n < 0 || (size_t)n >= sizeof(body))
		n = (int)sizeof(body) - 1;
	log_debug("client %d: %d %s", c->fd, status, why);
	http_reply(c, status, "text/plain; charset=utf-8", extra, body,
	    (size_t)n, 0);
}

static void
ws_out(void *arg, const void *bytes, size_t n)
{
	struct conn *c = arg;
	struct ws_frame *f;

	if (c->dead || c->phase != P_OPEN)
		return;
	f = ws_frame_raw(bytes, n);
	conn_push(c, f);
	ws_frame_unref(f);
}

/* A v2 client's resync: it holds nothing now; each root gets its last
 * snap in full, or the next render's. Returns -1 when it closed c. */
static int
on_resync(void *arg)
{
	struct conn *c = arg;
	struct roots *m = c->more;
	int64_t now = clock_ms();

	if (c->dead || c->phase != P_OPEN)
		return -1;
	if (now - m->resync_at >= 60000) {
		m->resync_at = now;
		m->resyncs = 0;
	}
	if (++m->resyncs > c->s->cfg.max_resyncs) {
		metrics.resync_closes++;
		log_info("client %d: more than %lu resyncs in a minute, "
		    "closing (1008)", c->fd, c->s->cfg.max_resyncs);
		conn_close_ws(c, WS_CLOSE_POLICY, "too many resyncs");
		return -1;
	}
	metrics.resyncs++;
	for (unsigned i = 0; i < nroots(c) && !c->dead && c->phase == P_OPEN;
	    i++) {
		struct root *r = root_at(c, i);
		struct snap *sn = hub_member_snap(&r->m);

		r->have_valid = 0;
		if (sn != NULL)
			srv_send(&r->m, sn);
	}
	return c->dead || c->phase != P_OPEN ? -1 : 0;
}

static void
ws_input(struct conn *c, const char *data, size_t n)
{
	struct srv *s = c->s;
	struct ws_in_opts o = {
		.deflate = (c->snap_flags & SNAP_DEFLATE) != 0,
		.resync = on_resync,
	};
	enum ws_in_state st = ws_in_feed_opts(&c->in, data, n,
	    c->more != NULL ? &o : NULL, ws_out, c);

	if (st != WS_IN_OPEN) {
		if (st == WS_IN_DATA)
			metrics.data_frame_closes++;
		if (!c->dead && c->phase == P_OPEN) {
			/* The reader queued its close (a reply or an
			 * error's); once written, we end our side. */
			begin_close(c);
			c->closing_sent = 1;
			if (c->cur == NULL && c->ctrl_head == NULL)
				output_empty(c);
		}
		return;
	}
	/* The deadline runs while the reader is never between frames at the
	 * end of a read: splitting frames across reads gains no time. */
	if (c->in == NULL)
		partial_del(s, c);
	else if (!c->partial && !c->dead) {
		c->partial_at = clock_ms();
		list_add(&s->partial, c);
		c->partial = 1;
	}
}

/* The address of the client behind c (a trusted proxy's forwarded one).
 * Returns 0, or -1 when it cannot be told. */
static int
client_addr(struct conn *c, const struct hs_parser *p,
    unsigned char a[PEERS_ADDR_LEN])
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getpeername(c->fd, (struct sockaddr *)&ss, &sl) != 0 ||
	    !peers_client_addr(c->s->cfg.peers, (struct sockaddr *)&ss,
	    p->has_forwarded_for ? p->forwarded_for : NULL,
	    p->has_real_ip ? p->real_ip : NULL, a))
		return -1;
	return 0;
}

/* Whether the client behind c is on this host: a proxy on loopback (the
 * web server) is local itself, but what it forwards comes from the client
 * it names, so a site that proxies more than /__realtime cannot publish
 * /metrics. */
static int
client_is_local(struct conn *c, const struct hs_parser *p)
{
	struct sockaddr_in6 six;
	unsigned char a[PEERS_ADDR_LEN];

	if (!c->local)
		return 0;
	if (client_addr(c, p, a) != 0)
		return 1;
	memset(&six, 0, sizeof(six));
	six.sin6_family = AF_INET6;
	memcpy(six.sin6_addr.s6_addr, a, PEERS_ADDR_LEN);
	return addr_is_local((struct sockaddr *)&six);
}

static void
plain_get(struct conn *c, const struct hs_parser *p, enum hs_route r)
{
	struct srv *s = c->s;
	int head = strcmp(p->method, "HEAD") == 0;

	if (!s->cfg.expose && !client_is_local(c, p)) {
		http_error(c, 404, "not found");
		return;
	}
	if (!head && strcmp(p->method, "GET") != 0) {
		http_error(c, 405, "method not allowed");
		return;
	}
	if (r == HS_HEALTHZ) {
		if (s->hooks->healthy(s->arg))
			http_reply(c, 200, "text/plain; charset=utf-8", NULL,
			    "ok\n", 3, head);
		else
			http_reply(c, 503, "text/plain; charset=utf-8", NULL,
			    "LISTEN is down\n", 15, head);
	} else {
		struct buf b;

		buf_init(&b);
		s->hooks->metrics(s->arg, &b);
		http_reply(c, 200, "text/plain; version=0.0.4; charset=utf-8",
		    NULL, b.data, b.len, head);
		buf_cleanup(&b);
	}
}

/* GET /debug/keys: key names tell what pages are open, so loopback clients
 * only, --expose-metrics or not. */
static void
debug_keys(struct conn *c, const struct hs_parser *p)
{
	struct buf b;
	int head = strcmp(p->method, "HEAD") == 0;

	if (!client_is_local(c, p)) {
		http_error(c, 404, "not found");
		return;
	}
	if (!head && strcmp(p->method, "GET") != 0) {
		http_error(c, 405, "method not allowed");
		return;
	}
	buf_init(&b);
	c->s->hooks->debug_keys(c->s->arg, &b);
	http_reply(c, 200, "application/json", NULL, b.data, b.len, head);
	buf_cleanup(&b);
}

/* Counts c against its client address's limit. Returns -1 when that
 * address already has --max-conns-per-addr clients. */
static int
count_address(struct conn *c, const struct hs_parser *p)
{
	struct srv *s = c->s;
	unsigned char a[PEERS_ADDR_LEN];
	char text[64];
	int64_t now;

	if (client_addr(c, p, a) != 0)
		return 0;
	if ((c->peer = peers_join(s->cfg.peers, a, s->cfg.max_per_addr)) != NULL)
		return 0;
	metrics.per_addr_refusals++;
	now = clock_ms();
	if (now - s->addr_logged > 1000) {
		s->addr_logged = now;
		peers_format(a, text, sizeof(text));
		log_warn("%s already has %lu clients (--max-conns-per-addr): "
		    "refusing more with 503; a proxy whose clients all seem "
		    "to come from it needs --trust-proxy", text,
		    s->cfg.max_per_addr);
	}
	return -1;
}

/* Answers 101 and makes c a WebSocket. */
static void
accept_upgrade(struct conn *c, const char *accept)
{
	char resp[256];
	struct ws_frame *f;
	int n;

	/* No context takeover either way: one compressed frame serves
	 * every client, and the client's resync inflates on its own. */
	n = snprintf(resp, sizeof(resp), "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n%s\r\n", accept,
	    (c->snap_flags & SNAP_DEFLATE) ? "Sec-WebSocket-Extensions: "
	    "permessage-deflate; server_no_context_takeover; "
	    "client_no_context_takeover\r\n" : "");
	set_phase(c, P_OPEN, clock_ms() + c->s->cfg.ping_ms);
	c->ws = 1;
	f = ws_frame_raw(resp, (size_t)n);
	conn_push(c, f);
	ws_frame_unref(f);
}

/* Closes c for its root r: v2 reasons name the root's key ("KEY: why"),
 * cut on a UTF-8 boundary to fit a close frame. */
static void
close_root(struct root *r, uint16_t code, const char *why)
{
	struct conn *c = r->c;
	char reason[KEY_MAX + 2 + 126];	/* ws_frame_close cuts it to size */

	if (c->more == NULL || r->vw == NULL) {
		conn_close_ws(c, code, why);
		return;
	}
	snprintf(reason, sizeof(reason), "%s: %s", vw_authz(r->vw)->key, why);
	conn_close_ws(c, code, reason);
}

/* Joins (key, url, view) of r's authorization; closes 4400 past a cap. */
static void
join(struct root *r, const char *view)
{
	struct conn *c = r->c;
	struct srv *s = c->s;
	const struct rnd_authz *a = vw_authz(r->vw);
	int rc;

	rc = hub_join(s->hub, &r->m, a->key, strlen(a->key), a->url,
	    strlen(a->url), view, s->cfg.host != NULL ? s->cfg.host : a->host);
	if (rc == HUB_ETOOMANY) {
		close_root(r, WS_CLOSE_BAD_KEY, "too many urls for this key");
	} else if (rc == HUB_ETOOMANYVIEWS) {
		metrics.view_limit_closes++;
		close_root(r, WS_CLOSE_BAD_KEY,
		    "too many view classes for this url");
	}
}

/* Sends c's authorize request; the upgrade is answered with the verdict.
 * The 101 goes out once the answer is in, not before: no socket is ever
 * open without a view (nothing to join, no heartbeat for a client the app
 * may refuse), and in a reconnect storm the wait is the handshake's, which
 * the browser bounds. Either way a refusal is a 101 followed by the 44xx
 * (or 1011) close, which a browser can read, where an HTTP 4xx would show
 * it only 1006. rest (bytes after the head) is kept for after the 101. */
static void
authorize(struct conn *c, const struct hs_parser *p,
    const struct hs_upgrade *up, const char *rest, size_t restlen)
{
	struct srv *s = c->s;
	unsigned char a[PEERS_ADDR_LEN];
	char addr[64] = "";
	struct buf cookies;
	struct rnd_authz az = {
		.key = up->key,
		.url = up->url,
		.host = p->host,
		.origin = p->has_origin ? p->origin : NULL,
		.authorization = p->has_authorization ? p->authorization : NULL,
	};

	if (client_addr(c, p, a) == 0) {
		peers_format(a, addr, sizeof(addr));
		az.remote_addr = addr;
	}
	buf_init(&cookies);
	if (p->has_cookie && az_pick_cookies(p->cookie, p->cookie_len,
	    s->cfg.forward_cookie, s->cfg.nforward, &cookies) > 0)
		az.cookie = cookies.data;
	c->aw = xcalloc(1, sizeof(*c->aw));
	memcpy(c->aw->accept, up->accept, sizeof(c->aw->accept));
	if (restlen > 0) {
		c->aw->early = xmalloc(restlen);
		memcpy(c->aw->early, rest, restlen);
		c->aw->nearly = restlen;
	}
	set_phase(c, P_AUTH, 0);
	if (up->version == 2) {
		c->snap_flags |= SNAP_V2;
		c->more = xcalloc(1, sizeof(*c->more) +
		    (up->npairs - 1) * sizeof(c->more->r[0]));
		c->more->n = up->npairs - 1;
		c->aw->views = xcalloc(up->npairs, sizeof(*c->aw->views));
	}
	c->nwait = (unsigned char)up->npairs;
	/* One authorization per root, linked: a revoke of one asks again
	 * for all of them. */
	for (unsigned i = 0; i < up->npairs; i++) {
		struct root *r = root_at(c, i);

		r->c = c;
		az.key = up->pairs[i].key;
		az.url = up->pairs[i].url;
		log_debug("client %d authorizing: key=%s url=%s", c->fd,
		    az.key, az.url);
		r->vw = vw_start(s->cfg.vw, &az, r);
		if (i > 0)
			vw_link(c->r0.vw, r->vw);
	}
	if (cookies.data != NULL)
		explicit_bzero(cookies.data, cookies.len);
	buf_cleanup(&cookies);
}

/* Every root of c is authorized: the 101, the joins, then what the
 * client sent meanwhile. */
static void
open_roots(struct conn *c, const char *view0)
{
	struct authwait *aw = c->aw;

	c->aw = NULL;
	accept_upgrade(c, aw->accept);
	for (unsigned i = 0; i < nroots(c) && !c->dead && c->phase == P_OPEN;
	    i++) {
		struct root *r = root_at(c, i);
		const char *view = aw->views != NULL ? aw->views[i] : view0;

		log_debug("client %d connected: key=%s url=%s view=%s", c->fd,
		    vw_authz(r->vw)->key, vw_authz(r->vw)->url, view);
		join(r, view);
	}
	if (aw->nearly > 0 && !c->dead && c->phase == P_OPEN)
		ws_input(c, aw->early, aw->nearly);
	authwait_free(aw);
}

void
srv_authorized(void *owner, const struct az_answer *a, enum vw_why why)
{
	struct root *r = owner;
	struct conn *c = r->c;

	if (c->dead)
		return;
	/* While the upgrade waits for its other pairs, an answered pair may
	 * be asked again (a revoke, a renewal): that answer stands in for
	 * its first one, so a refusal closes and a new view is the one
	 * joined. */
	if (c->phase == P_AUTH && (why == VW_FIRST ? !r->answered :
	    r->answered)) {
		int first = !r->answered;

		r->answered = 1;
		if (a->verdict != AZ_OK) {
			/* The first refusal closes: its root is named. */
			if (why == VW_REVOKE)
				metrics.revoke_closes++;
			accept_upgrade(c, c->aw->accept);
			authwait_free(c->aw);
			c->aw = NULL;
			if (c->dead)
				return;
			log_debug("client %d refused: %u %s", c->fd, a->code,
			    a->reason);
			close_root(r, a->code, a->reason);
			return;
		}
		if (c->aw->views != NULL) {
			unsigned i = r == &c->r0 ? 0 :
			    (unsigned)(r - c->more->r) + 1;

			snprintf(c->aw->views[i], sizeof(c->aw->views[i]), "%s",
			    a->view);
		}
		if (first && --c->nwait == 0)
			open_roots(c, a->view);
		return;
	}
	if (why == VW_FIRST || c->phase != P_OPEN || r->m.url == NULL)
		return;
	if (a->verdict != AZ_OK) {
		if (why == VW_REVOKE)
			metrics.revoke_closes++;
		log_debug("client %d no longer authorized: %u %s", c->fd,
		    a->code, a->reason);
		close_root(r, a->code, a->reason);
		return;
	}
	if (strcmp(a->view, hub_url_view(r->m.url)) == 0)
		return;
	/* Another view: its frame (cached if current, else a render) comes
	 * at once from the join, in full: the new group's diffs start from
	 * another fragment. */
	log_debug("client %d moves to view %s", c->fd, a->view);
	hub_leave(&r->m);
	r->have_valid = 0;
	join(r, a->view);
}

static void
upgrade(struct conn *c, const struct hs_parser *p, const char *rest,
    size_t restlen)
{
	struct srv *s = c->s;
	struct hs_upgrade up;
	const char *why;
	int st;

	if (hs_upgrade_check(p, s->cfg.allow_origin, s->cfg.nallow, &up, &st,
	    &why) != 0 && (up.accept[0] == '\0' || (st != 400 && st != 403))) {
		http_error(c, st, why);
		return;
	}
	if (s->nclients + s->nauth >= s->cfg.max_clients) {
		http_error(c, 503, "too many clients");
		return;
	}
	if (why != NULL) {
		/* A browser sees only 1006 for an HTTP refusal, and retries:
		 * a close code tells it why, and not to. No fragment. */
		log_debug("client %d: %d %s", c->fd, st, why);
		accept_upgrade(c, up.accept);
		conn_close_ws(c, st == 403 ? WS_CLOSE_FORBIDDEN :
		    WS_CLOSE_BAD_KEY, why);
		return;
	}
	if (up.npairs > s->cfg.max_roots) {
		char reason[64];

		metrics.roots_refused++;
		snprintf(reason, sizeof(reason), "too many roots (max %u)",
		    s->cfg.max_roots);
		log_debug("client %d: %s", c->fd, reason);
		accept_upgrade(c, up.accept);
		conn_close_ws(c, WS_CLOSE_BAD_KEY, reason);
		return;
	}
	if (up.deflate && s->cfg.snap->deflate)
		c->snap_flags |= SNAP_DEFLATE;
	if (count_address(c, p) != 0) {
		http_error(c, 503, "too many connections from your address");
		return;
	}
	authorize(c, p, &up, rest, restlen);
}

static void
head_input(struct conn *c, const char *data, size_t n)
{
	struct hs_parser local, *p = c->hs;
	enum hs_rc rc;
	size_t used;

	if (p == NULL) {
		hs_init(&local);
		p = &local;
	}
	rc = hs_feed(p, data, n, &used);
	if (rc == HS_MORE) {
		/* Rare: most heads come in one read. Keep the state. */
		if (c->hs == NULL) {
			c->hs = xmalloc(sizeof(*c->hs));
			memcpy(c->hs, &local, sizeof(local));
		}
		return;
	}
	if (rc != HS_DONE) {
		http_error(c, hs_error_status(rc), rc == HS_ETOOBIG ?
		    "request head larger than 8 KiB" : rc == HS_ETARGET ?
		    "request target too long" : rc == HS_EVERSION ?
		    "HTTP/1.x only" : "malformed request");
	} else {
		enum hs_route r = hs_route(p);

		if (r == HS_REALTIME)
			upgrade(c, p, data + used, n - used);
		else if (r == HS_NOT_FOUND && (strcmp(p->target,
		    "/debug/keys") == 0 || strncmp(p->target, "/debug/keys?",
		    12) == 0))
			debug_keys(c, p);
		else if (r == HS_NOT_FOUND)
			http_error(c, 404, "not found");
		else
			plain_get(c, p, r);
	}
	free(c->hs);
	c->hs = NULL;
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	char buf[4096];
	ssize_t n;

	n = recv(c->fd, buf, sizeof(buf), 0);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR))
			return;
		conn_kill(c, n == 0 ? "peer closed" : strerror(errno));
		return;
	}
	c->last_rx = clock_ms();
	switch (c->phase) {
	case P_HEAD:
		head_input(c, buf, (size_t)n);
		break;
	case P_OPEN:
		ws_input(c, buf, (size_t)n);
		break;
	case P_CLOSING:
		break;		/* the peer's last words are not needed */
	case P_AUTH:
		/* A client may not send before the 101 (RFC 6455 4.1); a
		 * little is kept for after it. */
		if (c->aw->nearly + (size_t)n > EARLY_MAX) {
			conn_kill(c, "sends too much before the handshake "
			    "answer");
			break;
		}
		c->aw->early = xrealloc(c->aw->early, c->aw->nearly + (size_t)n);
		memcpy(c->aw->early + c->aw->nearly, buf, (size_t)n);
		c->aw->nearly += (size_t)n;
		break;
	}
}

static void
conn_new(struct srv *s, int fd, const struct sockaddr *peer)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	int one = 1;

	if (peer->sa_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->s = s;
	c->fd = fd;
	c->local = addr_is_local(peer);
	c->phase = P_HEAD;
	c->due = clock_ms() + SRV_HANDSHAKE_MS;
	c->last_rx = clock_ms();
	list_add(&s->lists[P_HEAD], c);
	s->nconns++;
	event_assign(&c->rev, s->base, fd, EV_READ | EV_PERSIST, on_read, c);
	event_assign(&c->wev, s->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
	if (event_add(&c->rev, NULL) != 0)
		conn_kill(c, "cannot watch the socket");
}

static const char busy_reply[] = "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: text/plain\r\nContent-Length: 14\r\nRetry-After: 5\r\n"
    "Connection: close\r\n\r\nserver is full\n";

/* Past the open-files limit: refuse the next connection outright. */
static int
shed(struct srv *s)
{
	int fd;
	int64_t t = clock_ms();

	if (s->spare_fd < 0)
		return -1;
	close(s->spare_fd);
	s->spare_fd = -1;
	fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd >= 0) {
		/* Best effort: a full socket buffer just loses the text. */
		if (send(fd, busy_reply, sizeof(busy_reply) - 1,
		    MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			log_debug("503 to a shed connection: %s", strerror(errno));
		close(fd);
	}
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (t - s->shed_logged > 1000) {
		s->shed_logged = t;
		log_warn("out of file descriptors with %lu connections: "
		    "refusing new ones with 503", s->nconns);
	}
	return fd >= 0 ? 0 : -1;
}

static void
on_accept_resume(evutil_socket_t fd, short what, void *arg)
{
	struct srv *s = arg;

	if (s->lfd >= 0)
		event_add(s->accept_ev, NULL);
}

/* accept(2) fails and the connection stays queued (not even the spare
 * descriptor could take it, or the kernel is short of memory): the
 * listener stays readable, so stop watching it for a while instead of
 * spinning. */
static void
pause_accepting(struct srv *s, const char *why)
{
	struct timeval tv = { 0, SRV_ACCEPT_PAUSE_MS * 1000 };
	int64_t t = clock_ms();

	if (t - s->pause_logged > 10000) {
		s->pause_logged = t;
		log_warn("accept: %s (%lu connections): not accepting for "
		    "%d ms at a time", why, s->nconns, SRV_ACCEPT_PAUSE_MS);
	}
	metrics.accept_pauses++;
	event_del(s->accept_ev);
	evtimer_add(s->accept_resume, &tv);
}

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct srv *s = arg;

	/* Lost when even /dev/null could not be reopened after a shed. */
	if (s->spare_fd < 0)
		s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd;

		fd = accept4(s->lfd, (struct sockaddr *)&ss, &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if ((errno == EMFILE || errno == ENFILE) && shed(s) == 0)
				continue;
			/* errno is now shed's own accept's: EAGAIN when the
			 * connection went away meanwhile. */
			if (errno == EMFILE || errno == ENFILE)
				pause_accepting(s, "out of file descriptors, "
				    "none to spare");
			else if (errno != EAGAIN && errno != EWOULDBLOCK)
				pause_accepting(s, strerror(errno));
			return;
		}
		if (s->nconns >= s->cfg.max_conns) {
			if (send(fd, busy_reply, sizeof(busy_reply) - 1,
			    MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				log_debug("503 to a refused connection: %s",
				    strerror(errno));
			close(fd);
			continue;
		}
		conn_new(s, fd, (struct sockaddr *)&ss);
	}
}

/* Over the output cap: shed the clients blocked longest (they hold the
 * oldest frames) until under it. A client whose current frame has not
 * begun gets close 1008 in its place; one in mid-frame cannot be sent a
 * close, and is cut. */
static void
on_cap(evutil_socket_t fd, short what, void *arg)
{
	struct srv *s = arg;
	struct conn *c;
	int64_t now = clock_ms();
	unsigned long n = 0;

	while (s->out_bytes > s->cfg.max_output &&
	    (c = s->blocked.head) != NULL) {
		blocked_del(s, c);
		metrics.output_cap_closes++;
		n++;
		if (c->phase == P_OPEN && c->off == 0) {
			out_drop(s, c->cur);
			c->cur = NULL;
			conn_close_ws(c, WS_CLOSE_POLICY,
			    "server output memory is full");
		} else {
			conn_kill(c, "output memory cap");
		}
	}
	if (n > 0 && now - s->cap_logged > 1000) {
		s->cap_logged = now;
		log_warn("output for clients past --max-output: shed %lu slow "
		    "clients", n);
	}
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct srv *s = arg;
	int64_t now = clock_ms();
	struct conn *c;

	while ((c = s->lists[P_HEAD].head) != NULL && c->due <= now)
		conn_kill(c, "no complete request head in 10 s");
	while ((c = s->lists[P_CLOSING].head) != NULL && c->due <= now)
		conn_kill(c, "peer did not end the connection");
	while ((c = s->blocked.head) != NULL &&
	    c->blocked_at + s->cfg.send_timeout_ms <= now) {
		blocked_del(s, c);
		if (c->phase == P_OPEN) {
			metrics.slow_closes++;
			log_info("client %d: a frame not written in %u s, "
			    "closing (1008)", c->fd, s->cfg.send_timeout_ms / 1000);
			conn_close_ws(c, WS_CLOSE_POLICY, "too slow");
		}
	}
	while ((c = s->partial.head) != NULL &&
	    c->partial_at + s->cfg.frame_timeout_ms <= now) {
		partial_del(s, c);
		metrics.frame_timeouts++;
		log_info("client %d: a frame not finished in %u s, closing "
		    "(1008)", c->fd, s->cfg.frame_timeout_ms / 1000);
		conn_close_ws(c, WS_CLOSE_POLICY, "unfinished frame");
	}
	while ((c = s->lists[P_OPEN].head) != NULL && c->due <= now) {
		if (now - c->last_rx >= 2 * (int64_t)s->cfg.ping_ms) {
			conn_kill(c, "silent for two ping intervals");
			continue;
		}
		conn_push(c, s->beat);
		if (!c->dead && c->phase == P_OPEN) {
			list_del(&s->lists[P_OPEN], c);
			c->due = now + s->cfg.ping_ms;
			list_add(&s->lists[P_OPEN], c);
		}
	}
}

/* A unix socket path in use by a live listener is refused (a second
 * instance must not take over); a stale one, left by a killed process,
 * is removed so that bind(2) can take its place. */
static int
unix_path_free(const struct addr *a, const char *path, char *err,
    size_t errlen)
{
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) != 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket", path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	rc = connect(fd, (const struct sockaddr *)&a->sa, a->len);
	close(fd);
	if (rc == 0 || errno != ECONNREFUSED) {
		snprintf(err, errlen, "%s is in use (%s): is another "
		    "keycast-pushd running?", path, rc == 0 ?
		    "a process listens there" : strerror(errno));
		return -1;
	}
	if (unlink(path) != 0) {
		snprintf(err, errlen, "cannot remove the stale socket %s: %s",
		    path, strerror(errno));
		return -1;
	}
	log_info("removed the stale socket %s", path);
	return 0;
}

static int
open_listener(struct srv *s, char *err, size_t errlen)
{
	struct addr a;
	int fd, one = 1;

	if (addr_parse(s->cfg.listen, &a, err, errlen) != 0)
		return -1;
	if (a.sa.ss_family == AF_UNIX) {
		const char *path = ((struct sockaddr_un *)&a.sa)->sun_path;

		if (unix_path_free(&a, path, err, errlen) != 0)
			return -1;
	}
	fd = socket(a.sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (a.sa.ss_family != AF_UNIX)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a.sa, a.len) != 0 ||
	    listen(fd, 4096) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", s->cfg.listen,
		    strerror(errno));
		close(fd);
		return -1;
	}
	if (a.sa.ss_family == AF_UNIX) {
		s->unix_path = xstrdup(((struct sockaddr_un *)&a.sa)->sun_path);
		/* The web server's user reaches it through the group (the
		 * unit's Group=); others, who could read /metrics, do not. */
		if (chmod(s->unix_path, 0660) != 0)
			log_warn("chmod %s: %s", s->unix_path, strerror(errno));
	}
	s->lfd = fd;
	return 0;
}

struct srv *
srv_new(struct event_base *base, struct hub *hub, const struct srv_config *cfg,
    const struct srv_hooks *hooks, void *arg, char *err, size_t errlen)
{
	struct srv *s = xcalloc(1, sizeof(*s));
	struct timeval tick = { 0, TICK_MS * 1000 };

	s->base = base;
	s->hub = hub;
	s->cfg = *cfg;
	s->hooks = hooks;
	s->arg = arg;
	s->lfd = -1;
	for (int p = 0; p < NPHASES; p++)
		s->lists[p].link = offsetof(struct conn, ph);
	s->blocked.link = offsetof(struct conn, bl);
	s->partial.link = offsetof(struct conn, pl);
	if (open_listener(s, err, errlen) != 0) {
		free(s->unix_path);
		free(s);
		return NULL;
	}
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	s->beat = ws_frame_beat();
	s->accept_ev = event_new(base, s->lfd, EV_READ | EV_PERSIST, on_accept, s);
	s->accept_resume = evtimer_new(base, on_accept_resume, s);
	s->tick = event_new(base, -1, EV_PERSIST, on_tick, s);
	s->reap_ev = event_new(base, -1, 0, on_reap, s);
	s->cap_ev = event_new(base, -1, 0, on_cap, s);
	event_add(s->accept_ev, NULL);
	event_add(s->tick, &tick);
	return s;
}

static void
stop_listening(struct srv *s)
{
	if (s->lfd < 0)
		return;
	event_del(s->accept_ev);
	event_del(s->accept_resume);
	close(s->lfd);
	s->lfd = -1;
	if (s->unix_path != NULL)
		unlink(s->unix_path);
}
void
srv_shutdown(struct srv *s)
{
	struct conn *c;

	s->draining = 1;
	stop_listening(s);
	while ((c = s->lists[P_HEAD].head) != NULL)
		conn_kill(c, "shutting down");
	while ((c = s->lists[P_AUTH].head) != NULL)
		conn_kill(c, "shutting down");
	while ((c = s->lists[P_OPEN].head) != NULL)
		conn_close_ws(c, WS_CLOSE_GOING_AWAY, "server shutting down");
	event_active(s->reap_ev, 0, 0);
}

void
srv_free(struct srv *s)
{
	struct conn *c;

	if (s == NULL)
		return;
	stop_listening(s);
	for (int p = 0; p < NPHASES; p++)
		while ((c = s->lists[p].head) != NULL)
			conn_kill(c, "exiting");
	while ((c = s->reap) != NULL) {
		s->reap = c->ph.next;
		conn_free(c);
	}
	if (s->spare_fd >= 0)
		close(s->spare_fd);
	event_free(s->accept_ev);
	event_free(s->accept_resume);
	event_free(s->tick);
	event_free(s->reap_ev);
	event_free(s->cap_ev);
	ws_frame_unref(s->beat);
	free(s->unix_path);
	free(s);
}

unsigned long
srv_authorizing(const struct srv *s)
{
	return s->nauth;
}

unsigned long
srv_clients(const struct srv *s)
{
	return s->nclients;
}

size_t
srv_output_bytes(const struct srv *s)
{
	return s->out_bytes;
}

void
srv_send(struct hub_member *m, struct snap *sn)
{
	struct root *r = container_of(m, struct root, m);
	struct conn *c = r->c;
	struct ws_frame *f;
	int is_diff = 0;

	if (c->dead || c->phase != P_OPEN)
		return;
	/* A v2 client holding this very fragment (a render that changed
	 * nothing: e.g. the header's count when a notify of its key came
	 * from an unrelated change) gets nothing, and a frame still pending
	 * for it is older than what it holds. v1 clients get every render:
	 * they cannot tell us what they hold. */
	if ((c->snap_flags & SNAP_V2) && r->have_valid &&
	    r->have == snap_version(sn)) {
		if (r->pending != NULL) {
			out_drop(c->s, r->pending);
			r->pending = NULL;
			c->npending--;
		}
		metrics.frames_unchanged++;
		return;
	}
	f = snap_frame(sn, c->snap_flags, r->have_valid, r->have, &is_diff);
	if (f == NULL) {
		conn_kill(c, "out of memory for a frame");
		return;
	}
	if (is_diff)
		metrics.frames_sent_diff++;
	else
		metrics.frames_sent_full++;
	root_push(r, f, snap_version(sn));
}

void
srv_close(struct hub_member *m, uint16_t code, const char *reason)
{
	struct root *r = container_of(m, struct root, m);

	close_root(r, code, reason);
}
