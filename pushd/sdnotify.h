/* systemd's notify protocol for keycast-pushd (Type=notify): READY=1 once
 * the listener is open and LISTEN is up for the first time, STATUS= lines,
 * STOPPING=1 when the drain begins, and WATCHDOG=1 from a timer on the
 * event loop, so a stuck loop stops the pings and systemd restarts pushd.
 * Only with libsystemd (HAVE_SYSTEMD); without it each call is an empty
 * inline function. */
#ifndef KC_SDNOTIFY_H
#define KC_SDNOTIFY_H

struct event_base;
struct pgl;
struct sdn;
struct srv;

#ifdef HAVE_SYSTEMD
/* Returns NULL when not started by systemd (no NOTIFY_SOCKET); every call
 * takes NULL and then does nothing. srv and pgl are borrowed for the
 * STATUS line and must outlive the sdn. */
struct sdn	*sdn_new(struct event_base *base, const struct srv *srv,
		    const struct pgl *pgl);
void		 sdn_free(struct sdn *n);
/* LISTEN is up: READY=1 the first time, and a fresh STATUS each time. */
void		 sdn_ready(struct sdn *n);
/* STOPPING=1; the STATUS line says the drain began. */
void		 sdn_stopping(struct sdn *n);
#else
static inline struct sdn *
sdn_new(struct event_base *base, const struct srv *srv, const struct pgl *pgl)
{
	return NULL;
}
static inline void sdn_free(struct sdn *n) {}
static inline void sdn_ready(struct sdn *n) {}
static inline void sdn_stopping(struct sdn *n) {}
#endif

#endif
