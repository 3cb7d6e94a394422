/* libFuzzer target for common/diff.c. The input's first byte splits the
 * rest into a base and a second part. diff_apply takes the second part as
 * untrusted ops against the base: it must stay within max_out and leave
 * out untouched when it refuses. diff_encode takes it as a new fragment:
 * its ops, when given, must be smaller and apply back to it exactly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	const struct diff_limits lim = { 4096, 256 };
	const char *a, *b;
	size_t alen, blen, max_out;
	struct buf out, ops;
	int rc;

	if (n < 1)
		return 0;
	alen = d[0] * (n - 1) / 255;
	a = (const char *)d + 1;
	b = a + alen;
	blen = n - 1 - alen;
	max_out = (size_t)d[0] * 4;
	buf_init(&out);
	buf_init(&ops);
	buf_puts(&out, "kept");
	rc = diff_apply(a, alen, b, blen, max_out, &out);
	if (rc == DIFF_OK ? out.len > 4 + max_out :
	    rc != DIFF_MALFORMED || out.len != 4 || memcmp(out.data, "kept", 4))
		abort();
	rc = diff_encode(a, alen, b, blen, &lim, &ops);
	if (rc == DIFF_OK) {
		buf_reset(&out);
		if (ops.len >= blen ||
		    diff_apply(a, alen, ops.data, ops.len, blen, &out) !=
		    DIFF_OK || out.len != blen || memcmp(out.data, b, blen) != 0)
			abort();
	} else if ((rc != DIFF_TOO_COSTLY && rc != DIFF_NOT_SMALLER) ||
	    ops.len != 0) {
		abort();
	}
	buf_cleanup(&out);
	buf_cleanup(&ops);
	return 0;
}
