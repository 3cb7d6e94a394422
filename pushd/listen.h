/* The LISTEN connection: asynchronous libpq (PQconnectStart/PQconnectPoll,
 * PQsendQuery) driven by one event on the connection's socket, rebuilt on
 * every reconnect; host names are looked up with evdns first, never by
 * libpq on the loop. On loss it reconnects with a short, jittered backoff
 * (100 ms .. retry_max_ms) and LISTENs again; the up callback then tells
 * the caller that notifies may have been missed. libpq's notices and
 * messages are logged as lines of their event. */
#ifndef KC_LISTEN_H
#define KC_LISTEN_H
#include <stddef.h>

struct event_base;
struct evdns_base;
struct pg_conn;		/* libpq's PGconn */
struct pgl;

struct pgl_opts {
	unsigned		 retry_max_ms;	/* backoff cap, >= 100 */
	struct evdns_base	*dns;		/* borrowed; NULL: libpq
						   resolves (blocking) */
	const char		*revoke_channel;	/* also LISTENed on
							   (NULL: none) */
};

struct pgl_cb {
	/* A notification on the channel; payload is NUL-terminated. */
	void	(*notify)(void *arg, const char *payload, size_t len);
	/* One on the revoke channel (same connection, so one up/down). */
	void	(*revoke)(void *arg, const char *payload, size_t len);
	/* LISTEN is active (first time or after a reconnect). */
	void	(*up)(void *arg);
	/* LISTEN was active and the connection is lost: notifies are being
	 * missed until up is called again. */
	void	(*down)(void *arg);
};

/* The strings and o are copied, cb is borrowed. Connecting starts at
 * once. */
struct pgl	*pgl_new(struct event_base *base, const char *conninfo,
		    const char *channel, const struct pgl_opts *o,
		    const struct pgl_cb *cb, void *arg);
void		 pgl_free(struct pgl *l);
/* 1 while LISTEN is active. */
int		 pgl_is_up(const struct pgl *l);
/* "LISTEN channel", the channel quoted as an identifier for conn's
 * encoding; the caller frees it. NULL when libpq cannot quote it (the cause
 * is in PQerrorMessage(conn)). */
char		*pgl_listen_sql(struct pg_conn *conn, const char *channel);

#endif
