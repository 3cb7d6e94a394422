/* Viewers: the authorization of each WebSocket client and its renewal.
 * A client is authorized once at upgrade; it is authorized again when a
 * revoke names one of its tags, after a LISTEN reconnect, and every
 * reauth_ms (jittered) as a backstop. At most max_inflight authorize
 * requests are out at once (the app's connections): the rest wait in a
 * FIFO without a deadline, revokes at its front, so a reconnect storm
 * queues instead of overloading the app. A tag index (tag -> clients)
 * makes a revoke cost O(clients holding the tag). An answer that was in
 * flight when a revoke for one of the client's tags (or a reconnect)
 * came is discarded and the request sent again. Answers reach the caller
 * through vw_ops, never from inside a vw_ call. */
#ifndef KC_VIEWERS_H
#define KC_VIEWERS_H
#include "authorize.h"
#include "render.h"

#define VW_RETRY_MS	1000	/* a renewal the app did not answer is sent
				   again after this; the client stays */

struct event_base;
struct vw;
struct vw_client;

enum vw_why {
	VW_FIRST,	/* at upgrade: AZ_NO_ANSWER closes too */
	VW_REVOKE,	/* a revoke named one of the client's tags */
	VW_RENEW,	/* LISTEN reconnect or the backstop */
};

struct vw_ops {
	/* The answer for the client that owner stands for. Never
	 * AZ_NO_ANSWER unless why is VW_FIRST (a renewal retries). The
	 * callee may vw_end the client. */
	void	(*answer)(void *arg, void *owner, const struct az_answer *a,
		    enum vw_why why);
};

struct vw_opts {
	unsigned	max_inflight;	/* at least 1 */
	unsigned	reauth_ms;	/* backstop period, 0: none */
};

/* rnd, ops and arg are borrowed; o is copied. */
struct vw	*vw_new(struct event_base *base, struct rnd *rnd,
		    const struct vw_opts *o, const struct vw_ops *ops,
		    void *arg);
/* Ends every client without calling back. */
void		 vw_free(struct vw *v);

/* Authorizes a new client; a's strings are copied and kept for renewals.
 * owner is handed back in ops->answer. */
struct vw_client *vw_start(struct vw *v, const struct rnd_authz *a,
		    void *owner);
/* What the client was authorized for (strings valid until vw_end). */
const struct rnd_authz *vw_authz(const struct vw_client *c);
/* Links b to a's clients (one connection's roots): a revoke naming a tag
 * of any of them authorizes them all again. */
void		 vw_link(struct vw_client *a, struct vw_client *b);
/* The client is gone: no more answers; frees c. NULL is a no-op. */
void		 vw_end(struct vw_client *c);

/* Authorizes again every client holding tag. */
void		 vw_revoke(struct vw *v, const char *tag);
/* Authorizes every client again (revokes may have been missed). */
void		 vw_renew_all(struct vw *v);
/* Tags known with at least one client (for tests and metrics). */
unsigned long	 vw_tags(const struct vw *v);

#endif
