/* common/deflate.c: RFC 7692 7.2.3.1's "Hello" bytes both ways, round trips
 * (empty, small, large, every level), the inflate bound and truncated or
 * corrupt input, and the offer parser on RFC 7692 section 7 offers: several
 * offers, parameters with and without values, quoted values, offers pushd
 * must decline and values that are malformed. */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "buf.h"
#include "deflate.h"

static const unsigned char hello_deflated[] = {
	0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00
};

static void
test_hello(void)
{
	struct buf out;

	buf_init(&out);
	ok(deflate_message("Hello", 5, 6, &out) == 0 &&
	    out.len == sizeof(hello_deflated) &&
	    memcmp(out.data, hello_deflated, out.len) == 0,
	    "\"Hello\" deflates to RFC 7692 7.2.3.1's f2 48 cd c9 c9 07 00");
	buf_reset(&out);
	ok(deflate_inflate(hello_deflated, sizeof(hello_deflated), 5, &out) ==
	    0 && out.len == 5 && memcmp(out.data, "Hello", 5) == 0,
	    "RFC 7692 7.2.3.1's bytes inflate to \"Hello\"");
	buf_reset(&out);
	ok(deflate_inflate(hello_deflated, sizeof(hello_deflated), 4, &out) ==
	    -1 && out.len == 0, "\"Hello\" with max_out 4: refused");
	/* RFC 7692 7.2.3.3: the same with BFINAL set (no tail to remove). */
	static const unsigned char final[] = {
		0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00
	};
	buf_reset(&out);
	ok(deflate_inflate(final, sizeof(final), 100, &out) == 0 &&
	    out.len == 5 && memcmp(out.data, "Hello", 5) == 0,
	    "a message whose last block has BFINAL set inflates");
	/* RFC 7692 7.2.3.2: two sync-flushed "Hello"s share a context, which
	 * no context takeover must not need; our fresh stream inflates the
	 * first one alone. Also: 7.2.3.6's empty message is one 0x00. */
	buf_reset(&out);
	ok(deflate_message("", 0, 6, &out) == 0 && out.len == 1 &&
	    out.data[0] == 0, "an empty message deflates to 00 (7.2.3.6)");
	buf_reset(&out);
	ok(deflate_inflate("\x00", 1, 0, &out) == 0 && out.len == 0,
	    "00 inflates to nothing");
	buf_cleanup(&out);
}

static void
test_round_trip(void)
{
	struct buf text, z, back;
	int good = 1;

	buf_init(&text);
	buf_init(&z);
	buf_init(&back);
	/* 200 KB: bigger than zlib's 16 KB steps on both sides. */
	for (int i = 0; i < 4000; i++)
		buf_printf(&text, "<li id=\"m%d\">message %d</li>\n", i, i * 7);
	for (int level = 1; level <= 9; level++) {
		buf_reset(&z);
		buf_reset(&back);
		if (deflate_message(text.data, text.len, level, &z) != 0 ||
		    z.len >= text.len / 4 ||
		    deflate_inflate(z.data, z.len, text.len, &back) != 0 ||
		    back.len != text.len ||
		    memcmp(back.data, text.data, text.len) != 0)
			good = 0;
	}
	ok(good, "%zu bytes round trip at levels 1..9, compressed > 4x",
	    text.len);
	buf_reset(&back);
	ok(deflate_inflate(z.data, z.len, text.len - 1, &back) == -1 &&
	    back.len == 0, "one byte over max_out: refused, out untouched");
	buf_reset(&back);
	ok(deflate_inflate(z.data, z.len / 2, text.len, &back) == -1,
	    "a truncated message: refused");
	z.data[z.len / 3] ^= 0x55;
	z.data[z.len / 3 + 1] ^= 0xaa;
	buf_reset(&back);
	ok(deflate_inflate(z.data, z.len, text.len, &back) == -1 ||
	    back.len != text.len || memcmp(back.data, text.data, back.len) != 0,
	    "corrupt input: refused or different, never a crash");
	buf_reset(&back);
	ok(deflate_inflate("\xff\xff\xff", 3, 100, &back) == -1,
	    "garbage: refused (reserved block type)");
	ok(deflate_message("x", 1, 0, &z) == -1 &&
	    deflate_message("x", 1, 10, &z) == -1, "levels 0 and 10 refused");
	buf_cleanup(&text);
	buf_cleanup(&z);
	buf_cleanup(&back);
}

