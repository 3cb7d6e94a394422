/* What the links of keycast-pushd --check share: the run's state and the
 * report line (check_report.c). check.c runs the links in order; each
 * lives in the file of what it talks to (check_pg.c, check_app.c,
 * check_ws.c, check_keys.c) and reports one line, or one per root or key. */
#ifndef KC_CHECK_LINKS_H
#define KC_CHECK_LINKS_H
#include <stddef.h>
#include <stdio.h>
#include <libpq-fe.h>

#include "check.h"
#include "text.h"

#define CHECK_ROOTS_MAX	64	/* realtime roots of a page listed */

struct check_root {
	char	key[KEY_MAX + 1];
	char	url[URL_MAX + 1];	/* data-rt-url, or the page's */
};

/* CK_NOTE: something the check could not tell, not a failure. */
enum check_outcome { CK_OK, CK_FAILED, CK_SKIPPED, CK_NOTE };

struct check {
	const struct check_opts	*o;
	FILE			*out;
	const char		*key;
	PGconn			*db;		/* from the database link */
	char			*fragment;	/* from the render link */
	size_t			 fragment_len;
	struct check_root	*roots;		/* owned; from check_page */
	size_t			 nroots;
	char			 page_note[600];	/* why no roots, or "" */
	int			 failed;
};

/* Prints one result line; a cause spanning lines (libpq's) becomes one.
 * CK_FAILED and CK_SKIPPED make the run fail. */
void	check_report(struct check *c, enum check_outcome oc, const char *link,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* 1 when a body looks like a whole page rather than a fragment. */
int	check_is_whole_page(const char *s, size_t n);

void	check_database(struct check *c);	/* check_pg.c */
void	check_listen(struct check *c);
void	check_render(struct check *c);		/* check_app.c */
void	check_websocket(struct check *c);	/* check_ws.c */
/* check_keys.c: check_page fetches the page and lists its roots (no
 * report); check_page_key is the key of the root whose url is the page's
 * (else the first), NULL without roots; check_keys reports the page and
 * what pushd's /debug/keys says of each root's key. */
void	check_page(struct check *c);
const char *check_page_key(const struct check *c);
void	check_keys(struct check *c);

#endif
