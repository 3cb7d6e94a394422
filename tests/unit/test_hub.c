/* Unit tests for pushd/hub.c: join and leave, keys and urls coming and
 * going, the cached frame for new members, the url limit per key, what the
 * app's answers (200, UTF-8 or not; 404/410/403; 5xx; anything else) do to
 * a url's members, and the cache while LISTEN is down. */
#include <stdlib.h>
#include <string.h>

#include "hub_fake.h"
#include "pushd/metrics.h"
#include "tap.h"

#define JOIN(h, fm, k, u) \
	hub_join((h), &(fm)->m, (k), strlen(k), (u), strlen(u), "v", "example.com")

static void
test_join_leave(void)
{
	struct hub *h = hub_new(&fake_ops, NULL, 32);
	struct fake_member a = {0}, b = {0}, c = {0}, d = {0};
	struct hub_url *u;

	memset(&fake, 0, sizeof(fake));
	fake.step = 100;	/* renders never closer than the gap */
	ok(JOIN(h, &a, "/counter", "/counter") == 0, "first join");
	u = a.m.url;
	ok(u != NULL && strcmp(hub_url_key(u), "/counter") == 0 &&
	    strcmp(hub_url_path(u), "/counter") == 0 &&
	    strcmp(hub_url_host(u), "example.com") == 0, "url fields");
	ok(fake.renders == 1 && fake_in_flight(u) == 1,
	    "a new url is rendered at once");
	ok(JOIN(h, &b, "/counter", "/counter") == 0 && b.m.url == u,
	    "second member, same url");
	ok(fake.renders == 1, "no second render while one runs");
	ok(JOIN(h, &c, "/counter", "/counter?x=1") == 0 && c.m.url != u,
	    "other url under the same key");
	ok(JOIN(h, &d, "/chat", "/chat") == 0, "other key");
	ok(hub_keys(h) == 2 && fake.renders == 3, "two keys, three renders");

	ok(fake_finish(u, 200, "<p>1</p>") == 0, "render finished");
	ok(a.sends == 1 && b.sends == 1 && strcmp(a.last, "<p>1</p>") == 0,
	    "both members got the frame");
	ok(c.sends == 0 && d.sends == 0, "other urls got nothing");

	hub_leave(&b.m);
	ok(b.m.url == NULL && a.m.url == u && a.m.next == NULL && a.m.prev == NULL,
	    "leave: b detached, a alone on the url");
	hub_leave(&b.m);
	ok(b.m.url == NULL && a.m.url == u && a.m.next == NULL && a.m.prev == NULL,
	    "leaving twice is a no-op: a untouched");
	ok(JOIN(h, &b, "/counter", "/counter") == 0 && b.sends == 2 &&
	    fake.renders == 3, "rejoin gets the cached frame, no render");

	hub_notify(h, "/nobody", 7);
	ok(fake.renders == 3, "notify of an unknown key: nothing");
	hub_notify(h, "/counter", 8);
	ok(fake.renders == 4 && fake_in_flight(u) == 1,
	    "notify re-renders the key's idle url");
	ok(fake_in_flight(c.m.url) == 1,
	    "and the other url, still running its first render, gets a due one");
	{
		struct fake_member e = {0};

		ok(JOIN(h, &e, "/counter", "/counter") == 0 && e.sends == 0,
		    "join while the cache is stale: nothing sent yet");
		fake_finish(u, 200, "<p>2</p>");
		ok(e.sends == 1 && a.sends == 2 && strcmp(e.last, "<p>2</p>") == 0,
		    "the new render reaches old and new members");
		hub_leave(&e.m);
	}

	fake.forgets = 0;
	hub_leave(&d.m);
	ok(hub_keys(h) == 1 && fake.forgets == 1,
	    "the last member gone: url and key freed");
	hub_leave(&a.m);
	hub_leave(&b.m);
	hub_leave(&c.m);
	ok(hub_keys(h) == 0 && fake.nrendering == 0,
	    "all gone: renders forgotten");
	hub_free(h);
}

