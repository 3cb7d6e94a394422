/* The mutation as HTTP requests from the master: POST (or a publish) on
 * one kept-alive connection to --trigger, pipelined for a storm, with the
 * answers parsed (Content-Length or chunked) and timed. Plus one blocking
 * GET for the end-of-run check. */
#ifndef LC_TRIGGER_H
#define LC_TRIGGER_H
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"

#define TRIG_KEY	1		/* its key in the master's loop */

struct trig_stats {
	long	want, got;		/* requests sent, answers read */
	int64_t	first_t, last_t;	/* answers' arrival (mono ns) */
	int	last_status;
};

extern struct trig_stats trig;

/* (Re)connects to opt.trigger. */
void	trig_connect(void);
int	trig_connected(void);
void	trig_close(void);
/* Appends one request for value v (@COUNT@ in the body template). */
void	trig_add(long v);
/* Writes what is pending (the rest when the socket is writable). */
void	trig_flush(void);
void	trig_on_event(uint32_t events);
/* Every request has its answer. */
int	trig_done(void);
void	trig_reset(void);
/* GET path from addr (HTTP/1.0, Host host) into body; returns the status,
 * -1 on a network error or after timeout_ms. */
int	trig_get(const struct sockaddr_in *addr, const char *host,
	    const char *path, int timeout_ms, struct buf *body);

#endif
