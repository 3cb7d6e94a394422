/* The worker processes (worker.h). A connection goes C_CONNECTING ->
 * C_HS (request sent) -> C_OPEN (101 read) -> C_READY (first fragment
 * held) or C_DEAD. Invariants: W.inflight counts connections in
 * C_CONNECTING and C_HS; W.pending counts armed C_READY connections that
 * have not arrived, and reaches 0 exactly once per armed round (then 'D'
 * goes to the master). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include "opt.h"
#include "util.h"
#include "worker.h"
#include "xmalloc.h"

#define RBUF		65536
#define HEAD_MAX	8192
#define FRAME_MAX	(1u << 24)
#define BAD_SHOWN	5		/* refused frames logged per worker */

struct wk_shm shm;

enum cstate { C_CONNECTING, C_HS, C_OPEN, C_READY, C_DEAD };

struct conn {
	int			 fd;
	uint8_t			 state, arrived;
	uint8_t			 deflate;	/* permessage-deflate agreed */
	uint8_t			 resyncing;	/* sent 'r', waits for an F */
	uint16_t		 key;
	struct held_frag	*frag;		/* what it holds; NULL: nothing */
	int64_t			 value_t, value_tk; /* arrival of its value */
	int64_t			 armed;		/* its value when armed */
	int32_t			 frames, frames_at_arm;
	uint32_t		 bytes;		/* data frame bytes since armed */
	char			*pbuf;		/* partial head or frame */
	uint32_t		 plen, pcap;
};

/* One key's handshake request and the root its frames must name. */
struct wk_key {
	char	*req;		/* owned */
	size_t	 reqlen;
	char	 key[257], url[1025];
};

static struct {
	int			 id, ctl, ep;
	long			 base, count, next, inflight, nready, ndead;
	long			 pending;
	int			 ready_sent;
	enum lc_mode		 armed;		/* LC_IDLE: not armed */
	int64_t			 round, final;
	int			 final_known;
	int64_t			 off;		/* realtime - monotonic */
	int64_t			 started;
	struct conn		*c;
	struct wk_key		*k;		/* opt.keys of them */
	struct held_memo	*memo;
	int			 dumped;
	char			 token[48];	/* the scale round's, for this key */
} W;