static void
test_url_limit(void)
{
	struct hub *h = hub_new(&fake_ops, NULL, 2);
	struct fake_member m[4];

	memset(m, 0, sizeof(m));
	memset(&fake, 0, sizeof(fake));
	fake.step = 100;	/* renders never closer than the gap */
	ok(JOIN(h, &m[0], "k", "/a") == 0 && JOIN(h, &m[1], "k", "/b") == 0,
	    "two urls under a key");
	ok(JOIN(h, &m[2], "k", "/c") == HUB_ETOOMANY && m[2].m.url == NULL,
	    "a third url is refused");
	ok(JOIN(h, &m[3], "k", "/a") == 0, "an existing url still joins");
	ok(fake.renders == 2, "the refused url cost no render");
	hub_leave(&m[1].m);
	ok(JOIN(h, &m[2], "k", "/c") == 0, "room again after a url went");
	hub_notify(h, "k", 1);
	ok(fake.renders == 3, "a notify costs at most max urls renders");
	hub_free(h);
	ok(m[0].m.url == NULL, "hub_free detaches members");
}

/* Groups are (key, url, view): a notify renders each view once, and a
 * url takes at most max_views views. */
static void
test_views(void)
{
	struct hub *h = hub_new(&fake_ops, NULL, 32);
	struct fake_member m[5];

	memset(m, 0, sizeof(m));
	memset(&fake, 0, sizeof(fake));
	fake.step = 100;
	hub_set_max_views(h, 2);
	ok(hub_join(h, &m[0].m, "k", 1, "/a", 2, "anon", "h") == 0 &&
	    hub_join(h, &m[1].m, "k", 1, "/a", 2, "user", "h") == 0 &&
	    hub_join(h, &m[2].m, "k", 1, "/a", 2, "user", "h") == 0,
	    "two views of one url, one of them twice");
	ok(hub_views(h) == 2 && fake.renders == 2, "two groups, two renders");
	ok(m[1].m.url == m[2].m.url && m[0].m.url != m[1].m.url,
	    "same view shares the group");
	is_str(hub_url_view(m[0].m.url), "anon", "the group's view");
	is_str(hub_url_path(m[0].m.url), "/a", "the group's url");
	ok(hub_join(h, &m[3].m, "k", 1, "/a", 2, "moderator", "h") ==
	    HUB_ETOOMANYVIEWS && m[3].m.url == NULL, "a third view is refused");
	ok(hub_join(h, &m[4].m, "k", 1, "/b", 2, "moderator", "h") == 0,
	    "the cap is per url");
	hub_leave(&m[0].m);
	ok(hub_views(h) == 2, "a group goes with its last member");
	ok(hub_join(h, &m[3].m, "k", 1, "/a", 2, "moderator", "h") == 0,
	    "room for a view again");
	hub_free(h);
}

static void
test_statuses(void)
{
	struct hub *h = hub_new(&fake_ops, NULL, 32);
	struct fake_member a = {0}, b = {0}, c = {0};
	struct hub_url *u;
	uint64_t failed = metrics.renders_failed;

	memset(&fake, 0, sizeof(fake));
	fake.step = 100;	/* renders never closer than the gap */
	JOIN(h, &a, "k", "/gone");
	JOIN(h, &b, "k", "/gone");
	JOIN(h, &c, "k", "/secret");
	fake_finish(a.m.url, 404, "no");
	ok(a.closed == 4404 && b.closed == 4404 && a.m.url == NULL,
	    "404: members closed with 4404 and detached");
	ok(hub_keys(h) == 1 && c.closed == 0, "other url unaffected");
	fake_finish(c.m.url, 403, "no");
	ok(c.closed == 4403 && hub_keys(h) == 0, "403: 4403, key freed");

	memset(&a, 0, sizeof(a));
	JOIN(h, &a, "k", "/flaky");
	u = a.m.url;
	fake_finish(u, 200, "v1");
	hub_notify(h, "k", 1);
	fake_finish(u, 500, "oops");
	ok(a.sends == 1 && a.closed == 0 && fake.retries == 1 &&
	    fake.last_retry_ms == 100, "500: kept, retry in 100 ms");
	fake.nwaiting = 0;
	hub_retry(u);
	fake_finish(u, -1, NULL);
	ok(fake.retries == 2 && fake.last_retry_ms == 200,
	    "no answer: retry in 200 ms");
	for (int i = 0; i < 8; i++) {
		fake.nwaiting = 0;
		hub_retry(u);
		fake_finish(u, 502, "");
	}
	ok(fake.last_retry_ms == 5000, "backoff capped at 5 s");
	ok(metrics.renders_failed - failed == 12, "failures counted");
	fake.nwaiting = 0;
	hub_retry(u);
	fake_finish(u, 200, "v2");
	ok(a.sends == 2 && strcmp(a.last, "v2") == 0, "recovered");
	hub_notify(h, "k", 1);
	fake_finish(u, 500, "");
	ok(fake.last_retry_ms == 100, "backoff reset by a success");

	{
		struct fake_member x = {0}, y = {0}, z = {0};

		memset(&fake, 0, sizeof(fake));
	fake.step = 100;	/* renders never closer than the gap */
		JOIN(h, &x, "s", "/s");
		JOIN(h, &y, "s", "/s");
		JOIN(h, &z, "s", "/s");
		y.leave_on_send = 1;
		fake_finish(x.m.url, 200, "f");
		ok(x.sends == 1 && y.sends == 1 && z.sends == 1 &&
		    y.m.url == NULL && x.m.url != NULL,
		    "a member leaving inside the broadcast: others still served");
		x.leave_on_send = z.leave_on_send = 1;
		hub_notify(h, "s", 1);
		fake.forgets = 0;
		fake_finish(x.m.url, 200, "g");
		ok(fake.forgets == 1 && hub_keys(h) == 1,
		    "all leaving inside the broadcast: url freed after it");
	}
	hub_free(h);
}

