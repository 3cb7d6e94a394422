/* The end-of-run check: what every client holds must be what a browser
 * loading the page now would get. For each key index, the page (its url)
 * is fetched with a plain GET from --verify (the web server), the
 * realtime root of that key is cut out of it (the element carrying
 * data-rt-root and data-rt-key="KEY", inner HTML up to its matching
 * </div>: the layout wraps exactly the fragment), and compared byte for
 * byte with the fragment held by the key's first client, and by version
 * (FNV-1a) with every other client of the key. */
#ifndef LC_VERIFY_H
#define LC_VERIFY_H
#include <stddef.h>

/* Cuts the realtime root of key (and url, if the element names one) out
 * of page; 0 and *frag, *len set, or -1 if there is none. */
int	verify_extract(const char *page, size_t n, const char *key,
	    const char *url, const char **frag, size_t *len);
/* Runs the check (workers must be ready) and prints one JSON line;
 * returns the number of clients whose fragment differs or is missing. */
long	verify_run(void);

#endif
