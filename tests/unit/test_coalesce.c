/* Unit tests for the coalescing state machine in pushd/hub.c: a burst of
 * notifies during a render costs at most two renders, a longer one a render
 * per HUB_RENDER_GAP_MS, and whatever the interleaving of notifies, render
 * completions, time and LISTEN outages (changes without notifies), members
 * end on a frame rendered after the last change. */
#include <stdlib.h>
#include <string.h>

#include "hub_fake.h"
#include "pushd/metrics.h"
#include "tap.h"

/* The "database": notifies bump it, a render reads it when it starts. */
static int version;
static int started_at[FAKE_MAX];

static void
coalesce_render(void *arg, struct hub_url *u)
{
	started_at[fake.nrendering] = version;
	fake_render(arg, u);
}

static const struct hub_ops ops = {
	coalesce_render, fake_retry_later, fake_now_ms, fake_forget, fake_send,
	fake_close,
};

/* Finishes the oldest render with the version it saw as its body. */
static void
finish_oldest(void)
{
	char body[32];
	struct hub_url *u = fake.rendering[0];

	snprintf(body, sizeof(body), "v%d", started_at[0]);
	memmove(&started_at[0], &started_at[1],
	    (size_t)(fake.nrendering - 1) * sizeof(started_at[0]));
	fake_finish(u, 200, body);
}

static void
notify(struct hub *h)
{
	version++;
	hub_notify(h, "/counter", 8);
}

static struct hub *
setup(struct fake_member *a, struct fake_member *b)
{
	struct hub *h = hub_new(&ops, NULL, 32);

	memset(&fake, 0, sizeof(fake));
	fake.now = 1000;
	version = 0;
	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	hub_join(h, &a->m, "/counter", 8, "/counter", 8, "v", "h");
	hub_join(h, &b->m, "/counter", 8, "/counter", 8, "v", "h");
	finish_oldest();
	fake_advance(1000);
	fake.renders = 0;
	return h;
}

static void
test_burst(int n)
{
	struct fake_member a, b;
	struct hub *h = setup(&a, &b);
	uint64_t coalesced = metrics.renders_coalesced;
	char want[32];

	notify(h);	/* starts a render */
	for (int i = 1; i < n; i++)
		notify(h);
	ok(fake.nrendering == 1, "burst of %d: one render in flight", n);
	fake_advance(1);
	finish_oldest();
	ok(fake.nrendering == 0 && fake.nwaiting == (n > 1),
	    "burst of %d: %s", n, n > 1 ? "one more due after the gap" :
	    "nothing more");
	fake_advance(HUB_RENDER_GAP_MS - 2);
	ok(fake.nrendering == 0, "burst of %d: not before the gap", n);
	fake_advance(1);
	if (fake.nrendering > 0)
		finish_oldest();
	ok(fake.renders <= 2, "burst of %d: %d renders (at most 2)", n,
	    fake.renders);
	snprintf(want, sizeof(want), "v%d", version);
	ok(strcmp(a.last, want) == 0 && strcmp(b.last, want) == 0,
	    "burst of %d: members end on %s (got %s)", n, want, a.last);
	ok(metrics.renders_coalesced - coalesced == (uint64_t)(n > 2 ? n - 2 : 0),
	    "burst of %d: %d coalesced", n, n > 2 ? n - 2 : 0);
	hub_free(h);
}

/* A notify every ms for 200 ms, renders taking 1 ms each: a render per
 * gap, not one per notify. */
static void
test_long_burst(void)
{
	struct fake_member a, b;
	struct hub *h = setup(&a, &b);
	char want[32];
	int t;

	for (t = 0; t < 200; t++) {
		notify(h);
		fake_advance(1);
		if (fake.nrendering > 0)
			finish_oldest();
	}
	for (t = 0; t < 100; t++) {
		fake_advance(1);
		if (fake.nrendering > 0)
			finish_oldest();
	}
	ok(fake.renders <= 200 / HUB_RENDER_GAP_MS + 2,
	    "200 ms of notifies: %d renders (gap %d ms)", fake.renders,
	    HUB_RENDER_GAP_MS);
	snprintf(want, sizeof(want), "v%d", version);
	ok(strcmp(a.last, want) == 0, "ends on %s (got %s)", want, a.last);
	hub_free(h);
}

