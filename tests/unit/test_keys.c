/* Unit tests for pushd/keys.c over a real hub with fake ops: the similarity
 * rule, the unheld table (bounded, most recent kept, forgotten once a client
 * holds the key), the quiet-key notice (once, only past the delay, only
 * with a similar unheld key) and the /debug/keys JSON (parsed back with
 * jansson: the contract's fields, escaping, the size bound). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "hub_fake.h"
#include "pushd/keys.h"
#include "pushd/metrics.h"
#include "tap.h"
#include "text.h"

#define JOIN(h, fm, k, u) \
	hub_join((h), &(fm)->m, (k), strlen(k), (u), strlen(u), "anon", "x")
#define SIMILAR(a, b) keys_similar((a), strlen(a), (b), strlen(b))

static void
notify(struct hub *h, struct keys *ks, const char *key)
{
	hub_notify(h, key, strlen(key));
	keys_notified(ks, key, strlen(key), fake.now);
}

static json_t *
report(struct keys *ks)
{
	struct buf b;
	json_error_t err;
	json_t *j;

	buf_init(&b);
	keys_report(ks, fake.now, &b);
	j = json_loadb(b.data, b.len, 0, &err);
	if (j == NULL)
		printf("# invalid JSON: %s: %.200s\n", err.text, b.data);
	buf_cleanup(&b);
	return j;
}

static void
test_similar(void)
{
	ok(SIMILAR("/counter", "/counter/"), "a trailing slash");
	ok(SIMILAR("/counter/", "/counter"), "either way");
	ok(SIMILAR("/Counter", "/counter"), "case");
	ok(SIMILAR("/COUNTER/", "/counter"), "case and a trailing slash");
	ok(SIMILAR("/counter", "/counter?x=1"), "a query string");
	ok(SIMILAR("/counter?x=1", "/counter"), "a query string, either way");
	ok(!SIMILAR("/counter", "/counter"), "the same key is not similar");
	ok(!SIMILAR("/counter", "/counters"), "another word");
	ok(!SIMILAR("/counter//", "/counter"), "only one trailing slash");
	ok(!SIMILAR("/counter/", "/counter?x"), "slash and query together");
	ok(!SIMILAR("/a?x", "/a?x&y"), "two query strings");
	ok(!SIMILAR("user:42", "user:43"), "other ids");
}

static void
test_unheld_table(void)
{
	struct hub *h = hub_new(&fake_ops, NULL, 32);
	struct keys *ks = keys_new(NULL, h, 600);
	struct fake_member a = {0};
	char key[32];
	json_t *j, *unheld;

	memset(&fake, 0, sizeof(fake));
	fake.now = 1000;
	for (int i = 0; i < 300; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		fake.now++;
		notify(h, ks, key);
	}
	ok(keys_unheld(ks) == KEYS_UNHELD_MAX, "bounded: %lu unheld",
	    keys_unheld(ks));
	fake.now++;
	notify(h, ks, "k100");
	notify(h, ks, "knew");
	j = report(ks);
	unheld = json_object_get(j, "unheld");
	ok(json_array_size(unheld) == KEYS_UNHELD_MAX, "report lists them all");
	is_str(json_string_value(json_object_get(json_array_get(unheld, 0),
	    "key")), "knew", "most recent first");
	is_str(json_string_value(json_object_get(json_array_get(unheld, 1),
	    "key")), "k100", "a notify moves a key up");
	ok(json_integer_value(json_object_get(json_array_get(unheld, 1),
	    "notifies")) == 2, "and counts");
	is_str(json_string_value(json_object_get(json_array_get(unheld,
	    KEYS_UNHELD_MAX - 1), "key")), "k45",
	    "the least recent kept: k0..k44 made room");
	json_decref(j);

	ok(JOIN(h, &a, "k200", "/k") == 0, "a client holds k200");
	ok(keys_unheld(ks) == KEYS_UNHELD_MAX - 1, "no longer unheld");
	notify(h, ks, "k200");
	hub_leave(&a.m);
	ok(keys_unheld(ks) == KEYS_UNHELD_MAX - 1,
	    "notified while held: forgotten, not unheld after the client left");
	keys_free(ks);
	hub_free(h);
}

static void
test_quiet_notice(void)
{
	struct hub *h = hub_new(&fake_ops, NULL, 32);
	struct keys *ks = keys_new(NULL, h, 10);
	struct fake_member a = {0}, b = {0}, c = {0};
	uint64_t warned = metrics.quiet_key_warnings;

	memset(&fake, 0, sizeof(fake));
	fake.now = 5000;
	ok(JOIN(h, &a, "/counter", "/counter") == 0, "a client of /counter");
	ok(JOIN(h, &b, "/chat", "/chat") == 0, "a client of /chat");
	ok(keys_never_notified(ks) == 2, "both never notified");
	fake.now += 1000;
	notify(h, ks, "/counter/");
	notify(h, ks, "/chat");
	ok(keys_never_notified(ks) == 1 && keys_unheld(ks) == 1,
	    "/chat notified, /counter/ unheld");
	fake.now = 5000 + 10000;
	keys_check(ks, fake.now);
	ok(metrics.quiet_key_warnings == warned, "not past the delay yet");
	fake.now++;
	keys_check(ks, fake.now);
	ok(metrics.quiet_key_warnings == warned + 1, "past it: one notice");
	fake.now += 60000;
	keys_check(ks, fake.now);
	ok(metrics.quiet_key_warnings == warned + 1, "once per key");

	ok(JOIN(h, &c, "/Chat", "/Chat") == 0, "a client of /Chat");
	fake.now += 60000;
	keys_check(ks, fake.now);
	ok(metrics.quiet_key_warnings == warned + 1,
	    "a quiet key whose similar key is held: no notice");
	notify(h, ks, "/counter");
	ok(keys_never_notified(ks) == 1, "/counter notified at last");
	keys_free(ks);
	hub_free(h);
}

/* Each way the rule allows, and a pair whose canons match but that the
 * rule does not call similar. */
