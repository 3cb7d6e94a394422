/* Unit tests for pushd/fcgi_codec.c: byte-exact request records, and the
 * response parser fed in one chunk and byte by byte, with padding, STDERR,
 * foreign records, limits and malformed input. */
#include <stdlib.h>
#include <string.h>

#include "pushd/fcgi_codec.h"
#include "tap.h"

static void
test_encode(void)
{
	static const unsigned char want[] = {
		/* BEGIN_REQUEST id 1: RESPONDER, KEEP_CONN */
		1, 1, 0, 1, 0, 8, 0, 0,  0, 1, 1, 0, 0, 0, 0, 0,
		/* PARAMS: A=1, 4 bytes + 4 padding */
		1, 4, 0, 1, 0, 4, 4, 0,  1, 1, 'A', '1', 0, 0, 0, 0,
		/* end of PARAMS, empty STDIN */
		1, 4, 0, 1, 0, 0, 0, 0,
		1, 5, 0, 1, 0, 0, 0, 0,
	};
	struct fcgc_param p[] = { { "A", "1" } };
	struct fcgc_param big[] = { { "QUERY_STRING", NULL } };
	struct buf b;
	char *v = malloc(201);

	buf_init(&b);
	fcgc_encode_request(&b, 1, 1, p, 1);
	ok(b.len == sizeof(want) && memcmp(b.data, want, b.len) == 0,
	    "one short pair, byte exact");
	buf_reset(&b);
	fcgc_encode_request(&b, 0x1234, 0, p, 1);
	ok(b.data[2] == 0x12 && b.data[3] == 0x34 && b.data[10] == 0,
	    "request id in network order, no KEEP_CONN flag");

	memset(v, 'v', 200);
	v[200] = '\0';
	big[0].value = v;
	buf_reset(&b);
	fcgc_encode_request(&b, 1, 1, big, 1);
	/* 1 + 4 length bytes, 12 + 200 bytes = 217 -> 7 padding */
	ok(b.len == 16 + 8 + 217 + 7 + 16, "long value: record size");
	ok((unsigned char)b.data[20] == 0 && (unsigned char)b.data[21] == 217 &&
	    b.data[22] == 7, "content length 217, padding 7");
	ok(b.data[24] == 12 && (unsigned char)b.data[25] == 0x80 &&
	    b.data[26] == 0 && b.data[27] == 0 && (unsigned char)b.data[28] == 200,
	    "name length 1 byte, value length 4 bytes with the high bit");
	ok(memcmp(b.data + 29, "QUERY_STRING", 12) == 0 && b.data[41] == 'v',
	    "name then value");

	/* A params stream over 64 KiB spans records. */
	v = realloc(v, 70001);
	memset(v, 'w', 70000);
	v[70000] = '\0';
	big[0].value = v;
	buf_reset(&b);
	fcgc_encode_request(&b, 1, 1, big, 1);
	ok((unsigned char)b.data[20] == 0xff && (unsigned char)b.data[21] == 0xf8 &&
	    b.data[22] == 0, "first PARAMS record: 65528 bytes, no padding");
	buf_cleanup(&b);
	free(v);
}

static void
put(struct buf *b, int type, int id, const char *content, size_t n, int pad)
{
	unsigned char h[8] = { 1, (unsigned char)type, (unsigned char)(id >> 8),
	    (unsigned char)id, (unsigned char)(n >> 8), (unsigned char)n,
	    (unsigned char)pad, 0 };

	buf_append(b, h, 8);
	buf_append(b, content, n);
	for (int i = 0; i < pad; i++)
		buf_putc(b, 'P');
}

static void
put_end(struct buf *b, int id, int proto)
{
	const char end[8] = { 0, 0, 0, 7, (char)proto, 0, 0, 0 };

	put(b, 3, id, end, 8, 0);
}

/* Parses b whole or byte by byte; r is left for inspection. */
static enum fcgc_rc
parse(struct fcgc_resp *r, const struct buf *b, int bytewise, size_t max,
    size_t *used)
{
	enum fcgc_rc rc = FCGC_MORE;
	size_t u;

	fcgc_resp_init(r, 1, max);
	*used = 0;
	if (!bytewise)
		return fcgc_resp_feed(r, b->data, b->len, used);
	for (size_t i = 0; i < b->len && rc == FCGC_MORE; i++) {
		rc = fcgc_resp_feed(r, b->data + i, 1, &u);
		*used += u;
	}
	return rc;
}

