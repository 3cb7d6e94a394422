/* The worker processes: each opens its share of the WebSocket connections
 * with raw non-blocking sockets and one epoll loop (at most --inflight
 * handshakes at a time), keeps what each connection holds (held.h), and
 * records each connection's arrival of a round's update in memory shared
 * with the master. The master drives them with one-message commands on a
 * SOCK_SEQPACKET pair (see enum wk_op). */
#ifndef LC_WORKER_H
#define LC_WORKER_H
#include <stdint.h>
#include "held.h"

#define WK_SAMPLE_MAX	(256u << 10)	/* bytes of a key's fragment kept */

/* Commands (master -> worker) and replies (worker -> master). */
enum wk_op {
	WK_ARM = 'A',		/* arm a fan-out or scale round; reply 'a' */
	WK_STORM = 'S',		/* arm a storm; reply 's' */
	WK_FINAL = 'F',		/* the storm's final value is val */
	WK_GIVEUP = 'T',	/* the master stopped waiting: reply 'D' now */
	WK_VERIFY = 'V',	/* publish what each client holds; reply 'v' */
	WK_QUIT = 'Q',		/* reset every connection and exit */
	WK_READY = 'R',		/* val: connections holding a fragment */
	WK_DONE = 'D',		/* val: armed connections that did not arrive */
};

struct wk_msg {
	char	op;
	int64_t	val;
};

/* One worker's counters, written by it, read by the master. */
struct wk_stats {
	int64_t	frames;			/* data frames received */
	int64_t	hs_failed;		/* connections that never got ready */
	int64_t	closed;			/* ready connections lost */
	int64_t	pings;
	int64_t	kinds[HELD_NKINDS];	/* data frames by kind since armed */
	int64_t	bad;			/* frames a browser would refuse */
	int64_t	resyncs;		/* resync requests sent */
	char	err[160];		/* the first connection error */
	char	bad_err[240];		/* the first refused frame */
};

/* Memory shared by the master and the workers (MAP_SHARED, made before
 * the fork). Arrays are per connection unless said otherwise. */
struct wk_shm {
	int64_t		*arr_u, *arr_k;	/* arrival: user space, kernel stamp */
	int32_t		*arr_frames;	/* data frames from arming to arrival */
	uint32_t	*arr_bytes;	/* bytes on the wire, same span */
	uint32_t	*arr_ver;	/* WK_VERIFY: the held version */
	uint8_t		*arr_held;	/* WK_VERIFY: 1 if it holds a fragment */
	struct wk_stats	*w;		/* per worker */
	char		*token;		/* the armed scale round's token */
	uint32_t	*sample_len;	/* per key: WK_VERIFY's sample */
	char		*samples;	/* per key, WK_SAMPLE_MAX bytes each */
};

extern struct wk_shm shm;

/* Maps shm for n connections over keys keys and procs workers. */
void	wk_shm_init(long n, int keys, int procs);
/* Send or receive one message; die if the peer is gone. */
void	wk_send(int fd, char op, int64_t val);
/* The worker's life: connections base..base+count-1 of the run, commands
 * on ctl. Never returns. */
void	wk_main(int id, int ctl, long base, long count)
	    __attribute__((noreturn));
/* The key and url of key index k (from --path), for verification. */
void	wk_root_of(int k, char *key, size_t keycap, char *url, size_t urlcap);

#endif