void
wk_shm_init(long n, int keys, int procs)
{
	size_t per = sizeof(int64_t) * 2 + sizeof(int32_t) + sizeof(uint32_t) * 2 +
	    sizeof(uint8_t);
	size_t sz = per * (size_t)n + sizeof(struct wk_stats) * (size_t)procs +
	    64 + sizeof(uint32_t) * (size_t)keys + 64 +
	    (size_t)WK_SAMPLE_MAX * (size_t)keys;
	char *p = mmap(NULL, sz, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		lc_die("mmap: %s", strerror(errno));
	shm.arr_u = (int64_t *)p;
	shm.arr_k = shm.arr_u + n;
	shm.arr_frames = (int32_t *)(shm.arr_k + n);
	shm.arr_bytes = (uint32_t *)(shm.arr_frames + n);
	shm.arr_ver = shm.arr_bytes + n;
	shm.arr_held = (uint8_t *)(shm.arr_ver + n);
	p = (char *)(shm.arr_held + n);
	p += (8 - (uintptr_t)p % 8) % 8;
	shm.w = (struct wk_stats *)p;
	shm.token = (char *)(shm.w + procs);
	shm.sample_len = (uint32_t *)(shm.token + 64);
	shm.samples = (char *)(shm.sample_len + keys) + 64;
}

void
wk_send(int fd, char op, int64_t val)
{
	struct wk_msg m = { op, val };

	if (send(fd, &m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m))
		lc_die("control send: %s", strerror(errno));
}

/* opt.path with @KEY@ replaced by k, and v=2& first in the query for v2. */
static void
path_of(int k, char *out, size_t cap)
{
	const char *p = opt.path, *at;
	size_t o = 0;

	while (*p && o + 16 < cap) {
		if ((at = strstr(p, "@KEY@")) == p) {
			o += (size_t)snprintf(out + o, cap - o, "%d", k);
			p += 5;
			continue;
		}
		out[o++] = *p;
		if (*p++ == '?' && opt.v2)
			o += (size_t)snprintf(out + o, cap - o, "v=2&");
	}
	out[o] = 0;
}

/* The value of query parameter name in path ("" if absent). */
static void
param(const char *path, const char *name, char *out, size_t cap)
{
	const char *q = strchr(path, '?');
	size_t nl = strlen(name);

	out[0] = 0;
	for (; q != NULL; q = strchr(q + 1, '&')) {
		if (strncmp(q + 1, name, nl) == 0 && q[1 + nl] == '=') {
			const char *v = q + 2 + nl;
			size_t l = strcspn(v, "&");

			snprintf(out, cap, "%.*s", (int)(l < cap ? l : cap - 1), v);
			return;
		}
	}
}

void
wk_root_of(int k, char *key, size_t keycap, char *url, size_t urlcap)
{
	char path[2048];

	path_of(k, path, sizeof(path));
	param(path, "key", key, keycap);
	param(path, "url", url, urlcap);
	if (url[0] == 0)
		snprintf(url, urlcap, "%s", key);
}

static void
keys_init(void)
{
	W.k = xcalloc((size_t)opt.keys, sizeof(*W.k));
	for (int k = 0; k < opt.keys; k++) {
		char path[2048], req[4096];
		int n;

		path_of(k, path, sizeof(path));
		wk_root_of(k, W.k[k].key, sizeof(W.k[k].key), W.k[k].url,
		    sizeof(W.k[k].url));
		n = snprintf(req, sizeof(req),
		    "GET %s HTTP/1.1\r\nHost: %s\r\nOrigin: http://%s\r\n"
		    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		    "Sec-WebSocket-Version: 13\r\n%s\r\n", path, opt.host,
		    opt.host, opt.deflate ? "Sec-WebSocket-Extensions: "
		    "permessage-deflate; client_no_context_takeover; "
		    "server_no_context_takeover\r\n" : "");
		W.k[k].req = xstrndup(req, (size_t)n);
		W.k[k].reqlen = (size_t)n;
	}
}

static void
check_ready(void)
{
	if (!W.ready_sent && W.nready + W.ndead == W.count) {
		W.ready_sent = 1;
		wk_send(W.ctl, WK_READY, W.nready);
	}
}

static void
check_done(void)
{
	if (W.armed != LC_IDLE && W.pending == 0 &&
	    (W.armed != LC_STORM || W.final_known)) {
		W.armed = LC_IDLE;
		wk_send(W.ctl, WK_DONE, 0);
	}
}

static void
conn_dead(struct conn *c, const char *why)
{
	struct wk_stats *s = &shm.w[W.id];

	if (c->state == C_DEAD)
		return;
	if (s->err[0] == 0)
		snprintf(s->err, sizeof(s->err), "%s", why);
	if (c->state == C_READY) {
		s->closed++;
		if (W.armed != LC_IDLE && !c->arrived && W.pending > 0)
			W.pending--;
	} else {
		s->hs_failed++;
		W.ndead++;
		if (c->state == C_CONNECTING || c->state == C_HS)
			W.inflight--;
	}
	if (c->fd >= 0) {
		epoll_ctl(W.ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	c->state = C_DEAD;
	free(c->pbuf);
	c->pbuf = NULL;
	c->plen = c->pcap = 0;
}

static void
arrive(struct conn *c, int64_t tu, int64_t tk)
{
	long i = W.base + (c - W.c);

	c->arrived = 1;
	shm.arr_u[i] = tu;
	shm.arr_k[i] = tk;
	shm.arr_frames[i] = c->frames - c->frames_at_arm;
	shm.arr_bytes[i] = c->bytes;
	W.pending--;
	check_done();
}

static void
dump_first(const struct held_frag *f)
{
	FILE *out;

	if (opt.dump == NULL || W.dumped || W.id != 0)
		return;
	W.dumped = 1;
	if ((out = fopen(opt.dump, "wb")) != NULL) {
		fwrite(f->data, 1, f->len, out);
		fclose(out);
	}
}

/* A masked text frame "r" (zero mask): asks pushd for full fragments. */
static void
send_resync(struct conn *c)
{
	static const unsigned char r[] = { 0x81, 0x81, 0, 0, 0, 0, 'r' };

	c->resyncing = 1;
	shm.w[W.id].resyncs++;
	if (send(c->fd, r, sizeof(r), MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
	    errno != EAGAIN)
		conn_dead(c, "resync send failed");
}

static void
refused(struct conn *c, const char *why)
{
	struct wk_stats *s = &shm.w[W.id];

	if (s->bad++ < BAD_SHOWN)
		fprintf(stderr, "loadclient: worker %d, client %ld: %s\n",
		    W.id, W.base + (c - W.c), why);
	if (s->bad_err[0] == 0)
		snprintf(s->bad_err, sizeof(s->bad_err), "%s", why);
	if (opt.max_failures > 0 && s->bad >= opt.max_failures) {
		fprintf(stderr, "loadclient: worker %d: %lld frames refused "
		    "(--max-failures): the run is void\n", W.id,
		    (long long)s->bad);
		exit(LC_EXIT_REFUSED);
	}
	if (opt.v2)
		send_resync(c);
}

/* Whether the fragment c now holds is the armed round's arrival. */
static int
is_arrival(struct conn *c)
{
	switch (W.armed) {
	case LC_FANOUT: {
		int64_t v = held_value(c->frag, opt.marker);

		return v != c->armed || v == -1;
	}
	case LC_STORM:
		return W.final_known &&
		    held_value(c->frag, opt.marker) == W.final;
	case LC_SCALE: {
		char tok[64];

		snprintf(tok, sizeof(tok), "%s-k%u-e", shm.token, c->key);
		return held_has(c->frag, W.round * LC_MAXKEYS + c->key, tok);
	}
	default:
		return 0;
	}
}

static void
on_data(struct conn *c, int rsv1, const char *p, size_t n, size_t wire,
    int64_t tu, int64_t tk)
{
	struct held_root r = { c->key, W.k[c->key].key, W.k[c->key].url };
	int64_t before;
	char err[240];
	int kind = HELD_V1;

	c->frames++;
	c->bytes += (uint32_t)wire;
	shm.w[W.id].frames++;
	if (rsv1 && !c->deflate) {
		refused(c, "RSV1 frame without permessage-deflate");
		return;
	}
	before = c->frag != NULL && opt.mode != LC_SCALE ?
	    held_value(c->frag, opt.marker) : -1;
	if (held_frame(W.memo, &r, opt.v2, rsv1, p, n, &c->frag, &kind, err,
	    sizeof(err)) != 0) {
		shm.w[W.id].kinds[kind]++;
		if (!c->resyncing)
			refused(c, err);
		return;
	}
	shm.w[W.id].kinds[kind]++;
	if (kind == HELD_F || kind == HELD_FZ)
		c->resyncing = 0;
	if (c->state != C_READY) {
		c->state = C_READY;
		c->value_t = tu;
		c->value_tk = tk;
		W.nready++;
		dump_first(c->frag);
		check_ready();
		return;
	}
	if (opt.mode != LC_SCALE && held_value(c->frag, opt.marker) != before) {
		c->value_t = tu;
		c->value_tk = tk;
	}
	if (!c->arrived && W.armed != LC_IDLE && is_arrival(c))
		arrive(c, tu, tk);
}

static void
send_pong(struct conn *c, const unsigned char *p, size_t n)
{
	unsigned char f[6 + 125];

	if (n > 125)
		n = 125;
	f[0] = 0x8a;
	f[1] = 0x80 | (unsigned char)n;
	memset(f + 2, 0, 4);		/* a zero mask leaves the payload as is */
	memcpy(f + 6, p, n);
	if (send(c->fd, f, 6 + n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
	    errno != EAGAIN)
		conn_dead(c, "pong failed");
	shm.w[W.id].pings++;
}

/* Handles the whole frames at p; returns the bytes used. */
static size_t
parse_frames(struct conn *c, const unsigned char *p, size_t n, int64_t tu,
    int64_t tk)
{
	size_t used = 0;

	while (n - used >= 2) {
		const unsigned char *h = p + used;
		size_t avail = n - used, hl = 2;
		uint64_t len = h[1] & 0x7f;
		int op = h[0] & 0x0f;

		if (h[1] & 0x80) {
			conn_dead(c, "masked frame from the server");
			return n;
		}
		if (!(h[0] & 0x80)) {
			conn_dead(c, "fragmented message (pushd sends none)");
			return n;
		}
		if (len == 126) {
			if (avail < 4)
				break;
			len = ((uint64_t)h[2] << 8) | h[3];
			hl = 4;
		} else if (len == 127) {
			if (avail < 10)
				break;
			len = 0;
			for (int i = 0; i < 8; i++)
				len = (len << 8) | h[2 + i];
			hl = 10;
		}
		if (len > FRAME_MAX) {
			conn_dead(c, "frame too large");
			return n;
		}
		if (avail < hl + len)
			break;
		if (op == 1 || op == 2) {
			/* The empty text frame is the heartbeat. */
			if (len > 0)
				on_data(c, (h[0] & 0x40) != 0,
				    (const char *)h + hl, (size_t)len,
				    hl + (size_t)len, tu, tk);
		} else if (op == 8) {
			char why[160];

			snprintf(why, sizeof(why), "server closed with %d %.*s",
			    len >= 2 ? (h[hl] << 8) | h[hl + 1] : 0,
			    len > 2 ? (int)(len - 2 < 100 ? len - 2 : 100) : 0,
			    (const char *)h + hl + 2);
			conn_dead(c, why);
			return n;
		} else if (op == 9) {
			send_pong(c, h + hl, (size_t)len);
		}
		if (c->state == C_DEAD)
			return n;
		used += hl + (size_t)len;
	}
	return used;
}

static void
keep(struct conn *c, const unsigned char *p, size_t n)
{
	if (n == 0)
		return;
	if (c->plen + n > c->pcap) {
		c->pcap = (uint32_t)((c->plen + n) * 2);
		c->pbuf = xrealloc(c->pbuf, c->pcap);
	}
	memcpy(c->pbuf + c->plen, p, n);
	c->plen += (uint32_t)n;
}

static void
consume(struct conn *c, size_t used)
{
	memmove(c->pbuf, c->pbuf + used, c->plen - used);
	c->plen -= (uint32_t)used;
	if (c->plen == 0) {
		free(c->pbuf);
		c->pbuf = NULL;
		c->pcap = 0;
	}
}

/* The response head: 101, and whether permessage-deflate was agreed. */
static void
on_head(struct conn *c, int64_t tu, int64_t tk)
{
	char *end = memmem(c->pbuf, c->plen, "\r\n\r\n", 4), *p;

	if (end == NULL) {
		if (c->plen > HEAD_MAX)
			conn_dead(c, "response head too large");
		return;
	}
	if (c->plen < 12 || memcmp(c->pbuf + 9, "101", 3) != 0) {
		char why[160];

		snprintf(why, sizeof(why), "handshake refused: %.*s",
		    (int)(c->plen < 60 ? c->plen : 60), c->pbuf);
		for (char *q = why; *q; q++)
			if (*q == '\r' || *q == '\n')
				*q = ' ';
		conn_dead(c, why);
		return;
	}
	for (p = c->pbuf; p < end; p++)
		if (strncasecmp(p, "\nsec-websocket-extensions:", 26) == 0 &&
		    memmem(p, (size_t)(end - p), "permessage-deflate", 18) != NULL)
			c->deflate = 1;
	if (c->deflate && !opt.deflate) {
		conn_dead(c, "permessage-deflate agreed without an offer");
		return;
	}
	c->state = C_OPEN;
	W.inflight--;
	consume(c, (size_t)(end - c->pbuf) + 4);
	if (c->plen > 0) {
		size_t used = parse_frames(c, (unsigned char *)c->pbuf, c->plen,
		    tu, tk);

		if (c->state != C_DEAD)
			consume(c, used);
	}
}

static void
feed(struct conn *c, const unsigned char *p, size_t n, int64_t tu, int64_t tk)
{
	size_t used;

	if (c->state == C_HS) {
		keep(c, p, n);
		on_head(c, tu, tk);
		return;
	}
	if (c->plen == 0) {
		used = parse_frames(c, p, n, tu, tk);
		if (c->state != C_DEAD)
			keep(c, p + used, n - used);
		return;
	}
	keep(c, p, n);
	used = parse_frames(c, (unsigned char *)c->pbuf, c->plen, tu, tk);
	if (c->state != C_DEAD)
		consume(c, used);
}

static void
start_conn(struct conn *c)
{
	struct epoll_event ev;
	int fd, one = 1;

	c->fd = -1;
	c->state = C_CONNECTING;
	W.inflight++;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		conn_dead(c, strerror(errno));
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	c->fd = fd;
	if (connect(fd, (struct sockaddr *)&opt.connect,
	    sizeof(opt.connect)) != 0 && errno != EINPROGRESS) {
		conn_dead(c, strerror(errno));
		return;
	}
	ev.events = EPOLLOUT | EPOLLIN;
	ev.data.ptr = c;
	epoll_ctl(W.ep, EPOLL_CTL_ADD, fd, &ev);
}

static void
start_more(void)
{
	while (W.inflight < opt.inflight && W.next < W.count)
		start_conn(&W.c[W.next++]);
}

static void
send_request(struct conn *c)
{
	const struct wk_key *k = &W.k[c->key];
	struct epoll_event ev;

	if (send(c->fd, k->req, k->reqlen, MSG_NOSIGNAL) !=
	    (ssize_t)k->reqlen) {
		conn_dead(c, "handshake send failed");
		return;
	}
	c->state = C_HS;
	ev.events = EPOLLIN;
	ev.data.ptr = c;
	epoll_ctl(W.ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void
on_conn_event(struct conn *c, uint32_t events)
{
	static unsigned char buf[RBUF];
	union {
		char		buf[CMSG_SPACE(sizeof(struct timespec)) + 64];
		struct cmsghdr	align;
	} cb;

	if (c->state == C_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof(err);

		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err != 0)
			conn_dead(c, strerror(err));
		else
			send_request(c);
		return;
	}
	for (;;) {
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { 0 };
		struct cmsghdr *cm;
		ssize_t n;
		int64_t tu, tk;

		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cb.buf;
		mh.msg_controllen = sizeof(cb.buf);
		n = recvmsg(c->fd, &mh, MSG_DONTWAIT);
		tu = tk = lc_mono_ns();
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				conn_dead(c, strerror(errno));
			return;
		}
		if (n == 0) {
			conn_dead(c, "server closed the connection");
			return;
		}
		for (cm = CMSG_FIRSTHDR(&mh); cm != NULL;
		    cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET &&
			    cm->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec ts;

				memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
				tk = (int64_t)ts.tv_sec * 1000000000 +
				    ts.tv_nsec - W.off;
			}
		feed(c, buf, (size_t)n, tu, tk);
		if (c->state == C_DEAD || (size_t)n < sizeof(buf))
			return;
	}
}

static void
arm(enum lc_mode mode, int64_t round)
{
	W.off = lc_real_minus_mono();
	W.armed = mode;
	W.round = round;
	W.final_known = 0;
	W.pending = 0;
	memset(shm.w[W.id].kinds, 0, sizeof(shm.w[W.id].kinds));
	for (long i = 0; i < W.count; i++) {
		struct conn *c = &W.c[i];
		long g = W.base + i;

		shm.arr_u[g] = shm.arr_k[g] = 0;
		shm.arr_frames[g] = 0;
		shm.arr_bytes[g] = 0;
		if (c->state != C_READY)
			continue;
		c->arrived = 0;
		c->armed = mode == LC_SCALE ? 0 : held_value(c->frag, opt.marker);
		c->frames_at_arm = c->frames;
		c->bytes = 0;
		W.pending++;
	}
}

/* A storm's final value is known: clients showing it already arrived
 * when they first showed it. */
static void
final_known(int64_t final)
{
	W.final = final;
	W.final_known = 1;
	for (long i = 0; i < W.count; i++) {
		struct conn *c = &W.c[i];

		if (c->state == C_READY && !c->arrived &&
		    held_value(c->frag, opt.marker) == final) {
			c->arrived = 1;
			shm.arr_u[W.base + i] = c->value_t;
			shm.arr_k[W.base + i] = c->value_tk;
			shm.arr_frames[W.base + i] = c->frames - c->frames_at_arm;
			shm.arr_bytes[W.base + i] = c->bytes;
			W.pending--;
		}
	}
	check_done();
}

static void
give_up(void)
{
	for (long i = 0; i < W.count; i++) {
		struct conn *c = &W.c[i];

		if (c->state == C_READY && !c->arrived) {
			fprintf(stderr, "loadclient: worker %d: %ld clients "
			    "missing, e.g. client %ld after %d frames\n", W.id,
			    W.pending, W.base + i, c->frames - c->frames_at_arm);
			break;
		}
	}
	if (W.armed != LC_IDLE) {
		W.armed = LC_IDLE;
		wk_send(W.ctl, WK_DONE, W.pending);
	}
}

/* Publishes each client's held version, and the fragment of each key's
 * first client. */
static void
publish_held(void)
{
	for (long i = 0; i < W.count; i++) {
		struct conn *c = &W.c[i];
		long g = W.base + i;

		shm.arr_held[g] = c->state == C_READY && c->frag != NULL &&
		    !c->resyncing;
		shm.arr_ver[g] = c->frag != NULL ? c->frag->version : 0;
		if (g < opt.keys && c->frag != NULL) {
			size_t l = c->frag->len < WK_SAMPLE_MAX ? c->frag->len :
			    WK_SAMPLE_MAX;

			memcpy(shm.samples + (size_t)g * WK_SAMPLE_MAX,
			    c->frag->data, l);
			shm.sample_len[g] = (uint32_t)l;
		}
	}
}

static void
quit(void)
{
	struct linger lg = { 1, 0 };

	/* Reset rather than FIN: no TIME_WAIT piles up over runs. */
	for (long i = 0; i < W.count; i++)
		if (W.c[i].fd >= 0) {
			setsockopt(W.c[i].fd, SOL_SOCKET, SO_LINGER, &lg,
			    sizeof(lg));
			close(W.c[i].fd);
		}
	exit(0);
}

static void
on_ctl(void)
{
	struct wk_msg m;

	if (recv(W.ctl, &m, sizeof(m), 0) != (ssize_t)sizeof(m))
		exit(0);
	switch (m.op) {
	case WK_ARM:
	case WK_STORM:
		arm(m.op == WK_STORM ? LC_STORM : opt.mode, m.val);
		wk_send(W.ctl, m.op == WK_STORM ? 's' : 'a', W.pending);
		check_done();
		break;
	case WK_FINAL:
		final_known(m.val);
		break;
	case WK_GIVEUP:
		give_up();
		break;
	case WK_VERIFY:
		publish_held();
		wk_send(W.ctl, 'v', 0);
		break;
	case WK_QUIT:
		quit();
	}
}

void
wk_main(int id, int ctl, long base, long count)
{
	struct epoll_event ev, evs[512];

	memset(&W, 0, sizeof(W));
	W.id = id;
	W.ctl = ctl;
	W.base = base;
	W.count = count;
	W.off = lc_real_minus_mono();
	W.started = lc_mono_ns();
	W.memo = held_memo_new();
	W.c = xcalloc((size_t)(count > 0 ? count : 1), sizeof(*W.c));
	for (long i = 0; i < count; i++) {
		W.c[i].fd = -1;
		W.c[i].key = (uint16_t)((base + i) % opt.keys);
	}
	keys_init();
	W.ep = epoll_create1(EPOLL_CLOEXEC);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(W.ep, EPOLL_CTL_ADD, ctl, &ev);
	start_more();
	check_ready();
	for (;;) {
		int n = epoll_wait(W.ep, evs, 512, 1000);

		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL)
				on_ctl();
			else
				on_conn_event(evs[i].data.ptr, evs[i].events);
		}
		start_more();
		check_ready();
		check_done();
		/* Past the connect timeout, report who is ready. */
		if (!W.ready_sent && lc_mono_ns() - W.started >
		    (int64_t)opt.connect_timeout_s * 1000000000) {
			W.ready_sent = 1;
			wk_send(W.ctl, WK_READY, W.nready);
		}
	}
}
