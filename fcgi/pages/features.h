/* The application's features, one line each: X(name) registers
 * `const struct feature feature_name` from fcgi/pages/name.c (see
 * keycast.h). Their order is the order routes are matched in. Add the
 * feature's source, templates and migrations to fcgi/pages/pages.am too. */
#define KC_FEATURES(X) \
	X(index) \
	X(counter) \
	X(chat) \
	X(accounts) \
	X(poll) \
	/* end of the list */
