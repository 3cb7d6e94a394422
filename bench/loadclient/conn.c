/* WebSocket client connections of a worker (conn.h): raw non-blocking
 * sockets on the worker's epoll, the upgrade request of the client's key,
 * the response head (101, permessage-deflate agreed or not), frames split
 * off the byte stream (a partial one kept in pbuf), pings answered,
 * arrival stamps in user space and from the kernel (SO_TIMESTAMPNS). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "conn.h"
#include "util.h"
#include "worker.h"
#include "xmalloc.h"

#define RBUF		65536
#define HEAD_MAX	8192
#define FRAME_MAX	(1u << 24)

void
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

/* A masked text frame "r" (zero mask): asks pushd for full fragments. */
void
conn_resync(struct conn *c)
{
	static const unsigned char r[] = { 0x81, 0x81, 0, 0, 0, 0, 'r' };

	c->resyncing = 1;
	shm.w[W.id].resyncs++;
	if (send(c->fd, r, sizeof(r), MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
	    errno != EAGAIN)
		conn_dead(c, "resync send failed");
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
				wk_on_data(c, (h[0] & 0x40) != 0,
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

void
conn_start_more(void)
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

void
conn_on_event(struct conn *c, uint32_t events)
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

void
conn_reset(struct conn *c)
{
	struct linger lg = { 1, 0 };

	if (c->fd < 0)
		return;
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(c->fd);
	c->fd = -1;
}