static void
test_quiet_pairs(void)
{
	static const char *const pairs[][3] = {
		{ "/feed", "/feed?page=2", "1" },
		{ "/feed?page=2", "/feed", "1" },
		{ "/Room/A", "/room/a/", "1" },
		{ "/x/?a", "/X?b", "0" },
		{ "/y", "/y//", "0" },
	};
	enum { N = sizeof(pairs) / sizeof(pairs[0]) };
	struct fake_member m[N];

	for (int i = 0; i < N; i++) {
		struct hub *h = hub_new(&fake_ops, NULL, 32);
		struct keys *ks = keys_new(NULL, h, 1);
		uint64_t warned = metrics.quiet_key_warnings;

		memset(&fake, 0, sizeof(fake));
		memset(&m[i], 0, sizeof(m[i]));
		fake.now = 1;
		JOIN(h, &m[i], pairs[i][0], "/p");
		notify(h, ks, pairs[i][1]);
		keys_check(ks, 5000);
		ok(metrics.quiet_key_warnings - warned ==
		    (uint64_t)(pairs[i][2][0] - '0'), "%s quiet, %s notified: "
		    "%s notice", pairs[i][0], pairs[i][1], pairs[i][2]);
		keys_free(ks);
		hub_free(h);
	}
}

static void
test_report(void)
{
	struct hub *h = hub_new(&fake_ops, NULL, 100);
	struct keys *ks = keys_new(NULL, h, 600);
	static struct fake_member m[80];
	static const char odd[] = "/q\"\\x";
	json_t *j, *keys, *k0, *k1, *u;
	char url[32];

	memset(&fake, 0, sizeof(fake));
	memset(m, 0, sizeof(m));
	fake.now = 1000;
	hub_set_max_inflight(h, 1);
	j = report(ks);
	ok(j != NULL && json_integer_value(json_object_get(j, "now_ms")) ==
	    1000 && json_integer_value(json_object_get(j,
	    "quiet_key_warn_s")) == 600 && json_array_size(json_object_get(j,
	    "keys")) == 0 && json_array_size(json_object_get(j, "unheld")) ==
	    0, "empty report");
	json_decref(j);

	ok(JOIN(h, &m[0], "/counter", "/counter") == 0 &&
	    JOIN(h, &m[1], "/counter", "/counter") == 0, "two on /counter");
	fake.now = 1500;
	fake_finish(m[0].m.url, 200, "<p>1</p>");
	fake.now = 1800;
	notify(h, ks, "/counter");
	fake.now = 2000;
	ok(JOIN(h, &m[2], odd, "/odd") == 0, "a key JSON must escape");
	fake.now = 3000;
	j = report(ks);
	keys = json_object_get(j, "keys");
	ok(json_array_size(keys) == 2, "two keys");
	k0 = json_array_get(keys, 0);
	k1 = json_array_get(keys, 1);
	is_str(json_string_value(json_object_get(k0, "key")), odd,
	    "never notified first, escaped and back");
	ok(json_is_null(json_object_get(k0, "last_notify_ms_ago")) &&
	    json_integer_value(json_object_get(k0, "notifies")) == 0 &&
	    json_integer_value(json_object_get(k0, "since_ms_ago")) == 1000,
	    "no notify: null");
	u = json_array_get(json_object_get(k0, "urls"), 0);
	ok(json_is_null(json_object_get(u, "last_render_status")) &&
	    json_is_null(json_object_get(u, "last_render_ms_ago")) &&
	    json_integer_value(json_object_get(u, "renders")) == 0,
	    "no render yet: null");
	is_str(json_string_value(json_object_get(k1, "key")), "/counter",
	    "then the notified key");
	ok(json_integer_value(json_object_get(k1, "clients")) == 2 &&
	    json_integer_value(json_object_get(k1, "since_ms_ago")) == 2000 &&
	    json_integer_value(json_object_get(k1, "notifies")) == 1 &&
	    json_integer_value(json_object_get(k1, "last_notify_ms_ago")) ==
	    1200, "clients, since, notifies, last notify");
	u = json_array_get(json_object_get(k1, "urls"), 0);
	ok(json_array_size(json_object_get(k1, "urls")) == 1, "one url");
	is_str(json_string_value(json_object_get(u, "url")), "/counter", "url");
	is_str(json_string_value(json_object_get(u, "view")), "anon", "view");
	ok(json_integer_value(json_object_get(u, "clients")) == 2 &&
	    json_integer_value(json_object_get(u, "renders")) == 1 &&
	    json_integer_value(json_object_get(u, "render_failures")) == 0 &&
	    json_integer_value(json_object_get(u, "last_render_status")) ==
	    200 && json_integer_value(json_object_get(u,
	    "last_render_ms_ago")) == 1500, "renders and the last one");
	ok(json_object_get(j, "keys_omitted") == NULL,
	    "nothing omitted: no keys_omitted");
	json_decref(j);

	fake_finish(m[0].m.url, 503, "");
	j = report(ks);
	u = json_array_get(json_object_get(json_array_get(json_object_get(j,
	    "keys"), 1), "urls"), 0);
	ok(json_integer_value(json_object_get(u, "renders")) == 2 &&
	    json_integer_value(json_object_get(u, "render_failures")) == 1 &&
	    json_integer_value(json_object_get(u, "last_render_status")) ==
	    503, "a failed render counts");
	json_decref(j);

	for (int i = 0; i < 70; i++) {
		snprintf(url, sizeof(url), "/many/%d", i);
		JOIN(h, &m[3 + i], "/many", url);
	}
	j = report(ks);
	keys = json_object_get(j, "keys");
	for (size_t i = 0; i < json_array_size(keys); i++) {
		k0 = json_array_get(keys, i);
		if (strcmp(json_string_value(json_object_get(k0, "key")),
		    "/many") != 0)
			continue;
		ok(json_array_size(json_object_get(k0, "urls")) ==
		    KEYS_REPORT_URLS && json_integer_value(json_object_get(k0,
		    "urls_omitted")) == 70 - KEYS_REPORT_URLS &&
		    json_integer_value(json_object_get(k0, "clients")) == 70,
		    "urls per key bounded, the rest counted");
	}
	json_decref(j);
	keys_free(ks);
	hub_free(h);
}

