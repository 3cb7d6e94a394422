/* The notify protocol over libsystemd (see sdnotify.h). One timer sends
 * the STATUS line every SDN_STATUS_MS, or at half of WATCHDOG_USEC if that
 * is sooner, with WATCHDOG=1 when systemd watches us: `systemctl status`
 * then shows a client count never older than that. */
#include "config.h"

#ifdef HAVE_SYSTEMD
#include "sdnotify.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "listen.h"
#include "log.h"
#include "server.h"
#include "xmalloc.h"

#define SDN_STATUS_MS	5000

struct sdn {
	const struct srv	*srv;
	const struct pgl	*pgl;
	struct event		*tick;
	int			 watchdog;	/* each tick pings */
	int			 ready;		/* READY=1 was sent */
	int			 stopping;
};

static void
sdn_send(struct sdn *n, const char *extra)
{
	unsigned long clients = srv_clients(n->srv);
	int r;

	if (n->stopping)
		r = sd_notifyf(0, "%sSTATUS=stopping: closing %lu clients",
		    extra, clients);
	else
		r = sd_notifyf(0, "%sSTATUS=%lu client%s, LISTEN %s", extra,
		    clients, clients == 1 ? "" : "s",
		    pgl_is_up(n->pgl) ? "up" : n->ready ?
		    "down (reconnecting)" : "connecting");
	if (r < 0)
		log_debug("sd_notify: %s", strerror(-r));
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct sdn *n = arg;

	sdn_send(n, n->watchdog ? "WATCHDOG=1\n" : "");
}

struct sdn *
sdn_new(struct event_base *base, const struct srv *srv, const struct pgl *pgl)
{
	const char *sock = getenv("NOTIFY_SOCKET");
	struct sdn *n;
	uint64_t usec = (uint64_t)SDN_STATUS_MS * 1000, wd;
	struct timeval tv;

	if (sock == NULL || sock[0] == '\0')
		return NULL;
	n = xcalloc(1, sizeof(*n));
	n->srv = srv;
	n->pgl = pgl;
	if (sd_watchdog_enabled(0, &wd) > 0) {
		n->watchdog = 1;
		if (wd / 2 < usec)
			usec = wd / 2;
		log_info("systemd watchdog of %llu ms: pinging every %llu ms",
		    (unsigned long long)(wd / 1000),
		    (unsigned long long)(usec / 1000));
	}
	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	n->tick = event_new(base, -1, EV_PERSIST, on_tick, n);
	event_add(n->tick, &tv);
	sdn_send(n, "");
	return n;
}

void
sdn_free(struct sdn *n)
{
	if (n == NULL)
		return;
	event_free(n->tick);
	free(n);
}

void
sdn_ready(struct sdn *n)
{
	if (n == NULL)
		return;
	sdn_send(n, n->ready ? "" : "READY=1\n");
	n->ready = 1;
}

void
sdn_stopping(struct sdn *n)
{
	if (n == NULL)
		return;
	n->stopping = 1;
	sdn_send(n, "STOPPING=1\n");
}
#endif
