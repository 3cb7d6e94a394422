/* Unit tests for the v2 protocol's pure parts in pushd: the upgrade's
 * repeated key/url pairs (pairing, url defaulting to the key, duplicates
 * kept once, the overflow past HS_ROOTS_MAX, the refusals, v=), the
 * permessage-deflate offer taken from Sec-WebSocket-Extensions, and the
 * reader's resync (plain, compressed, and every frame still refused). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "deflate.h"
#include "pushd/handshake.h"
#include "pushd/ws.h"
#include "tap.h"

/* Parses a head for target with extra header lines and runs the check:
 * 0 when accepted, else the refusal's status. */
static int
check(const char *target, const char *extra, struct hs_upgrade *u,
    const char **why)
{
	static char head[HS_HEAD_MAX];
	struct hs_parser p;
	size_t used;
	int status = 0;

	snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\nHost: h:1\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\n%s\r\n", target, extra);
	hs_init(&p);
	if (hs_feed(&p, head, strlen(head), &used) != HS_DONE)
		return -1;
	if (hs_upgrade_check(&p, NULL, 0, u, &status, why) == 0)
		return 0;
	return status;
}

static void
test_pairs(void)
{
	static struct hs_upgrade u;
	const char *why;
	char target[HS_TARGET_MAX];
	size_t n;

	ok(check("/__realtime?v=2&key=%2Fa&url=%2Fa%3Fx&key=b&url=%2Fb", "", &u,
	    &why) == 0 && u.version == 2 && u.npairs == 2, "two pairs");
	is_str(u.pairs[0].key, "/a", "first key");
	is_str(u.pairs[0].url, "/a?x", "first url, decoded");
	is_str(u.pairs[1].key, "b", "second key");
	is_str(u.pairs[1].url, "/b", "second url");
	is_str(u.key, "/a", "the first pair is also key/url");
	ok(check("/__realtime?key=%2Fa&v=2&key=%2Fb&key=%2Fa", "", &u, &why) == 0 &&
	    u.npairs == 2, "no url: each url is its key; a duplicate once");
	is_str(u.pairs[1].url, "/b", "url defaulted");
	ok(check("/__realtime?v=2&key=%2Fa&url=%2Fa&key=%2Fa&url=%2Fb", "", &u,
	    &why) == 0 && u.npairs == 2, "same key, other url: two pairs");
	ok(check("/__realtime?v=2&key=%2Fa&key=%2Fb&url=%2Fa", "", &u, &why) ==
	    400, "a url missing: 400");
	is_str(why, "every key needs its url, or no url is given", "reason");
	ok(check("/__realtime?v=2&url=%2Fa", "", &u, &why) == 400,
	    "no key: 400");
	ok(check("/__realtime?v=2&key=%2Fa&key=a%20b", "", &u, &why) == 400,
	    "a bad second key: 400");
	ok(check("/__realtime?v=2&key=%2Fa&url=http://x/", "", &u, &why) == 400,
	    "a bad url: 400");
	ok(check("/__realtime?v=2&key=%2Fa&key=global", "", &u, &why) == 400,
	    "a key that is no path needs its url: 400");
	ok(check("/__realtime?v=3&key=%2Fa", "", &u, &why) == 400 &&
	    u.accept[0] != '\0', "v=3: 400 after a valid upgrade (closed 4400)");
	ok(check("/__realtime?v&key=%2Fa", "", &u, &why) == 400, "empty v: 400");
	ok(check("/__realtime?v=1&key=%2Fa&key=%2Fb", "", &u, &why) == 0 &&
	    u.version == 1 && u.npairs == 1, "v1 keeps one pair, as before");
	is_str(u.pairs[0].key, "/a", "v1: the first key");

	n = (size_t)snprintf(target, sizeof(target), "/__realtime?v=2");
	for (int i = 0; i < HS_ROOTS_MAX + 5; i++)
		n += (size_t)snprintf(target + n, sizeof(target) - n, "&key=%%2Fk%d", i);
	ok(check(target, "", &u, &why) == 0 && u.npairs == HS_ROOTS_MAX + 1,
	    "past HS_ROOTS_MAX distinct pairs: npairs says more");
	n = (size_t)snprintf(target, sizeof(target), "/__realtime?v=2");
	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(target + n, sizeof(target) - n, "&key=%%2Fk");
	ok(check(target, "", &u, &why) == 0 && u.npairs == 1,
	    "300 duplicates: one pair");
}

static void
test_offer(void)
{
	static struct hs_upgrade u;
	const char *why;
	char big[600];

	ok(check("/__realtime?v=2&key=%2Fa", "Sec-WebSocket-Extensions: "
	    "permessage-deflate; client_max_window_bits\r\n", &u, &why) == 0 &&
	    u.deflate, "a browser's offer is taken");
	ok(check("/__realtime?v=2&key=%2Fa", "", &u, &why) == 0 && !u.deflate,
	    "no offer");
	ok(check("/__realtime?key=%2Fa", "Sec-WebSocket-Extensions: x-foo\r\n"
	    "Sec-WebSocket-Extensions: permessage-deflate\r\n", &u, &why) == 0 &&
	    u.deflate, "an offer on a second line");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	char line[700];
	snprintf(line, sizeof(line), "Sec-WebSocket-Extensions: "
	    "permessage-deflate; %s\r\n", big);
	ok(check("/__realtime?key=%2Fa", line, &u, &why) == 0 && !u.deflate,
	    "an over-long line is ignored, not refused");
}