/* Thousands of keys of 256 bytes, each with a url as long: the report
 * stops near KEYS_REPORT_MAX and says how many it left out. */
static void
test_report_bound(void)
{
	struct hub *h = hub_new(&fake_ops, NULL, 4);
	struct keys *ks = keys_new(NULL, h, 600);
	enum { N = 3000 };
	struct fake_member *m = calloc(N, sizeof(*m));
	char key[KEY_MAX + 1], url[URL_MAX + 1];
	struct buf b;
	json_t *j;
	size_t listed;

	memset(&fake, 0, sizeof(fake));
	hub_set_max_inflight(h, 1);
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "%0256d", i);
		snprintf(url, sizeof(url), "/%01000d", i);
		JOIN(h, &m[i], key, url);
	}
	buf_init(&b);
	keys_report(ks, fake.now, &b);
	ok(b.len > KEYS_REPORT_MAX && b.len < KEYS_REPORT_MAX + 4096,
	    "%zu bytes: the bound and at most one key more", b.len);
	j = json_loadb(b.data, b.len, 0, NULL);
	listed = json_array_size(json_object_get(j, "keys"));
	ok(j != NULL && listed > 0 && listed < N &&
	    (size_t)json_integer_value(json_object_get(j, "keys_omitted")) ==
	    N - listed, "%zu keys listed, the rest counted", listed);
	json_decref(j);
	buf_cleanup(&b);
	keys_free(ks);
	hub_free(h);
	free(m);
}

int
main(void)
{
	test_similar();
	test_unheld_table();
	test_quiet_notice();
	test_quiet_pairs();
	test_report();
	test_report_bound();
	return tap_done();
}
