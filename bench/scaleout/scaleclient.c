/* Load client for bench/scaleout.sh: N WebSocket clients over K keys,
 * one transaction that changes every key, the time from its COMMIT to
 * each client's arrival of the new fragment.
 *
 * The master forks --procs workers (open files are capped at 20,000 per
 * process here). Worker w holds connections base..base+count-1; connection
 * g subscribes key /chat/PREFIX(g % K) with the same url, so the clients
 * are spread evenly over the keys. A worker opens its share with raw
 * non-blocking sockets and one epoll loop (at most --inflight handshakes at
 * a time) and reports ready once every connection has its first fragment.
 *
 * Per round the master picks a token, arms the workers (each waits for
 * the text TOKEN-kI-e in a fragment of its key I) and, once all have
 * acknowledged, runs the mutation on its own libpq connection: BEGIN;
 * INSERT one chat message per room (body TOKEN-kI-e padded to 72
 * characters, as long as bench/scaleout.sh's filler; the messages trigger
 * NOTIFYs /chat/ROOM, one per key); COMMIT. t0 is the commit's timestamp
 * (pg_xact_commit_timestamp, with track_commit_timestamp on; else the
 * moment COMMIT was sent). A second libpq connection LISTENs on the
 * channel, so a round also reports when the notification reached a
 * listener. Each connection timestamps the arrival twice, on one clock for
 * all processes (CLOCK_MONOTONIC): in user space right after recvmsg, and
 * the kernel's receive time of the segment (SO_TIMESTAMPNS, converted from
 * CLOCK_REALTIME); the gap is the client's own delay.
 *
 * Around each round the master reads, for every --watch NAME:PID, the CPU
 * time of the process and its children (/proc/P/task/ * /schedstat in ns,
 * and utime+stime of /proc/P/stat in clock ticks) and their VmRSS, the
 * same for the workers, and the machine's busy time (/proc/stat). One JSON
 * line per round goes to stdout, with every latency (µs) of the round.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
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
#define MAXKEYS		1024
#define MAXPIDS		256
#define RBUF		65536

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "scaleclient: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static int64_t
clock_ns(clockid_t id)
{
	struct timespec t;

	clock_gettime(id, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}
#define mono_ns() clock_ns(CLOCK_MONOTONIC)

/* realtime - monotonic, from the tightest of 5 brackets. */
static int64_t
real_minus_mono(void)
{
	int64_t best = 0, bestw = INT64_MAX;

	for (int i = 0; i < 5; i++) {
		int64_t a = mono_ns(), r = clock_ns(CLOCK_REALTIME), b = mono_ns();

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
	struct sockaddr_in connect;
	char		 host[64];
	long		 n;
	int		 keys;
	const char	*prefix;
	int		 procs, inflight, rounds, warmup, gap_ms, timeout_s;
	int		 connect_timeout_s;
	const char	*pg;
	const char	*channel;
	const char	*on_ready;
	int		 nwatch;
	char		 wname[MAXWATCH][32];
	int		 wpid[MAXWATCH];
} opt = {
	.label = "run", .keys = 32, .prefix = "scale-", .procs = 2,
	.inflight = 128, .rounds = 5, .warmup = 1, .gap_ms = 400,
	.timeout_s = 10, .connect_timeout_s = 60, .channel = "keycast",
};

static void
usage(void)
{
	fprintf(stderr,
"usage: scaleclient --connect HOST:PORT -n N --pg CONNINFO [options]\n"
"  --label NAME --keys K (32) --prefix ROOMPREFIX (scale-) --procs P (2)\n"
"  --inflight H (128) --rounds R (5) --warmup W (1) --gap MS (400)\n"
"  --timeout S (10, per round) --connect-timeout S (60) --channel NAME\n"
"  --on-ready CMD (run by sh once every client is connected)\n"
"  --watch NAME:PID (repeat; the process and its children)\n");
	exit(2);
}

/* ---- shared memory and control messages ---- */

struct wshared {
	int64_t	frames, closed, hs_failed;
	char	err[160];
	char	token[32];		/* the armed round's token */
};

static int64_t *arr_u, *arr_k;		/* per connection: arrival of this round */
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

enum cstate { C_CONNECTING, C_HS, C_OPEN, C_READY, C_DEAD };

struct conn {
	int		fd;
	uint8_t		state, arrived;
	uint16_t	key;
	char		*pbuf;		/* partial head or frame */
	uint32_t	plen, pcap;
};

static struct {
	int		 id, ctl, ep;
	long		 base, count, next, inflight, nready, ndead, pending;
	int		 ready_sent, armed;
	int64_t		 round, off;
	struct conn	*c;
	char		 mk[MAXKEYS][48];
	size_t		 mkl[MAXKEYS];
} W;

static void start_more(void);

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
	if (W.armed && W.pending == 0) {
		W.armed = 0;
		send_msg(W.ctl, 'D', W.round);
	}
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
		if (W.armed && !c->arrived)
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
on_data(struct conn *c, const char *p, size_t n, int64_t tu, int64_t tk)
{
	wsh[W.id].frames++;
	if (c->state == C_OPEN) {
		c->state = C_READY;
		W.nready++;
		check_ready();
		return;
	}
	if (!W.armed || c->arrived ||
	    memmem(p, n, W.mk[c->key], W.mkl[c->key]) == NULL)
		return;
	c->arrived = 1;
	arr_u[W.base + (c - W.c)] = tu;
	arr_k[W.base + (c - W.c)] = tk;
	W.pending--;
	check_done();
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
			conn_dead(c, "fragmented message (not expected from pushd)");
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
		if (op == 1 || op == 2) {
			on_data(c, (const char *)h + hl, (size_t)len, tu, tk);
		} else if (op == 8) {
			char why[64];

			snprintf(why, sizeof(why), "server closed with %d",
			    len >= 2 ? (h[hl] << 8) | h[hl + 1] : 0);
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
		c->pbuf = realloc(c->pbuf, c->pcap);
		if (c->pbuf == NULL)
			die("out of memory");
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

static void
feed(struct conn *c, const unsigned char *p, size_t n, int64_t tu, int64_t tk)
{
	size_t used;

	if (c->state == C_HS) {
		char *end;

		keep(c, p, n);
		end = memmem(c->pbuf, c->plen, "\r\n\r\n", 4);
		if (end == NULL) {
			if (c->plen > 8192)
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
		c->state = C_OPEN;
		W.inflight--;
		consume(c, (size_t)(end - c->pbuf) + 4);
		if (c->plen == 0)
			return;
		used = parse_frames(c, (unsigned char *)c->pbuf, c->plen, tu, tk);
		if (c->state != C_DEAD)
			consume(c, used);
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
send_request(struct conn *c)
{
	char req[512];
	int n;
	struct epoll_event ev;

	n = snprintf(req, sizeof(req),
	    "GET /__realtime?key=/chat/%s%u&url=/chat/%s%u HTTP/1.1\r\n"
	    "Host: %s\r\nOrigin: http://%s\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\n\r\n",
	    opt.prefix, c->key, opt.prefix, c->key, opt.host, opt.host);
	if (send(c->fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
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
		tu = tk = mono_ns();
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				conn_dead(c, strerror(errno));
			return;
		}
		if (n == 0) {
			conn_dead(c, "server closed the connection");
			return;
		}
		for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET &&
			    cm->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec ts;

				memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
				tk = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - W.off;
			}
		feed(c, buf, (size_t)n, tu, tk);
		if (c->state == C_DEAD || (size_t)n < sizeof(buf))
			return;
	}
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
		W.off = real_minus_mono();
		W.round = m.val;
		W.pending = 0;
		for (int k = 0; k < opt.keys; k++) {
			snprintf(W.mk[k], sizeof(W.mk[k]), "%s-k%d-e",
			    wsh[W.id].token, k);
			W.mkl[k] = strlen(W.mk[k]);
		}
		for (long i = 0; i < W.count; i++) {
			struct conn *c = &W.c[i];

			arr_u[W.base + i] = arr_k[W.base + i] = 0;
			c->arrived = 0;
			if (c->state == C_READY)
				W.pending++;
		}
		W.armed = 1;
		send_msg(W.ctl, 'a', W.pending);
		check_done();
		break;
	case 'T':		/* the master gave up on this round */
		W.armed = 0;
		break;
	case 'Q': {
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
	}
}

static void
worker(int id, int ctl, long base, long count)
{
	struct epoll_event ev, evs[512];

	memset(&W, 0, sizeof(W));
	W.id = id;
	W.ctl = ctl;
	W.base = base;
	W.count = count;
	W.c = calloc((size_t)count, sizeof(*W.c));
	if (W.c == NULL)
		die("out of memory");
	for (long i = 0; i < count; i++) {
		W.c[i].fd = -1;
		W.c[i].key = (uint16_t)((base + i) % opt.keys);
	}
	W.ep = epoll_create1(EPOLL_CLOEXEC);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(W.ep, EPOLL_CTL_ADD, ctl, &ev);
	start_more();
	check_ready();
	for (;;) {
		int n = epoll_wait(W.ep, evs, 512, -1);

		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL)
				on_ctl();
			else
				on_conn_event(evs[i].data.ptr, evs[i].events);
		}
		start_more();
		check_ready();
		check_done();
	}
}

/* ---- /proc ---- */

struct sample {
	int	npid;
	int	pid[MAXPIDS];
	int64_t	ns[MAXPIDS];	/* schedstat, all threads */
	int64_t	ticks[MAXPIDS];	/* utime + stime */
	int64_t	rss_kb;
};

static int
read_file(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = 0;
	return 0;
}

static int64_t
pid_ns(int pid)
{
	char path[64], buf[128];
	struct dirent *e;
	int64_t sum = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		char p[320];

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/proc/%d/task/%s/schedstat", pid, e->d_name);
		if (read_file(p, buf, sizeof(buf)) == 0)
			sum += strtoll(buf, NULL, 10);
	}
	closedir(d);
	return sum;
}

static int64_t
pid_ticks(int pid)
{
	char path[64], buf[1024], *p;
	long long ut, st;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_file(path, buf, sizeof(buf)) != 0 || (p = strrchr(buf, ')')) == NULL)
		return -1;
	/* after ")": state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	    &ut, &st) != 2)
		return -1;
	return ut + st;
}

static int64_t
pid_rss(int pid)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_file(path, buf, sizeof(buf)) != 0 || (p = strstr(buf, "VmRSS:")) == NULL)
		return 0;
	return strtoll(p + 6, NULL, 10);
}

/* The process and its children (of its main thread). */
static void
sample_take(struct sample *s, int pid, const struct sample *like)
{
	if (like != NULL) {
		s->npid = like->npid;
		memcpy(s->pid, like->pid, sizeof(s->pid));
	} else {
		char path[64], buf[8192], *p, *end;

		s->npid = 0;
		s->pid[s->npid++] = pid;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
		if (read_file(path, buf, sizeof(buf)) == 0)
			for (p = buf; s->npid < MAXPIDS; p = end) {
				long c = strtol(p, &end, 10);

				if (end == p)
					break;
				s->pid[s->npid++] = (int)c;
			}
	}
	s->rss_kb = 0;
	for (int i = 0; i < s->npid; i++) {
		s->ns[i] = pid_ns(s->pid[i]);
		s->ticks[i] = pid_ticks(s->pid[i]);
		s->rss_kb += pid_rss(s->pid[i]);
	}
}

/* CPU between two samples of the same pids, ms; pids gone are skipped. */
static void
sample_delta(const struct sample *a, const struct sample *b, double *ms,
    int64_t *ticks)
{
	*ms = 0;
	*ticks = 0;
	for (int i = 0; i < a->npid; i++) {
		if (a->ns[i] < 0 || b->ns[i] < 0)
			continue;
		*ms += (double)(b->ns[i] - a->ns[i]) / 1e6;
		if (a->ticks[i] >= 0 && b->ticks[i] >= 0)
			*ticks += b->ticks[i] - a->ticks[i];
	}
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Machine: CPU time of every task (ns); /proc/stat's jiffies are too
 * coarse for windows of a few ms. Tasks that come or go in between are
 * missed (the sum is over tasks seen at both ends, by tid). */
struct tns {
	int64_t	tid, ns;
};

struct msample {
	int		n;
	struct tns	t[4096];
};

static void
machine(struct msample *m)
{
	DIR *d = opendir("/proc"), *t;
	struct dirent *e, *f;
	char path[600], buf[128];

	m->n = 0;
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL && m->n < 4096) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/task", e->d_name);
		if ((t = opendir(path)) == NULL)
			continue;
		while ((f = readdir(t)) != NULL && m->n < 4096) {
			if (!isdigit((unsigned char)f->d_name[0]))
				continue;
			snprintf(path, sizeof(path), "/proc/%s/task/%s/schedstat",
			    e->d_name, f->d_name);
			if (read_file(path, buf, sizeof(buf)) != 0)
				continue;
			m->t[m->n].tid = atoi(f->d_name);
			m->t[m->n++].ns = strtoll(buf, NULL, 10);
		}
		closedir(t);
	}
	closedir(d);
	qsort(m->t, (size_t)m->n, sizeof(m->t[0]), cmp64);
}

static double
machine_ms(const struct msample *a, const struct msample *b)
{
	int64_t sum = 0;

	for (int i = 0, j = 0; i < a->n && j < b->n;) {
		if (a->t[i].tid == b->t[j].tid) {
			sum += b->t[j].ns - a->t[i].ns;
			i++;
			j++;
		} else if (a->t[i].tid < b->t[j].tid) {
			i++;
		} else {
			j++;
		}
	}
	return (double)sum / 1e6;
}

/* ---- master ---- */

static int ctls[MAXPROCS], pids[MAXPROCS];

static PGresult *
q(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		die("%s: %s", sql, PQerrorMessage(c));
	return r;
}

static void
print_lat(const char *name, int64_t *v, long n)
{
	printf(",\"%s\":[", name);
	for (long i = 0; i < n; i++)
		printf("%s%lld", i ? "," : "", (long long)((v[i] + 500) / 1000));
	printf("]");
}

static double
pct(const int64_t *v, long n, double p)
{
	long i;

	if (n == 0)
		return -1;
	i = (long)(p * (double)n + 0.999999) - 1;
	if (i < 0)
		i = 0;
	if (i >= n)
		i = n - 1;
	return (double)v[i] / 1e6;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "connect", 1, 0, 'c' }, { "label", 1, 0, 'l' },
		{ "keys", 1, 0, 'k' }, { "prefix", 1, 0, 'x' },
		{ "procs", 1, 0, 'p' }, { "inflight", 1, 0, 'i' },
		{ "rounds", 1, 0, 'r' }, { "warmup", 1, 0, 'w' },
		{ "gap", 1, 0, 'g' }, { "timeout", 1, 0, 't' },
		{ "connect-timeout", 1, 0, 'T' }, { "pg", 1, 0, 'P' },
		{ "channel", 1, 0, 'C' }, { "on-ready", 1, 0, 'o' },
		{ "watch", 1, 0, 'W' }, { "help", 0, 0, 'h' }, { 0, 0, 0, 0 }
	};
	int ch, have_connect = 0;
	long per, total_ready = 0;
	PGconn *db, *lis;
	int64_t *tmp_u, *tmp_k;
	struct sample before[MAXWATCH + 1], after[MAXWATCH + 1];

	while ((ch = getopt_long(argc, argv, "n:", lo, NULL)) != -1) {
		switch (ch) {
		case 'c': {
			char h[64];
			const char *colon = strrchr(optarg, ':');

			if (colon == NULL || (size_t)(colon - optarg) >= sizeof(h))
				die("bad address %s (HOST:PORT)", optarg);
			memcpy(h, optarg, (size_t)(colon - optarg));
			h[colon - optarg] = 0;
			opt.connect.sin_family = AF_INET;
			opt.connect.sin_port = htons((uint16_t)atoi(colon + 1));
			if (inet_pton(AF_INET, h, &opt.connect.sin_addr) != 1)
				die("bad host %s", h);
			snprintf(opt.host, sizeof(opt.host), "%s", optarg);
			have_connect = 1;
			break;
		}
		case 'n': opt.n = atol(optarg); break;
		case 'l': opt.label = optarg; break;
		case 'k': opt.keys = atoi(optarg); break;
		case 'x': opt.prefix = optarg; break;
		case 'p': opt.procs = atoi(optarg); break;
		case 'i': opt.inflight = atoi(optarg); break;
		case 'r': opt.rounds = atoi(optarg); break;
		case 'w': opt.warmup = atoi(optarg); break;
		case 'g': opt.gap_ms = atoi(optarg); break;
		case 't': opt.timeout_s = atoi(optarg); break;
		case 'T': opt.connect_timeout_s = atoi(optarg); break;
		case 'P': opt.pg = optarg; break;
		case 'C': opt.channel = optarg; break;
		case 'o': opt.on_ready = optarg; break;
		case 'W': {
			const char *colon = strrchr(optarg, ':');

			if (colon == NULL || opt.nwatch >= MAXWATCH)
				die("bad --watch %s (NAME:PID, at most %d)", optarg, MAXWATCH);
			snprintf(opt.wname[opt.nwatch], sizeof(opt.wname[0]), "%.*s",
			    (int)(colon - optarg), optarg);
			opt.wpid[opt.nwatch++] = atoi(colon + 1);
			break;
		}
		default: usage();
		}
	}
	if (!have_connect || opt.n <= 0 || opt.pg == NULL || opt.keys < 1 ||
	    opt.keys > MAXKEYS || opt.procs < 1 || opt.procs > MAXPROCS)
		usage();

	arr_u = mmap(NULL, (size_t)opt.n * 16, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	wsh = mmap(NULL, sizeof(*wsh) * MAXPROCS, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (arr_u == MAP_FAILED || wsh == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	arr_k = arr_u + opt.n;
	memset(wsh, 0, sizeof(*wsh) * MAXPROCS);
	signal(SIGPIPE, SIG_IGN);

	per = (opt.n + opt.procs - 1) / opt.procs;
	for (int w = 0; w < opt.procs; w++) {
		int sv[2];
		long base = per * w, count = opt.n - base < per ? opt.n - base : per;

		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
			die("socketpair: %s", strerror(errno));
		fflush(stdout);
		if ((pids[w] = fork()) < 0)
			die("fork: %s", strerror(errno));
		if (pids[w] == 0) {
			close(sv[0]);
			worker(w, sv[1], base, count > 0 ? count : 0);
		}
		close(sv[1]);
		ctls[w] = sv[0];
	}

	/* Connected: every worker reports how many have their first fragment. */
	{
		int64_t end = mono_ns() + (int64_t)opt.connect_timeout_s * 1000000000;
		int64_t t = mono_ns();
		int got = 0;

		while (got < opt.procs) {
			struct pollfd pf[MAXPROCS];
			int left = (int)((end - mono_ns()) / 1000000);

			if (left <= 0)
				die("%s: clients not connected after %d s", opt.label,
				    opt.connect_timeout_s);
			for (int w = 0; w < opt.procs; w++)
				pf[w] = (struct pollfd){ ctls[w], POLLIN, 0 };
			if (poll(pf, (nfds_t)opt.procs, left) < 0 && errno != EINTR)
				die("poll: %s", strerror(errno));
			for (int w = 0; w < opt.procs; w++) {
				struct msg m;

				if (!(pf[w].revents & (POLLIN | POLLHUP)))
					continue;
				if (recv(ctls[w], &m, sizeof(m), 0) != sizeof(m))
					die("worker %d exited", w);
				if (m.op == 'R') {
					total_ready += m.val;
					got++;
				}
			}
		}
		fprintf(stderr, "scaleclient: %s: %ld of %ld clients connected in "
		    "%.1f s%s%s\n", opt.label, total_ready, opt.n,
		    (double)(mono_ns() - t) / 1e9,
		    wsh[0].err[0] ? "; first error: " : "", wsh[0].err);
		if (total_ready < opt.n)
			die("%s: only %ld of %ld clients connected", opt.label,
			    total_ready, opt.n);
	}
	if (opt.on_ready != NULL && system(opt.on_ready) != 0)
		fprintf(stderr, "scaleclient: --on-ready command failed\n");

	db = PQconnectdb(opt.pg);
	lis = PQconnectdb(opt.pg);
	if (PQstatus(db) != CONNECTION_OK || PQstatus(lis) != CONNECTION_OK)
		die("database: %s", PQerrorMessage(PQstatus(db) != CONNECTION_OK ? db : lis));
	{
		char sql[128];
		PGresult *r;
		int ts_on;

		snprintf(sql, sizeof(sql), "LISTEN \"%s\"", opt.channel);
		PQclear(q(lis, sql));
		r = q(db, "SHOW track_commit_timestamp");
		ts_on = strcmp(PQgetvalue(r, 0, 0), "on") == 0;
		PQclear(r);
		if (!ts_on)
			fprintf(stderr, "scaleclient: track_commit_timestamp is off: "
			    "t0 is when COMMIT was sent\n");
	}
	tmp_u = malloc(sizeof(int64_t) * (size_t)opt.n);
	tmp_k = malloc(sizeof(int64_t) * (size_t)opt.n);
	srandom((unsigned)(getpid() ^ mono_ns()));

	for (int r = 0; r < opt.warmup + opt.rounds; r++) {
		char token[32], sql[1024], xid[32];
		int64_t t_send, t_ack = 0, t_notify = 0, t_end, t0, off;
		static struct msample m0, m1;
		int64_t tw0, tw1;
		long done_w = 0, got = 0, missing;
		int64_t closed;
		int commit_done = 0, timed_out = 0, ts_known = 0;
		PGresult *res;

		usleep((useconds_t)opt.gap_ms * 1000);
		snprintf(token, sizeof(token), "q%lxr%d", (unsigned long)random() & 0xffffff, r);
		for (int w = 0; w < opt.procs; w++) {
			snprintf(wsh[w].token, sizeof(wsh[w].token), "%s", token);
			send_msg(ctls[w], 'A', r);
		}
		for (int w = 0; w < opt.procs; w++) {
			struct msg m;

			do {
				if (recv(ctls[w], &m, sizeof(m), 0) != sizeof(m))
					die("worker %d exited", w);
			} while (m.op != 'a');
		}
		/* Drain stale notifications. */
		PQconsumeInput(lis);
		for (PGnotify *nf; (nf = PQnotifies(lis)) != NULL;)
			PQfreemem(nf);

		PQclear(q(db, "BEGIN"));
		snprintf(sql, sizeof(sql),
		    "INSERT INTO messages (room, author, body) "
		    "SELECT '%s' || i, 'bench', rpad('%s-k' || i || '-e ', 72, 'lorem ipsum ') "
		    "FROM generate_series(0, %d) i", opt.prefix, token, opt.keys - 1);
		PQclear(q(db, sql));
		res = q(db, "SELECT txid_current() % 4294967296");
		snprintf(xid, sizeof(xid), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);

		for (int i = 0; i <= opt.nwatch; i++)
			sample_take(&before[i], i < opt.nwatch ? opt.wpid[i] : getpid(), NULL);
		machine(&m0);
		tw0 = mono_ns();
		off = real_minus_mono();
		t_send = mono_ns();
		if (!PQsendQuery(db, "COMMIT"))
			die("COMMIT: %s", PQerrorMessage(db));
		while (done_w < opt.procs || !commit_done) {
			struct pollfd pf[MAXPROCS + 2];
			int np = 0, left;

			left = (int)((t_send + (int64_t)opt.timeout_s * 1000000000 - mono_ns()) / 1000000);
			if (left <= 0) {
				timed_out = 1;
				break;
			}
			for (int w = 0; w < opt.procs; w++)
				pf[np++] = (struct pollfd){ ctls[w], POLLIN, 0 };
			pf[np++] = (struct pollfd){ PQsocket(lis), POLLIN, 0 };
			pf[np++] = (struct pollfd){ PQsocket(db), commit_done ? 0 : POLLIN, 0 };
			if (poll(pf, (nfds_t)np, left) < 0 && errno != EINTR)
				die("poll: %s", strerror(errno));
			if (pf[opt.procs].revents & POLLIN) {
				int64_t t = mono_ns();

				PQconsumeInput(lis);
				for (PGnotify *nf; (nf = PQnotifies(lis)) != NULL;) {
					if (t_notify == 0)
						t_notify = t;
					PQfreemem(nf);
				}
			}
			if (!commit_done && (pf[opt.procs + 1].revents & (POLLIN | POLLHUP))) {
				int64_t t = mono_ns();

				if (!PQconsumeInput(db))
					die("COMMIT: %s", PQerrorMessage(db));
				while (!PQisBusy(db)) {
					PGresult *cr = PQgetResult(db);

					if (cr == NULL) {
						commit_done = 1;
						t_ack = t;
						break;
					}
					if (PQresultStatus(cr) != PGRES_COMMAND_OK)
						die("COMMIT: %s", PQerrorMessage(db));
					PQclear(cr);
				}
			}
			for (int w = 0; w < opt.procs; w++) {
				struct msg m;

				if (!(pf[w].revents & (POLLIN | POLLHUP)))
					continue;
				if (recv(ctls[w], &m, sizeof(m), 0) != sizeof(m))
					die("worker %d exited", w);
				if (m.op == 'D' && m.val == r)
					done_w++;
			}
		}
		t_end = tw1 = mono_ns();
		machine(&m1);
		for (int i = 0; i <= opt.nwatch; i++)
			sample_take(&after[i], 0, &before[i]);
		if (timed_out)
			for (int w = 0; w < opt.procs; w++)
				send_msg(ctls[w], 'T', r);
		if (!commit_done) {
			PGresult *cr;

			while ((cr = PQgetResult(db)) != NULL)
				PQclear(cr);
			t_ack = mono_ns();
		}

		/* t0: the commit's own timestamp, if PostgreSQL keeps them. */
		t0 = t_send;
		snprintf(sql, sizeof(sql), "SELECT (extract(epoch FROM "
		    "pg_xact_commit_timestamp('%s'::xid)) * 1000000)::bigint", xid);
		res = PQexec(db, sql);
		if (PQresultStatus(res) == PGRES_TUPLES_OK && !PQgetisnull(res, 0, 0)) {
			t0 = strtoll(PQgetvalue(res, 0, 0), NULL, 10) * 1000 - off;
			ts_known = 1;
		}
		PQclear(res);

		for (long i = 0; i < opt.n; i++) {
			if (arr_u[i] == 0)
				continue;
			tmp_u[got] = arr_u[i] - t0;
			tmp_k[got] = arr_k[i] - t0;
			got++;
		}
		missing = total_ready - got;
		closed = 0;
		for (int w = 0; w < opt.procs; w++)
			closed += wsh[w].closed;
		qsort(tmp_u, (size_t)got, sizeof(int64_t), cmp64);
		qsort(tmp_k, (size_t)got, sizeof(int64_t), cmp64);
		fprintf(stderr, "scaleclient: %s n=%ld round %d%s: p50 %.2f p99 %.2f "
		    "max %.2f ms (kernel p50 %.2f max %.2f), notify %.2f, commit %.2f ms%s\n",
		    opt.label, opt.n, r + 1, r < opt.warmup ? " (warm-up)" : "",
		    pct(tmp_u, got, .5), pct(tmp_u, got, .99), pct(tmp_u, got, 1),
		    pct(tmp_k, got, .5), pct(tmp_k, got, 1),
		    t_notify ? (double)(t_notify - t0) / 1e6 : -1,
		    (double)(t_ack - t_send) / 1e6,
		    missing ? " MISSING CLIENTS" : "");

		printf("{\"label\":\"%s\",\"n\":%ld,\"keys\":%d,\"round\":%d,\"warmup\":%s,"
		    "\"got\":%ld,\"missing\":%ld,\"t0\":\"%s\","
		    "\"commit_send_ms\":%.3f,\"commit_ack_ms\":%.3f,\"notify_ms\":%.3f,"
		    "\"window_ms\":%.3f,\"machine_cpu_ms\":%.3f,\"machine_busy_cores\":%.3f,"
		    "\"ncpu\":%ld,\"closed\":%lld",
		    opt.label, opt.n, opt.keys, r, r < opt.warmup ? "true" : "false",
		    got, missing, ts_known ? "commit_ts" : "commit_sent",
		    (double)(t_send - t0) / 1e6, (double)(t_ack - t0) / 1e6,
		    t_notify ? (double)(t_notify - t0) / 1e6 : -1.0,
		    (double)(t_end - t_send) / 1e6, machine_ms(&m0, &m1),
		    machine_ms(&m0, &m1) / ((double)(tw1 - tw0) / 1e6),
		    sysconf(_SC_NPROCESSORS_ONLN),
		    (long long)closed);
		printf(",\"procs\":{");
		for (int i = 0; i <= opt.nwatch; i++) {
			double ms;
			int64_t ticks;

			sample_delta(&before[i], &after[i], &ms, &ticks);
			printf("%s\"%s\":{\"pid\":%d,\"npids\":%d,\"cpu_ms\":%.3f,"
			    "\"ticks\":%lld,\"rss_kb\":%lld}", i ? "," : "",
			    i < opt.nwatch ? opt.wname[i] : "client",
			    before[i].pid[0], before[i].npid, ms, (long long)ticks,
			    (long long)after[i].rss_kb);
		}
		printf("}");
		print_lat("lat_us", tmp_u, got);
		print_lat("latk_us", tmp_k, got);
		printf("}\n");
		fflush(stdout);
	}
	for (int w = 0; w < opt.procs; w++)
		send_msg(ctls[w], 'Q', 0);
	for (int w = 0; w < opt.procs; w++)
		waitpid(pids[w], NULL, 0);
	PQfinish(db);
	PQfinish(lis);
	return 0;
}
