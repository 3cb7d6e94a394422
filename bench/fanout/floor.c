/* The floor of bench/fanout.sh: the least work a WebSocket fan-out can do on
 * this machine. One epoll loop accepts connections, answers each WebSocket
 * handshake with 101 and the current fragment, and on a trigger (any
 * request whose target starts with /trigger, on a kept-alive connection)
 * encodes the next fragment once and write()s that one frame to every
 * client in a tight loop over an array, then answers 204. Nothing else:
 * no hub, no render, no output queue, no timers.
 *
 *   floor --listen 127.0.0.1:PORT --template FILE [--count C]
 *
 * FILE is the fragment with @COUNT@ where the value goes (the load client
 * tells fragments apart by that value); each trigger increments it. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#define BUFSZ 4096

enum kind { K_HEAD, K_WS, K_TRIGGER };

struct conn {
	int		fd;
	enum kind	kind;
	long		idx;		/* in ws[] */
	char		*buf;		/* request bytes; freed once a WebSocket */
	size_t		len;
};

static struct conn **ws;
static long nws, capws;
static char *tpl;
static long count;
static unsigned char *frame;
static size_t framelen;

static void
die(const char *what)
{
	fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
encode(void)
{
	char num[32], *body;
	size_t bl = 0, nl, tl = strlen(tpl), hl;
	const char *p = tpl, *q;

	snprintf(num, sizeof(num), "%ld", count);
	nl = strlen(num);
	body = malloc(tl + 64);
	while ((q = strstr(p, "@COUNT@")) != NULL) {
		memcpy(body + bl, p, (size_t)(q - p));
		bl += (size_t)(q - p);
		memcpy(body + bl, num, nl);
		bl += nl;
		p = q + 7;
	}
	memcpy(body + bl, p, strlen(p));
	bl += strlen(p);
	hl = bl < 126 ? 2 : bl <= 0xffff ? 4 : 10;
	free(frame);
	frame = malloc(hl + bl);
	frame[0] = 0x81;
	if (bl < 126) {
		frame[1] = (unsigned char)bl;
	} else if (bl <= 0xffff) {
		frame[1] = 126;
		frame[2] = (unsigned char)(bl >> 8);
		frame[3] = (unsigned char)bl;
	} else {
		frame[1] = 127;
		for (int i = 0; i < 8; i++)
			frame[2 + i] = (unsigned char)((unsigned long long)bl >> (56 - 8 * i));
	}
	memcpy(frame + hl, body, bl);
	framelen = hl + bl;
	free(body);
}

static void
drop(int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->buf);
	if (c->kind == K_WS) {
		ws[c->idx] = ws[--nws];
		ws[c->idx]->idx = c->idx;
	}
	free(c);
}

static void
fanout(void)
{
	struct timespec a, b;
	long short_writes = 0;

	count++;
	encode();
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < nws; i++)
		if (write(ws[i]->fd, frame, framelen) != (ssize_t)framelen)
			short_writes++;
	clock_gettime(CLOCK_MONOTONIC, &b);
	fprintf(stderr, "floor: value %ld to %ld clients in %.3f ms%s\n", count,
	    nws, (double)(b.tv_sec - a.tv_sec) * 1e3 +
	    (double)(b.tv_nsec - a.tv_nsec) / 1e6,
	    short_writes ? " (some writes were short)" : "");
}

static const char *
header(const char *head, const char *name)
{
	size_t nl = strlen(name);

	for (const char *p = strchr(head, '\n'); p != NULL; p = strchr(p + 1, '\n'))
		if (strncasecmp(p + 1, name, nl) == 0 && p[1 + nl] == ':') {
			p += 2 + nl;
			while (*p == ' ')
				p++;
			return p;
		}
	return NULL;
}

static int
upgrade(struct conn *c)
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	const char *k = header(c->buf, "Sec-WebSocket-Key");
	char key[128], resp[256];
	unsigned char sha[SHA_DIGEST_LENGTH], acc[64];
	size_t kl = 0;
	int n;

	if (k == NULL)
		return -1;
	while (k[kl] && k[kl] != '\r' && kl < 64)
		kl++;
	memcpy(key, k, kl);
	memcpy(key + kl, guid, sizeof(guid) - 1);
	SHA1((unsigned char *)key, kl + sizeof(guid) - 1, sha);
	EVP_EncodeBlock(acc, sha, sizeof(sha));
	n = snprintf(resp, sizeof(resp), "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n\r\n", acc);
	if (write(c->fd, resp, (size_t)n) != n ||
	    write(c->fd, frame, framelen) != (ssize_t)framelen)
		return -1;
	if (nws == capws) {
		capws = capws ? capws * 2 : 1024;
		ws = realloc(ws, sizeof(*ws) * (size_t)capws);
	}
	c->kind = K_WS;
	free(c->buf);
	c->buf = NULL;
	c->idx = nws;
	ws[nws++] = c;
	return 0;
}

