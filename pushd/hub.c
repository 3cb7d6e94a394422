/* Keys, urls, members and the per-url render state (see hub.h).
 *
 * Freshness is counted in generations: every notify, and every loss of
 * LISTEN (notifies missed), bumps the url's gen; a render remembers the gen
 * it started at, and the frame it yields is current while no bump came
 * since. A url is freed once it has no members and no iteration over it is
 * running (busy). */
#include "hub.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "metrics.h"
#include "text.h"
#include "xmalloc.h"

#define RETRY_MIN_MS	100
#define RETRY_MAX_MS	5000

enum rstate {
	R_IDLE,
	R_QUEUED,	/* due, waiting in the hub's queue for one of the
			   max_inflight render slots */
	R_INFLIGHT,	/* a render is running */
	R_WAIT,		/* hub_retry is due when the render gap has passed */
	R_BACKOFF,	/* the last render failed: hub_retry is due after the
			   backoff, or sooner on a notify, a resync or (when
			   the app did not answer) another url's success */
};

/* A url of a key and how many view groups it has. */
struct hub_path {
	UT_hash_handle	 hh;
	unsigned	 nviews;
	size_t		 len;
	char		 url[];
};

struct hub_key {
	UT_hash_handle	 hh;
	struct hub	*hub;
	struct hub_url	*urls;		/* hash by url "\0" view */
	struct hub_path	*paths;		/* hash by url */
	unsigned	 nurls;		/* paths */
	struct hub_key_stats st;
	size_t		 len;
	char		 key[];
};

struct hub_url {
	UT_hash_handle		 hh;
	struct hub_key		*k;
	struct hub_member	*head, *tail;
	unsigned long		 nmembers;
	enum rstate		 state;
	int			 pending;	/* a notify came during a render */
	unsigned		 busy;		/* iterations over members */
	unsigned		 failures;	/* renders failed in a row */
	int			 no_answer;	/* the last failure got no
						   answer (app down): no 5xx */
	struct hub_url		*qprev, *qnext;	/* in the hub's queue */
	uint64_t		 gen;		/* notifies and outages seen */
	uint64_t		 render_gen;	/* gen the running render saw */
	uint64_t		 cached_gen;	/* gen the cached snap saw */
	int64_t			 started;	/* ms of the last render start */
	struct snap		*cached;	/* the last render's */
	void			*slot;
	char			*host;
	struct hub_path		*path;
	struct hub_url_stats	 st;
	size_t			 len;		/* url, NUL and view */
	char			 url[];		/* url "\0" view "\0" */
};

struct hub {
	const struct hub_ops	*ops;
	const struct snap_config *snap_cfg;
	void			*arg;
	unsigned		 max_urls;
	unsigned		 max_views;
	unsigned long		 nviews;	/* groups, all keys */
	unsigned		 max_inflight;	/* 0: no limit */
	unsigned		 inflight;	/* renders running */
	unsigned		 stranded;	/* R_BACKOFF urls, no_answer */
	int			 freeing;	/* in hub_free: start nothing */
	struct hub_url		*qhead, *qtail;	/* R_QUEUED urls, FIFO */
	struct hub_key		*keys;
};

static const struct snap_config default_snap_cfg = {
	.diff = 1,
	.lim = { DIFF_UNITS_MAX_DEFAULT, DIFF_EDITS_MAX_DEFAULT },
};

struct hub *
hub_new(const struct hub_ops *ops, void *arg, unsigned max_urls)
{
	struct hub *h = xcalloc(1, sizeof(*h));

	h->ops = ops;
	h->snap_cfg = &default_snap_cfg;
	h->arg = arg;
	h->max_urls = max_urls;
	h->max_views = 16;
	return h;
}

