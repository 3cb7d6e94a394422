/* common/diff.c: versions (FNV-1a 32 vectors), byte-exact ops for small
 * cases, the three edits the demo makes (the chat's sliding window of 50
 * messages, the counter's number, an item removed from the middle) with
 * ops about the size of what changed, the fall-back and both bounds, ops
 * that diff_apply must refuse, and a seeded property test:
 * apply(encode(a, b), a) == b over random edits of random HTML-like text.
 * Prints (not asserted) the chat window's ops size and encode time. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "buf.h"
#include "clock.h"
#include "diff.h"

static const struct diff_limits lim_default = {
	DIFF_UNITS_MAX_DEFAULT, DIFF_EDITS_MAX_DEFAULT
};

/* Encodes a -> b into ops (reset first); returns diff_encode's code. */
static int
enc(const char *a, const char *b, const struct diff_limits *lim,
    struct buf *ops)
{
	buf_reset(ops);
	return diff_encode(a, strlen(a), b, strlen(b), lim, ops);
}

/* Whether applying ops to a gives exactly b. */
static int
applies_to(const char *a, size_t alen, const char *ops, size_t olen,
    const char *b, size_t blen)
{
	struct buf out;
	int same;

	buf_init(&out);
	same = diff_apply(a, alen, ops, olen, blen, &out) == DIFF_OK &&
	    out.len == blen && memcmp(out.data ? out.data : "", b, blen) == 0 &&
	    diff_version(out.data, out.len) == diff_version(b, blen);
	buf_cleanup(&out);
	return same;
}

static int
round_trip(const char *a, const char *b, const struct buf *ops)
{
	return applies_to(a, strlen(a), ops->data, ops->len, b, strlen(b));
}

static int
apply_rc(const char *a, const char *ops, size_t max_out)
{
	struct buf out;
	int rc;

	buf_init(&out);
	rc = diff_apply(a, strlen(a), ops, strlen(ops), max_out, &out);
	if (rc != DIFF_OK && out.len != 0)
		rc = 99;	/* a refused diff must leave out as it was */
	buf_cleanup(&out);
	return rc;
}

/* One chat message as templates/chat.mustache renders it for a reader
 * who is not signed in (no delete button): ~250 bytes, as in the demo's
 * 13 KB window of 50. */
static void
chat_message(struct buf *b, int id)
{
	buf_printf(b, "    <li class=\"msg\" id=\"msg-%d\" data-author=\"%d\">"
	    "<time datetime=\"2026-11-29T12:%02d:%02dZ\" title=\"2026-11-29T12:"
	    "%02d:%02dZ\">12:%02d UTC</time> <b class=\"author\">user%d</b> "
	    "<span class=\"text\">message number %d: the weather &amp; the "
	    "trains</span></li>\n", id, id % 7, id % 60, id % 60, id % 60,
	    id % 60, id % 60, id % 7, id);
}

/* The chat fragment holding messages first .. first + n - 1. */
static void
chat_fragment(struct buf *b, int first, int n)
{
	buf_reset(b);
	buf_puts(b, "<section class=\"card chat\">\n  <h1>#lobby</h1>\n  <ol "
	    "class=\"messages\" id=\"messages\" data-view=\"member\" "
	    "data-rt-scroll=\"bottom\" role=\"log\" aria-live=\"polite\" "
	    "aria-label=\"Messages in #lobby\">\n");
	for (int i = first; i < first + n; i++)
		chat_message(b, i);
	buf_puts(b, "  </ol>\n  <form method=\"post\" action=\"/api/chat/lobby/"
	    "messages\" class=\"compose\">\n    <label for=\"text\" class=\""
	    "visually-hidden\">Message</label>\n    <input id=\"text\" name=\""
	    "text\" placeholder=\"Write a message\" maxlength=\"500\" required "
	    "autocomplete=\"off\">\n    <button type=\"submit\" class=\"btn\">"
	    "Send</button>\n  </form>\n</section>\n");
}

static void
test_version(void)
{
	ok(diff_version("", 0) == 0x811c9dc5u, "FNV-1a of \"\" is 811c9dc5");
	ok(diff_version("a", 1) == 0xe40c292cu, "FNV-1a of \"a\" is e40c292c");
	ok(diff_version("foobar", 6) == 0xbf9cf968u,
	    "FNV-1a of \"foobar\" is bf9cf968");
}