/* Whole requests on a trigger connection: fan out once per request. */
static int
triggers(struct conn *c)
{
	static const char ok[] = "HTTP/1.1 204 No Content\r\n\r\n";

	for (;;) {
		char *end;
		const char *cl;
		size_t hl, total;

		c->buf[c->len] = 0;
		end = strstr(c->buf, "\r\n\r\n");
		if (end == NULL)
			return c->len < BUFSZ - 1 ? 0 : -1;
		hl = (size_t)(end - c->buf) + 4;
		*end = 0;
		cl = header(c->buf, "Content-Length");
		total = hl + (cl != NULL ? (size_t)atol(cl) : 0);
		*end = '\r';
		if (total >= BUFSZ)
			return -1;
		if (c->len < total)
			return 0;
		fanout();
		if (write(c->fd, ok, sizeof(ok) - 1) < 0)
			return -1;
		memmove(c->buf, c->buf + total, c->len - total);
		c->len -= total;
	}
}

static void
on_read(int ep, struct conn *c)
{
	for (;;) {
		ssize_t n;

		if (c->kind == K_WS) {
			char sink[4096];

			n = read(c->fd, sink, sizeof(sink));
		} else {
			n = read(c->fd, c->buf + c->len, BUFSZ - 1 - c->len);
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			drop(ep, c);
			return;
		}
		if (c->kind == K_WS)
			continue;
		c->len += (size_t)n;
		c->buf[c->len] = 0;
		if (c->kind == K_HEAD) {
			if (strstr(c->buf, "\r\n\r\n") == NULL) {
				if (c->len >= BUFSZ - 1) {
					drop(ep, c);
					return;
				}
				continue;
			}
			if (strncmp(c->buf, "POST /trigger", 13) == 0 ||
			    strncmp(c->buf, "GET /trigger", 12) == 0) {
				c->kind = K_TRIGGER;
			} else {
				if (upgrade(c) != 0)
					drop(ep, c);
				return;
			}
		}
		if (triggers(c) != 0) {
			drop(ep, c);
			return;
		}
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct epoll_event ev, evs[256];
	int lfd, ep, one = 1;
	const char *listen_at = NULL, *tfile = NULL;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--listen") == 0)
			listen_at = argv[i + 1];
		else if (strcmp(argv[i], "--template") == 0)
			tfile = argv[i + 1];
		else if (strcmp(argv[i], "--count") == 0)
			count = atol(argv[i + 1]);
	}
	if (listen_at == NULL || tfile == NULL) {
		fprintf(stderr, "usage: floor --listen HOST:PORT --template FILE [--count C]\n");
		return 2;
	}
	{
		FILE *f = fopen(tfile, "rb");
		long n;
		char host[64];
		const char *colon = strrchr(listen_at, ':');

		if (f == NULL)
			die(tfile);
		fseek(f, 0, SEEK_END);
		n = ftell(f);
		fseek(f, 0, SEEK_SET);
		tpl = calloc(1, (size_t)n + 1);
		if (fread(tpl, 1, (size_t)n, f) != (size_t)n)
			die("read template");
		fclose(f);
		snprintf(host, sizeof(host), "%.*s", (int)(colon - listen_at), listen_at);
		inet_pton(AF_INET, host, &sa.sin_addr);
		sa.sin_port = htons((uint16_t)atoi(colon + 1));
	}
	encode();
	signal(SIGPIPE, SIG_IGN);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 4096) != 0)
		die("listen");
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr != NULL) {
				on_read(ep, evs[i].data.ptr);
				continue;
			}
			for (;;) {
				int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
				struct conn *c;

				if (fd < 0)
					break;
				/* As keycast-pushd does: no Nagle delay. */
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				c = calloc(1, sizeof(*c));
				c->fd = fd;
				c->buf = malloc(BUFSZ);
				ev.events = EPOLLIN;
				ev.data.ptr = c;
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
			}
		}
	}
}
