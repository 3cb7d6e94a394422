/* Fan-out load client for bench/fanout.sh.
 *
 * A master process forks --procs workers (open files are capped at 20,000
 * per process here); each worker opens its share of the N WebSocket
 * connections with raw non-blocking sockets and one epoll loop, completes
 * the handshakes (at most --inflight at a time) and waits until every
 * connection has its first fragment. Then, per round, the master arms the
 * workers (each connection remembers the value it shows), takes t0 from
 * CLOCK_MONOTONIC (one clock for all processes of the machine) and fires
 * the mutation from its own epoll loop:
 *
 *   fanout  one HTTP request (POST /api/counter/increment, a publish, the
 *           floor's trigger) written on a kept-alive connection;
 *   storm   --storm-n commits in one burst: either --storm-n pipelined
 *           HTTP publishes, or (--pg) one libpq query string of --storm-n
 *           separate transactions, as the integration test does;
 *   idle    no mutation: the connections are opened and held, the watched
 *           processes' RSS is read before and after.
 *
 * Each connection timestamps the arrival of the new fragment twice: in
 * user space (CLOCK_MONOTONIC right after recvmsg) and in the kernel
 * (SO_TIMESTAMPNS: when loopback handed the segment to TCP, which happens
 * inside the server's send; converted from CLOCK_REALTIME). The gap
 * between the two is this client's own delay. The "value" of a fragment is
 * the integer after --marker (the counter page's <output>); a fan-out
 * arrival is the first fragment whose value differs from the armed one; a
 * storm arrival is the first fragment carrying the final value.
 *
 * Around each round the master reads, for every --watch NAME:PID, the CPU
 * time of all its threads and their time runnable but waiting for a CPU
 * (/proc/PID/task/ * /schedstat, ns), utime and
 * stime (/proc/PID/stat, clock ticks) and VmRSS, and the same for the
 * workers and the whole machine (/proc/stat). One JSON line per round goes
 * to stdout. With --pg the master also LISTENs on the channel, so a round
 * reports when the commit's notification reached a listener ("notify").
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <libpq-fe.h>

#define MAXPROCS	16
#define MAXWATCH	16
#define RBUF		65536

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "loadclient: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static int64_t
mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int64_t
real_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* realtime - monotonic, sampled tightly (the smallest bracket of 5). */
static int64_t
real_minus_mono(void)
{
	int64_t best = 0, bestw = INT64_MAX;

	for (int i = 0; i < 5; i++) {
		int64_t a = mono_ns(), r = real_ns(), b = mono_ns();

		if (b - a < bestw) {
			bestw = b - a;
			best = r - (a + (b - a) / 2);
		}
	}
	return best;
}

/* ---- options ---- */

static struct {
	const char	*label;
	const char	*mode;		/* fanout, storm, idle */
	struct sockaddr_in connect;
	const char	*path;
	char		 host[128];	/* Host header; Origin http://host */
	long		 n;
	int		 procs;
	int		 inflight;
	int		 rounds;
	int		 warmup;	/* unreported rounds first */
	int		 gap_ms;
	int		 timeout_s;
	struct sockaddr_in trigger;
	char		 thost[128];	/* the trigger's Host and Origin */
	int		 have_trigger;
	const char	*method;
	const char	*target;
	char		 theaders[1024];
	char		*body_tpl;	/* @COUNT@ becomes the value */
	long		 count;		/* next value to publish */
	int		 publish_initial;
	const char	*pg;		/* conninfo: LISTEN and the SQL storm */
	int		 pg_commit_ts;	/* read the commit timestamp */
	const char	*channel;
	int		 storm_n;
	const char	*marker;
	const char	*dump;
	const char	*perf_ctl;	/* "CTL:ACK" fifos of perf record --control */
	int		 nwatch;
	char		 wname[MAXWATCH][32];
	int		 wpid[MAXWATCH];
} opt;

static void
parse_addr(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
		die("bad address %s (HOST:PORT)", s);
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		die("bad host %s", host);
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *b;
	long n;

	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc((size_t)n + 1);
	if (fread(b, 1, (size_t)n, f) != (size_t)n)
		die("%s: short read", path);
	b[n] = 0;
	fclose(f);
	return b;
}

static void
usage(void)
{
	fprintf(stderr,
"usage: loadclient --connect HOST:PORT -n N [options]\n"
"  --label NAME --mode fanout|storm|idle --path TARGET --host HOSTHDR\n"
"  --procs P --inflight K --rounds R --gap MS --timeout S\n"
"  --trigger HOST:PORT --method M --target PATH --header 'H: v' (repeat)\n"
"  --body-template FILE (@COUNT@ = value) --count C --publish-initial\n"
"  --pg CONNINFO --commit-ts --channel NAME --storm-n K --marker STR\n"
"  --dump FILE --warmup K --perf-ctl CTLFIFO:ACKFIFO\n"
"  --watch NAME:PID (repeat)\n");
	exit(2);
}

/* ---- shared memory between master and workers ---- */

struct wshared {
	int64_t		frames;		/* data frames received */
	int64_t		hs_failed;
	int64_t		closed;		/* ready connections lost */
	int64_t		pings;
	char		err[160];
};

static int64_t *arr_u, *arr_k;		/* per connection, per round */
static int32_t *arr_frames;		/* storm: frames up to the final */
static struct wshared *wsh;

struct msg {
	char	op;
	int64_t	val;
};

static void
send_msg(int fd, char op, int64_t val)
{
	struct msg m = { op, val };

	if (send(fd, &m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m))
		die("control send: %s", strerror(errno));
}

/* ---- worker ---- */

enum cstate { C_NEW, C_CONNECTING, C_HS, C_OPEN, C_READY, C_DEAD };

struct conn {
	int		fd;
	uint8_t		state;
	uint8_t		arrived;
	uint8_t		retries;
	int64_t		value;		/* last value seen */
	int64_t		value_t, value_tk;	/* arrival of that value */
	int64_t		armed;
	int32_t		frames, frames_at_arm;
	char		*pbuf;		/* partial head or frame */
	uint32_t	plen, pcap;
};