static void
test_exact(void)
{
	struct buf ops;
	const char *a = "<ul>\n<li>one</li>\n<li>two</li>\n<li>three</li>\n"
	    "</ul>\n";

	buf_init(&ops);
	ok(enc(a, "<ul>\n<li>one</li>\n<li>TWO</li>\n<li>three</li>\n</ul>\n",
	    &lim_default, &ops) == DIFF_OK, "one unit changed: encoded");
	/* units: "<ul>" "\n" "<li>" "one</li>" "\n" "<li>" "two</li>" ... */
	is_str(ops.data, "[6,-1,\"TWO</li>\",6]",
	    "skip the old unit, insert the new one, trailing copy");
	ok(enc(a, "<ul>\n<li>one</li>\n<li>two</li>\n<li>three</li>\n</ul>\n"
	    "<p>\"q\" \\ \t\r\x01 caf\xc3\xa9</p>", &lim_default, &ops) == DIFF_OK,
	    "appended unit with specials: encoded");
	is_str(ops.data, "[13,\"<p>\\\"q\\\" \\\\ \\t\\r\\u0001 caf\xc3\xa9</p>\"]",
	    "inserted units joined in one string; JSON escapes per section 2");
	buf_cleanup(&ops);
}

/* The chat: one message arrives, the oldest of 50 drops off. */
static void
test_chat_window(void)
{
	struct buf a, b, ops, msg;
	int64_t t0, t1;
	int rc;

	buf_init(&a);
	buf_init(&b);
	buf_init(&ops);
	buf_init(&msg);
	chat_fragment(&a, 100, 50);
	chat_fragment(&b, 101, 50);
	chat_message(&msg, 150);
	t0 = clock_us();
	rc = diff_encode(a.data, a.len, b.data, b.len, &lim_default, &ops);
	t1 = clock_us();
	ok(rc == DIFF_OK, "chat window shift: encoded");
	ok(ops.len < msg.len + 64, "chat window shift: ops (%zu B) about one "
	    "message's HTML (%zu B), not the fragment (%zu B)", ops.len,
	    msg.len, b.len);
	ok(round_trip(a.data, b.data, &ops), "chat window shift: round trip");
	printf("# chat window shift: fragment %zu B, ops %zu B, encode %"
	    PRId64 " us\n", b.len, ops.len, t1 - t0);
	buf_cleanup(&a);
	buf_cleanup(&b);
	buf_cleanup(&ops);
	buf_cleanup(&msg);
}

static void
test_counter(void)
{
	struct buf ops;
	const char *a = "<section class=\"card counter\">\n  <h1>Shared Real-Time "
	    "Counter</h1>\n  <output id=\"count\" aria-live=\"polite\">41</output>"
	    "\n  <div class=\"counter-buttons\">\n    <form method=\"post\" action"
	    "=\"/api/counter/decrement\">\n      <button type=\"submit\" class=\""
	    "btn\" aria-label=\"Decrement\">-</button>\n    </form>\n  </div>\n"
	    "</section>\n";
	char *b = strdup(a);

	buf_init(&ops);
	memcpy(strstr(b, "41<"), "42", 2);
	ok(enc(a, b, &lim_default, &ops) == DIFF_OK, "counter: encoded");
	ok(strstr(ops.data, "\"42</output>\"") != NULL && ops.len < 32,
	    "counter: ops (%s) carry only the changed unit", ops.data);
	ok(round_trip(a, b, &ops), "counter: round trip");
	buf_cleanup(&ops);
	free(b);
}

static void
test_remove_middle(void)
{
	struct buf a, b, ops;

	buf_init(&a);
	buf_init(&b);
	buf_init(&ops);
	for (int i = 0; i < 20; i++) {
		buf_printf(&a, "<li id=\"i%d\">item %d</li>\n", i, i);
		if (i != 9)
			buf_printf(&b, "<li id=\"i%d\">item %d</li>\n", i, i);
	}
	ok(diff_encode(a.data, a.len, b.data, b.len, &lim_default, &ops) ==
	    DIFF_OK, "item removed from the middle: encoded");
	is_str(ops.data, "[27,-3,30]", "item removed from the middle: copy, "
	    "skip its three units, copy");
	ok(round_trip(a.data, b.data, &ops), "item removed: round trip");
	buf_cleanup(&a);
	buf_cleanup(&b);
	buf_cleanup(&ops);
}

