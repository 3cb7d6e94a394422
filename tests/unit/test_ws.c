/* Unit tests for pushd/ws.c: RFC 6455's accept-key example, byte-exact
 * server frames, and the reader's answers to good and bad client frames
 * (close codes per RFC 6455 7.4.1; any data frame is refused with 1003),
 * whole, byte by byte and split. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "common/text.h"
#include "pushd/ws.h"

static int
frame_is(struct ws_frame *f, const void *want, size_t n)
{
	int same = f->len == n && memcmp(f->data, want, n) == 0;

	ws_frame_unref(f);
	return same;
}

/* A masked client frame. */
static size_t
client_frame(unsigned char *out, int fin, int opcode, const void *payload,
    size_t n)
{
	static const unsigned char mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
	size_t h = 0;

	out[h++] = (unsigned char)((fin ? 0x80 : 0) | opcode);
	if (n < 126) {
		out[h++] = (unsigned char)(0x80 | n);
	} else {
		out[h++] = 0x80 | 126;
		out[h++] = (unsigned char)(n >> 8);
		out[h++] = (unsigned char)n;
	}
	memcpy(out + h, mask, 4);
	h += 4;
	for (size_t i = 0; i < n; i++)
		out[h + i] = ((const unsigned char *)payload)[i] ^ mask[i % 4];
	return h + n;
}