static struct {
	int		 id, ctl, ep;
	long		 base, count;
	struct conn	*c;
	long		 next;		/* next connection to start */
	long		 inflight, nready, ndead;
	int		 ready_sent;
	int		 mode;		/* 0 none, 1 fanout armed, 2 storm */
	int64_t		 final;
	int		 final_known;
	long		 pending;
	int64_t		 armed_at;
	int64_t		 off;		/* realtime - monotonic */
	char		 req[1024];
	size_t		 reqlen;
	int		 dumped;
	size_t		 mlen;
} W;

static int64_t
parse_value(const char *p, size_t n)
{
	const char *m = memmem(p, n, opt.marker, W.mlen);
	int64_t v = 0;
	int neg = 0, any = 0;

	if (m == NULL)
		return -1;
	m += W.mlen;
	if (m < p + n && *m == '-') {
		neg = 1;
		m++;
	}
	while (m < p + n && isdigit((unsigned char)*m)) {
		v = v * 10 + (*m - '0');
		m++;
		any = 1;
	}
	if (!any)
		return -1;
	return neg ? -v : v;
}

static void
conn_dead(struct conn *c, const char *why)
{
	struct wshared *s = &wsh[W.id];

	if (c->state == C_DEAD)
		return;
	if (s->err[0] == 0)
		snprintf(s->err, sizeof(s->err), "%s", why);
	if (c->state == C_READY) {
		s->closed++;
		if (W.mode != 0 && !c->arrived && W.pending > 0)
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
check_ready(void)
{
	if (!W.ready_sent && W.nready + W.ndead == W.count) {
		W.ready_sent = 1;
		send_msg(W.ctl, 'R', W.nready);
	}
}

static void
check_done(void)
{
	if (W.mode != 0 && W.pending == 0 && (W.mode == 1 || W.final_known)) {
		W.mode = 0;
		send_msg(W.ctl, 'D', 0);
	}
}

static void
arrive(struct conn *c, int64_t tu, int64_t tk)
{
	long i = W.base + (c - W.c);

	c->arrived = 1;
	arr_u[i] = tu;
	arr_k[i] = tk;
	arr_frames[i] = c->frames - c->frames_at_arm;
	W.pending--;
	check_done();
}

static void
on_data(struct conn *c, const char *p, size_t n, int64_t tu, int64_t tk)
{
	int64_t v = parse_value(p, n);

	c->frames++;
	wsh[W.id].frames++;
	if (c->state != C_READY) {
		c->state = C_READY;
		c->value = v;
		c->value_t = tu;
		c->value_tk = tk;
		W.nready++;
		if (opt.dump != NULL && !W.dumped && W.id == 0) {
			FILE *f = fopen(opt.dump, "wb");

			W.dumped = 1;
			if (f != NULL) {
				fwrite(p, 1, n, f);
				fclose(f);
			}
		}
		check_ready();
		return;
	}
	if (v != c->value || v == -1) {
		c->value = v;
		c->value_t = tu;
		c->value_tk = tk;
	}
	if (c->arrived)
		return;
	if (W.mode == 1 && (v != c->armed || v == -1))
		arrive(c, tu, tk);
	else if (W.mode == 2 && W.final_known && v == W.final)
		arrive(c, tu, tk);
}

static void
send_pong(struct conn *c, const unsigned char *p, size_t n)
{
	unsigned char f[2 + 4 + 125];

	if (n > 125)
		n = 125;
	f[0] = 0x8a;
	f[1] = 0x80 | (unsigned char)n;
	memset(f + 2, 0, 4);		/* a zero mask leaves the payload as is */
	memcpy(f + 6, p, n);
	if (send(c->fd, f, 6 + n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
	    errno != EAGAIN)
		conn_dead(c, "pong failed");
	wsh[W.id].pings++;
}

/* Parses whole frames from p; returns the bytes used. */
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
		if (len > (1u << 24)) {
			conn_dead(c, "frame too large");
			return n;
		}
		if (avail < hl + len)
			break;
		switch (op) {
		case 1: case 2:
			on_data(c, (const char *)h + hl, (size_t)len, tu, tk);
			break;
		case 8: {
			char why[64];

			snprintf(why, sizeof(why), "server closed with %d",
			    len >= 2 ? (h[hl] << 8) | h[hl + 1] : 0);
			conn_dead(c, why);
			return n;
		}
		case 9:
			send_pong(c, h + hl, (size_t)len);
			break;
		default:
			break;
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
		c->pbuf = realloc(c->pbuf, c->pcap);
	}
	memcpy(c->pbuf + c->plen, p, n);
	c->plen += (uint32_t)n;
}

static void
feed(struct conn *c, const unsigned char *p, size_t n, int64_t tu, int64_t tk)
{
	size_t used;

	if (c->plen == 0) {
		used = parse_frames(c, p, n, tu, tk);
		if (c->state != C_DEAD)
			keep(c, p + used, n - used);
		return;
	}
	keep(c, p, n);
	used = parse_frames(c, (unsigned char *)c->pbuf, c->plen, tu, tk);
	if (c->state != C_DEAD) {
		memmove(c->pbuf, c->pbuf + used, c->plen - used);
		c->plen -= (uint32_t)used;
	}
}

static void start_more(void);

static void
on_head(struct conn *c, const unsigned char *p, size_t n, int64_t tu, int64_t tk)
{
	char *end;
	size_t hl;

	keep(c, p, n);
	end = memmem(c->pbuf, c->plen, "\r\n\r\n", 4);
	if (end == NULL) {
		if (c->plen > 8192)
			conn_dead(c, "response head too large");
		return;
	}
	hl = (size_t)(end - c->pbuf) + 4;
	if (c->plen < 12 || memcmp(c->pbuf + 9, "101", 3) != 0) {
		char why[160];
		size_t l = c->plen < 60 ? c->plen : 60;

		snprintf(why, sizeof(why), "handshake refused: %.*s", (int)l,
		    c->pbuf);
		for (char *q = why; *q; q++)
			if (*q == '\r' || *q == '\n')
				*q = ' ';
		conn_dead(c, why);
		start_more();
		check_ready();
		return;
	}
	c->state = C_OPEN;
	W.inflight--;
	memmove(c->pbuf, c->pbuf + hl, c->plen - hl);
	c->plen -= (uint32_t)hl;
	if (c->plen > 0) {
		size_t used = parse_frames(c, (unsigned char *)c->pbuf, c->plen,
		    tu, tk);

		if (c->state != C_DEAD) {
			memmove(c->pbuf, c->pbuf + used, c->plen - used);
			c->plen -= (uint32_t)used;
		}
	}
	if (c->plen == 0) {
		free(c->pbuf);
		c->pbuf = NULL;
		c->pcap = 0;
	}
	start_more();
}

static void
start_conn(struct conn *c)
{
	struct epoll_event ev;
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		c->fd = -1;
		c->state = C_CONNECTING;
		W.inflight++;
		conn_dead(c, strerror(errno));
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	c->fd = fd;
	c->state = C_CONNECTING;
	W.inflight++;
	if (connect(fd, (struct sockaddr *)&opt.connect, sizeof(opt.connect)) != 0 &&
	    errno != EINPROGRESS) {
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
on_conn_event(struct conn *c, uint32_t events)
{
	unsigned char buf[RBUF];
	union {
		char		buf[CMSG_SPACE(sizeof(struct timespec)) + 64];
		struct cmsghdr	align;
	} cb;

	if (c->state == C_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof(err);
		struct epoll_event ev;

		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err != 0) {
			conn_dead(c, strerror(err));
			start_more();
			check_ready();
			return;
		}
		if (send(c->fd, W.req, W.reqlen, MSG_NOSIGNAL) != (ssize_t)W.reqlen) {
			conn_dead(c, "handshake send failed");
			start_more();
			check_ready();
			return;
		}
		c->state = C_HS;
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		epoll_ctl(W.ep, EPOLL_CTL_MOD, c->fd, &ev);
		return;
	}
	for (;;) {
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { 0 };
		struct cmsghdr *cm;
		ssize_t n;
		int64_t tu, tk = 0;

		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cb.buf;
		mh.msg_controllen = sizeof(cb.buf);
		n = recvmsg(c->fd, &mh, MSG_DONTWAIT);
		tu = mono_ns();
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			conn_dead(c, strerror(errno));
			break;
		}
		if (n == 0) {
			conn_dead(c, "server closed the connection");
			break;
		}
		for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level == SOL_SOCKET &&
			    cm->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec ts;

				memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
				tk = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - W.off;
			}
		}
		if (c->state == C_HS)
			on_head(c, buf, (size_t)n, tu, tk);
		else
			feed(c, buf, (size_t)n, tu, tk);
		if (c->state == C_DEAD)
			break;
		if ((size_t)n < sizeof(buf))
			return;
	}
	start_more();
	check_ready();
	check_done();
}