/* Every state change goes through here, which keeps the counts right. */
static void
set_state(struct hub_url *u, enum rstate s)
{
	struct hub *h = u->k->hub;

	if (u->state == R_BACKOFF && u->no_answer)
		h->stranded--;
	if (u->state == R_INFLIGHT)
		h->inflight--;
	u->state = s;
	if (s == R_BACKOFF && u->no_answer)
		h->stranded++;
	if (s == R_INFLIGHT)
		h->inflight++;
}

static void
dequeue(struct hub_url *u)
{
	struct hub *h = u->k->hub;

	if (u->qprev != NULL)
		u->qprev->qnext = u->qnext;
	else
		h->qhead = u->qnext;
	if (u->qnext != NULL)
		u->qnext->qprev = u->qprev;
	else
		h->qtail = u->qprev;
	u->qprev = u->qnext = NULL;
}

static void pump(struct hub *h);

static void
url_free(struct hub_url *u)
{
	struct hub_key *k = u->k;
	struct hub *h = k->hub;

	if (u->state == R_QUEUED)
		dequeue(u);
	/* forget cancels a running render: its slot is free again. */
	set_state(u, R_IDLE);
	h->ops->forget(h->arg, u);
	HASH_DEL(k->urls, u);
	h->nviews--;
	if (--u->path->nviews == 0) {
		HASH_DEL(k->paths, u->path);
		free(u->path);
		k->nurls--;
	}
	snap_unref(u->cached);
	free(u->host);
	free(u);
	if (k->nurls == 0) {
		HASH_DEL(h->keys, k);
		free(k);
	}
	pump(h);
}

static void
url_maybe_free(struct hub_url *u)
{
	if (u->nmembers == 0 && u->busy == 0)
		url_free(u);
}

void
hub_free(struct hub *h)
{
	struct hub_key *k, *ktmp;
	struct hub_url *u, *utmp;
	struct hub_member *m;

	if (h == NULL)
		return;
	h->freeing = 1;
	HASH_ITER(hh, h->keys, k, ktmp) {
		HASH_ITER(hh, k->urls, u, utmp) {
			for (m = u->head; m != NULL; m = m->next)
				m->url = NULL;
			url_free(u);
		}
	}
	free(h);
}

/* Starts a render of u now, or queues it while max_inflight run: a resync
 * of every url then never has more renders in flight than the app has
 * connections for, and none waits against a deadline meanwhile. */
static void
start_render(struct hub_url *u)
{
	struct hub *h = u->k->hub;

	u->pending = 0;
	if (h->max_inflight != 0 && h->inflight >= h->max_inflight) {
		if (u->state != R_QUEUED) {
			set_state(u, R_QUEUED);
			u->qprev = h->qtail;
			if (h->qtail != NULL)
				h->qtail->qnext = u;
			else
				h->qhead = u;
			h->qtail = u;
		}
		return;
	}
	set_state(u, R_INFLIGHT);
	/* Taken now, not when queued: joins while queued get this render. */
	u->render_gen = u->gen;
	u->started = h->ops->now_ms(h->arg);
	h->ops->render(h->arg, u);
}

/* Starts queued renders while slots are free. */
static void
pump(struct hub *h)
{
	while (!h->freeing && h->qhead != NULL &&
	    (h->max_inflight == 0 || h->inflight < h->max_inflight)) {
		struct hub_url *u = h->qhead;

		dequeue(u);
		start_render(u);
	}
}

void
hub_set_max_views(struct hub *h, unsigned n)
{
	h->max_views = n;
}

void
hub_set_snap_config(struct hub *h, const struct snap_config *c)
{
	h->snap_cfg = c;
}

void
hub_set_max_inflight(struct hub *h, unsigned n)
{
	h->max_inflight = n;
	pump(h);
}

/* Starts a render now, or when the gap since the last start has passed. */
static void
start_or_wait(struct hub_url *u)
{
	struct hub *h = u->k->hub;
	int64_t since = h->ops->now_ms(h->arg) - u->started;

	if (u->started == 0 || since >= HUB_RENDER_GAP_MS) {
		start_render(u);
		return;
	}
	set_state(u, R_WAIT);
	u->pending = 0;
	h->ops->retry_later(h->arg, u, (unsigned)(HUB_RENDER_GAP_MS - since));
}