struct sink {
	unsigned char	data[512];
	size_t		len;
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

/* The close code in the sink's first frame, or -1. */
static int
sink_close_code(const struct sink *s)
{
	if (s->len < 4 || s->data[0] != 0x88)
		return -1;
	return s->data[2] << 8 | s->data[3];
}

/* Feeds bytes (all at once, or one by one) to a fresh reader; *idle is
 * set when it ends between frames (holding nothing). */
static enum ws_in_state
feed(struct sink *s, const unsigned char *b, size_t n, int bytewise,
    int *idle)
{
	struct ws_in *w = NULL;
	enum ws_in_state st = WS_IN_OPEN;

	memset(s, 0, sizeof(*s));
	if (bytewise) {
		for (size_t i = 0; i < n && st == WS_IN_OPEN; i++)
			st = ws_in_feed(&w, b + i, 1, sink_send, s);
	} else {
		st = ws_in_feed(&w, b, n, sink_send, s);
	}
	if (idle != NULL)
		*idle = w == NULL;
	ws_in_free(w);
	return st;
}

static void
test_accept_key(void)
{
	char out[WS_ACCEPT_LEN + 1];
	const char *key = "dGhlIHNhbXBsZSBub25jZQ==";

	ok(ws_accept_key(key, strlen(key), out) == 0, "accept key computed");
	is_str(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "RFC 6455 1.3 example");
}

static void
test_frames(void)
{
	static const unsigned char hello[] = { 0x81, 0x05, 'H', 'e', 'l', 'l', 'o' };
	static const unsigned char empty[] = { 0x81, 0x00 };
	static const unsigned char ping[] = { 0x89, 0x00 };
	static const unsigned char close1001[] = { 0x88, 0x06, 0x03, 0xe9,
	    'b', 'y', 'e', '!' };
	static const unsigned char close4404[] = { 0x88, 0x02, 0x11, 0x34 };
	unsigned char *big = malloc(70000);
	struct ws_frame *f;

	ok(frame_is(ws_frame_text("Hello", 5), hello, sizeof(hello)),
	    "text frame, 7-bit length (RFC 6455 5.7)");
	ok(frame_is(ws_frame_text("", 0), empty, sizeof(empty)),
	    "empty text frame");
	f = ws_frame_beat();
	ok(f->len == 4 && memcmp(f->data, ping, 2) == 0 &&
	    memcmp(f->data + 2, empty, 2) == 0 && !f->is_data,
	    "heartbeat: an empty ping, then an empty text frame; no fragment");
	ws_frame_unref(f);
	ok(frame_is(ws_frame_close(1001, "bye!"), close1001, sizeof(close1001)),
	    "close 1001 with reason");
	ok(frame_is(ws_frame_close(4404, NULL), close4404, sizeof(close4404)),
	    "close 4404 without reason");
	{
		/* 122 ASCII bytes, then U+00E9 (2 bytes) across the 123-byte
		 * cut: a browser fails a close whose reason is not UTF-8. */
		char reason[128];

		memset(reason, 'r', 122);
		memcpy(reason + 122, "\xc3\xa9tc", 5);
		f = ws_frame_close(4403, reason);
		ok(f->len == 2 + 2 + 122 && f->data[1] == 2 + 122 &&
		    utf8_valid((const char *)f->data + 4, f->len - 4),
		    "a long close reason is cut before a character, not in it");
		ws_frame_unref(f);
		memcpy(reason + 121, "\xc3\xa9tc", 5);
		f = ws_frame_close(4403, reason);
		ok(f->len == 2 + 2 + 123 &&
		    utf8_valid((const char *)f->data + 4, f->len - 4),
		    "a character that ends at the cut stays");
		ws_frame_unref(f);
	}

	memset(big, 'x', 70000);
	f = ws_frame_text(big, 256);
	ok(f->len == 260 && f->data[0] == 0x81 && f->data[1] == 126 &&
	    f->data[2] == 0x01 && f->data[3] == 0x00 && f->data[4] == 'x',
	    "256 bytes: 16-bit length");
	ok(f->is_data, "text frames count as data");
	ws_frame_unref(f);
	f = ws_frame_text(big, 65535);
	ok(f->len == 65539 && f->data[1] == 126 && f->data[2] == 0xff &&
	    f->data[3] == 0xff, "65535 bytes: still 16-bit length");
	ws_frame_unref(f);
	f = ws_frame_text(big, 70000);
	ok(f->len == 70010 && f->data[1] == 127 && f->data[2] == 0 &&
	    f->data[5] == 0 && f->data[6] == 0x00 && f->data[7] == 0x01 &&
	    f->data[8] == 0x11 && f->data[9] == 0x70,
	    "70000 bytes: 64-bit length, network order");
	ok(ws_frame_ref(f) == f && f->refs == 2, "ref counts up");
	ws_frame_unref(f);
	ws_frame_unref(f);
	free(big);
}

static void
test_reader(void)
{
	unsigned char b[8192];
	struct sink s;
	size_t n, n2;
	int idle;

	for (int bytewise = 0; bytewise < 2; bytewise++) {
		const char *how = bytewise ? "byte by byte" : "in one piece";

		n = client_frame(b, 1, 0x9, "hi", 2);
		ok(feed(&s, b, n, bytewise, &idle) == WS_IN_OPEN &&
		    s.len == 4 && s.data[0] == 0x8a && s.data[1] == 2 &&
		    memcmp(s.data + 2, "hi", 2) == 0,
		    "ping gets an unmasked pong with its payload (%s)", how);
		ok(idle, "reader idle after a whole frame (%s)", how);

		n = client_frame(b, 1, 0xa, "", 0);
		ok(feed(&s, b, n, bytewise, &idle) == WS_IN_OPEN && s.len == 0 &&
		    idle, "pong is absorbed (%s)", how);

		n = client_frame(b, 1, 0x8, "\x03\xe8", 2);
		ok(feed(&s, b, n, bytewise, &idle) == WS_IN_CLOSED &&
		    sink_close_code(&s) == 1000 && idle,
		    "close 1000 is answered with 1000 (%s)", how);

		n = client_frame(b, 1, 0x8, "\x03\xed", 2);
		ok(feed(&s, b, n, bytewise, NULL) == WS_IN_CLOSED &&
		    sink_close_code(&s) == 1002,
		    "close with the reserved code 1005 closes 1002 (%s)", how);

		n = client_frame(b, 1, 0x8, "\x03\xe8\xc3\x28", 4);
		ok(feed(&s, b, n, bytewise, NULL) == WS_IN_CLOSED &&
		    (sink_close_code(&s) == 1007 || sink_close_code(&s) == 1002),
		    "close reason not UTF-8 closes 1007 or 1002 (%s)", how);

		n = client_frame(b, 1, 0x1, "hello", 5);
		ok(feed(&s, b, n, bytewise, &idle) == WS_IN_DATA &&
		    sink_close_code(&s) == 1003 && idle,
		    "a text message closes 1003 (%s)", how);

		n = client_frame(b, 1, 0x2, "\x01", 1);
		ok(feed(&s, b, n, bytewise, NULL) == WS_IN_DATA &&
		    sink_close_code(&s) == 1003,
		    "binary message closes 1003 (%s)", how);

		n = client_frame(b, 0, 0x1, "a", 1);
		n += client_frame(b + n, 0, 0x0, "b", 1);
		ok(feed(&s, b, n, bytewise, NULL) == WS_IN_DATA &&
		    sink_close_code(&s) == 1003 && s.len == 4 + 37,
		    "the first fragment of a message closes 1003, once (%s)",
		    how);

		n = client_frame(b, 1, 0x0, "x", 1);
		ok(feed(&s, b, n, bytewise, NULL) == WS_IN_DATA &&
		    sink_close_code(&s) == 1003,
		    "a continuation closes 1003 (%s)", how);

		memset(b + 100, 'a', 5000);
		n = client_frame(b, 1, 0x1, b + 100, 5000);
		ok(feed(&s, b, 4, bytewise, NULL) == WS_IN_DATA &&
		    sink_close_code(&s) == 1003,
		    "a 5000-byte text frame closes 1003 at its header (%s)",
		    how);

		n = client_frame(b, 1, 0x3, "x", 1);
		ok(feed(&s, b, n, bytewise, NULL) == WS_IN_CLOSED &&
		    sink_close_code(&s) == 1002,
		    "reserved opcode closes 1002 (%s)", how);

		n = client_frame(b, 0, 0x9, "x", 1);
		ok(feed(&s, b, n, bytewise, NULL) == WS_IN_CLOSED &&
		    sink_close_code(&s) == 1002,
		    "fragmented ping closes 1002 (%s)", how);

		b[0] = 0x89;
		b[1] = 0x00;	/* no mask bit */
		ok(feed(&s, b, 2, bytewise, NULL) == WS_IN_CLOSED &&
		    sink_close_code(&s) == 1002,
		    "unmasked frame closes 1002 (%s)", how);

		n = client_frame(b, 1, 0x9, "a", 1);
		n += client_frame(b + n, 1, 0x9, "b", 1);
		ok(feed(&s, b, n, bytewise, &idle) == WS_IN_OPEN && s.len == 6 &&
		    idle, "two pings in one read: two pongs (%s)", how);
	}

	/* Split frames: the reader holds state only inside a frame. */
	{
		struct ws_in *w = NULL;

		memset(&s, 0, sizeof(s));
		n = client_frame(b, 1, 0x9, "abc", 3);
		ok(ws_in_feed(&w, b, 1, sink_send, &s) == WS_IN_OPEN && w != NULL,
		    "one byte of a header: held");
		ok(ws_in_feed(&w, b + 1, 2, sink_send, &s) == WS_IN_OPEN &&
		    w != NULL && s.len == 0, "inside the mask: held");
		ok(ws_in_feed(&w, b + 3, n - 3, sink_send, &s) == WS_IN_OPEN &&
		    w == NULL && s.len == 5, "its end: pong, nothing held");
		n = client_frame(b, 1, 0x9, "a", 1);
		n2 = client_frame(b + n, 1, 0x9, "bcd", 3);
		memset(&s, 0, sizeof(s));
		ok(ws_in_feed(&w, b, n + 2, sink_send, &s) == WS_IN_OPEN &&
		    w != NULL && s.len == 3,
		    "a frame and part of the next: one pong, the rest held");
		ok(ws_in_feed(&w, b + n + 2, n2 - 2, sink_send, &s) ==
		    WS_IN_OPEN && w == NULL && s.len == 3 + 5,
		    "the rest: the second pong");
		n = client_frame(b, 0, 0x1, "ab", 2);
		ok(ws_in_feed(&w, b, 1, sink_send, &s) == WS_IN_OPEN && w != NULL,
		    "first byte of a fragmented text frame: held");
		ok(ws_in_feed(&w, b + 1, 1, sink_send, &s) == WS_IN_DATA &&
		    w == NULL, "its second byte: refused, nothing held");
	}
	ws_in_free(NULL);
}

int
main(void)
{
	test_accept_key();
	test_frames();
	test_reader();
	return tap_done();
}
