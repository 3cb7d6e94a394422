/* The unheld-key table, the /debug/keys report and the quiet-key notice
 * (see keys.h). The table is a uthash in least- to most-recently notified
 * order: a notify moves its entry to the tail, a new entry past
 * KEYS_UNHELD_MAX evicts the head. An entry whose key a client holds now is
 * stale: it is dropped at the key's next notify and skipped meanwhile. */
#include "keys.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>
#include <event2/event.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "text.h"
#include "xmalloc.h"

#define CHECK_MIN_MS	250
#define CHECK_MAX_MS	30000

struct unheld {
	UT_hash_handle	 hh;
	uint64_t	 notifies;
	int64_t		 last_ms;
	size_t		 len;
	char		 key[KEY_MAX + 1];
};

/* What similar keys have in common (canon below): a scan looks each quiet
 * key's canon up among the unheld keys' instead of comparing it with each
 * unheld key, so it costs O(keys), not O(keys * KEYS_UNHELD_MAX). */
struct canon {
	UT_hash_handle	 hh;
	size_t		 len;
	char		 s[KEY_MAX + 1];
};

struct keys {
	struct hub	*hub;		/* borrowed */
	unsigned	 warn_s;	/* 0: no quiet-key notice */
	struct event	*timer;		/* NULL without a base or warn_s */
	struct unheld	*unheld;	/* hash, oldest notify first */
	struct canon	 canons[KEYS_UNHELD_MAX];	/* a scan's storage */
};

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	keys_check(arg, clock_ms());
}

struct keys *
keys_new(struct event_base *base, struct hub *h, unsigned warn_s)
{
	struct keys *ks = xcalloc(1, sizeof(*ks));

	ks->hub = h;
	ks->warn_s = warn_s;
	if (base != NULL && warn_s > 0) {
		/* A few looks per period: a notice comes at most a quarter
		 * late (30 s at most), and a scan walks every key. */
		uint64_t ms = (uint64_t)warn_s * 1000 / 4;
		struct timeval tv;

		if (ms < CHECK_MIN_MS)
			ms = CHECK_MIN_MS;
		if (ms > CHECK_MAX_MS)
			ms = CHECK_MAX_MS;
		tv.tv_sec = (time_t)(ms / 1000);
		tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
		ks->timer = event_new(base, -1, EV_PERSIST, on_timer, ks);
		if (ks->timer == NULL || event_add(ks->timer, &tv) != 0)
			log_warn("cannot start the quiet-key timer: no "
			    "--quiet-key-warn notices");
	}
	return ks;
}

void
keys_free(struct keys *ks)
{
	struct unheld *e, *tmp;

	if (ks == NULL)
		return;
	if (ks->timer != NULL)
		event_free(ks->timer);
	HASH_ITER(hh, ks->unheld, e, tmp) {
		HASH_DEL(ks->unheld, e);
		free(e);
	}
	free(ks);
}

void
keys_notified(struct keys *ks, const char *key, size_t klen, int64_t now_ms)
{
	struct unheld *e;

	if (klen > KEY_MAX)
		return;
	HASH_FIND(hh, ks->unheld, key, klen, e);
	if (e != NULL)
		HASH_DEL(ks->unheld, e);
	if (hub_has_key(ks->hub, key, klen)) {
		free(e);
		return;
	}
	if (e == NULL) {
		if (HASH_COUNT(ks->unheld) >= KEYS_UNHELD_MAX) {
			struct unheld *old = ks->unheld;

			HASH_DEL(ks->unheld, old);
			free(old);
		}
		e = xcalloc(1, sizeof(*e));
		memcpy(e->key, key, klen);
		e->len = klen;
	}
	e->notifies++;
	e->last_ms = now_ms;
	HASH_ADD_KEYPTR(hh, ks->unheld, e->key, e->len, e);
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* 1 when b is a plus a query string. */
static int
minus_query(const char *a, size_t alen, const char *b, size_t blen)
{
	return blen > alen && b[alen] == '?' && memcmp(a, b, alen) == 0 &&
	    memchr(a, '?', alen) == NULL;
}

int
keys_similar(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen == blen && memcmp(a, b, alen) == 0)
		return 0;
	if (minus_query(a, alen, b, blen) || minus_query(b, blen, a, alen))
		return 1;
	if (alen > 0 && a[alen - 1] == '/')
		alen--;
	if (blen > 0 && b[blen - 1] == '/')
		blen--;
	if (alen != blen)
		return 0;
	for (size_t i = 0; i < alen; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return 0;
	return 1;
}

/* s up to its query string, minus one trailing '/', lowercased, into out
 * (KEY_MAX + 1 bytes); returns the length. keys_similar(a, b) implies
 * equal canons: lowercasing keeps '?' and '/' where they are. */
static size_t
canon(const char *s, size_t n, char *out)
{
	const char *q = memchr(s, '?', n);

	if (q != NULL)
		n = (size_t)(q - s);
	if (n > 0 && s[n - 1] == '/')
		n--;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)lower((unsigned char)s[i]);
	return n;
}