static void
test_fallback_and_bounds(void)
{
	struct buf a, b, ops;
	struct diff_limits lim;

	buf_init(&a);
	buf_init(&b);
	buf_init(&ops);
	ok(enc("<p>old</p>", "<p>new</p>", &lim_default, &ops) ==
	    DIFF_NOT_SMALLER && ops.len == 0,
	    "everything changed: DIFF_NOT_SMALLER, out reset");
	ok(enc("", "", &lim_default, &ops) == DIFF_NOT_SMALLER,
	    "empty to empty: \"[]\" is not smaller than nothing");
	ok(enc("<a>", "", &lim_default, &ops) == DIFF_NOT_SMALLER,
	    "to empty: not smaller");

	/* 40 units, 10 of them replaced: D = 20. */
	for (int i = 0; i < 40; i++) {
		buf_printf(&a, "<i>%04d</i>\n", i);
		buf_printf(&b, i % 8 == 0 ? "<i>x%03d</i>\n" : "<i>%04d</i>\n",
		    i);
	}
	lim = lim_default;
	lim.max_units = 119;
	ok(diff_encode(a.data, a.len, b.data, b.len, &lim, &ops) ==
	    DIFF_TOO_COSTLY && ops.len == 0, "120 units > max_units 119: "
	    "DIFF_TOO_COSTLY, out reset");
	lim.max_units = 120;
	ok(diff_encode(a.data, a.len, b.data, b.len, &lim, &ops) == DIFF_OK,
	    "120 units = max_units: encoded");
	buf_reset(&ops);
	lim = lim_default;
	lim.max_edits = 9;
	ok(diff_encode(a.data, a.len, b.data, b.len, &lim, &ops) ==
	    DIFF_TOO_COSTLY, "10 edits > max_edits 9: DIFF_TOO_COSTLY");
	lim.max_edits = 10;
	ok(diff_encode(a.data, a.len, b.data, b.len, &lim, &ops) == DIFF_OK &&
	    round_trip(a.data, b.data, &ops), "10 edits = max_edits: encoded");

	/* Everything different and large: the bound, not O(N^2), decides. */
	buf_reset(&a);
	buf_reset(&b);
	for (int i = 0; i < 5000; i++) {
		buf_printf(&a, "<a%d>", i);
		buf_printf(&b, "<b%d>", i);
	}
	buf_reset(&ops);
	ok(diff_encode(a.data, a.len, b.data, b.len, &lim_default, &ops) ==
	    DIFF_TOO_COSTLY, "10000 edits > 1000: DIFF_TOO_COSTLY");
	buf_cleanup(&a);
	buf_cleanup(&b);
	buf_cleanup(&ops);
}

