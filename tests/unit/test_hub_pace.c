/* Unit tests for pushd/hub.c's pacing and recovery: never more renders in
 * flight than the app has connections (a resync of every url included),
 * each url rendered once; a failed url's backoff cut short by a notify, a
 * resync, or (when the app did not answer) another url's success; answers
 * no retry fixes closing their clients once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub_fake.h"
#include "pushd/metrics.h"
#include "tap.h"

#define NURLS	600

static struct fake_member members[NURLS];

static void
join_n(struct hub *h, int n)
{
	char key[32];

	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "/u%d", i);
		hub_join(h, &members[i].m, key, strlen(key), key, strlen(key),
		    "v", "example.com");
	}
}

/* Finishes the oldest running render with 200 until none runs; returns how
 * many, and fails if more than max ever ran at once. */
static int
drain(int max, int *over)
{
	int n = 0;

	while (fake.nrendering > 0) {
		if (fake.nrendering > max)
			(*over)++;
		fake_finish(fake.rendering[0], 200, "x");
		n++;
	}
	return n;
}

static void
test_pacing(void)
{
	struct hub *h = hub_new(&fake_ops, NULL, 32);
	int over = 0, sent = 0;

	memset(&fake, 0, sizeof(fake));
	memset(members, 0, sizeof(members));
	fake.step = 100;
	hub_set_max_inflight(h, 4);
	join_n(h, NURLS);
	ok(fake.nrendering == 4 && fake.renders == 4,
	    "600 urls joined at once: 4 renders start, the rest wait");
	ok(drain(4, &over) == NURLS && over == 0 && fake.renders == NURLS,
	    "each url rendered exactly once, never more than 4 at a time");
	for (int i = 0; i < NURLS; i++)
		sent += members[i].sends == 1;
	ok(sent == NURLS, "every member got its frame");

	fake.renders = 0;
	hub_resync(h);
	ok(fake.nrendering == 4, "a resync starts 4 renders");
	hub_notify(h, "/u599", 5);
	ok(fake.renders == 4, "a notify of a queued url folds into its turn");
	ok(drain(4, &over) == NURLS && over == 0,
	    "the resync renders each url once, 4 at a time");

	hub_resync(h);
	for (int i = 0; i < NURLS; i++)
		hub_leave(&members[i].m);
	ok(hub_keys(h) == 0 && fake.nrendering == 0,
	    "urls leaving while queued or in flight: nothing left running");
	memset(members, 0, sizeof(members));
	join_n(h, 8);
	ok(fake.nrendering == 4, "their slots are free again");
	drain(4, &over);
	for (int i = 0; i < 8; i++)
		hub_leave(&members[i].m);
	hub_free(h);
}

static void
test_backoff_cut_short(void)
{
	struct hub *h = hub_new(&fake_ops, NULL, 32);
	struct fake_member a = {0}, b = {0};
	struct hub_url *u, *v;

	memset(&fake, 0, sizeof(fake));
	fake.step = 100;
	hub_join(h, &a.m, "/a", 2, "/a", 2, "v", "example.com");
	hub_join(h, &b.m, "/b", 2, "/b", 2, "v", "example.com");
	u = a.m.url;
	v = b.m.url;
	fake_finish(u, 200, "a1");
	fake_finish(v, 200, "b1");
	for (int i = 0; i < 6; i++) {
		hub_notify(h, "/a", 2);
		fake.nwaiting = 0;
		fake_finish(u, 500, "");
		hub_retry(u);
	}
	fake_finish(u, 500, "");
	ok(fake.last_retry_ms >= 3200 && fake.nrendering == 0,
	    "a url failing with 500 backs off for seconds");
	hub_notify(h, "/a", 2);
	ok(fake_in_flight(u) == 1,
	    "a notify during the backoff renders at once");
	fake_finish(u, 500, "");
	ok(fake.last_retry_ms == 100,
	    "and a failure after it backs off from 100 ms again");
	fake.renders = 0;
	hub_notify(h, "/a", 2);
	fake_advance(200);
	ok(fake.renders == 1, "the stale timer firing starts no second render");
	fake_finish(u, 200, "a2");
	ok(a.sends == 2 && strcmp(a.last, "a2") == 0, "the member got it");

	hub_notify(h, "/a", 2);
	fake_finish(u, 502, "");
	hub_invalidate(h);
	hub_resync(h);
	ok(fake_in_flight(u) == 1 && fake_in_flight(v) == 1,
	    "a resync renders a url in backoff at once, like the others");
	fake_finish(u, -1, NULL);
	fake_finish(v, 200, "b2");
	ok(fake_in_flight(u) == 1,
	    "no answer (app down), then another url's success: rendered again");
	fake_finish(u, 500, "");
	fake.renders = 0;
	hub_notify(h, "/b", 2);
	fake_finish(v, 200, "b3");
	ok(fake.renders == 1 && fake_in_flight(u) == 0,
	    "a 500 waits out its backoff despite other successes");
	hub_leave(&a.m);
	hub_leave(&b.m);
	hub_free(h);
}

static void
test_unusable(void)
{
	struct hub *h = hub_new(&fake_ops, NULL, 32);
	struct fake_member a = {0}, b = {0};
	uint64_t unusable = metrics.renders_unusable;
	uint16_t code = 0;

	memset(&fake, 0, sizeof(fake));
	fake.step = 100;
	ok(hub_verdict(HUB_UNUSABLE, NULL, 0, &code) == HUB_CLOSE &&
	    code == 1011, "an unusable answer: close 1011");
	hub_join(h, &a.m, "/big", 4, "/big", 4, "v", "example.com");
	hub_join(h, &b.m, "/big", 4, "/big", 4, "v", "example.com");
	fake_finish(a.m.url, HUB_UNUSABLE, NULL);
	ok(a.closed == 1011 && b.closed == 1011 && hub_keys(h) == 0,
	    "its members closed 1011, the url freed");
	ok(fake.retries == 0 && fake.nrendering == 0, "no retry");
	ok(metrics.renders_unusable - unusable == 1, "counted once");
	hub_free(h);
}

int
main(void)
{
	test_pacing();
	test_backoff_cut_short();
	test_unusable();
	return tap_done();
}