static void
on_ctl(void)
{
	struct msg m;
	ssize_t n = recv(W.ctl, &m, sizeof(m), 0);

	if (n <= 0)
		exit(0);
	switch (m.op) {
	case 'A':
	case 'S':
		W.off = real_minus_mono();
		W.mode = m.op == 'A' ? 1 : 2;
		W.final_known = 0;
		W.pending = 0;
		W.armed_at = mono_ns();
		for (long i = 0; i < W.count; i++) {
			struct conn *c = &W.c[i];

			arr_u[W.base + i] = 0;
			arr_k[W.base + i] = 0;
			arr_frames[W.base + i] = 0;
			if (c->state != C_READY)
				continue;
			c->arrived = 0;
			c->armed = c->value;
			c->frames_at_arm = c->frames;
			W.pending++;
		}
		send_msg(W.ctl, m.op == 'A' ? 'a' : 's', W.pending);
		if (W.pending == 0 && m.op == 'A') {
			W.mode = 0;
			send_msg(W.ctl, 'D', 0);
		}
		break;
	case 'F':
		W.final = m.val;
		W.final_known = 1;
		for (long i = 0; i < W.count; i++) {
			struct conn *c = &W.c[i];

			if (c->state == C_READY && !c->arrived && c->value == W.final) {
				c->arrived = 1;
				arr_u[W.base + i] = c->value_t;
				arr_k[W.base + i] = c->value_tk;
				arr_frames[W.base + i] = c->frames - c->frames_at_arm;
				W.pending--;
			}
		}
		check_done();
		break;
	case 'T':		/* the master gave up waiting */
		for (long i = 0; i < W.count; i++) {
			struct conn *c = &W.c[i];

			if (c->state == C_READY && !c->arrived) {
				fprintf(stderr, "loadclient: worker %d: %ld clients "
				    "missing, e.g. one showing %lld after %d frames "
				    "(waiting for %s %lld)\n", W.id, W.pending,
				    (long long)c->value, c->frames - c->frames_at_arm,
				    W.mode == 2 ? "the final" : "a value other than",
				    (long long)(W.mode == 2 ? W.final : c->armed));
				break;
			}
		}
		if (W.mode != 0) {
			W.mode = 0;
			send_msg(W.ctl, 'D', W.pending);
		}
		break;
	case 'Q': {
		struct linger lg = { 1, 0 };

		/* Reset rather than FIN: no TIME_WAIT piles up over rounds. */
		for (long i = 0; i < W.count; i++)
			if (W.c[i].fd >= 0 && W.c[i].state != C_DEAD) {
				setsockopt(W.c[i].fd, SOL_SOCKET, SO_LINGER, &lg,
				    sizeof(lg));
				close(W.c[i].fd);
			}
		exit(0);
	}
	}
}

static void
worker(int id, int ctl, long base, long count)
{
	struct epoll_event ev, evs[512];
	int64_t started = mono_ns();

	memset(&W, 0, sizeof(W));
	W.id = id;
	W.ctl = ctl;
	W.base = base;
	W.count = count;
	W.mlen = strlen(opt.marker);
	W.off = real_minus_mono();
	W.c = calloc((size_t)count, sizeof(*W.c));
	for (long i = 0; i < count; i++)
		W.c[i].fd = -1;
	W.reqlen = (size_t)snprintf(W.req, sizeof(W.req),
	    "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\nOrigin: http://%s\r\n\r\n",
	    opt.path, opt.host, opt.host);
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
		if (!W.ready_sent &&
		    mono_ns() - started > (int64_t)opt.timeout_s * 1000000000) {
			W.ready_sent = 1;
			send_msg(W.ctl, 'R', W.nready);
		}
	}
}

/* ---- master ---- */

struct cpu {
	int64_t	ns;		/* all threads' time on a CPU */
	int64_t	wait_ns;	/* and runnable but waiting for one */
	long	ut, st;		/* clock ticks */
	long	rss_kb;
};

