/* pushd/snap.c: the frames of one render. Header lines per protocol
 * section 2 (F and D), D only for a v2 client holding exactly the base,
 * every frame encoded once (the same pointer twice), deflated frames with
 * RSV1 that inflate back to the plain payload, small frames plain for
 * everyone, the fall-back when the diff is not worth it, and the counters.
 * Also ws_frame_text_rsv1's bytes against RFC 7692 7.2.3.1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "buf.h"
#include "deflate.h"
#include "diff.h"
#include "pushd/snap.h"
#include "pushd/ws.h"

/* The payload of an unmasked server frame f; *rsv1 gets its RSV1 bit. */
static const char *
frame_payload(const struct ws_frame *f, size_t *n, int *rsv1)
{
	size_t h = 2, len = f->data[1] & 0x7f;

	if (len == 126) {
		len = (size_t)f->data[2] << 8 | f->data[3];
		h = 4;
	} else if (len == 127) {
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | f->data[2 + i];
		h = 10;
	}
	*n = len;
	*rsv1 = (f->data[0] & 0x40) != 0;
	return (const char *)f->data + h;
}

/* The text a client reads from f: inflated if RSV1 is set. */
static void
frame_text(const struct ws_frame *f, struct buf *out, int *rsv1)
{
	size_t n;
	const char *p = frame_payload(f, &n, rsv1);

	buf_reset(out);
	if (*rsv1) {
		if (deflate_inflate(p, n, 1 << 20, out) != 0)
			buf_puts(out, "(inflate failed)");
	} else {
		buf_append(out, p, n);
	}
}

static void
chat(struct buf *b, int first)
{
	buf_reset(b);
	buf_puts(b, "<ol class=\"messages\">\n");
	for (int i = first; i < first + 50; i++)
		buf_printf(b, "<li class=\"msg\" id=\"msg-%d\"><b>user%d</b> "
		    "<span class=\"text\">message %d</span></li>\n", i, i % 5,
		    i);
	buf_puts(b, "</ol>\n");
}