/* The most recently notified unheld key similar to key, or NULL. */
static struct unheld *
similar_unheld(const struct keys *ks, const char *key)
{
	struct unheld *e;
	size_t klen = strlen(key);

	if (ks->unheld == NULL)
		return NULL;
	for (e = ELMT_FROM_HH(ks->unheld->hh.tbl, ks->unheld->hh.tbl->tail);
	    e != NULL; e = e->hh.prev) {
		if (keys_similar(key, klen, e->key, e->len) &&
		    !hub_has_key(ks->hub, e->key, e->len))
			return e;
	}
	return NULL;
}

static unsigned long
clients_of(const struct hub_key *k)
{
	unsigned long n = 0;

	for (struct hub_url *u = hub_key_urls(k); u != NULL;
	    u = hub_url_next(u))
		n += hub_url_members(u);
	return n;
}

void
keys_check(struct keys *ks, int64_t now_ms)
{
	int64_t warn_ms = (int64_t)ks->warn_s * 1000;
	struct canon *set = NULL, *c, *found;
	struct unheld *e, *tmp;
	unsigned n = 0;
	char buf[KEY_MAX + 1];

	if (ks->warn_s == 0)
		return;
	HASH_ITER(hh, ks->unheld, e, tmp) {
		if (hub_has_key(ks->hub, e->key, e->len))
			continue;
		c = &ks->canons[n];
		c->len = canon(e->key, e->len, c->s);
		HASH_FIND(hh, set, c->s, c->len, found);
		if (found == NULL) {
			HASH_ADD_KEYPTR(hh, set, c->s, c->len, c);
			n++;
		}
	}
	if (set == NULL)
		return;
	for (struct hub_key *k = hub_key_first(ks->hub); k != NULL;
	    k = hub_key_next(k)) {
		struct hub_key_stats *st = hub_key_stats(k);
		const char *name = hub_key_name(k);
		size_t len;

		if (st->notifies > 0 || st->quiet_warned ||
		    now_ms - st->since_ms <= warn_ms)
			continue;
		len = canon(name, strlen(name), buf);
		HASH_FIND(hh, set, buf, len, c);
		if (c == NULL || (e = similar_unheld(ks, name)) == NULL)
			continue;
		st->quiet_warned = 1;
		metrics.quiet_key_warnings++;
		log_notice("key %s has had clients (%lu now) for %" PRId64
		    " s without a notify, while the similar key %s, which no "
		    "client holds, was notified (%" PRIu64 " notifies, the "
		    "last %" PRId64 " s ago): do the page and the NOTIFY name "
		    "the same key?", hub_key_name(k), clients_of(k),
		    (now_ms - st->since_ms) / 1000, e->key, e->notifies,
		    (now_ms - e->last_ms) / 1000);
	}
	HASH_CLEAR(hh, set);
}

/* A JSON string. Keys and urls are printable ASCII; anything else is
 * escaped byte by byte all the same, so the report stays valid JSON. */
static void
json_string(struct buf *out, const char *s)
{
	buf_putc(out, '"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			buf_printf(out, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			buf_printf(out, "\\u%04x", c);
		else
			buf_putc(out, (char)c);
	}
	buf_putc(out, '"');
}