static void
read_cpu(int pid, struct cpu *c)
{
	char path[64], buf[1024];
	DIR *d;
	struct dirent *de;
	FILE *f;

	memset(c, 0, sizeof(*c));
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if ((d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			char p2[300];
			long long run, wait;

			if (de->d_name[0] == '.')
				continue;
			snprintf(p2, sizeof(p2), "/proc/%d/task/%s/schedstat", pid,
			    de->d_name);
			if ((f = fopen(p2, "r")) != NULL) {
				if (fscanf(f, "%lld %lld", &run, &wait) == 2) {
					c->ns += run;
					c->wait_ns += wait;
				}
				fclose(f);
			}
		}
		closedir(d);
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) != NULL) {
		if (fgets(buf, sizeof(buf), f) != NULL) {
			char *p = strrchr(buf, ')');
			unsigned long ut = 0, st = 0;

			/* after ")": state ppid pgrp session tty tpgid flags
			 * minflt cminflt majflt cmajflt utime stime */
			if (p != NULL && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u "
			    "%*u %*u %*u %*u %lu %lu", &ut, &st) == 2) {
				c->ut = (long)ut;
				c->st = (long)st;
			}
		}
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((f = fopen(path, "r")) != NULL) {
		while (fgets(buf, sizeof(buf), f) != NULL)
			if (strncmp(buf, "VmRSS:", 6) == 0)
				c->rss_kb = atol(buf + 6);
		fclose(f);
	}
}

/* The machine: busy and total jiffies of all CPUs. */
static void
read_machine(long long *busy, long long *total)
{
	FILE *f = fopen("/proc/stat", "r");
	long long v[10] = { 0 };

	*busy = *total = 0;
	if (f == NULL)
		return;
	if (fscanf(f, "cpu %lld %lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1],
	    &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
		for (int i = 0; i < 8; i++)
			*total += v[i];
		*busy = *total - v[3] - v[4];
	}
	fclose(f);
}

struct sample {
	struct cpu	w[MAXWATCH];
	struct cpu	client[MAXPROCS + 1];
	long long	busy, total;
	int64_t		t;
};

static int nprocs;
static pid_t kids[MAXPROCS];
static int ctl[MAXPROCS];

static void
take_sample(struct sample *s)
{
	for (int i = 0; i < opt.nwatch; i++)
		read_cpu(opt.wpid[i], &s->w[i]);
	for (int i = 0; i < nprocs; i++)
		read_cpu(kids[i], &s->client[i]);
	read_cpu(getpid(), &s->client[nprocs]);
	read_machine(&s->busy, &s->total);
	s->t = mono_ns();
}

static struct {
	int		 ep;
	int		 tfd;		/* trigger connection */
	char		*out;		/* unsent request bytes */
	size_t		 outlen, outoff;
	char		*in;
	size_t		 inlen, incap;
	long		 want_resp, got_resp;
	int64_t		 first_resp_t, last_resp_t;
	int		 last_status;
	PGconn		*listen, *burst;
	int64_t		 t0;
	int64_t		 notify_first, notify_last;
	long		 notifies;
	int		 burst_busy;
	int64_t		 commit_t;	/* the last commit (commit timestamp) */
	int64_t		 burst_done_t;
	int64_t		 burst_final;
	int		 replies[MAXPROCS];
	long		 rvals[MAXPROCS];
} M;

enum { EV_TRIGGER = 1, EV_LISTEN, EV_BURST, EV_CTL0 = 100 };

static void
trig_connect(void)
{
	struct epoll_event ev;
	int one = 1;

	if (M.tfd >= 0) {
		epoll_ctl(M.ep, EPOLL_CTL_DEL, M.tfd, NULL);
		close(M.tfd);
	}
	M.tfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(M.tfd, (struct sockaddr *)&opt.trigger, sizeof(opt.trigger)) != 0)
		die("trigger connect: %s", strerror(errno));
	setsockopt(M.tfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(M.tfd, F_SETFL, O_NONBLOCK);
	ev.events = EPOLLIN;
	ev.data.u64 = EV_TRIGGER;
	epoll_ctl(M.ep, EPOLL_CTL_ADD, M.tfd, &ev);
	M.inlen = 0;
}

/* Appends one request for value v to the pending output. */
static void
add_request(long v)
{
	char body[65536], num[32], head[2048];
	size_t bl = 0, hl;

	if (opt.body_tpl != NULL) {
		const char *p = opt.body_tpl, *q;

		snprintf(num, sizeof(num), "%ld", v);
		while ((q = strstr(p, "@COUNT@")) != NULL) {
			memcpy(body + bl, p, (size_t)(q - p));
			bl += (size_t)(q - p);
			memcpy(body + bl, num, strlen(num));
			bl += strlen(num);
			p = q + 7;
		}
		memcpy(body + bl, p, strlen(p));
		bl += strlen(p);
	}
	hl = (size_t)snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: %s\r\n"
	    "Origin: http://%s\r\n%sContent-Length: %zu\r\n\r\n", opt.method,
	    opt.target, opt.thost, opt.thost, opt.theaders, bl);
	M.out = realloc(M.out, M.outlen + hl + bl);
	memcpy(M.out + M.outlen, head, hl);
	memcpy(M.out + M.outlen + hl, body, bl);
	M.outlen += hl + bl;
	M.want_resp++;
}

static void
trig_flush(void)
{
	struct epoll_event ev;

	while (M.outoff < M.outlen) {
		ssize_t n = send(M.tfd, M.out + M.outoff, M.outlen - M.outoff,
		    MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN)
				break;
			die("trigger send: %s", strerror(errno));
		}
		M.outoff += (size_t)n;
	}
	ev.data.u64 = EV_TRIGGER;
	ev.events = EPOLLIN | (M.outoff < M.outlen ? EPOLLOUT : 0);
	epoll_ctl(M.ep, EPOLL_CTL_MOD, M.tfd, &ev);
	if (M.outoff == M.outlen)
		M.outoff = M.outlen = 0;
}

