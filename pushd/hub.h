/* The hub: key -> (url, view class) -> clients, and per such group (a
 * "hub_url" below: what one render serves) the last render's snap (its
 * frames, and the diff from the render before: snap.h) and the coalescing state machine. At most one render per (key, url) is in
 * flight and at most one more is due, and a url's renders start at least
 * HUB_RENDER_GAP_MS apart: notifies during a render fold into the due one,
 * so a burst costs a render per gap at most (two if it is shorter), and the
 * due render starts after the last notify, so clients converge on the
 * latest committed state. No I/O: renders, timers, the clock, sends and
 * closes go through struct hub_ops. */
#ifndef KC_HUB_H
#define KC_HUB_H
#include <stddef.h>
#include <stdint.h>

#include "snap.h"
#include "ws.h"

#define HUB_ETOOMANY	-1	/* the key already has max_urls urls */
#define HUB_ETOOMANYVIEWS -3	/* the url already has max_views views */
#define HUB_UNUSABLE	-2	/* a render "status": the app answered, but
				   with something no retry will fix (too
				   large, not FastCGI/CGI) */
#define HUB_RENDER_GAP_MS 20	/* between render starts of one url: at
				   most 50 renders a second each */

struct hub;
struct hub_url;

/* Embedded in the caller's client; join and leave are O(1). */
struct hub_member {
	struct hub_member	*prev, *next;
	struct hub_url		*url;	/* NULL while not joined */
};

struct hub_ops {
	/* Render u now and answer with hub_render_done (never from inside
	 * this call). */
	void	(*render)(void *arg, struct hub_url *u);
	/* Call hub_retry(u) in ms milliseconds. */
	void	(*retry_later)(void *arg, struct hub_url *u, unsigned ms);
	/* A monotonic clock in milliseconds. */
	int64_t	(*now_ms)(void *arg);
	/* u is being freed: cancel its render or timer, free *hub_url_slot. */
	void	(*forget)(void *arg, struct hub_url *u);
	/* Send m the frame of sn it needs (snap_frame); sn is borrowed
	 * (take a reference to keep it). */
	void	(*send)(void *arg, struct hub_member *m, struct snap *sn);
	/* The hub removed m from its url; close the client with code. */
	void	(*close)(void *arg, struct hub_member *m, uint16_t code,
		    const char *reason);
};

/* ops and arg are borrowed for the hub's life. */
struct hub	*hub_new(const struct hub_ops *ops, void *arg, unsigned max_urls);
/* Frees every url (forget) and detaches remaining members. */
void		 hub_free(struct hub *h);
/* At most n renders run at once (0, the default: no limit); the others
 * wait in the hub's FIFO, without a deadline, until one ends. */
void		 hub_set_max_inflight(struct hub *h, unsigned n);

/* At most n view classes per (key, url) (default 16). */
void		 hub_set_max_views(struct hub *h, unsigned n);
/* How renders become snaps (c borrowed for the hub's life); by default
 * diffs with the default bounds and no compression. */
void		 hub_set_snap_config(struct hub *h, const struct snap_config *c);

/* Adds m to (key, url, view), creating them as needed; key, url, view
 * (NUL-terminated) and host (what the render request will carry as
 * HTTP_HOST) are copied. m then gets the cached snap if it is current,
 * else the next render. Returns 0, HUB_ETOOMANY or HUB_ETOOMANYVIEWS. */
int	hub_join(struct hub *h, struct hub_member *m, const char *key,
	    size_t klen, const char *url, size_t ulen, const char *view,
	    const char *host);
/* Removes m; a no-op when it is not joined. */
void	hub_leave(struct hub_member *m);
/* The last snap of m's group (borrowed), current or not; NULL when none
 * or m is not joined. A resync sends it again in full. */
struct snap *hub_member_snap(const struct hub_member *m);
/* The data behind key changed: re-render each of its urls. */
void	hub_notify(struct hub *h, const char *key, size_t klen);
/* Notifies are being missed (LISTEN is down): no cached snap is current
 * any more, so the next member to join a url gets a fresh render. Renders
 * nothing by itself; hub_resync follows once LISTEN is back. */
void	hub_invalidate(struct hub *h);
/* Notifies may have been lost (LISTEN reconnected): re-render all. */
void	hub_resync(struct hub *h);

/* What a render's outcome does to its url. */
enum hub_verdict {
	HUB_SEND,	/* 200: cached and sent to every member */
	HUB_DROP,	/* 200 but not UTF-8, over which browsers fail the
			   connection (RFC 6455 8.1): members keep their last
			   frame until the next notify or join */
	HUB_RETRY,	/* no answer or 5xx: again after a backoff of 100 ms
			   doubling to 5 s, while the url has members; a
			   notify or resync cuts the backoff short, and so
			   does any url's success when there was no answer */
	HUB_CLOSE,	/* any other status, and HUB_UNUSABLE: members are
			   closed */
};

/* The policy, without a url: status is the app's HTTP status, -1 when
 * there was no answer (timeout, app down), or HUB_UNUSABLE. For HUB_CLOSE, *code gets 4403
 * for 403, 4404 for 404 and 410, 1011 for anything unexpected. */
enum hub_verdict hub_verdict(int status, const char *body, size_t len,
	    uint16_t *code);
/* A render of u ended: applies hub_verdict and returns it. body is copied
 * into a snap, diffed against the previous one. u may be freed on return (its members gone). */
enum hub_verdict hub_render_done(struct hub_url *u, int status,
	    const char *body, size_t len);
/* A retry_later timer of u fired; a no-op when the render it was for
 * started already. */
void	hub_retry(struct hub_url *u);

const char	*hub_url_key(const struct hub_url *u);
const char	*hub_url_path(const struct hub_url *u);
const char	*hub_url_host(const struct hub_url *u);
const char	*hub_url_view(const struct hub_url *u);
/* One pointer of storage for the ops' implementation. */
void		**hub_url_slot(struct hub_url *u);
unsigned long	 hub_keys(const struct hub *h);
/* Groups (key, url, view) with members: each costs a render per notify. */
unsigned long	 hub_views(const struct hub *h);

/* What the hub saw, for the key diagnostics (keys.h). Times are now_ms. */
struct hub_key_stats {
	int64_t		since_ms;	/* the key's first client joined */
	uint64_t	notifies;	/* since then */
	int64_t		last_notify_ms;	/* valid when notifies > 0 */
	int		quiet_warned;	/* keys.c logged it as quiet */
};
struct hub_url_stats {
	uint64_t	renders;	/* answered or failed, not cancelled */
	uint64_t	failures;	/* all but HUB_SEND */
	int		last_status;	/* as hub_render_done got it; valid
					   when renders > 0 */
	int64_t		last_ms;	/* when it ended */
};
struct hub_key;
/* 1 when key has members. */
int		 hub_has_key(const struct hub *h, const char *key, size_t klen);
/* Walks keys, and a key's (url, view) groups, in no order; nothing may
 * join, leave or notify during the walk. NULL ends it. */
struct hub_key	*hub_key_first(const struct hub *h);
struct hub_key	*hub_key_next(const struct hub_key *k);
const char	*hub_key_name(const struct hub_key *k);
struct hub_key_stats *hub_key_stats(struct hub_key *k);
struct hub_url	*hub_key_urls(const struct hub_key *k);
struct hub_url	*hub_url_next(const struct hub_url *u);
unsigned long	 hub_url_members(const struct hub_url *u);
const struct hub_url_stats *hub_url_stats(const struct hub_url *u);

#endif