static void
test_verdicts(void)
{
	static const struct {
		int		 status;
		enum hub_verdict v;
		uint16_t	 code;
	} t[] = {
		{ 200, HUB_SEND, 0 }, { -1, HUB_RETRY, 0 },
		{ 500, HUB_RETRY, 0 }, { 503, HUB_RETRY, 0 },
		{ 599, HUB_RETRY, 0 }, { 403, HUB_CLOSE, 4403 },
		{ 404, HUB_CLOSE, 4404 }, { 410, HUB_CLOSE, 4404 },
		{ 301, HUB_CLOSE, 1011 }, { 302, HUB_CLOSE, 1011 },
		{ 400, HUB_CLOSE, 1011 }, { 401, HUB_CLOSE, 1011 },
		{ 204, HUB_CLOSE, 1011 }, { 600, HUB_CLOSE, 1011 },
	};
	uint16_t code;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		enum hub_verdict v;

		code = 0;
		v = hub_verdict(t[i].status, "<p>ok</p>", 9, &code);
		ok(v == t[i].v && (v != HUB_CLOSE || code == t[i].code),
		    "status %d: verdict %d code %u", t[i].status, v, code);
	}
	ok(hub_verdict(200, "caf\xc3\xa9", 5, &code) == HUB_SEND,
	    "200 with UTF-8: sent");
	ok(hub_verdict(200, "\xc3\x28", 2, &code) == HUB_DROP &&
	    hub_verdict(200, "a\xed\xa0\x80", 4, &code) == HUB_DROP &&
	    hub_verdict(200, "\xc3", 1, &code) == HUB_DROP,
	    "200 with invalid UTF-8 (bad sequence, surrogate, cut): dropped");
}

/* Statuses that no retry can fix close the url's clients once. */
static void
test_no_retry(void)
{
	struct hub *h = hub_new(&fake_ops, NULL, 32);
	struct fake_member a = {0}, b = {0}, c = {0};
	uint64_t failed = metrics.renders_failed;

	memset(&fake, 0, sizeof(fake));
	fake.step = 100;	/* renders never closer than the gap */
	JOIN(h, &a, "k", "/moved");
	JOIN(h, &b, "k", "/moved");
	JOIN(h, &c, "k", "/gone");
	ok(fake_finish(a.m.url, 301, "") == 0 && a.closed == 1011 &&
	    b.closed == 1011 && a.m.url == NULL,
	    "301: members closed with 1011 and detached");
	ok(fake_finish(c.m.url, 410, "") == 0 && c.closed == 4404,
	    "410: members closed with 4404");
	ok(fake.retries == 0 && fake.nwaiting == 0 && fake.nrendering == 0,
	    "no retry is scheduled");
	ok(hub_keys(h) == 0 && metrics.renders_failed - failed == 2,
	    "urls freed, failures counted");
	memset(&a, 0, sizeof(a));
	JOIN(h, &a, "k", "/auth");
	fake_finish(a.m.url, 200, "v1");
	hub_notify(h, "k", 1);
	fake_finish(a.m.url, 401, "");
	ok(a.sends == 1 && a.closed == 1011 && fake.retries == 0,
	    "401 after a good frame: closed too, no retry");
	hub_free(h);
}