/* Parses whole HTTP responses (Content-Length or chunked) off M.in. */
static void
trig_parse(void)
{
	for (;;) {
		char *end = memmem(M.in, M.inlen, "\r\n\r\n", 4), *p;
		size_t hl, total;
		long cl = 0;
		int chunked = 0;

		if (end == NULL)
			return;
		hl = (size_t)(end - M.in) + 4;
		M.last_status = atoi(M.in + 9);
		for (p = M.in; p < end; p++) {
			if (strncasecmp(p, "\ncontent-length:", 16) == 0)
				cl = atol(p + 16);
			if (strncasecmp(p, "\ntransfer-encoding: chunked", 27) == 0)
				chunked = 1;
		}
		if (M.last_status == 204 || M.last_status == 304)
			cl = 0;
		total = hl + (size_t)cl;
		if (chunked) {
			size_t off = hl;

			for (;;) {
				char *nl = memmem(M.in + off, M.inlen - off, "\r\n", 2);
				long sz;

				if (nl == NULL)
					return;
				sz = strtol(M.in + off, NULL, 16);
				off = (size_t)(nl - M.in) + 2 + (size_t)sz + 2;
				if (off > M.inlen)
					return;
				if (sz == 0)
					break;
			}
			total = off;
		}
		if (M.inlen < total)
			return;
		memmove(M.in, M.in + total, M.inlen - total);
		M.inlen -= total;
		M.got_resp++;
		M.last_resp_t = mono_ns();
		if (M.got_resp == 1)
			M.first_resp_t = M.last_resp_t;
		if (M.last_status >= 300 && M.last_status != 303)
			fprintf(stderr, "loadclient: trigger got status %d\n",
			    M.last_status);
	}
}

static void
on_trigger(uint32_t events)
{
	if (events & EPOLLOUT)
		trig_flush();
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		for (;;) {
			ssize_t n;

			if (M.incap - M.inlen < 65536) {
				M.incap = M.incap * 2 + 65536;
				M.in = realloc(M.in, M.incap);
			}
			n = recv(M.tfd, M.in + M.inlen, M.incap - M.inlen, MSG_DONTWAIT);
			if (n < 0 && errno == EAGAIN)
				break;
			if (n <= 0) {
				/* The server closed a kept-alive connection:
				 * the next request goes on a new one. */
				trig_parse();
				epoll_ctl(M.ep, EPOLL_CTL_DEL, M.tfd, NULL);
				close(M.tfd);
				M.tfd = -1;
				return;
			}
			M.inlen += (size_t)n;
		}
		trig_parse();
	}
}

static void
on_listen(void)
{
	PGnotify *nt;

	if (!PQconsumeInput(M.listen))
		die("LISTEN connection: %s", PQerrorMessage(M.listen));
	while ((nt = PQnotifies(M.listen)) != NULL) {
		int64_t t = mono_ns();

		if (M.t0 != 0 && t >= M.t0) {
			if (M.notifies++ == 0)
				M.notify_first = t;
			M.notify_last = t;
		}
		PQfreemem(nt);
	}
}

static void
on_burst(void)
{
	PGresult *r;

	if (!PQconsumeInput(M.burst))
		die("burst connection: %s", PQerrorMessage(M.burst));
	while (M.burst_busy && !PQisBusy(M.burst)) {
		r = PQgetResult(M.burst);
		if (r == NULL) {
			M.burst_busy = 0;
			M.burst_done_t = mono_ns();
			break;
		}
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
			M.burst_final = atoll(PQgetvalue(r, 0, 0));
		else if (PQresultStatus(r) != PGRES_COMMAND_OK &&
		    PQresultStatus(r) != PGRES_TUPLES_OK)
			die("burst: %s", PQresultErrorMessage(r));
		PQclear(r);
	}
}

/* Handles events for up to ms milliseconds, or until done() holds. */
static void
pump(int ms, int (*done)(void))
{
	int64_t end = mono_ns() + (int64_t)ms * 1000000;

	while (done == NULL || !done()) {
		struct epoll_event evs[32];
		int64_t left = (end - mono_ns()) / 1000000;
		int n;

		if (left <= 0)
			return;
		n = epoll_wait(M.ep, evs, 32, (int)left);
		for (int i = 0; i < n; i++) {
			uint64_t k = evs[i].data.u64;

			if (k == EV_TRIGGER && M.tfd >= 0)
				on_trigger(evs[i].events);
			else if (k == EV_LISTEN)
				on_listen();
			else if (k == EV_BURST)
				on_burst();
			else if (k >= EV_CTL0) {
				int w = (int)(k - EV_CTL0);
				struct msg m;

				if (recv(ctl[w], &m, sizeof(m), 0) != sizeof(m))
					die("worker %d is gone", w);
				M.replies[w] = m.op;
				M.rvals[w] = (long)m.val;
			}
		}
	}
}

static char want_op;
static int
all_replied(void)
{
	for (int i = 0; i < nprocs; i++)
		if (M.replies[i] != want_op)
			return 0;
	return 1;
}

static void
wait_all(char op, int ms)
{
	want_op = op;
	pump(ms, all_replied);
}

static void
broadcast(char op, int64_t val)
{
	for (int i = 0; i < nprocs; i++) {
		M.replies[i] = 0;
		send_msg(ctl[i], op, val);
	}
}

static int
resp_done(void)
{
	return M.got_resp >= M.want_resp;
}

static int
burst_done(void)
{
	return !M.burst_busy;
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const int64_t *v, long n, double p)
{
	long i;

	if (n == 0)
		return -1;
	i = (long)(p * (double)(n - 1) + 0.5);
	return (double)v[i] / 1e6;
}

/* Prints "name":{"p50":..,"p90":..,"p99":..,"max":..,"min":..} of
 * times minus ref, in ms. */
static void
print_dist(const char *name, const int64_t *t, long n, int64_t ref)
{
	int64_t *v = malloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
	long k = 0;

	for (long i = 0; i < n; i++)
		if (t[i] != 0)
			v[k++] = t[i] - ref;
	qsort(v, (size_t)k, sizeof(int64_t), cmp64);
	printf(",\"%s\":{\"n\":%ld,\"min\":%.3f,\"p50\":%.3f,\"p90\":%.3f,"
	    "\"p99\":%.3f,\"max\":%.3f}", name, k, pct(v, k, 0), pct(v, k, 0.5),
	    pct(v, k, 0.9), pct(v, k, 0.99), pct(v, k, 1));
	free(v);
}

