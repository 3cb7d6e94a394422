/* keycast-pushd --check: the keys link, for "no realtime updates" when
 * every other link works. The page is fetched through the web server and
 * its realtime roots listed (data-rt-key, data-rt-url); then pushd's
 * loopback GET /debug/keys (docs/protocol.md, key diagnostics) tells, per
 * root key, whether a notify named it and whether a similar key was
 * notified that no client holds: the page and the mutation disagree. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>

#include "addr.h"
#include "buf.h"
#include "check_io.h"
#include "check_links.h"
#include "clock.h"
#include "text.h"
#include "xmalloc.h"

#define PAGE_MAX	(4 << 20)	/* the page's bytes read at most */
#define KEYS_MAX	(16 << 20)	/* /debug/keys' bytes read at most */

/* Copies an attribute value, decoding the entities a template escapes
 * with (&amp; &lt; &gt; &quot; &#39; &#x27;), into out. Returns 0, or -1
 * if it does not fit. */
static int
attr_decode(const char *s, size_t n, char *out, size_t outsz)
{
	static const struct { const char *ent; char ch; } ents[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
		{ "&quot;", '"' }, { "&#39;", '\'' }, { "&#x27;", '\'' },
	};
	size_t o = 0;

	for (size_t i = 0; i < n; ) {
		char ch = s[i++];

		for (size_t e = 0; ch == '&' && e < sizeof(ents) /
		    sizeof(ents[0]); e++) {
			size_t len = strlen(ents[e].ent);

			if (n - (i - 1) >= len &&
			    strncmp(s + i - 1, ents[e].ent, len) == 0) {
				ch = ents[e].ch;
				i += len - 1;
				break;
			}
		}
		if (o + 1 >= outsz)
			return -1;
		out[o++] = ch;
	}
	out[o] = '\0';
	return 0;
}

/* The value of attribute name inside the tag [tag, end), into out;
 * -1 when absent or too long. */
static int
tag_attr(const char *tag, const char *end, const char *name, char *out,
    size_t outsz)
{
	size_t nlen = strlen(name);

	for (const char *p = tag; p + nlen + 2 < end; p++) {
		const char *v, *close;

		if (!isspace((unsigned char)p[0]) ||
		    strncasecmp(p + 1, name, nlen) != 0 || p[nlen + 1] != '=')
			continue;
		v = p + nlen + 2;
		if (*v != '"' && *v != '\'')
			continue;
		if ((close = memchr(v + 1, *v, (size_t)(end - v - 1))) == NULL)
			return -1;
		return attr_decode(v + 1, (size_t)(close - v - 1), out, outsz);
	}
	return -1;
}

/* The realtime roots of a page: each tag with data-rt-key; its url is
 * data-rt-url or the page's path and query. Returns how many. */
static size_t
page_roots(const char *html, size_t len, const char *page_url,
    struct check_root *roots, size_t max)
{
	const char *p = html, *end = html + len;
	size_t n = 0;

	while (n < max && (p = memmem(p, (size_t)(end - p), "data-rt-key=",
	    12)) != NULL) {
		const char *tag = p, *tagend;

		while (tag > html && *tag != '<' && *tag != '>')
			tag--;
		if ((tagend = memchr(p, '>', (size_t)(end - p))) == NULL)
			break;
		p = tagend;
		if (*tag != '<')
			continue;
		if (tag_attr(tag, tagend, "data-rt-key", roots[n].key,
		    sizeof(roots[n].key)) != 0)
			continue;
		if (tag_attr(tag, tagend, "data-rt-url", roots[n].url,
		    sizeof(roots[n].url)) != 0)
			snprintf(roots[n].url, sizeof(roots[n].url), "%s",
			    page_url);
		n++;
	}
	return n;
}

/* A key as the quiet-key warning compares it: lowercased, without a query
 * string and without one trailing '/'. */
static void
key_norm(const char *k, char *out, size_t outsz)
{
	size_t n = strcspn(k, "?"), i;

	if (n >= outsz)
		n = outsz - 1;
	for (i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)k[i]);
	if (n > 1 && out[n - 1] == '/')
		n--;
	out[n] = '\0';
}

/* "3 s ago" from a JSON number of milliseconds; "never" for null. */
static void
ago(json_t *ms, char *out, size_t outsz)
{
	if (json_is_integer(ms))
		snprintf(out, outsz, "%lld s ago",
		    (long long)(json_integer_value(ms) / 1000));
	else
		snprintf(out, outsz, "never");
}

