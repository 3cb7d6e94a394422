/* The end-of-run check (verify.h). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include "buf.h"
#include "diff.h"
#include "master.h"
#include "opt.h"
#include "trigger.h"
#include "util.h"
#include "verify.h"
#include "worker.h"

#define VERIFY_TIMEOUT_MS	10000
#define VERIFY_SHOWN		3	/* mismatches described on stderr */

/* The value of attribute name in the tag [t, end), or NULL. */
static const char *
attr(const char *t, const char *end, const char *name, size_t *len)
{
	size_t nl = strlen(name);

	for (const char *p = t; p + nl + 2 < end; p++) {
		if (p[-1] != ' ' || strncmp(p, name, nl) != 0 || p[nl] != '=' ||
		    p[nl + 1] != '"')
			continue;
		const char *v = p + nl + 2, *q = memchr(v, '"', (size_t)(end - v));

		if (q == NULL)
			return NULL;
		*len = (size_t)(q - v);
		return v;
	}
	return NULL;
}

static int
is_tag(const char *p, const char *end, const char *name)
{
	size_t l = strlen(name);

	return (size_t)(end - p) > l && strncmp(p, name, l) == 0 &&
	    (p[l] == '>' || p[l] == ' ' || p[l] == '\n');
}

int
verify_extract(const char *page, size_t n, const char *key, const char *url,
    const char **frag, size_t *len)
{
	const char *end = page + n, *p = page;

	while ((p = memmem(p, (size_t)(end - p), "<div ", 5)) != NULL) {
		const char *gt = memchr(p, '>', (size_t)(end - p)), *v, *q;
		size_t vl;
		int depth = 1;

		if (gt == NULL)
			return -1;
		p++;
		if (attr(p, gt, "data-rt-root", &vl) == NULL &&
		    memmem(p, (size_t)(gt - p), " data-rt-root", 13) == NULL)
			continue;
		if ((v = attr(p, gt, "data-rt-key", &vl)) == NULL ||
		    vl != strlen(key) || memcmp(v, key, vl) != 0)
			continue;
		if ((v = attr(p, gt, "data-rt-url", &vl)) != NULL &&
		    (vl != strlen(url) || memcmp(v, url, vl) != 0))
			continue;
		for (q = gt + 1; q < end; q++) {
			if (*q != '<')
				continue;
			if (is_tag(q + 1, end, "div"))
				depth++;
			else if (is_tag(q + 1, end, "/div") && --depth == 0) {
				*frag = gt + 1;
				*len = (size_t)(q - (gt + 1));
				return 0;
			}
		}
		return -1;
	}
	return -1;
}

long
verify_run(void)
{
	long bad = 0, clients = 0, unheld = 0;
	int shown = 0;

	ms_broadcast(WK_VERIFY, 0);
	if (!ms_wait_all('v', 10000))
		lc_die("workers did not publish what they hold");
	for (int k = 0; k < opt.keys; k++) {
		char key[257], url[1025], host[64];
		struct buf page;
		const char *frag;
		size_t flen;
		uint32_t want;
		int st;

		if (k >= opt.n)
			break;
		wk_root_of(k, key, sizeof(key), url, sizeof(url));
		snprintf(host, sizeof(host), "%s:%d",
		    inet_ntoa(opt.verify.sin_addr), ntohs(opt.verify.sin_port));
		buf_init(&page);
		st = trig_get(&opt.verify, host, url, VERIFY_TIMEOUT_MS, &page);
		if (st != 200 || verify_extract(page.data ? page.data : "",
		    page.len, key, url, &frag, &flen) != 0) {
			fprintf(stderr, "loadclient: verify: GET %s: status %d, "
			    "%s\n", url, st, st == 200 ? "no realtime root for "
			    "its key" : "no page");
			for (long i = k; i < opt.n; i += opt.keys)
				bad++;
			buf_cleanup(&page);
			continue;
		}
		want = diff_version(frag, flen);
		if (shm.sample_len[k] != flen ||
		    memcmp(shm.samples + (size_t)k * WK_SAMPLE_MAX, frag,
		    flen) != 0)
			fprintf(stderr, "loadclient: verify: %s: the page's "
			    "fragment (%zu bytes, %08x) differs from client "
			    "%d's (%u bytes)\n", url, flen, want, k,
			    shm.sample_len[k]);
		for (long i = k; i < opt.n; i += opt.keys) {
			clients++;
			if (!shm.arr_held[i]) {
				unheld++;
				continue;
			}
			if (shm.arr_ver[i] == want)
				continue;
			bad++;
			if (shown++ < VERIFY_SHOWN)
				fprintf(stderr, "loadclient: verify: client %ld "
				    "of %s holds %08x, the page has %08x\n", i,
				    key, shm.arr_ver[i], want);
		}
		buf_cleanup(&page);
	}
	printf("{\"label\":\"%s\",\"mode\":\"verify\",\"keys\":%d,"
	    "\"clients\":%ld,\"mismatched\":%ld,\"not_held\":%ld,"
	    "\"how\":\"GET url from %s:%d, the data-rt-root of the key\","
	    "\"ok\":%s}\n", opt.label, opt.keys, clients, bad, unheld,
	    inet_ntoa(opt.verify.sin_addr), ntohs(opt.verify.sin_port),
	    bad == 0 ? "true" : "false");
	fflush(stdout);
	return bad;
}