static void
test_bad_utf8(void)
{
	struct hub *h = hub_new(&fake_ops, NULL, 32);
	struct fake_member a = {0}, b = {0};
	struct hub_url *u;
	uint64_t failed = metrics.renders_failed, good = metrics.renders_ok;

	memset(&fake, 0, sizeof(fake));
	fake.step = 100;	/* renders never closer than the gap */
	JOIN(h, &a, "k", "/p");
	u = a.m.url;
	fake_finish(u, 200, "v1");
	hub_notify(h, "k", 1);
	fake_finish(u, 200, "\xc3\x28");
	ok(a.sends == 1 && strcmp(a.last, "v1") == 0 && a.closed == 0,
	    "invalid UTF-8: not sent, the member keeps its last frame");
	ok(metrics.renders_failed - failed == 1 &&
	    metrics.renders_ok - good == 1, "counted as a failed render");
	ok(fake.retries == 0 && fake.nrendering == 0,
	    "not retried: the app would answer the same");
	JOIN(h, &b, "k", "/p");
	ok(b.sends == 0 && fake_in_flight(u) == 1,
	    "a member joining then gets a fresh render, not the old frame");
	hub_notify(h, "k", 1);
	fake_finish(u, 200, "\xff");
	ok(fake_in_flight(u) == 1,
	    "a notify during the dropped render still renders again");
	fake_finish(u, 200, "v2");
	ok(a.sends == 2 && b.sends == 1 && strcmp(b.last, "v2") == 0,
	    "the next valid render reaches everyone");
	hub_free(h);
}

/* While LISTEN is down the cache may miss changes: joiners get a fresh
 * render, once per url rather than once per joiner, and reconnecting
 * re-renders everything. */
static void
test_invalidate(void)
{
	struct hub *h = hub_new(&fake_ops, NULL, 32);
	struct fake_member m[6];
	struct hub_url *u, *v;

	memset(m, 0, sizeof(m));
	memset(&fake, 0, sizeof(fake));
	fake.step = 100;	/* renders never closer than the gap */
	JOIN(h, &m[0], "k", "/a");
	JOIN(h, &m[1], "k", "/b");
	u = m[0].m.url;
	v = m[1].m.url;
	fake_finish(u, 200, "a1");
	fake_finish(v, 200, "b1");
	fake.renders = 0;
	hub_invalidate(h);
	ok(fake.renders == 0 && fake.nwaiting == 0,
	    "invalidate renders nothing by itself");
	JOIN(h, &m[2], "k", "/a");
	ok(m[2].sends == 0 && fake.renders == 1 && fake_in_flight(u) == 1,
	    "a joiner gets a fresh render, not the cached frame");
	JOIN(h, &m[3], "k", "/a");
	ok(m[3].sends == 0 && fake.renders == 1,
	    "a second joiner waits for the same render");
	fake_finish(u, 200, "a2");
	ok(m[0].sends == 2 && m[2].sends == 1 && m[3].sends == 1 &&
	    strcmp(m[2].last, "a2") == 0, "the render reaches every member");
	JOIN(h, &m[4], "k", "/a");
	ok(m[4].sends == 1 && strcmp(m[4].last, "a2") == 0 &&
	    fake.renders == 1, "later joiners get that frame: no storm");
	ok(fake_in_flight(v) == 0 && m[1].sends == 1,
	    "a url nobody joins is not rendered while down");

	/* A render running when LISTEN drops started before the outage. */
	hub_notify(h, "k", 1);
	ok(fake_in_flight(u) == 1 && fake_in_flight(v) == 1, "both rendering");
	fake.renders = 0;
	hub_invalidate(h);
	JOIN(h, &m[5], "k", "/b");
	fake_finish(v, 200, "b2");
	ok(m[5].sends == 1 && fake_in_flight(v) == 1,
	    "a joiner during an outdated render gets it, and another render");
	fake_finish(v, 200, "b3");
	ok(strcmp(m[5].last, "b3") == 0 && fake.renders == 1,
	    "which it then gets");
	fake_finish(u, 200, "a3");
	ok(fake.nrendering == 0, "nothing else renders");

	fake.renders = 0;
	hub_resync(h);
	ok(fake.renders == 2 && fake_in_flight(u) == 1 &&
	    fake_in_flight(v) == 1, "LISTEN back: every url re-rendered");
	hub_free(h);
}

int
main(void)
{
	test_join_leave();
	test_url_limit();
	test_views();
	test_statuses();
	test_verdicts();
	test_no_retry();
	test_bad_utf8();
	test_invalidate();
	return tap_done();
}
