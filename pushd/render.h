/* The render client: asks the FastCGI app for a (key, url)'s fragment over
 * a pool of at most N kept-alive connections (FCGI_KEEP_CONN), one request
 * per connection at a time, others queued. Every job ends in exactly one
 * callback, never from inside rnd_submit: the app's status and body, or
 * status -1 when there was no answer (connect failed, the app closed the
 * connection, a malformed answer, RND_TIMEOUT_MS passed since rnd_submit,
 * queued or not). */
#ifndef KC_RENDER_H
#define KC_RENDER_H
#include <stddef.h>

#define RND_TIMEOUT_MS	5000
#define RND_BODY_MAX	(1u << 20)	/* a fragment larger than this fails */

struct event_base;
struct rnd;
struct rnd_job;

struct rnd_result {
	int		 status;	/* HTTP status, or -1 */
	const char	*body;		/* valid during the callback only */
	size_t		 len;
	const char	*error;		/* why, when status is -1 */
	double		 seconds;	/* from rnd_submit to the answer */
};

typedef void rnd_done_fn(void *arg, const struct rnd_result *res);

/* addr is "unix:PATH" or "HOST:PORT"; returns NULL with err set. */
struct rnd	*rnd_new(struct event_base *base, const char *addr,
		    unsigned nconns, char *err, size_t errlen);
/* Ends every job without calling back. */
void		 rnd_free(struct rnd *r);
/* Renders url for key as DESIGN's render contract says; host goes into
 * HTTP_HOST. The strings are copied. */
struct rnd_job	*rnd_submit(struct rnd *r, const char *key, const char *url,
		    const char *host, rnd_done_fn *cb, void *arg);
/* The callback will not run; the job's memory is released when safe. */
void		 rnd_cancel(struct rnd_job *j);

#endif
