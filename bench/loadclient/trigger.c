/* HTTP from the master (trigger.h). Invariant: out[outoff..outlen) is
 * what remains to send; in[0..inlen) holds answers not yet complete. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "master.h"
#include "opt.h"
#include "trigger.h"
#include "util.h"
#include "xmalloc.h"

struct trig_stats trig;

static struct {
	int	 fd;
	char	*out;
	size_t	 outlen, outoff;
	char	*in;
	size_t	 inlen, incap;
} T = { .fd = -1 };

void
trig_close(void)
{
	if (T.fd < 0)
		return;
	ms_unwatch(T.fd);
	close(T.fd);
	T.fd = -1;
}

int
trig_connected(void)
{
	return T.fd >= 0;
}

void
trig_connect(void)
{
	int one = 1;

	trig_close();
	T.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (T.fd < 0 || connect(T.fd, (struct sockaddr *)&opt.trigger,
	    sizeof(opt.trigger)) != 0)
		lc_die("trigger connect: %s", strerror(errno));
	setsockopt(T.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(T.fd, F_SETFL, O_NONBLOCK);
	ms_watch(T.fd, TRIG_KEY, EPOLLIN);
	T.inlen = 0;
}

void
trig_add(long v)
{
	struct buf body, req;
	char num[32];

	buf_init(&body);
	buf_init(&req);
	if (opt.body_tpl != NULL) {
		const char *p = opt.body_tpl, *q;

		snprintf(num, sizeof(num), "%ld", v);
		while ((q = strstr(p, "@COUNT@")) != NULL) {
			buf_append(&body, p, (size_t)(q - p));
			buf_puts(&body, num);
			p = q + 7;
		}
		buf_puts(&body, p);
	}
	buf_printf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\nOrigin: http://%s\r\n"
	    "%sContent-Length: %zu\r\n\r\n", opt.method, opt.target, opt.thost,
	    opt.thost, opt.theaders, body.len);
	if (body.len > 0)
		buf_append(&req, body.data, body.len);
	T.out = xrealloc(T.out, T.outlen + req.len);
	memcpy(T.out + T.outlen, req.data, req.len);
	T.outlen += req.len;
	trig.want++;
	buf_cleanup(&body);
	buf_cleanup(&req);
}

void
trig_flush(void)
{
	while (T.outoff < T.outlen) {
		ssize_t n = send(T.fd, T.out + T.outoff, T.outlen - T.outoff,
		    MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN)
				break;
			lc_die("trigger send: %s", strerror(errno));
		}
		T.outoff += (size_t)n;
	}
	ms_watch(T.fd, TRIG_KEY, EPOLLIN | (T.outoff < T.outlen ? EPOLLOUT : 0));
	if (T.outoff == T.outlen)
		T.outoff = T.outlen = 0;
}

/* The length of the complete answer at in (head + body), 0 if more is
 * needed. */
static size_t
answer_len(void)
{
	char *end = memmem(T.in, T.inlen, "\r\n\r\n", 4), *p;
	size_t hl, off;
	long cl = 0;
	int chunked = 0, status;

	if (end == NULL)
		return 0;
	hl = (size_t)(end - T.in) + 4;
	status = atoi(T.in + 9);
	for (p = T.in; p < end; p++) {
		if (strncasecmp(p, "\ncontent-length:", 16) == 0)
			cl = atol(p + 16);
		if (strncasecmp(p, "\ntransfer-encoding: chunked", 27) == 0)
			chunked = 1;
	}
	if (status == 204 || status == 304)
		cl = 0;
	if (!chunked)
		return T.inlen >= hl + (size_t)cl ? hl + (size_t)cl : 0;
	for (off = hl;;) {
		char *nl = memmem(T.in + off, T.inlen - off, "\r\n", 2);
		long sz;

		if (nl == NULL)
			return 0;
		sz = strtol(T.in + off, NULL, 16);
		off = (size_t)(nl - T.in) + 2 + (size_t)sz + 2;
		if (off > T.inlen)
			return 0;
		if (sz == 0)
			return off;
	}
}

static void
parse_answers(void)
{
	size_t total;

	while ((total = answer_len()) > 0) {
		trig.last_status = atoi(T.in + 9);
		memmove(T.in, T.in + total, T.inlen - total);
		T.inlen -= total;
		trig.last_t = lc_mono_ns();
		if (trig.got++ == 0)
			trig.first_t = trig.last_t;
		if (trig.last_status >= 300 && trig.last_status != 303)
			fprintf(stderr, "loadclient: trigger got status %d\n",
			    trig.last_status);
	}
}

void
trig_on_event(uint32_t events)
{
	if (T.fd < 0)
		return;
	if (events & EPOLLOUT)
		trig_flush();
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		ssize_t n;

		if (T.incap - T.inlen < 65536) {
			T.incap = T.incap * 2 + 65536;
			T.in = xrealloc(T.in, T.incap);
		}
		n = recv(T.fd, T.in + T.inlen, T.incap - T.inlen, MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			/* The server closed a kept-alive connection: the
			 * next request goes on a new one. */
			parse_answers();
			trig_close();
			return;
		}
		T.inlen += (size_t)n;
	}
	parse_answers();
}

int
trig_done(void)
{
	return trig.got >= trig.want;
}

void
trig_reset(void)
{
	memset(&trig, 0, sizeof(trig));
}

int
trig_get(const struct sockaddr_in *addr, const char *host, const char *path,
    int timeout_ms, struct buf *body)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	struct buf resp;
	char chunk[16384], *end;
	int fd, status = -1;
	ssize_t n;

	buf_init(&resp);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		goto done;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) != 0)
		goto done;
	buf_printf(&resp, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, host);
	if (send(fd, resp.data, resp.len, MSG_NOSIGNAL) != (ssize_t)resp.len)
		goto done;
	buf_reset(&resp);
	while ((n = recv(fd, chunk, sizeof(chunk), 0)) > 0)
		buf_append(&resp, chunk, (size_t)n);
	if (n < 0 || resp.len < 12 ||
	    (end = memmem(resp.data, resp.len, "\r\n\r\n", 4)) == NULL)
		goto done;
	status = atoi(resp.data + 9);
	buf_append(body, end + 4, resp.len - (size_t)(end + 4 - resp.data));
done:
	if (fd >= 0)
		close(fd);
	buf_cleanup(&resp);
	return status;
}