/* Random interleavings of notifies, joins, completions and time. */
static void
test_random(unsigned seed)
{
	struct hub *h = hub_new(&ops, NULL, 32);
	struct fake_member m[8];
	int nm = 1, bad = 0, notifies = 0;
	char want[32];

	srand(seed);
	memset(&fake, 0, sizeof(fake));
	memset(m, 0, sizeof(m));
	fake.now = 1000;
	version = 0;
	hub_join(h, &m[0].m, "/counter", 8, "/counter", 8, "v", "h");
	for (int step = 0; step < 2000; step++) {
		int r = rand() % 12;

		if (r < 6) {
			notify(h);
			notifies++;
		} else if (r < 9 && fake.nrendering > 0) {
			finish_oldest();
		} else if (r < 11) {
			fake_advance(rand() % 30);
		} else if (nm < 8) {
			hub_join(h, &m[nm].m, "/counter", 8, "/counter", 8, "v", "h");
			nm++;
		}
		if (fake.nrendering + fake.nwaiting > 1)
			bad++;
	}
	while (fake.nrendering > 0 || fake.nwaiting > 0) {
		fake_advance(HUB_RENDER_GAP_MS);
		while (fake.nrendering > 0)
			finish_oldest();
	}
	snprintf(want, sizeof(want), "v%d", version);
	ok(bad == 0, "seed %u: never two renders in flight or due", seed);
	for (int i = 0; i < nm; i++)
		if (strcmp(m[i].last, want) != 0)
			bad++;
	ok(bad == 0, "seed %u: all %d members end on %s", seed, nm, want);
	ok(fake.renders <= notifies + 1, "seed %u: %d renders for %d notifies",
	    seed, fake.renders, notifies);
	hub_free(h);
}

/* Changes while LISTEN is down come without notifies: a member joining
 * after the drop gets a frame rendered after it, not the cache from before,
 * and LISTEN coming back brings everyone to the latest change. */
static void
test_outage(void)
{
	struct fake_member a, b, c;
	struct hub *h = setup(&a, &b);

	memset(&c, 0, sizeof(c));
	version++;		/* committed as LISTEN drops: no notify */
	hub_invalidate(h);
	hub_join(h, &c.m, "/counter", 8, "/counter", 8, "v", "h");
	ok(c.sends == 0 && fake.nrendering == 1,
	    "outage: a joiner is not given the frame from before it");
	while (fake.nrendering > 0)
		finish_oldest();
	ok(strcmp(c.last, "v1") == 0 && strcmp(a.last, "v1") == 0,
	    "outage: the fresh render shows the missed change (got %s)",
	    c.last);
	version++;
	hub_resync(h);
	fake_advance(HUB_RENDER_GAP_MS);
	while (fake.nrendering > 0)
		finish_oldest();
	ok(strcmp(a.last, "v2") == 0 && strcmp(b.last, "v2") == 0 &&
	    strcmp(c.last, "v2") == 0, "LISTEN back: everyone on v2");
	ok(fake.renders == 2, "outage: %d renders (2)", fake.renders);
	hub_free(h);
}

/* test_random with LISTEN going down and up: notifies while down are lost,
 * joins while down render fresh, and resync on the way up converges. */
static void
test_random_outage(unsigned seed)
{
	struct hub *h = hub_new(&ops, NULL, 32);
	struct fake_member m[8];
	int nm = 1, bad = 0, events = 1, down = 0;
	char want[32];

	srand(seed);
	memset(&fake, 0, sizeof(fake));
	memset(m, 0, sizeof(m));
	fake.now = 1000;
	version = 0;
	hub_join(h, &m[0].m, "/counter", 8, "/counter", 8, "v", "h");
	for (int step = 0; step < 2000; step++) {
		int r = rand() % 14;

		if (r < 6) {
			if (down)
				version++;	/* the notify is lost */
			else
				notify(h);
			events++;
		} else if (r < 9 && fake.nrendering > 0) {
			finish_oldest();
		} else if (r < 11) {
			fake_advance(rand() % 30);
		} else if (r < 13) {
			if (down)
				hub_resync(h);
			else
				hub_invalidate(h);
			down = !down;
			events++;
		} else if (nm < 8) {
			hub_join(h, &m[nm].m, "/counter", 8, "/counter", 8, "v", "h");
			nm++;
			events++;
		}
		if (fake.nrendering + fake.nwaiting > 1)
			bad++;
	}
	if (down)
		hub_resync(h);
	while (fake.nrendering > 0 || fake.nwaiting > 0) {
		fake_advance(HUB_RENDER_GAP_MS);
		while (fake.nrendering > 0)
			finish_oldest();
	}
	snprintf(want, sizeof(want), "v%d", version);
	ok(bad == 0, "outages, seed %u: never two renders in flight or due",
	    seed);
	for (int i = 0; i < nm; i++)
		if (strcmp(m[i].last, want) != 0)
			bad++;
	ok(bad == 0, "outages, seed %u: all %d members end on %s", seed, nm,
	    want);
	ok(fake.renders <= events + 1, "outages, seed %u: %d renders for %d "
	    "notifies, joins, drops and returns", seed, fake.renders, events);
	hub_free(h);
}

int
main(void)
{
	test_burst(1);
	test_burst(2);
	test_burst(1000);
	test_long_burst();
	for (unsigned s = 1; s <= 5; s++)
		test_random(s);
	test_outage();
	for (unsigned s = 1; s <= 5; s++)
		test_random_outage(s);
	return tap_done();
}
