/* Fake hub_ops for test_hub and test_coalesce: renders are recorded and
 * completed by the test; sends and closes are counted per member. */
#ifndef KC_TEST_HUB_FAKE_H
#define KC_TEST_HUB_FAKE_H
#include <stdio.h>
#include <string.h>

#include "pushd/hub.h"

#define FAKE_MAX	64

struct fake_member {
	struct hub_member	m;
	int			sends;
	char			last[64];	/* payload of the last frame */
	int			closed;		/* close code, 0 if open */
	int			leave_on_send;	/* simulate a failed write */
};

struct fake {
	struct hub_url	*rendering[FAKE_MAX];	/* started, not yet done */
	int		 nrendering;
	int		 renders;		/* started in total */
	int		 retries;
	unsigned	 last_retry_ms;
	struct hub_url	*waiting[FAKE_MAX];	/* retry_later, not fired */
	int64_t		 due[FAKE_MAX];
	int		 nwaiting;
	int		 forgets;
	int64_t		 now;			/* the clock */
	int64_t		 step;			/* added on every reading */
};

static struct fake fake;

static inline void
fake_render(void *arg, struct hub_url *u)
{
	fake.rendering[fake.nrendering++] = u;
	fake.renders++;
}

static inline void
fake_retry_later(void *arg, struct hub_url *u, unsigned ms)
{
	fake.retries++;
	fake.last_retry_ms = ms;
	fake.waiting[fake.nwaiting] = u;
	fake.due[fake.nwaiting++] = fake.now + ms;
}

static inline int64_t
fake_now_ms(void *arg)
{
	fake.now += fake.step;
	return fake.now;
}

/* Advances the clock by ms and fires the timers that came due. */
static inline void
fake_advance(int64_t ms)
{
	fake.now += ms;
	for (int i = 0; i < fake.nwaiting; i++) {
		if (fake.due[i] <= fake.now) {
			struct hub_url *u = fake.waiting[i];

			fake.waiting[i] = fake.waiting[--fake.nwaiting];
			fake.due[i] = fake.due[fake.nwaiting];
			hub_retry(u);
			i = -1;
		}
	}
}

static inline void
fake_forget(void *arg, struct hub_url *u)
{
	fake.forgets++;
	for (int i = 0; i < fake.nwaiting; i++) {
		if (fake.waiting[i] == u) {
			fake.waiting[i] = fake.waiting[--fake.nwaiting];
			fake.due[i] = fake.due[fake.nwaiting];
			i--;
		}
	}
	for (int i = 0; i < fake.nrendering; i++) {
		if (fake.rendering[i] == u) {
			fake.rendering[i] = fake.rendering[--fake.nrendering];
			i--;
		}
	}
}

static inline void
fake_send(void *arg, struct hub_member *m, struct snap *sn)
{
	struct fake_member *fm = (struct fake_member *)m;
	int is_diff;
	/* What a v1 client gets: the whole fragment. */
	struct ws_frame *f = snap_frame(sn, 0, 0, 0, &is_diff);
	size_t h = f->data[1] < 126 ? 2 : 4;
	size_t n = f->len - h;

	fm->sends++;
	if (n >= sizeof(fm->last))
		n = sizeof(fm->last) - 1;
	memcpy(fm->last, f->data + h, n);
	fm->last[n] = '\0';
	if (fm->leave_on_send)
		hub_leave(m);
}

static inline void
fake_close(void *arg, struct hub_member *m, uint16_t code, const char *reason)
{
	((struct fake_member *)m)->closed = code;
}

static const struct hub_ops fake_ops = {
	fake_render, fake_retry_later, fake_now_ms, fake_forget, fake_send,
	fake_close,
};

/* Completes the render of u started first with status and body. */
static inline int
fake_finish(struct hub_url *u, int status, const char *body)
{
	for (int i = 0; i < fake.nrendering; i++) {
		if (fake.rendering[i] == u) {
			memmove(&fake.rendering[i], &fake.rendering[i + 1],
			    (size_t)(fake.nrendering - i - 1) *
			    sizeof(fake.rendering[0]));
			fake.nrendering--;
			hub_render_done(u, status, body,
			    body != NULL ? strlen(body) : 0);
			return 0;
		}
	}
	return -1;
}

static inline int
fake_in_flight(struct hub_url *u)
{
	int n = 0;

	for (int i = 0; i < fake.nrendering; i++)
		n += fake.rendering[i] == u;
	return n;
}

#endif
