/* keycast-pushd --check (see check.h): the runner. It runs
 * instead of the daemon, so it may block, but never past a link's
 * deadline: each link (check_links.h) waits with poll(2) or a private
 * event loop whose requests time out by themselves. A link that depends
 * on a failed one is reported as skipped. */
#include "check.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "check_io.h"
#include "check_links.h"
#include "text.h"

int
check_run(const struct check_opts *o, FILE *out, FILE *err)
{
	struct check c;
	struct check_opts opts = *o;
	char host[256], addrspec[272], via[300];

	memset(&c, 0, sizeof(c));
	c.o = &opts;
	c.out = out;
	/* http://HOST[:PORT]/PATH: the page through that web server. */
	if (strncasecmp(o->url, "http://", 7) == 0) {
		size_t n = 7 + strcspn(o->url + 7, "/");

		if (o->via != NULL || n >= sizeof(via)) {
			fprintf(err, "keycast-pushd: --check %s: either an "
			    "http:// URL or a path with --via\n", o->url);
			return 2;
		}
		snprintf(via, sizeof(via), "%.*s", (int)n, o->url);
		opts.via = via;
		opts.url = o->url[n] != '\0' ? o->url + n : "/";
		o = &opts;
	}
	c.key = o->key != NULL ? o->key : o->url;
	if (!url_valid(o->url, strlen(o->url))) {
		fprintf(err, "keycast-pushd: --check %s: the url must be a path "
		    "starting with / (printable ASCII, no spaces, at most %d "
		    "bytes)\n", o->url, URL_MAX);
		return 2;
	}
	if (!key_valid(c.key, strlen(c.key))) {
		fprintf(err, "keycast-pushd: --key must be 1..%d printable "
		    "ASCII characters, no spaces\n", KEY_MAX);
		return 2;
	}
	if (o->via != NULL) {
		if (cio_parse_via(o->via, host, sizeof(host), addrspec,
		    sizeof(addrspec)) != 0) {
			fprintf(err, "keycast-pushd: --via %s: expected "
			    "http://HOST[:PORT]\n", o->via);
			return 2;
		}
		/* Render as pushd will for clients coming that way. */
		if (opts.host == NULL)
			opts.host = host;
	}
	/* The key the page subscribes, unless --key says otherwise. */
	if (o->via != NULL) {
		const char *k;

		check_page(&c);
		if (o->key == NULL && (k = check_page_key(&c)) != NULL &&
		    key_valid(k, strlen(k)))
			c.key = k;
	}
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	check_database(&c);
	check_listen(&c);
	check_render(&c);
	if (o->via != NULL) {
		check_websocket(&c);
		check_keys(&c);
	}
	if (c.db != NULL)
		PQfinish(c.db);
	free(c.fragment);
	free(c.roots);
	return c.failed ? 1 : 0;
}
