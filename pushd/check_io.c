/* keycast-pushd --check's blocking client helpers (see check_io.h). */
#include "check_io.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "clock.h"
#include "text.h"

int
cio_left(int64_t deadline)
{
	int64_t ms = deadline - clock_ms();

	return ms > 0 ? (int)ms : 0;
}

int
cio_wait(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		int r = poll(&p, 1, cio_left(deadline));

		if (r >= 0)
			return r > 0;
		if (errno != EINTR)
			return -1;
	}
}

int
cio_connect(const struct addr *a, int64_t deadline, char *err, size_t errlen)
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
	if ((r = cio_wait(fd, POLLOUT, deadline)) <= 0) {
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

size_t
cio_read_head(int fd, struct buf *b, int64_t deadline, char *err, size_t errlen)
{
	char chunk[2048];

	for (;;) {
		char *end;
		ssize_t n;
		int r;

		if (b->len > 0 && (end = strstr(b->data, "\r\n\r\n")) != NULL)
			return (size_t)(end - b->data) + 4;
		if (b->len > CIO_HEAD_MAX) {
			snprintf(err, errlen, "an answer head larger than "
			    "%d bytes", CIO_HEAD_MAX);
			return 0;
		}
		if ((r = cio_wait(fd, POLLIN, deadline)) <= 0) {
			snprintf(err, errlen, "no answer in time%s", r < 0 ?
			    " (poll failed)" : "");
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

int
cio_head_field(const char *head, size_t headlen, const char *name, char *out,
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

void
cio_put_query_value(struct buf *b, const char *s)
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

int
cio_parse_via(const char *via, char *host, size_t hostsz, char *addr,
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

/* Reads until the peer closes, at most max bytes, into b. Returns 0, or -1
 * with err set. */
static int
read_to_end(int fd, struct buf *b, size_t max, int64_t deadline, char *err,
    size_t errlen)
{
	char chunk[4096];

	for (;;) {
		ssize_t n;
		int r;

		if (b->len > max) {
			snprintf(err, errlen, "an answer larger than %zu bytes",
			    max);
			return -1;
		}
		if ((r = cio_wait(fd, POLLIN, deadline)) <= 0) {
			snprintf(err, errlen, "the answer did not end in time%s",
			    r < 0 ? " (poll failed)" : "");
			return -1;
		}
		n = recv(fd, chunk, sizeof(chunk), 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0) {
			snprintf(err, errlen, "reading the answer: %s",
			    strerror(errno));
			return -1;
		}
		if (n == 0)
			return 0;
		buf_append(b, chunk, (size_t)n);
	}
}

int
cio_get(const struct addr *a, const char *host, const char *target,
    size_t max, int64_t deadline, int *status, struct buf *body, char *err,
    size_t errlen)
{
	struct buf req, resp;
	char clen[32];
	size_t off;
	int fd, rc = -1;

	buf_init(&req);
	buf_init(&resp);
	if ((fd = cio_connect(a, deadline, err, errlen)) < 0)
		goto done;
	/* HTTP/1.0: the answer is never chunked and ends with the
	 * connection. */
	buf_printf(&req, "GET %s HTTP/1.0\r\nHost: %s\r\n"
	    "User-Agent: keycast-pushd --check\r\n\r\n", target, host);
	if (send(fd, req.data, req.len, MSG_NOSIGNAL) != (ssize_t)req.len) {
		snprintf(err, errlen, "cannot send the request");
		goto done;
	}
	if ((off = cio_read_head(fd, &resp, deadline, err, errlen)) == 0)
		goto done;
	if (sscanf(resp.data, "HTTP/1.%*1[01] %3d", status) != 1) {
		snprintf(err, errlen, "the answer is not HTTP/1.x");
		goto done;
	}
	if (cio_head_field(resp.data, off, "Content-Length", clen,
	    sizeof(clen)) == 0 && strtoull(clen, NULL, 10) > max) {
		snprintf(err, errlen, "an answer of %s bytes, larger than "
		    "%zu", clen, max);
		goto done;
	}
	buf_reset(body);
	buf_append(body, resp.data + off, resp.len - off);
	if (read_to_end(fd, body, max, deadline, err, errlen) != 0)
		goto done;
	if (cio_head_field(resp.data, off, "Content-Length", clen,
	    sizeof(clen)) == 0 && strtoull(clen, NULL, 10) != body->len) {
		snprintf(err, errlen, "the answer ended after %zu of its %s "
		    "bytes", body->len, clen);
		goto done;
	}
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	buf_cleanup(&req);
	buf_cleanup(&resp);
	return rc;
}
