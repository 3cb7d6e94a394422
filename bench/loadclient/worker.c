/* The worker processes (worker.h): the commands from the master, what
 * each client holds (held.h) and when it arrived; the connections
 * themselves are conn.c's. The invariants on W are in conn.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include "conn.h"
#include "opt.h"
#include "util.h"
#include "worker.h"
#include "xmalloc.h"

#define BAD_SHOWN	5		/* refused frames logged per worker */

struct wk_shm shm;
struct wk_state W;

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
		conn_resync(c);
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

void
wk_on_data(struct conn *c, int rsv1, const char *p, size_t n, size_t wire,
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
	/* Reset rather than FIN: no TIME_WAIT piles up over runs. */
	for (long i = 0; i < W.count; i++)
		conn_reset(&W.c[i]);
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
	conn_start_more();
	check_ready();
	for (;;) {
		int n = epoll_wait(W.ep, evs, 512, 1000);

		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL)
				on_ctl();
			else
				conn_on_event(evs[i].data.ptr, evs[i].events);
		}
		conn_start_more();
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
