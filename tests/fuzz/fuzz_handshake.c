/* libFuzzer target for pushd/handshake.c: every input is parsed whole and
 * again split where its first byte says, and both must agree; a complete
 * head then goes through routing and the upgrade checks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pushd/handshake.h"

static enum hs_rc
feed_split(struct hs_parser *p, const char *d, size_t n, size_t step,
    size_t *used)
{
	enum hs_rc rc = HS_MORE;
	size_t off = 0, u;

	hs_init(p);
	while (off < n && rc == HS_MORE) {
		size_t k = n - off < step ? n - off : step;

		rc = hs_feed(p, d + off, k, &u);
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
	static struct hs_parser whole, split;
	char *allow[] = { "https://allowed.example" };
	struct hs_upgrade u;
	const char *why;
	int status;
	size_t used1, used2, step;
	enum hs_rc rc1, rc2;

	if (size == 0)
		return 0;
	step = (size_t)(data[0] % 16) + 1;
	data++;
	size--;
	rc1 = feed_split(&whole, (const char *)data, size, size + 1, &used1);
	rc2 = feed_split(&split, (const char *)data, size, step, &used2);
	if (rc1 != rc2 || used1 != used2)
		abort();
	if (rc1 != HS_DONE)
		return 0;
	if (strcmp(whole.target, split.target) != 0 ||
	    strcmp(whole.host, split.host) != 0 ||
	    strcmp(whole.origin, split.origin) != 0 ||
	    strcmp(whole.ws_key, split.ws_key) != 0 ||
	    whole.ws_version != split.ws_version ||
	    whole.upgrade_websocket != split.upgrade_websocket ||
	    whole.connection_upgrade != split.connection_upgrade)
		abort();
	if (hs_route(&whole) == HS_REALTIME &&
	    hs_upgrade_check(&whole, allow, 1, &u, &status, &why) == 0) {
		if (!key_valid(u.key, u.key_len) || !url_valid(u.url, u.url_len) ||
		    strlen(u.accept) != WS_ACCEPT_LEN)
			abort();
	}
	return 0;
}