static void
test_malformed(void)
{
	/* base units: "<a>" "<b>" "c" */
	static const char *const bad[] = {
		"", " ", "[", "]", "{}", "[3", "[3,]", "[,3]", "[0,3]",
		"[-0,3]", "[3.0]", "[3e0]", "[03]", "[+3]", "[4]", "[2]",
		"[3,1]", "[-4]", "[1,-3]", "[true,3]", "[null,3]", "[[3]]",
		"[\"x\",3", "[\"x,3]", "[\"\\q\",3]", "[\"\\u12\",3]",
		"[\"\\ud800\",3]", "[\"\\udc00\",3]", "[\"a\nb\",3]", "[3] x",
		"[3][", "[99999999999999999999]", "[-2147483648,3]", "3",
		"[\"\\ud800\\u0041\",3]", "[3 3]",
	};
	char huge[64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(apply_rc("<a><b>c", bad[i], 1000) == DIFF_MALFORMED,
		    "malformed ops %zu refused, out untouched", i);
	ok(apply_rc("<a><b>c", "[3]", 7) == DIFF_OK, "output of max_out: ok");
	ok(apply_rc("<a><b>c", "[3]", 6) == DIFF_MALFORMED,
	    "output over max_out: refused");
	ok(apply_rc("<a><b>c", "[\"xxxx\",3]", 10) == DIFF_MALFORMED,
	    "inserted text over max_out: refused");
	ok(apply_rc("", "[]", 0) == DIFF_OK, "empty base, empty ops: ok");
	ok(apply_rc("", " [ \"x\" ] ", 1) == DIFF_OK, "whitespace allowed");
	ok(apply_rc("<a><b>c", " [ 1 , -1 , \"\\u00e9\\ud83d\\ude00\" , 1 ] ",
	    100) == DIFF_OK, "escapes and a surrogate pair: ok");
	snprintf(huge, sizeof(huge), "[%ld]", 2147483647L);
	ok(apply_rc("<a><b>c", huge, 100) == DIFF_MALFORMED,
	    "a huge copy stops at the end of the base");
}

/* xorshift64*: the property test's reproducible randomness. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t
rng(uint32_t n)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 33) % n;
}

/* Random HTML-like text of about n pieces from a small vocabulary, so
 * that units repeat (as "</li>" does) and Myers has choices to make. */
static void
random_html(struct buf *b, int n)
{
	static const char *const piece[] = {
		"<li>", "</li>\n", "<b>", "</b>", "x", "yy", "\n", "<p class=\"q\">",
		"</p>", "caf\xc3\xa9", "\"", "\\", "\t", ">", "<br>", "1", "2",
	};

	buf_reset(b);
	for (int i = 0; i < n; i++)
		buf_puts(b, piece[rng(sizeof(piece) / sizeof(piece[0]))]);
}

/* b = a with a few random byte-range edits: deletes, inserts of random
 * text, copies of a's own ranges elsewhere (moves, duplicates). */
static void
random_edit(const struct buf *a, struct buf *b)
{
	struct buf tmp, ins;
	int edits = 1 + (int)rng(6);

	buf_init(&tmp);
	buf_init(&ins);
	buf_reset(b);
	buf_append(b, a->data ? a->data : "", a->len);
	for (int e = 0; e < edits; e++) {
		size_t at = b->len ? rng((uint32_t)b->len + 1) : 0;
		size_t n = b->len - at ? rng((uint32_t)(b->len - at) + 1) : 0;

		n = n > 40 ? 40 : n;
		buf_reset(&tmp);
		buf_append(&tmp, b->data ? b->data : "", at);
		switch (rng(3)) {
		case 0:		/* delete */
			break;
		case 1:		/* replace with random text */
			random_html(&ins, (int)rng(8));
			buf_append(&tmp, ins.data ? ins.data : "", ins.len);
			break;
		default:	/* replace with a copy of another range */
			if (a->len > 0) {
				size_t f = rng((uint32_t)a->len);
				size_t m = rng((uint32_t)(a->len - f) + 1);

				buf_append(&tmp, a->data + f, m > 60 ? 60 : m);
			}
			break;
		}
		buf_append(&tmp, b->data + at + n, b->len - at - n);
		buf_reset(b);
		buf_append(b, tmp.data ? tmp.data : "", tmp.len);
	}
	buf_cleanup(&tmp);
	buf_cleanup(&ins);
}

static void
test_property(void)
{
	struct buf a, b, ops;
	const struct diff_limits wide = { 1000000, 100000 };
	int pairs = 3000, bad = 0, encoded = 0, first_bad = -1;

	buf_init(&a);
	buf_init(&b);
	buf_init(&ops);
	for (int i = 0; i < pairs; i++) {
		int rc;

		random_html(&a, (int)rng(200));
		if (i % 10 == 0)
			random_html(&b, (int)rng(200));	/* unrelated */
		else
			random_edit(&a, &b);
		buf_reset(&ops);
		rc = diff_encode(a.data ? a.data : "", a.len,
		    b.data ? b.data : "", b.len, i % 2 ? &wide : &lim_default,
		    &ops);
		if (rc == DIFF_OK) {
			encoded++;
			if (ops.len >= b.len || !applies_to(a.data ? a.data :
			    "", a.len, ops.data, ops.len, b.data ? b.data : "",
			    b.len))
				bad++;
		} else if (rc != DIFF_NOT_SMALLER || ops.len != 0) {
			bad++;
		}
		if (bad && first_bad < 0)
			first_bad = i;
	}
	ok(bad == 0, "property: apply(encode(a, b), a) == b for %d random "
	    "pairs (seeded; first failure at pair %d)", pairs, first_bad);
	ok(encoded > pairs / 2, "property: %d of %d pairs gave a diff smaller "
	    "than b", encoded, pairs);
	buf_cleanup(&a);
	buf_cleanup(&b);
	buf_cleanup(&ops);
}

int
main(void)
{
	test_version();
	test_exact();
	test_chat_window();
	test_counter();
	test_remove_middle();
	test_fallback_and_bounds();
	test_malformed();
	test_property();
	return tap_done();
}
