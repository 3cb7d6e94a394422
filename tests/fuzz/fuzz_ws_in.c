/* libFuzzer target for pushd/ws.c's client frame reader: every input is fed
 * whole and again split where its first byte says, to a v1 reader or a v2
 * one (resyncs allowed, compressed or not) as that byte says too; the
 * state, the resyncs and every byte the reader sends back (pongs, closes)
 * must agree, and nothing may be held once it ends between frames or
 * stops. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pushd/ws.h"

struct out {
	unsigned char	buf[65536];
	size_t		len;
	unsigned	resyncs;
};

static int
out_resync(void *arg)
{
	struct out *o = arg;

	o->resyncs++;
	return 0;
}

static void
out_send(void *arg, const void *bytes, size_t n)
{
	struct out *o = arg;

	if (n > sizeof(o->buf) - o->len)
		abort();	/* more replies than the input can ask for */
	memcpy(o->buf + o->len, bytes, n);
	o->len += n;
}

static enum ws_in_state
feed(const uint8_t *d, size_t n, size_t step, const struct ws_in_opts *opts,
    struct out *o, int *held)
{
	struct ws_in *w = NULL;
	enum ws_in_state st = WS_IN_OPEN;
	size_t off = 0;

	o->len = 0;
	o->resyncs = 0;
	while (off < n && st == WS_IN_OPEN) {
		size_t k = n - off < step ? n - off : step;

		st = ws_in_feed_opts(&w, d + off, k, opts, out_send, o);
		off += k;
	}
	if (st != WS_IN_OPEN && w != NULL)
		abort();	/* a stopped reader holds nothing */
	*held = w != NULL;
	ws_in_free(w);
	return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct out a, b;
	static const struct ws_in_opts v2[2] = {
		{ 0, out_resync }, { 1, out_resync },
	};
	const struct ws_in_opts *opts;
	size_t step;
	int held_a, held_b;
	enum ws_in_state sa, sb;

	if (size == 0 || size > 4096)
		return 0;
	step = (size_t)(data[0] % 16) + 1;
	opts = (data[0] & 0x30) == 0 ? NULL : &v2[(data[0] >> 5) & 1];
	data++;
	size--;
	sa = feed(data, size, size + 1, opts, &a, &held_a);
	sb = feed(data, size, step, opts, &b, &held_b);
	if (sa != sb || held_a != held_b || a.len != b.len ||
	    a.resyncs != b.resyncs ||
	    memcmp(a.buf, b.buf, a.len) != 0)
		abort();
	return 0;
}
