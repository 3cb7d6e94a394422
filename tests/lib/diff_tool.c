/* The C side of tests/integration/diff-js.test.mjs: reads records
 * "ALEN BLEN\n" + a + b from stdin until EOF and writes, per record,
 * "RC VERSION_A VERSION_B OPSLEN\n" + the ops of diff_encode(a, b) with the
 * default limits. Exits 1 on a malformed record. */
#include <stdio.h>
#include <stdlib.h>

#include "buf.h"
#include "diff.h"
#include "xmalloc.h"

int
main(void)
{
	const struct diff_limits lim = {
		DIFF_UNITS_MAX_DEFAULT, DIFF_EDITS_MAX_DEFAULT
	};
	struct buf ops;
	size_t alen, blen;

	buf_init(&ops);
	while (scanf("%zu %zu", &alen, &blen) == 2 && getchar() == '\n') {
		char *a = xmalloc(alen + 1), *b = xmalloc(blen + 1);
		int rc;

		if (fread(a, 1, alen, stdin) != alen ||
		    fread(b, 1, blen, stdin) != blen)
			return 1;
		buf_reset(&ops);
		rc = diff_encode(a, alen, b, blen, &lim, &ops);
		printf("%d %08x %08x %zu\n", rc, diff_version(a, alen),
		    diff_version(b, blen), ops.len);
		fwrite(ops.data ? ops.data : "", 1, ops.len, stdout);
		free(a);
		free(b);
	}
	buf_cleanup(&ops);
	return feof(stdin) ? 0 : 1;
}
