/* The render client: asks the FastCGI app for a (key, url)'s fragment over
 * a pool of at most N kept-alive connections (FCGI_KEEP_CONN), one request
 * per connection at a time, others queued. Every job ends in exactly one
 * callback, never from inside rnd_submit: the app's status and body; status
 * -1 when there was no answer (connect failed, the app closed the
 * connection or refused the request, queue_ms passed before a connection
 * took the job, or wire_ms after); or RND_UNUSABLE when the app answered
 * with something no retry fixes (a fragment over RND_BODY_MAX, output that
 * is not FastCGI/CGI). */
#ifndef KC_RENDER_H
#define KC_RENDER_H
#include <stddef.h>

#define RND_WIRE_MS	5000	/* default: request sent -> answer */
#define RND_QUEUE_MS	5000	/* default: rnd_submit -> on a connection */
#define RND_BODY_MAX	(1u << 20)	/* a fragment larger than this fails */
#define RND_UNUSABLE	-2	/* a status: the answer is the app's fault */

struct event_base;
struct evdns_base;
struct rnd;
struct rnd_job;

struct rnd_opts {
	unsigned		 conns;		/* connections, at least 1 */
	unsigned		 wire_ms;	/* see above */
	unsigned		 queue_ms;
	struct evdns_base	*dns;		/* borrowed; resolves a HOST of
						   HOST:PORT again on every
						   connect. NULL: the address
						   rnd_new resolved */
};

struct rnd_result {
	int		 status;	/* HTTP status, -1 or RND_UNUSABLE */
	const char	*head;		/* the CGI header block, valid during
					   the callback only (status > 0) */
	size_t		 head_len;
	const char	*body;		/* valid during the callback only */
	size_t		 len;
	const char	*error;		/* why, when status is negative */
	double		 seconds;	/* from rnd_submit to the answer */
};

typedef void rnd_done_fn(void *arg, const struct rnd_result *res);

/* addr is "unix:PATH" or "HOST:PORT", resolved now to check it; returns
 * NULL with err set. o is copied. */
struct rnd	*rnd_new(struct event_base *base, const char *addr,
		    const struct rnd_opts *o, char *err, size_t errlen);
/* Ends every job without calling back. */
void		 rnd_free(struct rnd *r);
/* Renders url for key and view class as docs/protocol.md section 3 says
 * (KEYCAST_RENDER=key, KEYCAST_VIEW=view unless view is NULL, never a
 * cookie); host goes into HTTP_HOST. The strings are copied. */
struct rnd_job	*rnd_submit(struct rnd *r, const char *key, const char *url,
		    const char *view, const char *host, rnd_done_fn *cb,
		    void *arg);

/* What an authorize request carries (docs/protocol.md section 4); NULL fields are
 * left out. */
struct rnd_authz {
	const char	*key;
	const char	*url;
	const char	*host;
	const char	*origin;
	const char	*remote_addr;
	const char	*cookie;	/* only the forwarded cookies */
	const char	*authorization;
};

/* Asks the app whether a viewer may watch a->url under a->key, on the same
 * connections and queue as renders. a's strings are copied. */
struct rnd_job	*rnd_authorize(struct rnd *r, const struct rnd_authz *a,
		    rnd_done_fn *cb, void *arg);
/* The callback will not run; the job's memory is released when safe. */
void		 rnd_cancel(struct rnd_job *j);

#endif
