/* permessage-deflate (see deflate.h). Every message gets a fresh zlib
 * stream on both sides, which is what no_context_takeover in both
 * directions means (RFC 7692 7.1.1): nothing is kept between calls. The
 * offer parser follows RFC 6455 9.1's grammar (token, quoted-string, OWS,
 * empty list elements as RFC 7230 7 asks) and RFC 7692 7.1's rules for
 * declining an offer, declining any offer that names
 * server_max_window_bits (see deflate_param). */
#include "deflate.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

static const unsigned char deflate_tail[4] = { 0x00, 0x00, 0xff, 0xff };

/* Zlib's output for one call, appended to out in steps. */
#define DEFLATE_CHUNK	16384

int
deflate_message(const void *in, size_t n, int level, struct buf *out)
{
	unsigned char chunk[DEFLATE_CHUNK];
	z_stream z;
	size_t start = out->len;
	int rc;

	memset(&z, 0, sizeof(z));
	if (level < 1 || level > 9 || n > UINT_MAX ||
	    deflateInit2(&z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK)
		return -1;
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)n;
	/* Z_BUF_ERROR only says a repeated flush had nothing more to give. */
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		rc = deflate(&z, Z_SYNC_FLUSH);
		buf_append(out, chunk, sizeof(chunk) - z.avail_out);
	} while ((rc == Z_OK || rc == Z_BUF_ERROR) && z.avail_out == 0);
	deflateEnd(&z);
	if ((rc != Z_OK && rc != Z_BUF_ERROR) || z.avail_in != 0 ||
	    out->len - start < 4 ||
	    memcmp(out->data + out->len - 4, deflate_tail, 4) != 0)
		goto fail;
	out->len -= 4;
	out->data[out->len] = '\0';
	return 0;
fail:
	out->len = start;
	if (out->data != NULL)
		out->data[start] = '\0';
	return -1;
}

int
deflate_inflate(const void *in, size_t n, size_t max_out, struct buf *out)
{
	unsigned char chunk[DEFLATE_CHUNK];
	z_stream z;
	size_t start = out->len;
	int rc = Z_OK, pass;

	memset(&z, 0, sizeof(z));
	if (n > UINT_MAX || inflateInit2(&z, -15) != Z_OK)
		return -1;
	/* Pass 0 feeds the message, pass 1 the tail the sender removed. */
	for (pass = 0; pass < 2 && rc != Z_STREAM_END; pass++) {
		z.next_in = pass == 0 ? (Bytef *)(uintptr_t)in :
		    (Bytef *)(uintptr_t)deflate_tail;
		z.avail_in = pass == 0 ? (uInt)n : sizeof(deflate_tail);
		do {
			size_t got;

			z.next_out = chunk;
			z.avail_out = sizeof(chunk);
			rc = inflate(&z, Z_SYNC_FLUSH);
			got = sizeof(chunk) - z.avail_out;
			if (rc == Z_NEED_DICT || rc == Z_DATA_ERROR ||
			    rc == Z_MEM_ERROR || rc == Z_STREAM_ERROR ||
			    got > max_out - (out->len - start))
				goto fail;
			buf_append(out, chunk, got);
		} while (rc == Z_OK && (z.avail_in > 0 || z.avail_out == 0));
	}
	/* Complete: the last block ended (data_type 128: at a block boundary),
	 * or a final block ended the stream with only the tail left over. */
	if (rc == Z_STREAM_END ? pass == 1 && z.avail_in != 0 :
	    (z.data_type & 128) == 0)
		goto fail;
	inflateEnd(&z);
	return 0;
fail:
	inflateEnd(&z);
	out->len = start;
	if (out->data != NULL)
		out->data[start] = '\0';
	return -1;
}

/* The offer parser's cursor. */
struct ext {
	const char	*p, *end;
};

static int
tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || (c != 0 && strchr("!#$%&'*+-.^_`|~", c));
}

static void
ext_ows(struct ext *e)
{
	while (e->p < e->end && (*e->p == ' ' || *e->p == '\t'))
		e->p++;
}

/* A token into (*s, *n); -1 if there is none. */
static int
ext_token(struct ext *e, const char **s, size_t *n)
{
	*s = e->p;
	while (e->p < e->end && tchar((unsigned char)*e->p))
		e->p++;
	*n = (size_t)(e->p - *s);
	return *n > 0 ? 0 : -1;
}

/* A token or quoted-string value, unescaped into val (at most cap bytes;
 * longer values are kept cut short, which no valid value is). Returns the
 * full length, or -1 if malformed (RFC 6455 9.1: the unescaped value of a
 * quoted-string must itself be a token). */
