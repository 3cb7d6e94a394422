/* Unit tests for the coalescing state machine in pushd/hub.c: a burst of
 * notifies during a render costs at most two renders, and whatever the
 * interleaving of notifies and render completions, members end on a frame
 * rendered after the last notify. */
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
	coalesce_render, fake_retry_later, fake_forget, fake_send, fake_close,
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

static void
test_burst(int n)
{
	struct hub *h = hub_new(&ops, NULL, 32);
	struct fake_member a = {0}, b = {0};
	uint64_t coalesced = metrics.renders_coalesced;
	char want[32];

	memset(&fake, 0, sizeof(fake));
	version = 0;
	hub_join(h, &a.m, "/counter", 8, "/counter", 8, "h");
	hub_join(h, &b.m, "/counter", 8, "/counter", 8, "h");
	finish_oldest();
	fake.renders = 0;

	notify(h);	/* starts a render */
	for (int i = 1; i < n; i++)
		notify(h);
	ok(fake.nrendering == 1, "burst of %d: one render in flight", n);
	finish_oldest();
	ok(fake.nrendering == (n > 1 ? 1 : 0),
	    "burst of %d: %s", n, n > 1 ? "one more due" : "nothing more");
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

/* Random interleavings of notifies, joins and completions. */
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
	version = 0;
	hub_join(h, &m[0].m, "/counter", 8, "/counter", 8, "h");
	for (int step = 0; step < 2000; step++) {
		int r = rand() % 10;

		if (r < 6) {
			notify(h);
			notifies++;
		} else if (r < 9 && fake.nrendering > 0) {
			finish_oldest();
		} else if (nm < 8) {
			hub_join(h, &m[nm].m, "/counter", 8, "/counter", 8, "h");
			nm++;
		}
		if (fake.nrendering > 1)
			bad++;
	}
	while (fake.nrendering > 0)
		finish_oldest();
	snprintf(want, sizeof(want), "v%d", version);
	ok(bad == 0, "seed %u: never two renders in flight", seed);
	for (int i = 0; i < nm; i++)
		if (strcmp(m[i].last, want) != 0)
			bad++;
	ok(bad == 0, "seed %u: all %d members end on %s", seed, nm, want);
	ok(fake.renders <= notifies + 1, "seed %u: %d renders for %d notifies",
	    seed, fake.renders, notifies);
	hub_free(h);
}

int
main(void)
{
	test_burst(1);
	test_burst(2);
	test_burst(1000);
	for (unsigned s = 1; s <= 5; s++)
		test_random(s);
	return tap_done();
}
