/* Authorizations, their queue and the tag index (see viewers.h).
 *
 * A client is in at most one of: the queue (due), in flight (job set) or
 * the retry list (its renewal got no answer); or idle, holding its tags.
 * rerun marks an in-flight request whose answer must be discarded. */
#include "viewers.h"

#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include <uthash.h>

#include "log.h"
#include "metrics.h"
#include "xmalloc.h"

struct vw_tag {
	UT_hash_handle	 hh;
	struct vw_ref	*head;
	char		 name[];
};

/* One tag of one client: a link in the tag's list. */
struct vw_ref {
	struct vw_ref		*prev, *next;
	struct vw_tag		*t;
	struct vw_client	*c;
};

enum where { W_IDLE, W_QUEUED, W_INFLIGHT, W_RETRY };

struct vw_client {
	struct vw		*v;
	void			*owner;
	struct rnd_authz	 a;		/* strings owned, in strs */
	char			*strs;
	size_t			 strs_len;
	struct rnd_job		*job;
	enum where		 where;
	enum vw_why		 why;		/* of the request due or out */
	int			 authorized;	/* an answer was delivered */
	int			 rerun;		/* discard the answer in flight */
	struct vw_client	*qprev, *qnext;	/* queue or retry list */
	struct vw_client	*prev, *next;	/* all clients */
	struct vw_ref		*refs;
	unsigned		 nrefs;
	struct vw_client	*ring;		/* the next linked client; c
						   itself when alone */
	unsigned long		 revoked;	/* the last revoke that walked
						   its ring */
};

struct clist {
	struct vw_client	*head, *tail;
};

struct vw {
	struct event_base	*base;
	struct rnd		*rnd;
	const struct vw_ops	*ops;
	void			*arg;
	unsigned		 max_inflight;
	unsigned		 inflight;
	unsigned		 reauth_ms;
	unsigned long		 revokes;	/* vw_revoke calls, to mark rings */
	struct clist		 queue;
	struct clist		 retry;
	struct vw_client	*all;
	struct vw_tag		*tags;
	struct event		*retry_ev;
	struct event		*backstop;
	struct event		*kick;
	int			 freeing;
};

static void
cl_del(struct clist *l, struct vw_client *c)
{
	if (c->qprev != NULL)
		c->qprev->qnext = c->qnext;
	else
		l->head = c->qnext;
	if (c->qnext != NULL)
		c->qnext->qprev = c->qprev;
	else
		l->tail = c->qprev;
	c->qprev = c->qnext = NULL;
}

static void
cl_add(struct clist *l, struct vw_client *c, int front)
{
	if (front) {
		c->qprev = NULL;
		c->qnext = l->head;
		if (l->head != NULL)
			l->head->qprev = c;
		else
			l->tail = c;
		l->head = c;
	} else {
		c->qnext = NULL;
		c->qprev = l->tail;
		if (l->tail != NULL)
			l->tail->qnext = c;
		else
			l->head = c;
		l->tail = c;
	}
}

static void
untag(struct vw_client *c)
{
	for (unsigned i = 0; i < c->nrefs; i++) {
		struct vw_ref *r = &c->refs[i];
		struct vw_tag *t = r->t;

		if (r->prev != NULL)
			r->prev->next = r->next;
		else
			t->head = r->next;
		if (r->next != NULL)
			r->next->prev = r->prev;
		if (t->head == NULL) {
			HASH_DEL(c->v->tags, t);
			free(t);
		}
	}
	free(c->refs);
	c->refs = NULL;
	c->nrefs = 0;
}

static void
tag(struct vw_client *c, const struct az_answer *a)
{
	untag(c);
	if (a->ntags == 0)
		return;
	c->refs = xcalloc(a->ntags, sizeof(*c->refs));
	for (unsigned i = 0; i < a->ntags; i++) {
		struct vw_ref *r = &c->refs[c->nrefs];
		size_t n = strlen(a->tags[i]);
		struct vw_tag *t;

		HASH_FIND(hh, c->v->tags, a->tags[i], n, t);
		if (t == NULL) {
			t = xcalloc(1, sizeof(*t) + n + 1);
			memcpy(t->name, a->tags[i], n);
			HASH_ADD_KEYPTR(hh, c->v->tags, t->name, n, t);
		} else {
			/* A tag listed twice is linked once. */
			int dup = 0;

			for (unsigned k = 0; k < c->nrefs; k++)
				dup |= c->refs[k].t == t;
			if (dup)
				continue;
		}
		r->t = t;
		r->c = c;
		r->next = t->head;
		if (t->head != NULL)
			t->head->prev = r;
		t->head = r;
		c->nrefs++;
	}
}

