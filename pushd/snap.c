/* One render's frames (see snap.h). A snap keeps its body, because the
 * next render diffs against it, and at most one diff: the ops from the
 * previous snap's body, computed in snap_new. Its six frames (v1 full,
 * v2 F, v2 D, each plain or deflated) are built on first demand and kept
 * until the last reference goes, so each is encoded at most once however
 * many clients take it. A deflated slot whose payload is outside
 * [deflate_min, deflate_max] (or failed to compress) holds a reference to
 * the plain frame instead. */
#include "snap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "deflate.h"
#include "xmalloc.h"

enum { K_V1, K_F, K_D, K_COUNT };

struct snap {
	unsigned		 refs;
	const struct snap_config *c;	/* borrowed for life */
	char			*key, *url;	/* owned */
	char			*body;	/* owned, len bytes and a NUL */
	size_t			 len;
	uint32_t		 version;
	int			 has_diff;
	uint32_t		 base;	/* has_diff: the version diffed from */
	struct buf		 ops;	/* has_diff: the JSON ops */
	int			 diff_counted;	/* a D frame was encoded */
	struct ws_frame		*frame[K_COUNT][2];	/* owned; [1] deflated */
};

static struct snap_stats snap_counters;

const struct snap_stats *
snap_stats(void)
{
	return &snap_counters;
}

struct snap *
snap_new(const struct snap_config *c, const char *key, const char *url,
    const struct snap *prev, const char *body, size_t len)
{
	struct snap *s = xcalloc(1, sizeof(*s));

	s->refs = 1;
	s->c = c;
	s->key = xstrdup(key);
	s->url = xstrdup(url);
	s->body = xmalloc(len + 1);
	memcpy(s->body, body, len);
	s->body[len] = '\0';
	s->len = len;
	s->version = diff_version(body, len);
	buf_init(&s->ops);
	if (c->diff && prev != NULL) {
		if (diff_encode(prev->body, prev->len, body, len, &c->lim,
		    &s->ops) == DIFF_OK) {
			s->has_diff = 1;
			s->base = prev->version;
		} else {
			snap_counters.diff_fallbacks++;
			buf_cleanup(&s->ops);
		}
	}
	return s;
}

struct snap *
snap_ref(struct snap *s)
{
	s->refs++;
	return s;
}

void
snap_unref(struct snap *s)
{
	if (s == NULL || --s->refs > 0)
		return;
	for (int k = 0; k < K_COUNT; k++)
		for (int z = 0; z < 2; z++)
			if (s->frame[k][z] != NULL)
				ws_frame_unref(s->frame[k][z]);
	buf_cleanup(&s->ops);
	free(s->key);
	free(s->url);
	free(s->body);
	free(s);
}

uint32_t
snap_version(const struct snap *s)
{
	return s->version;
}

int
snap_base(const struct snap *s, uint32_t *base)
{
	if (!s->has_diff)
		return 0;
	*base = s->base;
	return 1;
}

/* The text payload of frame kind k into p (empty on entry). */
static void
payload(const struct snap *s, int k, struct buf *p)
{
	switch (k) {
	case K_V1:
		buf_append(p, s->body, s->len);
		break;
	case K_F:
		buf_printf(p, "F %08x %s %s\n", s->version, s->key, s->url);
		buf_append(p, s->body, s->len);
		break;
	case K_D:
		buf_printf(p, "D %08x %08x %s %s\n", s->base, s->version,
		    s->key, s->url);
		buf_append(p, s->ops.data, s->ops.len);
		break;
	}
}

static double
cpu_seconds(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Builds frame[k][z]: plain, or deflated when the size rules allow. */
static void
encode(struct snap *s, int k, int z)
{
	const struct snap_config *c = s->c;
	struct buf p, d;
	double t0;
	int rc;

	buf_init(&p);
	payload(s, k, &p);
	if (k == K_D && !s->diff_counted) {
		s->diff_counted = 1;
		snap_counters.diff_frames++;
	}
	if (!z || !c->deflate || p.len < c->deflate_min ||
	    p.len > c->deflate_max)
		goto plain;
	buf_init(&d);
	t0 = cpu_seconds();
	rc = deflate_message(p.data, p.len, c->deflate_level, &d);
	snap_counters.deflate_seconds += cpu_seconds() - t0;
	if (rc == 0) {
		snap_counters.deflate_frames++;
		snap_counters.deflate_in += p.len;
		snap_counters.deflate_out += d.len;
		s->frame[k][1] = ws_frame_text_rsv1(d.data, d.len);
	}
	buf_cleanup(&d);
	if (rc == 0)
		goto done;
plain:
	if (s->frame[k][0] == NULL)
		s->frame[k][0] = ws_frame_text(p.data, p.len);
	if (z)
		s->frame[k][1] = ws_frame_ref(s->frame[k][0]);
done:
	buf_cleanup(&p);
}

struct ws_frame *
snap_frame(struct snap *s, unsigned flags, int have_valid, uint32_t have,
    int *is_diff)
{
	int k = K_V1, z = (flags & SNAP_DEFLATE) != 0;

	if (flags & SNAP_V2)
		k = s->has_diff && have_valid && have == s->base ? K_D : K_F;
	if (is_diff != NULL)
		*is_diff = k == K_D;
	if (s->frame[k][z] == NULL)
		encode(s, k, z);
	return s->frame[k][z];
}
