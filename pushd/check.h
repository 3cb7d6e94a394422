/* keycast-pushd --check: walks once, with blocking calls, the chain a push
 * takes when "no realtime updates" is the complaint: the database, a
 * LISTEN/NOTIFY round trip on the channel, the app rendering the url as a
 * fragment, and optionally the web server upgrading /__realtime and sending
 * that fragment, then the page's realtime roots and what pushd's
 * /debug/keys says of their keys (a key the mutation does not notify).
 * Each link has its own deadline (CHECK_LINK_MS). */
#ifndef KC_CHECK_H
#define KC_CHECK_H
#include <stdio.h>

#define CHECK_LINK_MS	5000

struct check_opts {
	const char	*url;		/* page path (+query) to render, or
					   http://HOST[:PORT]/PATH (then
					   the via of the page) */
	const char	*key;		/* NULL: the page's root key, else
					   the url */
	const char	*db;		/* libpq conninfo, "" for the defaults */
	const char	*channel;
	const char	*app;		/* "unix:PATH" or "HOST:PORT" */
	const char	*via;		/* "http://HOST[:PORT]", or NULL */
	const char	*host;		/* HTTP_HOST of the render, or NULL */
	const char	*pushd;		/* pushd's --listen: its /debug/keys */
};

/* Prints one line per link to out: "ok   LINK: ...", "FAILED LINK: cause"
 * or "skipped LINK: ..." when an earlier failure leaves nothing to try;
 * "note LINK: ..." for what it could not tell (not a failure).
 * Returns 0 when every link works, 1 when one does not, 2 when the options
 * themselves are wrong (the cause printed to err). */
int	check_run(const struct check_opts *o, FILE *out, FILE *err);

#endif