static long
ext_value(struct ext *e, char *val, size_t cap)
{
	size_t n = 0;

	if (e->p < e->end && *e->p == '"') {
		for (e->p++;; e->p++) {
			unsigned char c;

			if (e->p == e->end)
				return -1;
			if (*e->p == '"')
				break;
			if (*e->p == '\\' && ++e->p == e->end)
				return -1;
			c = (unsigned char)*e->p;
			if (!tchar(c))
				return -1;
			if (n < cap)
				val[n] = (char)c;
			n++;
		}
		e->p++;
		return n > 0 ? (long)n : -1;
	}
	while (e->p < e->end && tchar((unsigned char)*e->p)) {
		if (n < cap)
			val[n] = *e->p;
		n++;
		e->p++;
	}
	return n > 0 ? (long)n : -1;
}

/* RFC 7692 7.1.2: a window size, "8" to "15", no leading zero. */
static int
window_bits(const char *v, long n)
{
	if (n == 1)
		return v[0] >= '8' && v[0] <= '9' ? v[0] - '0' : -1;
	if (n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5')
		return 10 + v[1] - '0';
	return -1;
}

enum { P_SERVER_NCT, P_CLIENT_NCT, P_SERVER_BITS, P_CLIENT_BITS, P_COUNT };
static const char *const deflate_params[P_COUNT] = {
	"server_no_context_takeover", "client_no_context_takeover",
	"server_max_window_bits", "client_max_window_bits",
};

/* Judges one parameter of a permessage-deflate offer: *ok becomes 0 when
 * RFC 7692 7.1 says to decline the offer (unknown or repeated parameter,
 * bad value, a server window we do not use). Returns -1 if malformed. */
static int
deflate_param(struct ext *e, unsigned *seen, int *ok,
    struct deflate_offer *o)
{
	const char *name;
	size_t nlen;
	char val[2];
	long vlen = 0;
	int p;

	if (ext_token(e, &name, &nlen) < 0)
		return -1;
	ext_ows(e);
	if (e->p < e->end && *e->p == '=') {
		e->p++;
		ext_ows(e);
		if ((vlen = ext_value(e, val, sizeof(val))) < 0)
			return -1;
	}
	for (p = 0; p < P_COUNT; p++)
		if (strlen(deflate_params[p]) == nlen &&
		    strncasecmp(deflate_params[p], name, nlen) == 0)
			break;
	if (p == P_COUNT || (*seen & 1u << p)) {
		*ok = 0;
		return 0;
	}
	*seen |= 1u << p;
	switch (p) {
	case P_SERVER_NCT:
	case P_CLIENT_NCT:
		if (vlen != 0)
			*ok = 0;
		break;
	case P_SERVER_BITS:
		/* Below 15 our 32 KB back-references would not fit. At 15,
		 * RFC 7692 7.1.2.1 wants it echoed in the answer, and struct
		 * deflate_offer (the contract) cannot say it was offered:
		 * declined too. Browsers do not send it. */
		*ok = 0;
		break;
	case P_CLIENT_BITS:
		if (vlen != 0 && window_bits(val, vlen) < 0)
			*ok = 0;
		o->client_max_window_bits_seen = 1;
		break;
	}
	return 0;
}

int
deflate_offer_parse(const char *v, size_t n, struct deflate_offer *o)
{
	struct ext e = { v, v + n };
	int found = 0;

	for (;;) {
		struct deflate_offer cur = { 0 };
		const char *name;
		size_t nlen;
		unsigned seen = 0;
		int ours, ok = 1;

		ext_ows(&e);
		if (e.p < e.end && *e.p == ',') {	/* an empty element */
			e.p++;
			continue;
		}
		if (e.p == e.end)
			break;
		if (ext_token(&e, &name, &nlen) < 0)
			return -1;
		ours = nlen == 18 &&
		    strncasecmp(name, "permessage-deflate", 18) == 0;
		ext_ows(&e);
		while (e.p < e.end && *e.p == ';') {
			e.p++;
			ext_ows(&e);
			/* Other extensions' parameters: checked for syntax
			 * only, their verdict unused. */
			if (deflate_param(&e, &seen, &ok, &cur) < 0)
				return -1;
			ext_ows(&e);
		}
		if (e.p < e.end && *e.p++ != ',')
			return -1;
		if (ours && ok && !found) {
			*o = cur;
			found = 1;
		}
	}
	return found;
}