static void
print_cpu(const struct sample *a, const struct sample *b)
{
	int64_t cns = 0;

	printf(",\"cpu\":{");
	for (int i = 0; i < opt.nwatch; i++)
		printf("%s\"%s\":{\"ns\":%lld,\"wait_ns\":%lld,\"ut\":%ld,"
		    "\"st\":%ld,\"rss_kb\":%ld}", i ? "," : "", opt.wname[i],
		    (long long)(b->w[i].ns - a->w[i].ns),
		    (long long)(b->w[i].wait_ns - a->w[i].wait_ns), b->w[i].ut - a->w[i].ut,
		    b->w[i].st - a->w[i].st, b->w[i].rss_kb);
	printf("}");
	for (int i = 0; i <= nprocs; i++)
		cns += b->client[i].ns - a->client[i].ns;
	printf(",\"client_ns\":%lld,\"window_ns\":%lld,\"machine_busy_ns\":%.0f",
	    (long long)cns, (long long)(b->t - a->t),
	    b->total > a->total ? (double)(b->busy - a->busy) /
	    (double)(b->total - a->total) * (double)(b->t - a->t) *
	    (double)sysconf(_SC_NPROCESSORS_ONLN) : 0.0);
}

static PGconn *
pg_open(void)
{
	PGconn *c = PQconnectdb(opt.pg);

	if (PQstatus(c) != CONNECTION_OK)
		die("PostgreSQL: %s", PQerrorMessage(c));
	return c;
}

/* When the counter's last change committed (track_commit_timestamp; the
 * time is taken as the commit record is written, before the WAL flush),
 * on CLOCK_MONOTONIC; 0 if unknown. */
static int64_t
commit_time(void)
{
	PGresult *r;
	int64_t t = 0;

	PQsetnonblocking(M.burst, 0);
	r = PQexec(M.burst, "SELECT (extract(epoch FROM "
	    "pg_xact_commit_timestamp(xmin)) * 1000000)::bigint "
	    "FROM counters WHERE name = 'global'");
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
	    !PQgetisnull(r, 0, 0))
		t = atoll(PQgetvalue(r, 0, 0)) * 1000 - real_minus_mono();
	else if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fprintf(stderr, "loadclient: commit timestamp: %s",
		    PQresultErrorMessage(r));
	PQclear(r);
	PQsetnonblocking(M.burst, 1);
	return t;
}

/* Sends "enable" or "disable" to perf record --control fifo:CTL,ACK and
 * waits (5 s at most) for its ack, so that perf samples the measured
 * rounds only. Without a perf reading the fifo, it warns and gives up. */
static void
perf_cmd(const char *cmd)
{
	char ctlp[256], *ackp, ack[16];
	struct pollfd pfd;
	int fd;

	if (opt.perf_ctl == NULL)
		return;
	snprintf(ctlp, sizeof(ctlp), "%s", opt.perf_ctl);
	if ((ackp = strchr(ctlp, ':')) == NULL)
		die("--perf-ctl CTL:ACK");
	*ackp++ = 0;
	if ((fd = open(ctlp, O_WRONLY | O_NONBLOCK)) < 0) {
		fprintf(stderr, "loadclient: %s: %s (is perf running?); "
		    "not controlling perf\n", ctlp, strerror(errno));
		opt.perf_ctl = NULL;
		return;
	}
	if (write(fd, cmd, strlen(cmd)) < 0)
		die("perf control: %s", strerror(errno));
	close(fd);
	if ((fd = open(ackp, O_RDONLY | O_NONBLOCK)) < 0)
		die("%s: %s", ackp, strerror(errno));
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 5000) != 1 || read(fd, ack, sizeof(ack)) <= 0)
		fprintf(stderr, "loadclient: perf did not acknowledge %s", cmd);
	close(fd);
}

