/* libFuzzer target for common/deflate.c: deflate_offer_parse on any
 * Sec-WebSocket-Extensions value (a verdict of -1, 0 or 1, nothing read
 * past n), and deflate_inflate on the same bytes as a compressed message
 * (never more than max_out, out untouched on refusal). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "deflate.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct deflate_offer o;
	struct buf out;
	char *copy = malloc(n ? n : 1);	/* exact size: ASan sees overreads */
	int rc;

	memcpy(copy, d, n);
	rc = deflate_offer_parse(copy, n, &o);
	if (rc < -1 || rc > 1)
		abort();
	free(copy);
	buf_init(&out);
	rc = deflate_inflate(d, n, 4096, &out);
	if (rc == 0 ? out.len > 4096 : rc != -1 || out.len != 0)
		abort();
	buf_cleanup(&out);
	return 0;
}