static void
report_url(struct buf *out, const struct hub_url *u, int64_t now_ms)
{
	const struct hub_url_stats *st = hub_url_stats(u);

	buf_puts(out, "{\"url\":");
	json_string(out, hub_url_path(u));
	buf_puts(out, ",\"view\":");
	json_string(out, hub_url_view(u));
	buf_printf(out, ",\"clients\":%lu,\"renders\":%" PRIu64
	    ",\"render_failures\":%" PRIu64 ",\"last_render_status\":",
	    hub_url_members(u), st->renders, st->failures);
	if (st->renders > 0)
		buf_printf(out, "%d,\"last_render_ms_ago\":%" PRId64 "}",
		    st->last_status, now_ms - st->last_ms);
	else
		buf_puts(out, "null,\"last_render_ms_ago\":null}");
}

static void
report_key(struct buf *out, struct hub_key *k, int64_t now_ms)
{
	const struct hub_key_stats *st = hub_key_stats(k);
	unsigned long listed = 0, omitted = 0;

	buf_puts(out, "{\"key\":");
	json_string(out, hub_key_name(k));
	buf_printf(out, ",\"clients\":%lu,\"since_ms_ago\":%" PRId64
	    ",\"notifies\":%" PRIu64 ",\"last_notify_ms_ago\":", clients_of(k),
	    now_ms - st->since_ms, st->notifies);
	if (st->notifies > 0)
		buf_printf(out, "%" PRId64, now_ms - st->last_notify_ms);
	else
		buf_puts(out, "null");
	buf_puts(out, ",\"urls\":[");
	for (struct hub_url *u = hub_key_urls(k); u != NULL;
	    u = hub_url_next(u)) {
		if (listed == KEYS_REPORT_URLS) {
			omitted++;
			continue;
		}
		if (listed++ > 0)
			buf_putc(out, ',');
		report_url(out, u, now_ms);
	}
	buf_putc(out, ']');
	if (omitted > 0)
		buf_printf(out, ",\"urls_omitted\":%lu", omitted);
	buf_putc(out, '}');
}

void
keys_report(struct keys *ks, int64_t now_ms, struct buf *out)
{
	size_t start = out->len;
	unsigned long listed = 0, omitted = 0;
	struct unheld *e;

	buf_printf(out, "{\"now_ms\":%" PRId64 ",\"quiet_key_warn_s\":%u,"
	    "\"keys\":[", now_ms, ks->warn_s);
	/* Never-notified keys first: a mismatch is among them, and they
	 * make it before the size bound. */
	for (int notified = 0; notified <= 1; notified++) {
		for (struct hub_key *k = hub_key_first(ks->hub); k != NULL;
		    k = hub_key_next(k)) {
			if ((hub_key_stats(k)->notifies > 0) != notified)
				continue;
			if (out->len - start >= KEYS_REPORT_MAX) {
				omitted++;
				continue;
			}
			if (listed++ > 0)
				buf_putc(out, ',');
			report_key(out, k, now_ms);
		}
	}
	buf_puts(out, "],\"unheld\":[");
	listed = 0;
	if (ks->unheld != NULL) {
		for (e = ELMT_FROM_HH(ks->unheld->hh.tbl,
		    ks->unheld->hh.tbl->tail); e != NULL; e = e->hh.prev) {
			if (hub_has_key(ks->hub, e->key, e->len))
				continue;
			if (listed++ > 0)
				buf_putc(out, ',');
			buf_puts(out, "{\"key\":");
			json_string(out, e->key);
			buf_printf(out, ",\"notifies\":%" PRIu64
			    ",\"last_notify_ms_ago\":%" PRId64 "}",
			    e->notifies, now_ms - e->last_ms);
		}
	}
	buf_putc(out, ']');
	if (omitted > 0)
		buf_printf(out, ",\"keys_omitted\":%lu", omitted);
	buf_puts(out, "}\n");
}

unsigned long
keys_never_notified(const struct keys *ks)
{
	unsigned long n = 0;

	for (struct hub_key *k = hub_key_first(ks->hub); k != NULL;
	    k = hub_key_next(k))
		n += hub_key_stats(k)->notifies == 0;
	return n;
}

unsigned long
keys_unheld(const struct keys *ks)
{
	struct unheld *e, *tmp;
	unsigned long n = 0;

	HASH_ITER(hh, ks->unheld, e, tmp)
		n += !hub_has_key(ks->hub, e->key, e->len);
	return n;
}
