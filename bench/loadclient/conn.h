/* One worker's WebSocket client connections (conn.c) and the worker state
 * they share with worker.c. A connection goes C_CONNECTING -> C_HS
 * (request sent) -> C_OPEN (101 read) -> C_READY (first fragment held) or
 * C_DEAD. conn.c does the socket I/O and RFC 6455 framing; each data
 * frame goes to wk_on_data (worker.c). Internal to the worker process. */
#ifndef LC_CONN_H
#define LC_CONN_H
#include <stddef.h>
#include <stdint.h>
#include "held.h"
#include "opt.h"

enum cstate { C_CONNECTING, C_HS, C_OPEN, C_READY, C_DEAD };

struct conn {
	int			 fd;
	uint8_t			 state, arrived;
	uint8_t			 deflate;	/* permessage-deflate agreed */
	uint8_t			 resyncing;	/* sent 'r', waits for an F */
	uint16_t		 key;
	struct held_frag	*frag;		/* what it holds; NULL: nothing */
	int64_t			 value_t, value_tk; /* arrival of its value */
	int64_t			 armed;		/* its value when armed */
	int32_t			 frames, frames_at_arm;
	uint32_t		 bytes;		/* data frame bytes since armed */
	char			*pbuf;		/* partial head or frame */
	uint32_t		 plen, pcap;
};

/* One key's handshake request and the root its frames must name. */
struct wk_key {
	char	*req;		/* owned */
	size_t	 reqlen;
	char	 key[257], url[1025];
};

/* The worker process's state, owned by worker.c. Invariants: inflight
 * counts connections in C_CONNECTING and C_HS; pending counts armed
 * C_READY connections that have not arrived, and reaches 0 exactly once
 * per armed round (then 'D' goes to the master). */
struct wk_state {
	int			 id, ctl, ep;
	long			 base, count, next, inflight, nready, ndead;
	long			 pending;
	int			 ready_sent;
	enum lc_mode		 armed;		/* LC_IDLE: not armed */
	int64_t			 round, final;
	int			 final_known;
	int64_t			 off;		/* realtime - monotonic */
	int64_t			 started;
	struct conn		*c;
	struct wk_key		*k;		/* opt.keys of them */
	struct held_memo	*memo;
	int			 dumped;	/* --dump written */
};

extern struct wk_state W;

/* Starts connections while fewer than --inflight handshakes are under
 * way. */
void	conn_start_more(void);
/* Handles epoll events on c: connect done, bytes to read. */
void	conn_on_event(struct conn *c, uint32_t events);
/* Closes c for good (why: the worker's first error, if none yet). */
void	conn_dead(struct conn *c, const char *why);
/* Sends the resync request ("r"): pushd then sends full fragments. */
void	conn_resync(struct conn *c);
/* Resets c (RST, no TIME_WAIT) as the worker exits. */
void	conn_reset(struct conn *c);

/* worker.c: a data frame (payload p, n bytes; wire: with its header) for
 * c, received at tu (user space) and tk (kernel stamp), mono ns. */
void	wk_on_data(struct conn *c, int rsv1, const char *p, size_t n,
	    size_t wire, int64_t tu, int64_t tk);

#endif
