/* The listener and its connections: HTTP heads, WebSocket upgrades into the
 * hub, /healthz, /metrics and /debug/keys, heartbeats, bounded output per client with
 * conflation and a cap on all clients' output, timeouts, per-address
 * limits, and the drain on shutdown. A broadcast frame is written straight
 * to each socket whose output is empty (one send(2) per client); only what
 * the kernel refuses is queued, by reference. */
#ifndef KC_SERVER_H
#define KC_SERVER_H
#include <stddef.h>
#include <stdint.h>

#include "authorize.h"
#include "buf.h"
#include "hub.h"
#include "snap.h"
#include "viewers.h"

#define SRV_HANDSHAKE_MS	10000	/* to send a complete request head */
#define SRV_CLOSE_GRACE_MS	3000	/* for the peer to end after a close */
#define SRV_ACCEPT_PAUSE_MS	500	/* no accepting after accept(2) failed
					   for want of a descriptor and none
					   could be freed: nginx's pause */

struct event_base;
struct peers;
struct srv;

struct srv_config {
	const char	*listen;	/* "HOST:PORT" or "unix:PATH" */
	char *const	*allow_origin;
	size_t		 nallow;
	unsigned long	 max_clients;	/* upgrades past this get 503 */
	unsigned long	 max_conns;	/* sockets past this get 503 at once
					   (the open-files limit's share) */
	unsigned	 ping_ms;	/* heartbeat period; 2 silent periods
					   close */
	unsigned	 send_timeout_ms;	/* to write each frame once the
						   socket is full: else 1008 */
	unsigned	 frame_timeout_ms;	/* to finish a client frame */
	size_t		 max_output;	/* bytes queued for all clients; past
					   it the longest-blocked are shed */
	unsigned long	 max_per_addr;	/* clients per client address */
	struct peers	*peers;		/* trusted proxies and the count of
					   clients per address */
	int		 expose;	/* /healthz, /metrics for any peer */
	const char	*host;		/* HTTP_HOST for renders, or NULL to
					   use the client's Host */
	struct vw	*vw;		/* authorizes every upgrade */
	char *const	*forward_cookie;	/* cookie names authorize gets */
	size_t		 nforward;
	unsigned	 max_roots;	/* (key, url) pairs per v2 upgrade;
					   more close 4400 */
	unsigned long	 max_resyncs;	/* per client per minute; more close
					   1008 */
	const struct snap_config *snap;	/* .deflate: permessage-deflate is
					   negotiated */
};

struct srv_hooks {
	int	(*healthy)(void *arg);
	void	(*metrics)(void *arg, struct buf *out);
	/* The JSON of GET /debug/keys (loopback clients only). */
	void	(*debug_keys)(void *arg, struct buf *out);
	/* After srv_shutdown, once the last connection is gone. */
	void	(*drained)(void *arg);
};

/* Binds and listens; cfg's strings and hooks are borrowed. Returns NULL
 * with err set. */
struct srv	*srv_new(struct event_base *base, struct hub *hub,
		    const struct srv_config *cfg, const struct srv_hooks *hooks,
		    void *arg, char *err, size_t errlen);
/* Closes every connection at once and frees. */
void		 srv_free(struct srv *s);
/* Stops accepting and closes every client with 1001. */
void		 srv_shutdown(struct srv *s);
unsigned long	 srv_clients(const struct srv *s);
/* Bytes of distinct frames queued for clients (shared frames once). */
size_t		 srv_output_bytes(const struct srv *s);

/* The authorize answer for the root of a connection owner stands for
 * (vw_ops). */
void	srv_authorized(void *owner, const struct az_answer *a,
	    enum vw_why why);
/* Upgrades waiting for their authorize answer. */
unsigned long	 srv_authorizing(const struct srv *s);

/* The hub's send and close, for a member embedded in a connection's
 * root: send picks the snap's frame for what the root holds. */
void	srv_send(struct hub_member *m, struct snap *sn);
void	srv_close(struct hub_member *m, uint16_t code, const char *reason);

#endif
