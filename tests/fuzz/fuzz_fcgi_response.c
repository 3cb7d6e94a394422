/* libFuzzer target for pushd/fcgi_codec.c's response parser: every input
 * is parsed whole and again split where its first byte says; both must
 * agree, and a parsed body must lie inside the STDOUT buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pushd/fcgi_codec.h"

#define MAX_OUT	4096	/* small, so the limit is reached */

static enum fcgc_rc
feed_split(struct fcgc_resp *r, const uint8_t *d, size_t n, size_t step,
    size_t *used)
{
	enum fcgc_rc rc = FCGC_MORE;
	size_t off = 0, u;

	fcgc_resp_init(r, 1, MAX_OUT);
	while (off < n && rc == FCGC_MORE) {
		size_t k = n - off < step ? n - off : step;

		rc = fcgc_resp_feed(r, d + off, k, &u);
		off += u;
		if (u < k)
			break;
	}
	*used = off;
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fcgc_resp a, b;
	size_t used1, used2, step, off;
	enum fcgc_rc rc1, rc2;
	int status;

	if (size == 0)
		return 0;
	step = (size_t)(data[0] % 16) + 1;
	data++;
	size--;
	rc1 = feed_split(&a, data, size, size + 1, &used1);
	rc2 = feed_split(&b, data, size, step, &used2);
	/* After an error, how far each got is not defined. */
	if (rc1 != rc2 || (rc1 >= FCGC_MORE && used1 != used2))
		abort();
	if (rc1 == FCGC_DONE) {
		if (a.status != b.status || a.body_len != b.body_len ||
		    memcmp(a.body, b.body, a.body_len) != 0 ||
		    a.body < a.out.data || a.body + a.body_len > a.out.data + a.out.len ||
		    a.status < 100 || a.status > 599)
			abort();
	}
	if (a.out.len > MAX_OUT || a.err.len > FCGC_STDERR_MAX)
		abort();
	fcgc_resp_cleanup(&a);
	fcgc_resp_cleanup(&b);
	/* The CGI head parser alone, on raw bytes. */
	if (fcgc_cgi_parse((const char *)data, size, &status, &off) == 0 &&
	    off > size)
		abort();
	return 0;
}
