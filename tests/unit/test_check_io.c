/* Unit tests for pushd/check_io.c, --check's blocking client helpers,
 * against a real loopback server (a forked child per answer): answers in
 * one piece and byte by byte, ending with the connection, shorter than
 * their Content-Length, larger than the bound, heads that never end, no
 * answer at all (the deadline), a refused connect; then the pure helpers. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pushd/addr.h"
#include "buf.h"
#include "pushd/check_io.h"
#include "clock.h"
#include "tap.h"

struct answer {
	const char	*text;		/* written after the request's head */
	size_t		 repeat;	/* text written this many times (0: 1) */
	int		 drip;		/* one byte per write */
	int		 echo;		/* answer 200 with the request's head */
	int		 hold;		/* say nothing until the client closes */
};

static int lfd = -1;
static char spec[64];

/* Reads the request head (to its blank line or EOF) into head. */
static size_t
read_request(int fd, char *head, size_t size)
{
	size_t n = 0;
	ssize_t r;

	while (n + 1 < size && (r = read(fd, head + n, size - n - 1)) > 0) {
		n += (size_t)r;
		head[n] = '\0';
		if (strstr(head, "\r\n\r\n") != NULL)
			break;
	}
	head[n] = '\0';
	return n;
}

static void
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* The child: one connection, answered as a says, then closed. */
static void
serve(const struct answer *a)
{
	char head[4096], out[8192];
	int fd = accept(lfd, NULL, NULL), one = 1;
	size_t n;

	if (fd < 0)
		_exit(1);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	n = read_request(fd, head, sizeof(head));
	if (a->hold) {
		while (read(fd, head, sizeof(head)) > 0)
			;
	} else if (a->echo) {
		snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Length: "
		    "%zu\r\n\r\n%s", n, head);
		write_all(fd, out, strlen(out));
	} else if (a->drip) {
		for (const char *p = a->text; *p != '\0'; p++) {
			struct timespec gap = { 0, 2000000 };

			write_all(fd, p, 1);
			/* Apart, so the client reads many short pieces. */
			nanosleep(&gap, NULL);
		}
	} else {
		for (size_t i = 0; i < (a->repeat > 0 ? a->repeat : 1); i++)
			write_all(fd, a->text, strlen(a->text));
	}
	close(fd);
	_exit(0);
}

/* cio_get of /p?q=1 against a child answering as a says. */
static int
get(const struct answer *a, size_t max, int ms, int *status, struct buf *body,
    char *err, size_t errlen)
{
	struct addr ad;
	pid_t pid;
	int rc;

	if (addr_parse(spec, &ad, err, errlen) != 0)
		return -2;
	if ((pid = fork()) == 0)
		serve(a);
	rc = cio_get(&ad, "example.test:8080", "/p?q=1", max, clock_ms() + ms,
	    status, body, err, errlen);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return rc;
}

static void
test_get(void)
{
	struct buf body;
	char err[512];
	int status = 0;
	int64_t t0;

	buf_init(&body);
	ok(get(&(struct answer){ .echo = 1 }, 4096, 5000, &status, &body, err,
	    sizeof(err)) == 0 && status == 200, "echo: 200");
	buf_putc(&body, '\0');
	ok(strncmp(body.data, "GET /p?q=1 HTTP/1.0\r\nHost: example.test:8080"
	    "\r\n", 45) == 0, "the request: HTTP/1.0 GET with the Host given");

	ok(get(&(struct answer){ .text = "HTTP/1.1 200 OK\r\n"
	    "Content-Length: 5\r\n\r\nhello" }, 4096, 5000, &status, &body,
	    err, sizeof(err)) == 0 && body.len == 5 &&
	    memcmp(body.data, "hello", 5) == 0, "a body of its Content-Length");
	ok(get(&(struct answer){ .text = "HTTP/1.1 404 Not Found\r\n"
	    "Content-Type: text/plain\r\n\r\nnot here\n", .drip = 1 }, 4096,
	    5000, &status, &body, err, sizeof(err)) == 0 && status == 404 &&
	    body.len == 9 && memcmp(body.data, "not here\n", 9) == 0,
	    "byte by byte (short reads), ending with the connection");

	ok(get(&(struct answer){ .text = "HTTP/1.1 200 OK\r\n"
	    "Content-Length: 10\r\n\r\nhello" }, 4096, 5000, &status, &body,
	    err, sizeof(err)) == -1, "shorter than its Content-Length: fails");
	is_str(err, "the answer ended after 5 of its 10 bytes", "says so");

	ok(get(&(struct answer){ .text = "HTTP/1.1 200 OK\r\n"
	    "Content-Length: 5000\r\n\r\n" }, 4096, 5000, &status, &body, err,
	    sizeof(err)) == -1, "a Content-Length over the bound: fails");
	is_str(err, "an answer of 5000 bytes, larger than 4096", "says so");
	ok(get(&(struct answer){ .text = "0123456789abcdef", .repeat = 1100 },
	    4096, 5000, &status, &body, err, sizeof(err)) == -1,
	    "over 16 KiB of head without its end: fails");
	ok(strstr(err, "an answer head larger than") != NULL, "says so: %s",
	    err);
	ok(get(&(struct answer){ .text = "HTTP/1.0 200 OK\r\n\r\n" }, 4096,
	    5000, &status, &body, err, sizeof(err)) == 0 && body.len == 0,
	    "an empty body");
	ok(get(&(struct answer){ .text = "HTTP/1.1 200 OK\r\nX: y\r\n" },
	    4096, 5000, &status, &body, err, sizeof(err)) == -1,
	    "a head cut short: fails");
	is_str(err, "the connection ended before an answer", "says so");
	ok(get(&(struct answer){ .text = "HTTP/1.0 200 OK\r\n\r\n"
	    "0123456789abcdef", .repeat = 1 }, 8, 5000, &status, &body, err,
	    sizeof(err)) == -1, "a body past the bound without a length: fails");
	is_str(err, "an answer larger than 8 bytes", "says so");
	ok(get(&(struct answer){ .text = "SSH-2.0-OpenSSH\r\n\r\n" }, 4096,
	    5000, &status, &body, err, sizeof(err)) == -1, "not HTTP: fails");
	is_str(err, "the answer is not HTTP/1.x", "says so");

	t0 = clock_ms();
	ok(get(&(struct answer){ .hold = 1 }, 4096, 300, &status, &body, err,
	    sizeof(err)) == -1, "no answer: fails at the deadline");
	is_str(err, "no answer in time", "says so");
	ok(clock_ms() - t0 >= 290 && clock_ms() - t0 < 5000,
	    "after the deadline, not before (%lld ms)",
	    (long long)(clock_ms() - t0));
	buf_cleanup(&body);
}