/* Leaves whichever list c waits in. */
static void
unwait(struct vw_client *c)
{
	if (c->where == W_QUEUED)
		cl_del(&c->v->queue, c);
	else if (c->where == W_RETRY)
		cl_del(&c->v->retry, c);
	if (c->where != W_INFLIGHT)
		c->where = W_IDLE;
}

/* c needs an answer for why: queued (revokes first), or re-run when one
 * is in flight. The queue is served from the kick event. */
static void
want(struct vw_client *c, enum vw_why why)
{
	struct vw *v = c->v;

	/* A revoke outranks a renewal (it counts the close and goes first);
	 * a first authorization stays one. */
	if (c->why != VW_FIRST && (why == VW_REVOKE || c->where == W_IDLE ||
	    c->where == W_RETRY))
		c->why = why;
	if (c->where == W_INFLIGHT) {
		c->rerun = 1;
		return;
	}
	if (c->where == W_QUEUED) {
		if (why == VW_REVOKE) {
			cl_del(&v->queue, c);
			cl_add(&v->queue, c, 1);
		}
		return;
	}
	unwait(c);
	c->where = W_QUEUED;
	cl_add(&v->queue, c, why == VW_REVOKE);
	event_active(v->kick, 0, 0);
}

static void on_answer(void *arg, const struct rnd_result *res);

static void
pump(struct vw *v)
{
	struct vw_client *c;

	while (!v->freeing && v->inflight < v->max_inflight &&
	    (c = v->queue.head) != NULL) {
		cl_del(&v->queue, c);
		c->where = W_INFLIGHT;
		c->rerun = 0;
		v->inflight++;
		c->job = rnd_authorize(v->rnd, &c->a, on_answer, c);
	}
}

static void
on_kick(evutil_socket_t fd, short what, void *arg)
{
	pump(arg);
}

static void
count(const struct az_answer *a, int status)
{
	switch (a->verdict) {
	case AZ_OK:
		metrics.authz_ok++;
		break;
	case AZ_DENY:
		if (status == 401)
			metrics.authz_401++;
		else if (status == 403)
			metrics.authz_403++;
		else
			metrics.authz_404++;
		break;
	case AZ_ERROR:
	case AZ_NO_ANSWER:
		metrics.authz_error++;
		break;
	}
}

static void
on_answer(void *arg, const struct rnd_result *res)
{
	struct vw_client *c = arg;
	struct vw *v = c->v;
	struct az_answer a;
	enum vw_why why = c->why;

	c->job = NULL;
	c->where = W_IDLE;
	v->inflight--;
	event_active(v->kick, 0, 0);
	if (c->rerun) {
		/* Decided before a revoke or reconnect: may be stale. */
		c->rerun = 0;
		c->where = W_QUEUED;
		cl_add(&v->queue, c, 1);
		return;
	}
	az_judge(res->status, res->head, res->head_len, res->body, res->len,
	    &a);
	count(&a, res->status);
	if (a.verdict == AZ_NO_ANSWER && why != VW_FIRST) {
		/* The app is unreachable, which says nothing about the
		 * viewer: keep the client and ask again. */
		c->where = W_RETRY;
		cl_add(&v->retry, c, 0);
		if (!evtimer_pending(v->retry_ev, NULL)) {
			struct timeval tv = { VW_RETRY_MS / 1000,
			    (VW_RETRY_MS % 1000) * 1000 };

			evtimer_add(v->retry_ev, &tv);
		}
		return;
	}
	if (a.verdict == AZ_OK)
		tag(c, &a);
	else
		untag(c);
	c->authorized = 1;
	c->why = VW_RENEW;
	v->ops->answer(v->arg, c->owner, &a, why);
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct vw *v = arg;
	struct vw_client *c;

	while ((c = v->retry.head) != NULL) {
		cl_del(&v->retry, c);
		c->where = W_QUEUED;
		cl_add(&v->queue, c, 0);
	}
	pump(v);
}

static void
arm_backstop(struct vw *v)
{
	/* 0.9 .. 1.1 of the period: instances started together spread. */
	uint64_t ms = (uint64_t)v->reauth_ms * (900 + (uint64_t)(random() % 201))
	    / 1000;
	struct timeval tv = { (time_t)(ms / 1000),
	    (suseconds_t)((ms % 1000) * 1000) };

	evtimer_add(v->backstop, &tv);
}