/* The entry of key in a JSON array of objects with "key", or NULL. */
static json_t *
find_key(json_t *arr, const char *key)
{
	size_t i;
	json_t *e;

	json_array_foreach(arr, i, e) {
		const char *k = json_string_value(json_object_get(e, "key"));

		if (k != NULL && strcmp(k, key) == 0)
			return e;
	}
	return NULL;
}

/* The most recently notified unheld key similar to key, or NULL. */
static json_t *
similar_unheld(json_t *unheld, const char *key)
{
	char want[KEY_MAX + 1], norm[KEY_MAX + 1];
	json_t *e, *best = NULL;
	size_t i;

	key_norm(key, want, sizeof(want));
	json_array_foreach(unheld, i, e) {
		const char *k = json_string_value(json_object_get(e, "key"));
		json_t *ms = json_object_get(e, "last_notify_ms_ago");

		if (k == NULL || strcmp(k, key) == 0)
			continue;
		key_norm(k, norm, sizeof(norm));
		if (strcmp(norm, want) == 0 && (best == NULL ||
		    json_integer_value(ms) < json_integer_value(
		    json_object_get(best, "last_notify_ms_ago"))))
			best = e;
	}
	return best;
}

/* One line for a root's key from pushd's view of it. */
static void
report_key(struct check *c, const struct check_root *r, json_t *doc)
{
	json_t *held = find_key(json_object_get(doc, "keys"), r->key);
	json_t *unheld = json_object_get(doc, "unheld");
	json_t *alone = find_key(unheld, r->key);
	json_t *sim = similar_unheld(unheld, r->key);
	char link[KEY_MAX + 8], when[64], state[160], hint[KEY_MAX + 200];
	json_t *last = held != NULL ? json_object_get(held,
	    "last_notify_ms_ago") : NULL;
	int notified = json_is_integer(last) || alone != NULL;

	snprintf(link, sizeof(link), "key %s", r->key);
	if (json_is_integer(last)) {
		ago(last, when, sizeof(when));
		snprintf(state, sizeof(state), "last notify %s (%lld notifies), "
		    "%lld clients", when, json_integer_value(json_object_get(
		    held, "notifies")), json_integer_value(json_object_get(held,
		    "clients")));
	} else if (alone != NULL) {
		ago(json_object_get(alone, "last_notify_ms_ago"), when,
		    sizeof(when));
		snprintf(state, sizeof(state), "last notify %s, while no "
		    "client held it", when);
	} else if (held != NULL) {
		snprintf(state, sizeof(state), "no notify since its first "
		    "client joined %lld s ago (%lld clients)",
		    json_integer_value(json_object_get(held, "since_ms_ago")) /
		    1000, json_integer_value(json_object_get(held, "clients")));
	} else {
		snprintf(state, sizeof(state), "no notify since pushd started");
	}
	hint[0] = '\0';
	if (sim != NULL) {
		ago(json_object_get(sim, "last_notify_ms_ago"), when,
		    sizeof(when));
		snprintf(hint, sizeof(hint), "; the similar key %s was notified "
		    "(%lld notifies, last %s) and no client holds it: does the "
		    "mutation notify another key than the page subscribes "
		    "(data-rt-key)?", json_string_value(json_object_get(sim,
		    "key")), json_integer_value(json_object_get(sim,
		    "notifies")), when);
	}
	/* A key never notified is normal for a page nobody changed; with a
	 * notified look-alike it is the mismatch to fix. */
	check_report(c, sim != NULL && !notified ? CK_FAILED : CK_OK, link,
	    "url %s: %s%s", r->url, state, hint);
}

/* Asks pushd at c->o->pushd for /debug/keys; the parsed document, or NULL
 * after reporting why. */