int
main(void)
{
	static const unsigned char hello_frame[] = {
		0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00
	};
	struct snap_config c = {
		.diff = 1,
		.lim = { DIFF_UNITS_MAX_DEFAULT, DIFF_EDITS_MAX_DEFAULT },
		.deflate = 1, .deflate_level = 6,
		.deflate_min = 256, .deflate_max = 4 << 20,
	};
	struct snap_stats before = *snap_stats();
	struct buf b1, b2, want, got, applied;
	struct snap *s1, *s2, *s3;
	struct ws_frame *f, *f2, *kept;
	uint32_t base, v1, v2;
	int is_diff, rsv1;
	size_t n;
	char head[128];

	buf_init(&b1);
	buf_init(&b2);
	buf_init(&want);
	buf_init(&got);
	buf_init(&applied);

	buf_append(&want, "\xf2\x48\xcd\xc9\xc9\x07\x00", 7);
	f = ws_frame_text_rsv1(want.data, want.len);
	ok(f->len == sizeof(hello_frame) &&
	    memcmp(f->data, hello_frame, f->len) == 0 && f->is_data,
	    "ws_frame_text_rsv1: RFC 7692 7.2.3.1's frame c1 07 f2 48 ...");
	ws_frame_unref(f);

	chat(&b1, 1);
	chat(&b2, 2);
	s1 = snap_new(&c, "chat:lobby", "/chat/lobby", NULL, b1.data, b1.len);
	v1 = diff_version(b1.data, b1.len);
	ok(snap_version(s1) == v1, "version is FNV-1a of the body");
	ok(snap_base(s1, &base) == 0, "no previous snap: no diff");

	f = snap_frame(s1, 0, 0, 0, &is_diff);
	frame_text(f, &got, &rsv1);
	ok(!is_diff && !rsv1 && got.len == b1.len &&
	    memcmp(got.data, b1.data, b1.len) == 0,
	    "v1: the bare fragment, plain");
	ok(snap_frame(s1, 0, 1, v1, NULL) == f, "v1: encoded once");
	f = snap_frame(s1, SNAP_V2, 0, 0, &is_diff);
	snprintf(head, sizeof(head), "F %08x chat:lobby /chat/lobby\n", v1);
	buf_reset(&want);
	buf_puts(&want, head);
	buf_append(&want, b1.data, b1.len);
	frame_text(f, &got, &rsv1);
	ok(!is_diff && !rsv1 && got.len == want.len &&
	    memcmp(got.data, want.data, want.len) == 0,
	    "v2 F: \"F <version> <key> <url>\\n\" then the fragment");
	ok(snap_frame(s1, SNAP_V2, 1, 0x1234, NULL) == f, "v2 F: encoded once");

	f2 = snap_frame(s1, SNAP_V2 | SNAP_DEFLATE, 0, 0, &is_diff);
	frame_text(f2, &got, &rsv1);
	ok(f2 != f && rsv1 && got.len == want.len &&
	    memcmp(got.data, want.data, want.len) == 0 &&
	    f2->len < f->len / 3, "v2 F deflated: RSV1, inflates to the F "
	    "frame's text, %zu bytes instead of %zu", f2->len, f->len);
	ok(snap_frame(s1, SNAP_V2 | SNAP_DEFLATE, 0, 0, NULL) == f2,
	    "v2 F deflated: encoded once");

	s2 = snap_new(&c, "chat:lobby", "/chat/lobby", s1, b2.data, b2.len);
	v2 = diff_version(b2.data, b2.len);
	ok(snap_base(s2, &base) == 1 && base == v1, "diff from the previous "
	    "snap's version");
	f = snap_frame(s2, SNAP_V2, 1, v1, &is_diff);
	frame_text(f, &got, &rsv1);
	snprintf(head, sizeof(head), "D %08x %08x chat:lobby /chat/lobby\n",
	    v1, v2);
	ok(is_diff && !rsv1 && strncmp(got.data, head, strlen(head)) == 0,
	    "v2 D: \"D <base> <version> <key> <url>\\n\" then the ops");
	ok(diff_apply(b1.data, b1.len, got.data + strlen(head),
	    got.len - strlen(head), 1 << 20, &applied) == DIFF_OK &&
	    applied.len == b2.len && memcmp(applied.data, b2.data, b2.len) == 0,
	    "v2 D: its ops turn the base into the new fragment");
	ok(got.len < 256 && snap_frame(s2, SNAP_V2 | SNAP_DEFLATE, 1, v1,
	    &is_diff) == f && is_diff, "v2 D under deflate_min (%zu B): the "
	    "same plain frame for deflate clients", got.len);
	ok(snap_frame(s2, SNAP_V2, 1, v1, NULL) == f, "v2 D: encoded once");
	f2 = snap_frame(s2, SNAP_V2, 1, v1 ^ 1, &is_diff);
	ok(f2 != f && !is_diff, "v2 holding another version: F");
	ok(snap_frame(s2, SNAP_V2, 0, v1, &is_diff) == f2 && !is_diff,
	    "v2 holding nothing (have_valid 0, have == base): F");
	ok(snap_frame(s2, SNAP_V2, 1, v2, &is_diff) == f2 && !is_diff,
	    "v2 already holding the new version: F");
	f2 = snap_frame(s2, 0, 1, v1, &is_diff);
	frame_text(f2, &got, &rsv1);
	ok(!is_diff && got.len == b2.len, "v1 holding the base: still the "
	    "bare fragment");

	/* Frames outlive their snap when referenced. */
	kept = ws_frame_ref(snap_frame(s2, SNAP_V2 | SNAP_DEFLATE, 0, 0, NULL));
	snap_unref(s1);
	s3 = snap_new(&c, "chat:lobby", "/chat/lobby", s2, "<p>other</p>", 12);
	snap_unref(s2);
	frame_text(kept, &got, &rsv1);
	ok(rsv1 && got.len > b2.len && memcmp(got.data + got.len - b2.len,
	    b2.data, b2.len) == 0, "a referenced frame outlives its snap");
	ws_frame_unref(kept);
	ok(snap_base(s3, &base) == 0 && snap_stats()->diff_fallbacks ==
	    before.diff_fallbacks + 1, "diff not smaller: no diff, counted as "
	    "a fall-back");
	ok(snap_frame(s3, SNAP_V2, 1, v2, &is_diff) != NULL && !is_diff,
	    "after a fall-back the base's holders get F");
	ok(snap_stats()->diff_frames == before.diff_frames + 1,
	    "one D frame encoded (plain, shared with deflate clients)");
	ok(snap_stats()->deflate_frames == before.deflate_frames + 2 &&
	    snap_stats()->deflate_in > snap_stats()->deflate_out &&
	    snap_stats()->deflate_seconds >= 0, "deflate counters: %lu frames, "
	    "%llu -> %llu bytes", snap_stats()->deflate_frames,
	    snap_stats()->deflate_in, snap_stats()->deflate_out);
	snap_unref(s3);

	/* --no-diff and --no-deflate; a frame over deflate_max. */
	c.diff = 0;
	c.deflate = 0;
	s1 = snap_new(&c, "k", "/u", NULL, b1.data, b1.len);
	s2 = snap_new(&c, "k", "/u", s1, b2.data, b2.len);
	ok(snap_base(s2, &base) == 0 && snap_stats()->diff_fallbacks ==
	    before.diff_fallbacks + 1, "--no-diff: no diff, no fall-back");
	f = snap_frame(s2, SNAP_V2 | SNAP_DEFLATE, 1, v1, &is_diff);
	frame_payload(f, &n, &rsv1);
	ok(!is_diff && !rsv1, "--no-deflate: plain F for a deflate client");
	snap_unref(s1);
	snap_unref(s2);
	c.deflate = 1;
	c.deflate_max = b1.len;
	s1 = snap_new(&c, "k", "/u", NULL, b1.data, b1.len);
	f = snap_frame(s1, SNAP_DEFLATE, 0, 0, NULL);
	frame_payload(f, &n, &rsv1);
	ok(rsv1 && f != snap_frame(s1, 0, 0, 0, NULL),
	    "v1 of deflate_max bytes: deflated");
	f = snap_frame(s1, SNAP_V2 | SNAP_DEFLATE, 0, 0, NULL);
	frame_payload(f, &n, &rsv1);
	ok(!rsv1 && f == snap_frame(s1, SNAP_V2, 0, 0, NULL),
	    "F over deflate_max: the plain frame");
	snap_unref(s1);

	buf_cleanup(&b1);
	buf_cleanup(&b2);
	buf_cleanup(&want);
	buf_cleanup(&got);
	buf_cleanup(&applied);
	return tap_done();
}