static void
on_backstop(evutil_socket_t fd, short what, void *arg)
{
	struct vw *v = arg;

	log_debug("authorizing every client again (--reauth-interval)");
	vw_renew_all(v);
	arm_backstop(v);
}

struct vw *
vw_new(struct event_base *base, struct rnd *rnd, const struct vw_opts *o,
    const struct vw_ops *ops, void *arg)
{
	struct vw *v = xcalloc(1, sizeof(*v));

	v->base = base;
	v->rnd = rnd;
	v->ops = ops;
	v->arg = arg;
	v->max_inflight = o->max_inflight > 0 ? o->max_inflight : 1;
	v->reauth_ms = o->reauth_ms;
	v->retry_ev = evtimer_new(base, on_retry, v);
	v->backstop = evtimer_new(base, on_backstop, v);
	v->kick = event_new(base, -1, 0, on_kick, v);
	if (v->reauth_ms > 0)
		arm_backstop(v);
	return v;
}

void
vw_free(struct vw *v)
{
	if (v == NULL)
		return;
	v->freeing = 1;
	while (v->all != NULL)
		vw_end(v->all);
	event_free(v->retry_ev);
	event_free(v->backstop);
	event_free(v->kick);
	free(v);
}

/* Appends s (may be NULL) to the block at *p; returns where it went. */
static const char *
keep(char **p, const char *s)
{
	char *at = *p;

	if (s == NULL)
		return NULL;
	strcpy(at, s);
	*p += strlen(s) + 1;
	return at;
}

static size_t
size_of(const char *s)
{
	return s != NULL ? strlen(s) + 1 : 0;
}

struct vw_client *
vw_start(struct vw *v, const struct rnd_authz *a, void *owner)
{
	struct vw_client *c = xcalloc(1, sizeof(*c));
	char *p;

	c->strs_len = size_of(a->key) + size_of(a->url) + size_of(a->host) +
	    size_of(a->origin) + size_of(a->remote_addr) + size_of(a->cookie) +
	    size_of(a->authorization) + 1;
	c->strs = p = xmalloc(c->strs_len);
	c->a.key = keep(&p, a->key);
	c->a.url = keep(&p, a->url);
	c->a.host = keep(&p, a->host);
	c->a.origin = keep(&p, a->origin);
	c->a.remote_addr = keep(&p, a->remote_addr);
	c->a.cookie = keep(&p, a->cookie);
	c->a.authorization = keep(&p, a->authorization);
	c->v = v;
	c->owner = owner;
	c->why = VW_FIRST;
	c->ring = c;
	c->next = v->all;
	if (v->all != NULL)
		v->all->prev = c;
	v->all = c;
	want(c, VW_FIRST);
	return c;
}

const struct rnd_authz *
vw_authz(const struct vw_client *c)
{
	return &c->a;
}

void
vw_link(struct vw_client *a, struct vw_client *b)
{
	struct vw_client *t = a->ring;

	a->ring = b->ring;
	b->ring = t;
}

void
vw_end(struct vw_client *c)
{
	struct vw *v;
	struct vw_client *p;

	if (c == NULL)
		return;
	v = c->v;
	for (p = c; p->ring != c; p = p->ring)
		;
	p->ring = c->ring;
	unwait(c);
	if (c->job != NULL) {
		rnd_cancel(c->job);
		v->inflight--;
		event_active(v->kick, 0, 0);
	}
	untag(c);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		v->all = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	/* The cookie and Authorization values are secrets: not left in
	 * freed memory. */
	explicit_bzero(c->strs, c->strs_len);
	free(c->strs);
	free(c);
}

void
vw_revoke(struct vw *v, const char *t)
{
	struct vw_tag *tg;
	struct vw_ref *r;
	unsigned long n = 0;

	HASH_FIND_STR(v->tags, t, tg);
	if (tg == NULL)
		return;
	/* want() never calls back nor unlinks refs. A ring is walked once,
	 * however many of its clients carry the tag. */
	v->revokes++;
	for (r = tg->head; r != NULL; r = r->next) {
		struct vw_client *c = r->c;

		if (c->revoked == v->revokes)
			continue;
		do {
			c->revoked = v->revokes;
			want(c, VW_REVOKE);
			n++;
		} while ((c = c->ring) != r->c);
	}
	log_debug("revoke %s: authorizing %lu clients again", t, n);
}

void
vw_renew_all(struct vw *v)
{
	for (struct vw_client *c = v->all; c != NULL; c = c->next)
		want(c, c->authorized ? VW_RENEW : VW_FIRST);
}

unsigned long
vw_tags(const struct vw *v)
{
	return HASH_COUNT(v->tags);
}