static json_t *
debug_keys(struct check *c, int64_t deadline)
{
	const char *where = c->o->pushd;
	struct addr a;
	struct buf body;
	json_error_t jerr;
	json_t *doc = NULL;
	char err[512];
	int status = 0;

	buf_init(&body);
	if (addr_parse(where, &a, err, sizeof(err)) != 0) {
		check_report(c, CK_FAILED, "keys", "--listen %s: %s", where,
		    err);
		goto done;
	}
	if (cio_get(&a, strncmp(where, "unix:", 5) == 0 ? "localhost" :
	    where, "/debug/keys", KEYS_MAX, deadline, &status, &body, err,
	    sizeof(err)) != 0) {
		/* Diagnostics, not a link of the push: pushd may listen
		 * elsewhere than this --check was told. */
		check_report(c, CK_NOTE, "keys", "pushd at %s (--listen): %s: "
		    "give --check pushd's --listen to ask its /debug/keys",
		    where, err);
		goto done;
	}
	if (status == 404) {
		check_report(c, CK_NOTE, "keys", "pushd at %s (--listen) has no "
		    "/debug/keys: it is older than this --check, so whether "
		    "notifies name the page's keys is not known", where);
		goto done;
	}
	if (status != 200) {
		check_report(c, CK_FAILED, "keys", "pushd at %s (--listen) "
		    "answered %d to /debug/keys (it answers loopback peers "
		    "only: run --check on pushd's host)", where, status);
		goto done;
	}
	doc = json_loadb(body.data != NULL ? body.data : "", body.len, 0,
	    &jerr);
	if (!json_is_object(doc) || !json_is_array(json_object_get(doc,
	    "keys")) || !json_is_array(json_object_get(doc, "unheld"))) {
		check_report(c, CK_FAILED, "keys", "pushd at %s answered "
		    "/debug/keys with no keys and unheld arrays%s%s", where,
		    doc == NULL ? ": " : "", doc == NULL ? jerr.text : "");
		json_decref(doc);
		doc = NULL;
	}
done:
	buf_cleanup(&body);
	return doc;
}

void
check_page(struct check *c)
{
	const struct check_opts *o = c->o;
	int64_t deadline = clock_ms() + CHECK_LINK_MS;
	char host[256], addrspec[272], err[512];
	struct buf page;
	struct addr a;
	int status = 0;

	buf_init(&page);
	c->roots = xcalloc(CHECK_ROOTS_MAX, sizeof(*c->roots));
	/* check_run validated via. */
	cio_parse_via(o->via, host, sizeof(host), addrspec, sizeof(addrspec));
	if (addr_parse(addrspec, &a, err, sizeof(err)) != 0 ||
	    cio_get(&a, host, o->url, PAGE_MAX, deadline, &status, &page, err,
	    sizeof(err)) != 0)
		snprintf(c->page_note, sizeof(c->page_note), "GET %s%s: %s",
		    o->via, o->url, err);
	/* --via may be pushd itself, which serves no pages. */
	else if (status != 200)
		snprintf(c->page_note, sizeof(c->page_note), "GET %s%s "
		    "answered %d: no page to list realtime roots from", o->via,
		    o->url, status);
	else
		c->nroots = page_roots(page.data != NULL ? page.data : "",
		    page.len, o->url, c->roots, CHECK_ROOTS_MAX);
	buf_cleanup(&page);
}

const char *
check_page_key(const struct check *c)
{
	for (size_t i = 0; i < c->nroots; i++)
		if (strcmp(c->roots[i].url, c->o->url) == 0)
			return c->roots[i].key;
	return c->nroots > 0 ? c->roots[0].key : NULL;
}

void
check_keys(struct check *c)
{
	const struct check_opts *o = c->o;
	int64_t deadline = clock_ms() + CHECK_LINK_MS;
	struct buf list;
	json_t *doc = NULL;

	buf_init(&list);
	if (c->page_note[0] != '\0') {
		check_report(c, CK_NOTE, "page", "%s", c->page_note);
		goto skip;
	}
	if (c->nroots == 0) {
		check_report(c, CK_FAILED, "page", "GET %s%s has no realtime "
		    "root (an element with data-rt-root data-rt-key=\"KEY\")",
		    o->via, o->url);
		goto skip;
	}
	for (size_t i = 0; i < c->nroots; i++)
		buf_printf(&list, "%s key %s url %s", i > 0 ? ";" : "",
		    c->roots[i].key, c->roots[i].url);
	check_report(c, CK_OK, "page", "GET %s%s has %zu realtime root%s:%.*s",
	    o->via, o->url, c->nroots, c->nroots > 1 ? "s" : "",
	    (int)list.len, list.data);
	if ((doc = debug_keys(c, deadline)) != NULL)
		for (size_t i = 0; i < c->nroots; i++)
			report_key(c, &c->roots[i], doc);
	goto done;
skip:
	check_report(c, CK_NOTE, "keys", "not asked: no realtime roots");
done:
	json_decref(doc);
	buf_cleanup(&list);
}