static void
pg_watch(PGconn *c, uint64_t key)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = key };

	PQsetnonblocking(c, 1);
	epoll_ctl(M.ep, EPOLL_CTL_ADD, PQsocket(c), &ev);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "label", 1, 0, 'L' }, { "mode", 1, 0, 'm' },
		{ "connect", 1, 0, 'c' }, { "path", 1, 0, 'p' },
		{ "host", 1, 0, 'H' }, { "procs", 1, 0, 'P' },
		{ "inflight", 1, 0, 'i' }, { "rounds", 1, 0, 'r' },
		{ "gap", 1, 0, 'g' }, { "warmup", 1, 0, 'W' }, { "timeout", 1, 0, 'T' },
		{ "trigger", 1, 0, 't' }, { "method", 1, 0, 'M' },
		{ "target", 1, 0, 'u' }, { "header", 1, 0, 'h' },
		{ "body-template", 1, 0, 'b' }, { "count", 1, 0, 'C' },
		{ "publish-initial", 0, 0, 'I' }, { "pg", 1, 0, 'G' },
		{ "commit-ts", 0, 0, 'X' },
		{ "channel", 1, 0, 'N' }, { "storm-n", 1, 0, 's' },
		{ "marker", 1, 0, 'k' }, { "dump", 1, 0, 'd' },
		{ "watch", 1, 0, 'w' }, { "perf-ctl", 1, 0, 'Z' }, { 0, 0, 0, 0 },
	};
	struct sample s0, s1, sidle;
	int64_t tstart, tready;
	long total_ready = 0;
	int ch, mode;

	opt.label = "run";
	opt.mode = "fanout";
	opt.path = "/__realtime?key=/counter&url=/counter";
	opt.inflight = 256;
	opt.rounds = 3;
	opt.warmup = 1;
	opt.gap_ms = 300;
	opt.timeout_s = 60;
	opt.method = "POST";
	opt.target = "/api/counter/increment";
	opt.channel = "keycast";
	opt.storm_n = 1000;
	opt.marker = "aria-live=\"polite\">";
	while ((ch = getopt_long(argc, argv, "n:", lo, NULL)) != -1) {
		switch (ch) {
		case 'L': opt.label = optarg; break;
		case 'm': opt.mode = optarg; break;
		case 'c': parse_addr(optarg, &opt.connect); break;
		case 'p': opt.path = optarg; break;
		case 'H': snprintf(opt.host, sizeof(opt.host), "%s", optarg); break;
		case 'n': opt.n = atol(optarg); break;
		case 'P': opt.procs = atoi(optarg); break;
		case 'i': opt.inflight = atoi(optarg); break;
		case 'r': opt.rounds = atoi(optarg); break;
		case 'g': opt.gap_ms = atoi(optarg); break;
		case 'W': opt.warmup = atoi(optarg); break;
		case 'T': opt.timeout_s = atoi(optarg); break;
		case 't': parse_addr(optarg, &opt.trigger); opt.have_trigger = 1; break;
		case 'M': opt.method = optarg; break;
		case 'u': opt.target = optarg; break;
		case 'h':
			strncat(opt.theaders, optarg, sizeof(opt.theaders) - strlen(opt.theaders) - 3);
			strcat(opt.theaders, "\r\n");
			break;
		case 'b': opt.body_tpl = slurp(optarg); break;
		case 'C': opt.count = atol(optarg); break;
		case 'I': opt.publish_initial = 1; break;
		case 'G': opt.pg = optarg; break;
		case 'X': opt.pg_commit_ts = 1; break;
		case 'N': opt.channel = optarg; break;
		case 's': opt.storm_n = atoi(optarg); break;
		case 'k': opt.marker = optarg; break;
		case 'd': opt.dump = optarg; break;
		case 'Z': opt.perf_ctl = optarg; break;
		case 'w': {
			char *c = strchr(optarg, ':');

			if (c == NULL || opt.nwatch == MAXWATCH)
				usage();
			snprintf(opt.wname[opt.nwatch], sizeof(opt.wname[0]), "%.*s",
			    (int)(c - optarg), optarg);
			opt.wpid[opt.nwatch++] = atoi(c + 1);
			break;
		}
		default: usage();
		}
	}
	if (opt.n <= 0 || opt.connect.sin_port == 0)
		usage();
	mode = strcmp(opt.mode, "fanout") == 0 ? 1 : strcmp(opt.mode, "storm") == 0 ? 2 :
	    strcmp(opt.mode, "idle") == 0 ? 0 : -1;
	if (mode < 0)
		usage();
	if (mode != 0 && !opt.have_trigger && !(mode == 2 && opt.pg != NULL))
		die("--trigger (or, for a storm, --pg) is needed");
	if (opt.host[0] == 0)
		snprintf(opt.host, sizeof(opt.host), "%s:%d",
		    inet_ntoa(opt.connect.sin_addr), ntohs(opt.connect.sin_port));
	if (opt.have_trigger)
		snprintf(opt.thost, sizeof(opt.thost), "%s:%d",
		    inet_ntoa(opt.trigger.sin_addr), ntohs(opt.trigger.sin_port));
	if (opt.procs <= 0)
		opt.procs = (int)((opt.n + 8999) / 9000);
	if (opt.procs > MAXPROCS)
		opt.procs = MAXPROCS;
	nprocs = opt.procs;
	signal(SIGPIPE, SIG_IGN);

	arr_u = mmap(NULL, sizeof(int64_t) * (size_t)opt.n * 2 +
	    sizeof(int32_t) * (size_t)opt.n + sizeof(struct wshared) * MAXPROCS,
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (arr_u == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	arr_k = arr_u + opt.n;
	arr_frames = (int32_t *)(arr_k + opt.n);
	wsh = (struct wshared *)(arr_frames + opt.n);

	M.ep = epoll_create1(EPOLL_CLOEXEC);
	M.tfd = -1;
	if (opt.pg != NULL) {
		char q[128];
		PGresult *r;

		M.listen = pg_open();
		snprintf(q, sizeof(q), "LISTEN %s", opt.channel);
		r = PQexec(M.listen, q);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			die("LISTEN: %s", PQerrorMessage(M.listen));
		PQclear(r);
		pg_watch(M.listen, EV_LISTEN);
		M.burst = pg_open();
		pg_watch(M.burst, EV_BURST);
	}
	if (opt.have_trigger)
		trig_connect();
	if (opt.publish_initial) {
		add_request(opt.count++);
		trig_flush();
		pump(5000, resp_done);
		if (!resp_done())
			die("no answer to the initial publish");
	}

	take_sample(&sidle);
	tstart = mono_ns();
	for (int i = 0; i < nprocs; i++) {
		int sv[2];
		long per = opt.n / nprocs, base = per * i;
		long cnt = i == nprocs - 1 ? opt.n - base : per;
		pid_t pid;

		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
			die("socketpair: %s", strerror(errno));
		fflush(stdout);
		pid = fork();
		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (pid == 0) {
			close(sv[0]);
			for (int j = 0; j < i; j++)
				close(ctl[j]);
			if (M.tfd >= 0)
				close(M.tfd);
			worker(i, sv[1], base, cnt);
			_exit(0);
		}
		close(sv[1]);
		kids[i] = pid;
		ctl[i] = sv[0];
		{
			struct epoll_event ev = { .events = EPOLLIN,
			    .data.u64 = EV_CTL0 + (uint64_t)i };

			epoll_ctl(M.ep, EPOLL_CTL_ADD, ctl[i], &ev);
		}
	}
	wait_all('R', (opt.timeout_s + 5) * 1000);
	tready = mono_ns();
	for (int i = 0; i < nprocs; i++)
		total_ready += M.replies[i] == 'R' ? M.rvals[i] : 0;
	/* Let the servers settle (frees, lazy allocations) before RSS. */
	pump(mode == 0 ? 1000 : 200, NULL);
	take_sample(&s0);
	{
		long hsf = 0;
		const char *err = "";

		for (int i = 0; i < nprocs; i++) {
			hsf += wsh[i].hs_failed;
			if (wsh[i].err[0] && !err[0])
				err = wsh[i].err;
		}
		printf("{\"label\":\"%s\",\"mode\":\"connect\",\"n\":%ld,\"procs\":%d,"
		    "\"ready\":%ld,\"failed\":%ld,\"connect_s\":%.3f,\"err\":\"%s\",\"rss_kb\":{",
		    opt.label, opt.n, nprocs, total_ready, hsf,
		    (double)(tready - tstart) / 1e9, err);
		for (int i = 0; i < opt.nwatch; i++)
			printf("%s\"%s\":[%ld,%ld]", i ? "," : "", opt.wname[i],
			    sidle.w[i].rss_kb, s0.w[i].rss_kb);
		printf("}}\n");
		fflush(stdout);
	}

	for (int r = -opt.warmup; mode != 0 && r < opt.rounds && total_ready > 0; r++) {
		int64_t final = 0;
		long missing = 0, closed = 0, arrived = 0;
		double fr_sum = 0;
		int32_t fr_max = 0;

		pump(opt.gap_ms, NULL);
		if (r == 0)
			perf_cmd("enable\n");
		/* A storm's pipelined requests go on a fresh connection:
		 * on one that had served a request before, nginx+nchan
		 * answered 999 of 1000 publishes sent in one write and
		 * never published the last one. */
		if (opt.have_trigger && (M.tfd < 0 || mode == 2))
			trig_connect();
		M.notifies = 0;
		M.notify_first = M.notify_last = 0;
		M.got_resp = M.want_resp = 0;
		M.first_resp_t = M.last_resp_t = 0;
		M.burst_done_t = 0;
		M.t0 = 0;
		broadcast(mode == 1 ? 'A' : 'S', 0);
		wait_all(mode == 1 ? 'a' : 's', 10000);
		for (int i = 0; i < nprocs; i++)
			M.replies[i] = 0;
		take_sample(&s1);
		s0 = s1;
		M.t0 = mono_ns();
		if (mode == 1) {
			add_request(opt.count++);
			trig_flush();
		} else if (opt.pg != NULL && !opt.have_trigger) {
			/* Separate transactions in one query string: they
			 * commit back to back with no round trip between. */
			size_t cap = 128 + (size_t)opt.storm_n * 100;
			char *q = malloc(cap);
			size_t ql = 0;

			ql += (size_t)snprintf(q + ql, cap - ql, "SET synchronous_commit = off; ");
			for (int i = 0; i < opt.storm_n; i++)
				ql += (size_t)snprintf(q + ql, cap - ql, "BEGIN; UPDATE counters "
				    "SET value = value + 1 WHERE name = 'global'; COMMIT; ");
			snprintf(q + ql, cap - ql, "SELECT value FROM counters WHERE name = 'global'");
			M.t0 = mono_ns();
			if (!PQsendQuery(M.burst, q))
				die("burst: %s", PQerrorMessage(M.burst));
			while (PQflush(M.burst) == 1)
				pump(5, NULL);
			M.burst_busy = 1;
			free(q);
			pump(60000, burst_done);
			final = M.burst_final;
			broadcast('F', final);
		} else {
			for (int i = 0; i < opt.storm_n; i++)
				add_request(opt.count++);
			final = opt.count - 1;
			broadcast('F', final);
			trig_flush();
		}
		want_op = 'D';
		{
			int64_t end = mono_ns() + 30000000000LL;

			while (!all_replied() && mono_ns() < end)
				pump(50, all_replied);
			if (!all_replied()) {
				for (int i = 0; i < nprocs; i++)
					if (M.replies[i] != 'D')
						send_msg(ctl[i], 'T', 0);
				pump(2000, all_replied);
			}
		}
		if (opt.have_trigger)
			pump(5000, resp_done);
		if (mode == 2 && M.tfd >= 0) {
			epoll_ctl(M.ep, EPOLL_CTL_DEL, M.tfd, NULL);
			close(M.tfd);
			M.tfd = -1;
		}
		pump(50, NULL);
		take_sample(&s1);
		M.commit_t = 0;
		if (M.burst != NULL && opt.pg_commit_ts)
			M.commit_t = commit_time();
		for (long i = 0; i < opt.n; i++) {
			if (arr_u[i] != 0) {
				arrived++;
				fr_sum += arr_frames[i];
				if (arr_frames[i] > fr_max)
					fr_max = arr_frames[i];
			}
		}
		for (int i = 0; i < nprocs; i++) {
			missing += M.replies[i] == 'D' ? M.rvals[i] : 0;
			closed += wsh[i].closed;
		}
		printf("{\"label\":\"%s\",\"mode\":\"%s\",\"n\":%ld,\"round\":%d,"
		    "\"warmup\":%s,\"ready\":%ld,\"arrived\":%ld,\"missing\":%ld,"
		    "\"closed\":%ld", opt.label, opt.mode, opt.n, r + 1,
		    r < 0 ? "true" : "false", total_ready, arrived, missing, closed);
		if (mode == 2)
			printf(",\"final\":%lld,\"frames_mean\":%.2f,\"frames_max\":%d",
			    (long long)final, arrived ? fr_sum / (double)arrived : 0, fr_max);
		if (M.got_resp > 0)
			printf(",\"responses\":%ld,\"resp_first_ms\":%.3f,\"resp_last_ms\":%.3f,\"status\":%d", M.got_resp,
			    (double)(M.first_resp_t - M.t0) / 1e6,
			    (double)(M.last_resp_t - M.t0) / 1e6, M.last_status);
		if (M.notifies > 0)
			printf(",\"notifies\":%ld,\"notify_first_ms\":%.3f,\"notify_last_ms\":%.3f",
			    M.notifies, (double)(M.notify_first - M.t0) / 1e6,
			    (double)(M.notify_last - M.t0) / 1e6);
		if (M.burst_done_t != 0)
			printf(",\"burst_ms\":%.3f", (double)(M.burst_done_t - M.t0) / 1e6);
		if (M.commit_t != 0)
			printf(",\"commit_ms\":%.3f", (double)(M.commit_t - M.t0) / 1e6);
		print_dist("lat", arr_u, opt.n, M.t0);
		print_dist("klat", arr_k, opt.n, M.t0);
		if (M.notifies > 0 && mode == 1)
			print_dist("nlat", arr_u, opt.n, M.notify_first);
		if (M.commit_t != 0 && mode == 1) {
			print_dist("clat", arr_u, opt.n, M.commit_t);
			print_dist("kclat", arr_k, opt.n, M.commit_t);
		}
		if (mode == 2) {
			/* From the last commit as the client saw it. */
			int64_t last = M.burst_done_t != 0 ? M.burst_done_t : M.last_resp_t;

			print_dist("conv", arr_u, opt.n, last);
			print_dist("kconv", arr_k, opt.n, last);
			if (M.commit_t != 0)
				print_dist("cconv", arr_u, opt.n, M.commit_t);
		}
		print_cpu(&s0, &s1);
		printf("}\n");
		fflush(stdout);
	}
	perf_cmd("disable\n");
	broadcast('Q', 0);
	for (int i = 0; i < nprocs; i++)
		waitpid(kids[i], NULL, 0);
	if (M.listen != NULL)
		PQfinish(M.listen);
	if (M.burst != NULL)
		PQfinish(M.burst);
	return 0;
}