/* Something wants a render of u at the current gen. */
static void
want_render(struct hub_url *u)
{
	switch (u->state) {
	case R_IDLE:
		start_or_wait(u);
		break;
	case R_INFLIGHT:
		if (!u->pending)
			u->pending = 1;
		else
			metrics.renders_coalesced++;
		break;
	case R_QUEUED:
	case R_WAIT:
		/* The due render sees the latest state anyway. */
		metrics.renders_coalesced++;
		break;
	case R_BACKOFF:
		/* Something committed, so the database is back, and the app
		 * with it most likely: render now rather than after the
		 * backoff (up to 5 s), which starts over if this fails. */
		u->failures = 0;
		start_or_wait(u);
		break;
	}
}

int
hub_join(struct hub *h, struct hub_member *m, const char *key, size_t klen,
    const char *url, size_t ulen, const char *view, const char *host)
{
	struct hub_key *k;
	struct hub_path *p = NULL;
	struct hub_url *u = NULL;
	size_t vlen = strlen(view), len = ulen + 1 + vlen;
	char *id = xmalloc(len + 1);

	memcpy(id, url, ulen);
	id[ulen] = '\0';
	memcpy(id + ulen + 1, view, vlen + 1);
	HASH_FIND(hh, h->keys, key, klen, k);
	if (k != NULL) {
		HASH_FIND(hh, k->urls, id, len, u);
		HASH_FIND(hh, k->paths, url, ulen, p);
	}
	if (u == NULL) {
		if (p == NULL && k != NULL && k->nurls >= h->max_urls) {
			free(id);
			return HUB_ETOOMANY;
		}
		if (p != NULL && p->nviews >= h->max_views) {
			free(id);
			return HUB_ETOOMANYVIEWS;
		}
		if (k == NULL) {
			k = xcalloc(1, sizeof(*k) + klen + 1);
			k->hub = h;
			k->len = klen;
			memcpy(k->key, key, klen);
			k->st.since_ms = h->ops->now_ms(h->arg);
			HASH_ADD_KEYPTR(hh, h->keys, k->key, k->len, k);
		}
		if (p == NULL) {
			p = xcalloc(1, sizeof(*p) + ulen + 1);
			p->len = ulen;
			memcpy(p->url, url, ulen);
			HASH_ADD_KEYPTR(hh, k->paths, p->url, p->len, p);
			k->nurls++;
		}
		u = xcalloc(1, sizeof(*u) + len + 1);
		u->k = k;
		u->path = p;
		u->len = len;
		memcpy(u->url, id, len + 1);
		u->host = xstrdup(host != NULL ? host : "");
		HASH_ADD_KEYPTR(hh, k->urls, u->url, u->len, u);
		p->nviews++;
		h->nviews++;
	}
	free(id);
	m->url = u;
	m->next = NULL;
	m->prev = u->tail;
	if (u->tail != NULL)
		u->tail->next = m;
	else
		u->head = m;
	u->tail = m;
	u->nmembers++;

	if (u->cached != NULL && u->cached_gen == u->gen)
		h->ops->send(h->arg, m, u->cached);
	else if (u->state == R_IDLE)
		start_or_wait(u);
	else if (u->state == R_INFLIGHT && u->render_gen != u->gen)
		/* hub_invalidate outdated the running render without asking
		 * for another: m needs one. */
		u->pending = 1;
	/* Else the running render started at the current gen (its frame
	 * reaches m), or one is pending or a retry is due. */
	return 0;
}

static void
unlink_member(struct hub_member *m)
{
	struct hub_url *u = m->url;

	if (m->prev != NULL)
		m->prev->next = m->next;
	else
		u->head = m->next;
	if (m->next != NULL)
		m->next->prev = m->prev;
	else
		u->tail = m->prev;
	m->prev = m->next = NULL;
	m->url = NULL;
	u->nmembers--;
}