static void
test_response(void)
{
	static const char head[] = "Status: 404 Not Found\r\n"
	    "Content-Type: text/html\r\n\r\n";
	struct buf b;
	struct fcgc_resp r;
	size_t used;

	buf_init(&b);
	put(&b, 6, 1, head, strlen(head), 3);
	put(&b, 10, 0, "mgmt", 4, 4);		/* management record: skipped */
	put(&b, 7, 1, "warning: x", 10, 6);
	put(&b, 6, 2, "other", 5, 0);		/* another request: skipped */
	put(&b, 6, 1, "<p>gone</p>", 11, 5);
	put(&b, 6, 1, "", 0, 0);		/* end of STDOUT */
	put_end(&b, 1, 0);
	buf_append(&b, "NEXT", 4);

	for (int bw = 0; bw < 2; bw++) {
		const char *how = bw ? "byte by byte" : "in one chunk";

		ok(parse(&r, &b, bw, 1 << 20, &used) == FCGC_DONE,
		    "response parsed (%s)", how);
		ok(used == b.len - 4, "stops at END_REQUEST (%s)", how);
		ok(r.status == 404, "Status: 404 (%s)", how);
		ok(r.body_len == 11 && memcmp(r.body, "<p>gone</p>", 11) == 0,
		    "body after the head, foreign records skipped (%s)", how);
		ok(r.err.len == 10 && memcmp(r.err.data, "warning: x", 10) == 0,
		    "STDERR kept (%s)", how);
		ok(r.app_status == 7, "app status (%s)", how);
		fcgc_resp_cleanup(&r);
	}

	buf_reset(&b);
	put(&b, 6, 1, "Content-Type: text/html\n\n<b>ok</b>", 34, 6);
	put_end(&b, 1, 0);
	ok(parse(&r, &b, 0, 1 << 20, &used) == FCGC_DONE && r.status == 200 &&
	    r.body_len == 9, "no Status: 200, LF-only head");
	fcgc_resp_cleanup(&r);

	buf_reset(&b);
	put(&b, 6, 1, "Status: 200 OK\r\n\r\n", 18, 0);
	put_end(&b, 1, 0);
	ok(parse(&r, &b, 0, 1 << 20, &used) == FCGC_DONE && r.status == 200 &&
	    r.body_len == 0, "empty fragment");
	fcgc_resp_cleanup(&r);

	buf_reset(&b);
	put(&b, 6, 1, "Location: /x\r\n\r\n", 16, 0);
	put_end(&b, 1, 0);
	ok(parse(&r, &b, 0, 1 << 20, &used) == FCGC_DONE && r.status == 302,
	    "Location alone: 302");
	fcgc_resp_cleanup(&r);

	buf_reset(&b);
	put(&b, 6, 1, "Status: 503\r\n\r\nbusy", 19, 0);
	put_end(&b, 1, 0);
	ok(parse(&r, &b, 1, 1 << 20, &used) == FCGC_DONE && r.status == 503,
	    "Status without reason phrase");
	fcgc_resp_cleanup(&r);

	buf_reset(&b);
	put(&b, 6, 1, "Status: 200 OK\r\n\r\n0123456789", 28, 0);
	put_end(&b, 1, 0);
	ok(parse(&r, &b, 0, 27, &used) == FCGC_ETOOBIG, "over the limit whole");
	fcgc_resp_cleanup(&r);
	ok(parse(&r, &b, 1, 27, &used) == FCGC_ETOOBIG,
	    "over the limit byte by byte");
	fcgc_resp_cleanup(&r);

	buf_reset(&b);
	put(&b, 6, 1, "Status: 200 OK\r\n\r\n", 18, 0);
	put_end(&b, 1, 2);	/* FCGI_OVERLOADED */
	ok(parse(&r, &b, 0, 1 << 20, &used) == FCGC_EREFUSED,
	    "protocol status OVERLOADED: refused");
	fcgc_resp_cleanup(&r);

	buf_reset(&b);
	put(&b, 6, 1, "no head end", 11, 0);
	put_end(&b, 1, 0);
	ok(parse(&r, &b, 0, 1 << 20, &used) == FCGC_EPROTO,
	    "unterminated CGI head: error");
	fcgc_resp_cleanup(&r);

	buf_reset(&b);
	put(&b, 6, 1, "Status: abc\r\n\r\n", 15, 0);
	put_end(&b, 1, 0);
	ok(parse(&r, &b, 0, 1 << 20, &used) == FCGC_EPROTO, "bad Status");
	fcgc_resp_cleanup(&r);

	buf_reset(&b);
	put_end(&b, 1, 0);
	ok(parse(&r, &b, 0, 1 << 20, &used) == FCGC_EPROTO,
	    "END_REQUEST without output: error");
	fcgc_resp_cleanup(&r);

	buf_reset(&b);
	buf_append(&b, "HTTP/1.1 200 OK\r\n", 17);
	ok(parse(&r, &b, 0, 1 << 20, &used) == FCGC_EPROTO,
	    "not FastCGI: error");
	fcgc_resp_cleanup(&r);

	buf_reset(&b);
	put(&b, 6, 1, "Status: 200 OK\r\n\r\nabc", 21, 0);
	ok(parse(&r, &b, 0, 1 << 20, &used) == FCGC_MORE && used == b.len,
	    "no END_REQUEST yet: more");
	fcgc_resp_cleanup(&r);
	buf_cleanup(&b);
}

static void
test_cgi(void)
{
	int st;
	size_t off;

	ok(fcgc_cgi_parse("Status: 403 Forbidden\r\nX: y\r\n\r\nbody", 35, &st,
	    &off) == 0 && st == 403 && off == 31, "403 and body offset");
	ok(fcgc_cgi_parse("X: y\r\n", 6, &st, &off) == -1, "no blank line");
	ok(fcgc_cgi_parse("junk\r\n\r\n", 8, &st, &off) == -1,
	    "header line without colon");
	ok(fcgc_cgi_parse("Status: 200\r\nStatus: 404\r\n\r\n", 28, &st, &off) ==
	    -1, "two Status lines");
	ok(fcgc_cgi_parse("status:200\n\n", 12, &st, &off) == 0 && st == 200,
	    "case and no space");
}

int
main(void)
{
	test_encode();
	test_response();
	test_cgi();
	return tap_done();
}