static int
offer(const char *v, struct deflate_offer *o)
{
	memset(o, 0xff, sizeof(*o));
	return deflate_offer_parse(v, strlen(v), o);
}

static void
test_offers(void)
{
	struct deflate_offer o;
	static const char *const declined[] = {
		"",
		"x-webkit-deflate-frame",
		"permessage-deflate; server_max_window_bits=10",
		"permessage-deflate; server_max_window_bits",
		"permessage-deflate; server_max_window_bits=015",
		"permessage-deflate; server_max_window_bits=16",
		"permessage-deflate; server_max_window_bits=15",
		"permessage-deflate; server_max_window_bits=\"15\"",
		"permessage-deflate; client_max_window_bits=7",
		"permessage-deflate; client_max_window_bits=\"\\31\\36\"",
		"permessage-deflate; mystery",
		"permessage-deflate; server_no_context_takeover=1",
		"permessage-deflate; server_no_context_takeover; "
		    "server_no_context_takeover",
		"permessage-deflate; client_max_window_bits; "
		    "client_max_window_bits=15",
		" , ,",
	};
	static const char *const malformed[] = {
		"permessage-deflate;",
		"permessage-deflate; =15",
		"permessage-deflate; server_max_window_bits=",
		"permessage-deflate; server_max_window_bits=\"15",
		"permessage-deflate; server_max_window_bits=\"1 5\"",
		"permessage-deflate; server_max_window_bits=\"\"",
		"permessage-deflate server_no_context_takeover",
		"permessage-deflate; a b",
		"x-foo; a=\"open, permessage-deflate",
		"permessage-deflate,,;",
		"\"permessage-deflate\"",
		"permessage-deflate; client_max_window_bits=\"15\\",
		"permessage-deflate/1",
	};

	ok(offer("permessage-deflate", &o) == 1 &&
	    !o.client_max_window_bits_seen, "a bare offer is taken");
	ok(offer("permessage-deflate; client_max_window_bits", &o) == 1 &&
	    o.client_max_window_bits_seen, "Chromium's offer: taken, "
	    "client_max_window_bits seen");
	ok(offer("permessage-deflate; server_no_context_takeover; "
	    "client_no_context_takeover; client_max_window_bits=10", &o) == 1 &&
	    o.client_max_window_bits_seen, "the three parameters we take: "
	    "taken");
	ok(offer("permessage-deflate;client_max_window_bits=\"15\"", &o) == 1,
	    "a quoted value, no spaces: taken");
	ok(offer("permessage-deflate ; client_max_window_bits = \"1\\5\"", &o)
	    == 1, "a quoted value with a quoted-pair, spaces around ';' and "
	    "'=': taken");
	ok(offer("permessage-deflate; server_max_window_bits=10, "
	    "permessage-deflate; client_max_window_bits", &o) == 1 &&
	    o.client_max_window_bits_seen, "first offer declined (window 10), "
	    "the second taken (RFC 7692 5: offers in preference order)");
	ok(offer("permessage-deflate, permessage-deflate; "
	    "client_max_window_bits", &o) == 1 &&
	    !o.client_max_window_bits_seen, "of two good offers, the first");
	ok(offer("x-webkit-deflate-frame; no_context_takeover, foo; "
	    "bar=\"baz\", PerMessage-Deflate", &o) == 1,
	    "after other extensions with parameters; name case ignored");
	ok(offer("permessage-deflate; mystery=1, permessage-deflate", &o) == 1,
	    "an offer with an unknown parameter declined, the next taken");
	ok(offer("permessage-deflate,, permessage-deflate", &o) == 1,
	    "empty list elements are allowed (RFC 7230 7)");
	for (size_t i = 0; i < sizeof(declined) / sizeof(declined[0]); i++)
		ok(offer(declined[i], &o) == 0, "declined: '%s'", declined[i]);
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
		ok(offer(malformed[i], &o) == -1, "malformed: '%s'",
		    malformed[i]);
	ok(deflate_offer_parse("permessage-deflate; x", 18, &o) == 1,
	    "only n bytes are read");
}

int
main(void)
{
	test_hello();
	test_round_trip();
	test_offers();
	return tap_done();
}