void
hub_leave(struct hub_member *m)
{
	struct hub_url *u = m->url;

	if (u == NULL)
		return;
	unlink_member(m);
	url_maybe_free(u);
}

void
hub_notify(struct hub *h, const char *key, size_t klen)
{
	struct hub_key *k;
	struct hub_url *u, *tmp;

	HASH_FIND(hh, h->keys, key, klen, k);
	if (k == NULL)
		return;
	k->st.notifies++;
	k->st.last_notify_ms = h->ops->now_ms(h->arg);
	/* ops->render never calls back into the hub, so k and its urls
	 * stay put while we walk them. */
	HASH_ITER(hh, k->urls, u, tmp) {
		u->gen++;
		want_render(u);
	}
}

/* Outdates every url's frame, rendering each again when render is set. */
static void
outdate_all(struct hub *h, int render)
{
	struct hub_key *k, *ktmp;
	struct hub_url *u, *utmp;

	HASH_ITER(hh, h->keys, k, ktmp) {
		HASH_ITER(hh, k->urls, u, utmp) {
			u->gen++;
			if (render)
				want_render(u);
		}
	}
}

void
hub_invalidate(struct hub *h)
{
	outdate_all(h, 0);
}

void
hub_resync(struct hub *h)
{
	outdate_all(h, 1);
}

static void
close_all(struct hub_url *u, uint16_t code, const char *reason)
{
	struct hub *h = u->k->hub;
	struct hub_member *m;

	u->busy++;
	while ((m = u->head) != NULL) {
		unlink_member(m);
		h->ops->close(h->arg, m, code, reason);
	}
	u->busy--;
}

struct snap *
hub_member_snap(const struct hub_member *m)
{
	return m->url != NULL ? m->url->cached : NULL;
}

static void
broadcast(struct hub_url *u, struct snap *sn)
{
	struct hub *h = u->k->hub;
	struct hub_member *m, *next;

	/* A failed send may make its member leave, never another one. */
	u->busy++;
	for (m = u->head; m != NULL; m = next) {
		next = m->next;
		/* Members are scattered over the heap: start loading the next
		 * one while this send runs (the loop stalled on m->next). */
		if (next != NULL)
			__builtin_prefetch(next);
		h->ops->send(h->arg, m, sn);
	}
	u->busy--;
}

/* The app answers again: urls that got no answer render now rather than
 * after their backoff. Runs once per recovery, as it empties stranded. */
static void
retry_stranded(struct hub *h)
{
	struct hub_key *k, *ktmp;
	struct hub_url *u, *utmp;

	HASH_ITER(hh, h->keys, k, ktmp) {
		HASH_ITER(hh, k->urls, u, utmp) {
			if (u->state == R_BACKOFF && u->no_answer) {
				u->failures = 0;
				start_or_wait(u);
			}
		}
	}
}

static unsigned
retry_delay(unsigned failures)
{
	unsigned ms = RETRY_MIN_MS;

	while (--failures > 0 && ms < RETRY_MAX_MS)
		ms *= 2;
	return ms < RETRY_MAX_MS ? ms : RETRY_MAX_MS;
}

enum hub_verdict
hub_verdict(int status, const char *body, size_t len, uint16_t *code)
{
	if (status == 200)
		return utf8_valid(body, len) ? HUB_SEND : HUB_DROP;
	/* Only a missing answer or a server error can pass: retrying
	 * anything else would cost a render every 5 s for ever. */
	if (status == -1 || (status >= 500 && status <= 599))
		return HUB_RETRY;
	if (status == 403)
		*code = WS_CLOSE_FORBIDDEN;
	else if (status == 404 || status == 410)
		*code = WS_CLOSE_NOT_FOUND;
	else
		*code = WS_CLOSE_INTERNAL;
	return HUB_CLOSE;
}