struct sink {
	unsigned char	data[256];
	size_t		len;
	int		resyncs;
	int		refuse;		/* the resync callback closes */
};

static void
sink_send(void *arg, const void *bytes, size_t n)
{
	struct sink *s = arg;

	if (s->len + n <= sizeof(s->data)) {
		memcpy(s->data + s->len, bytes, n);
		s->len += n;
	}
}

static int
sink_resync(void *arg)
{
	struct sink *s = arg;

	s->resyncs++;
	return s->refuse ? -1 : 0;
}

static int
close_code(const struct sink *s)
{
	if (s->len < 4 || s->data[0] != 0x88)
		return -1;
	return s->data[2] << 8 | s->data[3];
}

/* A masked client text frame; rsv1 sets RSV1. */
static size_t
frame(unsigned char *out, int fin, int opcode, int rsv1, const void *p,
    size_t n)
{
	static const unsigned char mask[4] = { 0x11, 0x22, 0x33, 0x44 };

	out[0] = (unsigned char)((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode);
	out[1] = (unsigned char)(0x80 | n);
	memcpy(out + 2, mask, 4);
	for (size_t i = 0; i < n; i++)
		out[6 + i] = ((const unsigned char *)p)[i] ^ mask[i & 3];
	return 6 + n;
}

static enum ws_in_state
feed(struct sink *s, const struct ws_in_opts *o, const unsigned char *b,
    size_t n, int bytewise)
{
	struct ws_in *w = NULL;
	enum ws_in_state st = WS_IN_OPEN;

	if (bytewise) {
		for (size_t i = 0; i < n && st == WS_IN_OPEN; i++)
			st = ws_in_feed_opts(&w, b + i, 1, o, sink_send, s);
	} else {
		st = ws_in_feed_opts(&w, b, n, o, sink_send, s);
	}
	ws_in_free(w);
	return st;
}

static void
test_resync(void)
{
	struct ws_in_opts plain = { 0, sink_resync }, z = { 1, sink_resync };
	unsigned char b[512];
	struct buf c;
	size_t n;
	struct sink s;

	for (int bw = 0; bw <= 1; bw++) {
		memset(&s, 0, sizeof(s));
		n = frame(b, 1, 1, 0, "r", 1);
		n += frame(b + n, 1, 9, 0, "", 0);
		n += frame(b + n, 1, 1, 0, "r", 1);
		ok(feed(&s, &plain, b, n, bw) == WS_IN_OPEN && s.resyncs == 2 &&
		    s.len > 0 && s.data[0] == 0x8a, "r, ping, r: two resyncs, "
		    "a pong (%s)", bw ? "byte by byte" : "whole");
	}
	memset(&s, 0, sizeof(s));
	n = frame(b, 1, 1, 0, "r", 1);
	ok(feed(&s, NULL, b, n, 0) == WS_IN_DATA && close_code(&s) == 1003 &&
	    s.resyncs == 0, "a v1 reader refuses it 1003");
	memset(&s, 0, sizeof(s));
	n = frame(b, 1, 1, 0, "rr", 2);
	ok(feed(&s, &plain, b, n, 0) == WS_IN_DATA && close_code(&s) == 1003,
	    "any other text: 1003");
	memset(&s, 0, sizeof(s));
	n = frame(b, 1, 2, 0, "r", 1);
	ok(feed(&s, &plain, b, n, 0) == WS_IN_DATA && close_code(&s) == 1003,
	    "binary: 1003");
	memset(&s, 0, sizeof(s));
	n = frame(b, 0, 1, 0, "r", 1);
	ok(feed(&s, &plain, b, n, 0) == WS_IN_DATA && close_code(&s) == 1003,
	    "a fragmented text: 1003");
	memset(&s, 0, sizeof(s));
	s.refuse = 1;
	n = frame(b, 1, 1, 0, "r", 1);
	n += frame(b + n, 1, 1, 0, "r", 1);
	ok(feed(&s, &plain, b, n, 0) == WS_IN_CLOSED && s.resyncs == 1 &&
	    s.len == 0, "a resync the callback refuses stops the reader");

	buf_init(&c);
	ok(deflate_message("r", 1, 6, &c) == 0, "r deflated");
	memset(&s, 0, sizeof(s));
	n = frame(b, 1, 1, 1, c.data, c.len);
	ok(feed(&s, &z, b, n, 1) == WS_IN_OPEN && s.resyncs == 1,
	    "a compressed resync when negotiated");
	memset(&s, 0, sizeof(s));
	ok(feed(&s, &plain, b, n, 0) == WS_IN_CLOSED && close_code(&s) == 1002,
	    "RSV1 without the negotiation: 1002");
	buf_cleanup(&c);
	buf_init(&c);
	{
		char many[100];

		memset(many, 'r', sizeof(many));
		deflate_message(many, sizeof(many), 6, &c);
	}
	memset(&s, 0, sizeof(s));
	n = frame(b, 1, 1, 1, c.data, c.len);
	ok(feed(&s, &z, b, n, 0) == WS_IN_CLOSED && close_code(&s) == 1008 &&
	    s.resyncs == 0, "inflating past %d bytes: 1008", WS_IN_TEXT_MAX);
	buf_cleanup(&c);
	memset(&s, 0, sizeof(s));
	n = frame(b, 1, 1, 1, "\xff\xff\xff", 3);
	ok(feed(&s, &z, b, n, 0) == WS_IN_CLOSED && close_code(&s) == 1008,
	    "not deflate data: 1008");
}

int
main(void)
{
	test_pairs();
	test_offer();
	test_resync();
	return tap_done();
}