static void
test_refused(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	struct addr ad;
	char dead[64], err[256];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	/* A port just bound and closed: nothing listens there. */
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	getsockname(fd, (struct sockaddr *)&sa, &len);
	close(fd);
	snprintf(dead, sizeof(dead), "127.0.0.1:%d", ntohs(sa.sin_port));
	addr_parse(dead, &ad, err, sizeof(err));
	ok(cio_connect(&ad, clock_ms() + 2000, err, sizeof(err)) == -1,
	    "a refused connect fails");
	is_str(err, "cannot connect: Connection refused", "says so");
}

static void
test_wait(void)
{
	int sv[2];
	int64_t t0;

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	t0 = clock_ms();
	ok(cio_wait(sv[0], POLLIN, t0 + 100) == 0, "nothing to read: 0 at "
	    "the deadline");
	ok(clock_ms() - t0 >= 95, "not before it");
	ok(cio_wait(sv[0], POLLOUT, clock_ms() + 100) == 1, "writable: 1");
	ok(cio_wait(sv[0], POLLIN, clock_ms() - 10) == 0, "a past deadline: "
	    "0 at once");
	ok(cio_left(clock_ms() - 10) == 0, "cio_left never negative");
	close(sv[0]);
	close(sv[1]);
}

static void
test_pure(void)
{
	static const char head[] = "HTTP/1.1 101 Switching Protocols\r\n"
	    "upgrade: websocket\r\nSec-WebSocket-Accept:   abc= \r\n\r\n";
	char out[64], host[64], addr[80];
	struct buf b;

	ok(cio_head_field(head, sizeof(head) - 1, "Upgrade", out,
	    sizeof(out)) == 0, "a header, any case");
	is_str(out, "websocket", "its value");
	cio_head_field(head, sizeof(head) - 1, "sec-websocket-accept", out,
	    sizeof(out));
	is_str(out, "abc= ", "leading blanks go");
	ok(cio_head_field(head, sizeof(head) - 1, "Upgrad", out,
	    sizeof(out)) == -1, "a prefix is not the header");

	ok(cio_parse_via("http://h.test:81", host, sizeof(host), addr,
	    sizeof(addr)) == 0, "http://HOST:PORT");
	is_str(host, "h.test:81", "Host keeps the port");
	is_str(addr, "h.test:81", "the address too");
	cio_parse_via("http://h.test/", host, sizeof(host), addr, sizeof(addr));
	is_str(addr, "h.test:80", "port 80 by default");
	ok(cio_parse_via("http://h.test/x", host, sizeof(host), addr,
	    sizeof(addr)) == -1, "a path is refused");
	ok(cio_parse_via("https://h.test", host, sizeof(host), addr,
	    sizeof(addr)) == -1, "https is refused");
	ok(cio_parse_via("http://u@h.test", host, sizeof(host), addr,
	    sizeof(addr)) == -1, "userinfo is refused");

	buf_init(&b);
	cio_put_query_value(&b, "/a b?&=\xc3\xa9~");
	buf_putc(&b, '\0');
	is_str(b.data, "/a%20b%3F%26%3D%C3%A9~", "query values percent-encoded");
	buf_cleanup(&b);
}

int
main(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	signal(SIGPIPE, SIG_IGN);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(lfd, 8) != 0 || getsockname(lfd, (struct sockaddr *)&sa,
	    &len) != 0) {
		printf("Bail out! no loopback listener: %s\n", strerror(errno));
		return 1;
	}
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", ntohs(sa.sin_port));
	test_get();
	test_refused();
	test_wait();
	test_pure();
	close(lfd);
	return tap_done();
}