enum hub_verdict
hub_render_done(struct hub_url *u, int status, const char *body, size_t len)
{
	struct hub *h = u->k->hub;
	uint16_t code = 0;
	enum hub_verdict v = hub_verdict(status, body, len, &code);
	struct snap *sn;
	char reason[32];

	set_state(u, R_IDLE);
	u->st.renders++;
	u->st.failures += v != HUB_SEND;
	u->st.last_status = status;
	u->st.last_ms = h->ops->now_ms(h->arg);
	if (v == HUB_SEND)
		metrics.renders_ok++;
	else
		metrics.renders_failed++;
	if (status == HUB_UNUSABLE)
		metrics.renders_unusable++;
	if (v != HUB_RETRY)
		u->failures = 0;
	switch (v) {
	case HUB_SEND:
		/* The previous snap is the diff's base: clients holding it
		 * get the diff, every other one the full fragment. */
		sn = snap_new(h->snap_cfg, u->k->key, u->url, u->cached, body,
		    len);
		if (sn != NULL) {
			snap_unref(u->cached);
			u->cached = sn;
			u->cached_gen = u->render_gen;
			broadcast(u, u->cached);
		}
		if (h->stranded > 0)
			retry_stranded(h);
		/* FALLTHROUGH */
	case HUB_DROP:
		if (u->pending && u->nmembers > 0)
			start_or_wait(u);
		break;
	case HUB_RETRY:
		if (u->nmembers == 0)
			break;
		/* Members keep their last frame meanwhile. */
		u->pending = 0;
		u->failures++;
		u->no_answer = status < 0;
		set_state(u, R_BACKOFF);
		h->ops->retry_later(h->arg, u, retry_delay(u->failures));
		break;
	case HUB_CLOSE:
		/* keycast.js shows the reason in the console. */
		if (status == HUB_UNUSABLE)
			snprintf(reason, sizeof(reason),
			    "unusable answer from the app");
		else
			snprintf(reason, sizeof(reason), "the app answered %d",
			    status);
		close_all(u, code, reason);
		break;
	}
	url_maybe_free(u);
	pump(h);
	return v;
}

void
hub_retry(struct hub_url *u)
{
	/* A timer that fired after a notify already started the render. */
	if (u->state == R_WAIT || u->state == R_BACKOFF)
		start_render(u);
}

const char *
hub_url_key(const struct hub_url *u)
{
	return u->k->key;
}

const char *
hub_url_path(const struct hub_url *u)
{
	return u->url;
}

const char *
hub_url_view(const struct hub_url *u)
{
	return u->url + u->path->len + 1;
}

const char *
hub_url_host(const struct hub_url *u)
{
	return u->host;
}

void **
hub_url_slot(struct hub_url *u)
{
	return &u->slot;
}

unsigned long
hub_keys(const struct hub *h)
{
	return HASH_COUNT(h->keys);
}

unsigned long
hub_views(const struct hub *h)
{
	return h->nviews;
}

int
hub_has_key(const struct hub *h, const char *key, size_t klen)
{
	struct hub_key *k;

	HASH_FIND(hh, h->keys, key, klen, k);
	return k != NULL;
}

struct hub_key *
hub_key_first(const struct hub *h)
{
	return h->keys;
}

struct hub_key *
hub_key_next(const struct hub_key *k)
{
	return k->hh.next;
}

const char *
hub_key_name(const struct hub_key *k)
{
	return k->key;
}

struct hub_key_stats *
hub_key_stats(struct hub_key *k)
{
	return &k->st;
}

struct hub_url *
hub_key_urls(const struct hub_key *k)
{
	return k->urls;
}

struct hub_url *
hub_url_next(const struct hub_url *u)
{
	return u->hh.next;
}

unsigned long
hub_url_members(const struct hub_url *u)
{
	return u->nmembers;
}

const struct hub_url_stats *
hub_url_stats(const struct hub_url *u)
{
	return &u->st;
}
