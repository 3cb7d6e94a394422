/* keycast-pushd: flags (one table, common/flags.h), start-up, and the
 * wiring between the modules: LISTEN notifies -> hub -> render client ->
 * hub -> server broadcast. One libevent loop; signals arrive as events.
 * main is parse -> start -> dispatch -> stop. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <event2/dns.h>
#include <event2/event.h>

#include "buf.h"
#include "check.h"
#include "clock.h"
#include "flags.h"
#include "handshake.h"
#include "hub.h"
#include "keys.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "peers.h"
#include "render.h"
#include "sdnotify.h"
#include "server.h"
#include "snap.h"
#include "text.h"
#include "viewers.h"
#include "xmalloc.h"

#define SHUTDOWN_MS	5000
#define FD_RESERVE	32	/* LISTEN, log, listener, spare, stdio... */

struct pushd {
	struct event_base	*base;
	struct evdns_base	*dns;		/* names in --db and --app */
	struct hub		*hub;
	struct keys		*keys;		/* what /debug/keys shows */
	struct rnd		*rnd;
	struct vw		*vw;
	struct pgl		*pgl;
	struct srv		*srv;
	struct sdn		*sdn;		/* NULL unless under systemd */
	int			 draining;
	struct event		*deadline;
	struct event		*sigs[3];	/* TERM, INT, HUP */
	struct srv_config	 cfg;		/* borrowed by srv */
	struct snap_config	 snap;		/* borrowed by srv and hub */
	struct peers		*peers;
	unsigned long		 nofile, cap;	/* open-files limit, its
						   share for sockets */
};

/* Per-url state of the glue, in hub_url_slot. */
struct urlwork {
	struct pushd	*pd;
	struct hub_url	*u;
	struct rnd_job	*job;
	struct event	*retry;
};

static struct urlwork *
urlwork(struct pushd *pd, struct hub_url *u)
{
	void **slot = hub_url_slot(u);
	struct urlwork *w = *slot;

	if (w == NULL) {
		w = xcalloc(1, sizeof(*w));
		w->pd = pd;
		w->u = u;
		*slot = w;
	}
	return w;
}

static void
render_done(void *arg, const struct rnd_result *res)
{
	struct urlwork *w = arg;
	/* hub_render_done may free the url, and w with it. */
	char key[KEY_MAX + 1], url[URL_MAX + 1];

	snprintf(key, sizeof(key), "%s", hub_url_key(w->u));
	snprintf(url, sizeof(url), "%s", hub_url_path(w->u));
	w->job = NULL;
	metrics_observe_render(res->seconds);
	switch (hub_render_done(w->u, res->status == RND_UNUSABLE ?
	    HUB_UNUSABLE : res->status, res->body, res->len)) {
	case HUB_SEND:
		log_debug("render %s %s: %zu bytes in %.1f ms", key, url,
		    res->len, res->seconds * 1e3);
		break;
	case HUB_DROP:
		log_warn("render %s %s: the fragment is not valid UTF-8 "
		    "(browsers fail the WebSocket over it); its clients keep "
		    "their last frame", key, url);
		break;
	case HUB_RETRY:
		/* The render client says once that the app is down. */
		if (res->status == -1)
			log_debug("render %s %s failed: %s; retrying", key,
			    url, res->error);
		else
			log_warn("render %s %s: the app answered %d; "
			    "retrying", key, url, res->status);
		break;
	case HUB_CLOSE:
		if (res->status == RND_UNUSABLE)
			log_warn("render %s %s: %s; closing its clients with "
			    "1011, no retry", key, url, res->error);
		else
			log_info("render %s %s: the app says %d; closing its "
			    "clients", key, url, res->status);
		break;
	}
}

static void
op_render(void *arg, struct hub_url *u)
{
	struct pushd *pd = arg;
	struct urlwork *w = urlwork(pd, u);

	w->job = rnd_submit(pd->rnd, hub_url_key(u), hub_url_path(u),
	    hub_url_view(u), hub_url_host(u), render_done, w);
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct urlwork *w = arg;

	hub_retry(w->u);
}

static void
op_retry_later(void *arg, struct hub_url *u, unsigned ms)
{
	struct urlwork *w = urlwork(arg, u);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (w->retry == NULL)
		w->retry = evtimer_new(w->pd->base, on_retry, w);
	evtimer_add(w->retry, &tv);
}

static int64_t
op_now_ms(void *arg)
{
	return clock_ms();
}

static void
op_forget(void *arg, struct hub_url *u)
{
	void **slot = hub_url_slot(u);
	struct urlwork *w = *slot;

	if (w == NULL)
		return;
	if (w->job != NULL)
		rnd_cancel(w->job);
	if (w->retry != NULL)
		event_free(w->retry);
	free(w);
	*slot = NULL;
}

static void
op_send(void *arg, struct hub_member *m, struct snap *sn)
{
	srv_send(m, sn);
}

static void
op_close(void *arg, struct hub_member *m, uint16_t code, const char *reason)
{
	srv_close(m, code, reason);
}

static const struct hub_ops hub_ops = {
	.render = op_render,
	.retry_later = op_retry_later,
	.now_ms = op_now_ms,
	.forget = op_forget,
	.send = op_send,
	.close = op_close,
};

static void
on_notify(void *arg, const char *payload, size_t len)
{
	struct pushd *pd = arg;

	metrics.notifies++;
	if (!key_valid(payload, len)) {
		log_warn("NOTIFY payload is not a valid key (1..256 printable "
		    "ASCII, no spaces): ignored");
		return;
	}
	log_debug("notify %s", payload);
	hub_notify(pd->hub, payload, len);
	keys_notified(pd->keys, payload, len, clock_ms());
}

static void
on_revoke(void *arg, const char *payload, size_t len)
{
	struct pushd *pd = arg;

	metrics.revokes++;
	if (len == 0 || len > AZ_TAG_MAX) {
		log_warn("revoke payload is not a tag (1..%d bytes): ignored",
		    AZ_TAG_MAX);
		return;
	}
	vw_revoke(pd->vw, payload);
}

static void
on_answer(void *arg, void *owner, const struct az_answer *a, enum vw_why why)
{
	srv_authorized(owner, a, why);
}

static const struct vw_ops vw_ops = {
	.answer = on_answer,
};

static void
on_pg_up(void *arg)
{
	struct pushd *pd = arg;

	/* Notifies sent while we were not listening are lost: resync. */
	hub_resync(pd->hub);
	/* So may revokes be: every client is authorized again (the first
	 * time, nobody is authorized yet). */
	vw_renew_all(pd->vw);
	/* The listener opened before the loop ran: now we are ready. */
	sdn_ready(pd->sdn);
}

static void
on_pg_down(void *arg)
{
	struct pushd *pd = arg;

	/* Until LISTEN is back a cached frame may miss a change: a client
	 * joining meanwhile gets a fresh render, not the cache. */
	hub_invalidate(pd->hub);
}

static const struct pgl_cb pgl_cb = {
	.notify = on_notify,
	.revoke = on_revoke,
	.up = on_pg_up,
	.down = on_pg_down,
};

static int
hook_healthy(void *arg)
{
	struct pushd *pd = arg;

	return pgl_is_up(pd->pgl);
}

static void
hook_metrics(void *arg, struct buf *out)
{
	struct pushd *pd = arg;
	struct metrics_gauges g = {
		.clients = srv_clients(pd->srv),
		.keys = hub_keys(pd->hub),
		.views = hub_views(pd->hub),
		.keys_never_notified = keys_never_notified(pd->keys),
		.keys_unheld = keys_unheld(pd->keys),
		.tags = vw_tags(pd->vw),
		.authorizing = srv_authorizing(pd->srv),
		.output_bytes = srv_output_bytes(pd->srv),
		.pg_connected = pgl_is_up(pd->pgl),
	};

	metrics_write(out, &g);
}

static void
hook_debug_keys(void *arg, struct buf *out)
{
	struct pushd *pd = arg;

	keys_report(pd->keys, clock_ms(), out);
}

static void
hook_drained(void *arg)
{
	struct pushd *pd = arg;

	log_info("all clients closed; exiting");
	event_base_loopexit(pd->base, NULL);
}

static const struct srv_hooks srv_hooks = {
	.healthy = hook_healthy,
	.metrics = hook_metrics,
	.debug_keys = hook_debug_keys,
	.drained = hook_drained,
};

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct pushd *pd = arg;

	log_warn("clients still open after %d s; exiting anyway",
	    SHUTDOWN_MS / 1000);
	event_base_loopexit(pd->base, NULL);
}

static void
on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct pushd *pd = arg;
	struct timeval tv = { SHUTDOWN_MS / 1000, 0 };

	if (pd->draining) {
		event_base_loopexit(pd->base, NULL);
		return;
	}
	pd->draining = 1;
	log_info("%s: closing %lu clients with 1001", strsignal((int)sig),
	    srv_clients(pd->srv));
	sdn_stopping(pd->sdn);
	pd->deadline = evtimer_new(pd->base, on_deadline, pd);
	evtimer_add(pd->deadline, &tv);
	srv_shutdown(pd->srv);
}

static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
	if (log_reopen() == 0)
		log_info("SIGHUP: log reopened");
}

/* libevent's own warnings (evdns's among them) would go to stderr as bare
 * lines: give them the log's format. */
static void
on_libevent_log(int severity, const char *msg)
{
	enum log_level level = severity >= EVENT_LOG_ERR ? LOG_ERROR :
	    severity == EVENT_LOG_WARN ? LOG_WARN :
	    severity == EVENT_LOG_MSG ? LOG_INFO : LOG_DEBUG;

	if (log_enabled(level))
		log_msg(level, "libevent: %s", msg);
}

/* What the flags set; see the table below for each one's meaning. */
struct pushd_opts {
	const char		*listen, *app, *db, *channel, *revoke_channel;
	const char		*host, *log_file;
	struct flag_list	 forward, allow, trust;
	unsigned long		 app_conns, wire_ms, queue_ms, db_retry_ms;
	unsigned long		 max_views, reauth_ms, max_clients, max_urls;
	unsigned long		 ping_ms, send_timeout_ms, frame_timeout_ms;
	unsigned long		 max_output, max_per_addr, quiet_key_warn;
	unsigned long		 max_roots, max_resyncs, diff_units, diff_edits;
	unsigned long		 deflate_level, deflate_min, deflate_max;
	int			 expose, level, diff, deflate;
	struct check_opts	 check;
};

static const char *
check_cookie_name(const char *v)
{
	return v[0] == '\0' || strpbrk(v, "=; \t,") != NULL ?
	    "takes a cookie name" : NULL;
}

static struct pushd_opts o;

static const struct flag rows[] = {
FLAG_ROW("listen", "HOST:PORT|unix:PATH", FLAG_STRING, 1, 0, "127.0.0.1:8081",
    &o.listen, "where browsers (via the web server) connect\n"
    "(default {}); serves GET\n"
    "/__realtime?key=K&url=U, /healthz and /metrics"),
FLAG_ROW("app", "unix:PATH|HOST:PORT", FLAG_STRING, 1, 0,
    "unix:/run/keycast/fcgi.sock", &o.app, "keycast-fcgi's FastCGI address\n"
    "(default {}); a HOST name\n"
    "is looked up again, off the loop, on every connect"),
FLAG_ROW("app-conns", "N", FLAG_UINT, 1, 256, "4", &o.app_conns,
    "FastCGI connections kept open to the app (default {});\n"
    "each pins one app worker, so keep the app's workers\n"
    "above this plus the web server's keepalive; at most\n"
    "this many renders run at once, the others wait"),
FLAG_ROW("render-timeout", "MS", FLAG_MS, 1, 600000, "5000", &o.wire_ms,
    "a render sent to the app fails without an answer\n"
    "within this (default {}); its connection waits as\n"
    "long again for the late answer before it is closed"),
FLAG_ROW("render-queue-timeout", "MS", FLAG_MS, 1, 600000, "5000",
    &o.queue_ms, "a render waiting for a free app connection\n"
    "fails after this (default {})"),
FLAG_ROW("db", "CONNINFO", FLAG_STRING, 0, 0, "", &o.db,
    "libpq connection string for LISTEN (default: libpq\n"
    "defaults and PG* variables); a host name is looked\n"
    "up off the loop before every attempt"),
FLAG_ROW("db-retry-max", "MS", FLAG_MS, 100, 60000, "250", &o.db_retry_ms,
    "while PostgreSQL is down, retry LISTEN at least this\n"
    "often, jittered (default {}, minimum 100)"),
FLAG_ROW("channel", "NAME", FLAG_STRING, 1, 63, "keycast", &o.channel,
    "NOTIFY channel (default {})"),
FLAG_ROW("revoke-channel", "NAME", FLAG_STRING, 1, 63, "keycast_revoke",
    &o.revoke_channel, "channel of revokes, payload one tag: the clients\n"
    "holding it are authorized again (default\n"
    "{})"),
{ .name = "forward-cookie", .arg = "NAME", .kind = FLAG_LIST,
  .def = "kc_session", .dst = &o.forward, .check = check_cookie_name,
  .help = "a cookie the authorize request carries\n"
    "(repeatable; default {}); renders never\n"
    "carry one" },
FLAG_ROW("max-views-per-url", "N", FLAG_UINT, 1, 4096, "16", &o.max_views,
    "view classes of one (key, url); a client in one\n"
    "more is closed 4400 (default {})"),
FLAG_ROW("reauth-interval", "SEC", FLAG_SEC, 0, 86400, "600", &o.reauth_ms,
    "authorize every client again this often, jittered\n"
    "by 10%, besides revokes (default {}; 0: never)"),
FLAG_ROW("allow-origin", "ORIGIN", FLAG_LIST, 0, 0, NULL, &o.allow,
    "also accept this Origin (repeatable); by default\n"
    "the Origin must be X-Forwarded-Proto (or http)://Host"),
FLAG_ROW("host", "HOST", FLAG_STRING, 0, 0, NULL, &o.host,
    "HTTP_HOST of render requests (default: the Host the\n"
    "first client of each url sent)"),
FLAG_ROW("max-clients", "N", FLAG_UINT, 1, ULONG_MAX, NULL, &o.max_clients,
    "WebSocket clients before upgrades get 503 (default:\n"
    "the open-files limit minus a reserve)"),
FLAG_ROW("max-urls-per-key", "N", FLAG_UINT, 1, 100000, "32", &o.max_urls,
    "distinct urls under one key; more close 4400\n"
    "(default {})"),
FLAG_ROW("max-roots", "N", FLAG_UINT, 1, HS_ROOTS_MAX, "8", &o.max_roots,
    "(key, url) pairs one v2 client subscribes, 1..64;\n"
    "more close 4400 (default {})"),
FLAG_ROW("max-resyncs", "N", FLAG_UINT, 1, 1000, "30", &o.max_resyncs,
    "resyncs a v2 client may send a minute, 1..1000;\n"
    "more close 1008 (default {})"),
FLAG_ROW("diff", NULL, FLAG_BOOL, 1, 0, "1", &o.diff,
    "send v2 clients that hold the previous fragment a\n"
    "diff instead of the whole fragment (default on)"),
FLAG_ROW("no-diff", NULL, FLAG_BOOL, 0, 0, NULL, &o.diff,
    "send every client whole fragments"),
FLAG_ROW("diff-max-units", "N", FLAG_UINT, 16, 1000000, "20000",
    &o.diff_units, "fragments of more units (lines, tags) get no diff,\n"
    "16..1000000 (default {})"),
FLAG_ROW("diff-max-edits", "N", FLAG_UINT, 1, 100000, "1000", &o.diff_edits,
    "diffs needing more edits are not made, 1..100000\n"
    "(default {})"),
FLAG_ROW("deflate", NULL, FLAG_BOOL, 1, 0, "1", &o.deflate,
    "accept permessage-deflate offers (default on)"),
FLAG_ROW("no-deflate", NULL, FLAG_BOOL, 0, 0, NULL, &o.deflate,
    "decline them: every frame goes uncompressed"),
FLAG_ROW("deflate-level", "N", FLAG_UINT, 1, 9, "6", &o.deflate_level,
    "zlib level for frames, compressed once each, 1..9\n"
    "(default {})"),
FLAG_ROW("deflate-min", "BYTES", FLAG_UINT, 0, 1 << 20, "256",
    &o.deflate_min, "smaller frames go uncompressed, 0..1048576\n"
    "(default {})"),
FLAG_ROW("deflate-max", "BYTES", FLAG_UINT, 0, 16 << 20, "4194304",
    &o.deflate_max, "larger frames go uncompressed, 0..16777216\n"
    "(default {})"),
FLAG_ROW("ping-interval", "SEC", FLAG_SEC, 1, 3600, "25", &o.ping_ms,
    "heartbeat period: a ping and an empty text frame\n"
    "(which scripts can see); a client silent for two\n"
    "is closed (default {})"),
FLAG_ROW("send-timeout", "SEC", FLAG_SEC, 1, 3600, "30", &o.send_timeout_ms,
    "a frame must be written within this once the\n"
    "client's socket is full, else close 1008 (default {})"),
FLAG_ROW("frame-timeout", "SEC", FLAG_SEC, 1, 3600, "10",
    &o.frame_timeout_ms, "a client must finish a frame it began within this,\n"
    "else close 1008 (default {})"),
FLAG_ROW("max-output", "MIB", FLAG_MIB, 1, 1 << 20, "256", &o.max_output,
    "output queued for all clients, in MiB; past it the\n"
    "clients blocked longest are shed (default {})"),
FLAG_ROW("max-conns-per-addr", "N", FLAG_UINT, 1, ULONG_MAX, "64",
    &o.max_per_addr, "WebSocket clients per client address; more get\n"
    "503 (default {})"),
FLAG_ROW("trust-proxy", "ADDR", FLAG_LIST, 0, 0, "127.0.0.1 ::1", &o.trust,
    "take the client address from X-Forwarded-For (last\n"
    "element) or X-Real-IP when the peer is ADDR\n"
    "(repeatable; default 127.0.0.1 and ::1)"),
FLAG_ROW("expose-metrics", NULL, FLAG_BOOL, 1, 0, NULL, &o.expose,
    "serve /healthz and /metrics to any peer, not only\n"
    "loopback and unix-socket ones"),
FLAG_ROW("quiet-key-warn", "SEC", FLAG_UINT, 0, 86400 * 7, "600",
    &o.quiet_key_warn, "log once at notice a key that had clients this long\n"
    "without a notify while a similar key (case, a\n"
    "trailing /, a query string) was notified with no\n"
    "client (default {}; 0: never); GET /debug/keys\n"
    "(loopback only) lists both sides"),
{ .name = "log-level", .arg = "LEVEL", .kind = FLAG_ENUM, .def = NULL,
  .dst = &o.level, .choices = log_level_names,
  .help = "error, warn, notice, info (default) or debug" },
FLAG_ROW("log-file", "PATH", FLAG_STRING, 1, 0, NULL, &o.log_file,
    "append logs here instead of stderr (SIGHUP reopens)"),
FLAG_ROW("check", "URL", FLAG_STRING, 1, 0, NULL, &o.check.url,
    "check once, instead of running, each link a push of\n"
    "URL takes: the database (--db), a LISTEN/NOTIFY\n"
    "round trip on --channel, the app (--app) rendering\n"
    "URL as a fragment, and with --via the web server's\n"
    "/__realtime; prints ok/FAILED per link and exits 0\n"
    "only when all work. With --via, or URL as\n"
    "http://HOST:PORT/PATH, it also lists the page's\n"
    "realtime roots (key, url) and asks the pushd at\n"
    "--listen (GET /debug/keys) whether a notify named\n"
    "each key recently, or only a similar key"),
FLAG_ROW("via", "http://HOST:PORT", FLAG_STRING, 1, 0, NULL, &o.check.via,
    "with --check: open /__realtime?key=KEY&url=URL\n"
    "there and expect the fragment as the first frame;\n"
    "GET URL there for its realtime roots"),
FLAG_ROW("key", "KEY", FLAG_STRING, 0, 0, NULL, &o.check.key,
    "with --check: the key to subscribe (default: URL)"),
FLAG_ROW("version", NULL, FLAG_VERSION, 0, 0, NULL, NULL,
    "print the version and exit"),
FLAG_ROW("help", NULL, FLAG_HELP, 0, 0, NULL, NULL,
    "print this help and exit"),
};

static const struct flags_prog prog = {
	.name = "keycast-pushd",
	.version = PACKAGE_VERSION,
	.head =
"usage: keycast-pushd [options]\n"
"       keycast-pushd --check URL [--via http://HOST:PORT] [--key KEY] [options]\n"
"Holds the WebSocket clients of keycast pages. On NOTIFY of a key it asks\n"
"the FastCGI app for each of the key's urls once and sends the fragment to\n"
"every client of that (key, url). Under systemd (Type=notify) it reports\n"
"READY=1 once LISTEN is up, and pings the watchdog.\n"
"\n",
	.tail =
"\n"
"SIGTERM or SIGINT closes every client with 1001 and exits within 5 s.\n",
	.rows = rows,
	.nrows = sizeof(rows) / sizeof(rows[0]),
};

/* Raises the soft open-files limit to the hard one; returns the limit. */
static unsigned long
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t want = rl.rlim_max;

		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_warn("cannot raise the open-files limit to %llu: %s",
			    (unsigned long long)want, strerror(errno));
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur == RLIM_INFINITY ? ULONG_MAX : (unsigned long)rl.rlim_cur;
}

/* Parses argv into o. Returns FLAGS_RUN, FLAGS_EXIT or FLAGS_BAD. */
static int
parse(int argc, char **argv)
{
	int rc;

	o.level = -1;
	if ((rc = flags_parse(&prog, argc, argv)) != FLAGS_RUN)
		return rc;
	if (o.check.url == NULL && (o.check.via != NULL || o.check.key != NULL)) {
		fprintf(stderr, "keycast-pushd: --via and --key go with "
		    "--check URL\n");
		return FLAGS_BAD;
	}
	return FLAGS_RUN;
}

/* --check URL: runs instead of the daemon. */
static int
run_check(void)
{
	/* The results are the output; the render client's own warnings
	 * would only repeat them. */
	log_init("keycast-pushd", o.level >= 0 ? (enum log_level)o.level :
	    LOG_ERROR, o.log_file);
	o.check.db = o.db;
	o.check.channel = o.channel;
	o.check.app = o.app;
	o.check.host = o.host;
	o.check.pushd = o.listen;
	return check_run(&o.check, stdout, stderr);
}

/* The server's configuration from o; the peers with the trusted proxies.
 * Returns 0, or 2 after a message on stderr. */
static int
configure(struct pushd *pd)
{
	struct srv_config *cfg = &pd->cfg;

	cfg->listen = o.listen;
	cfg->allow_origin = (char *const *)o.allow.v;
	cfg->nallow = o.allow.n;
	cfg->forward_cookie = (char *const *)o.forward.v;
	cfg->nforward = o.forward.n;
	cfg->host = o.host;
	cfg->expose = o.expose;
	cfg->ping_ms = (unsigned)o.ping_ms;
	cfg->send_timeout_ms = (unsigned)o.send_timeout_ms;
	cfg->frame_timeout_ms = (unsigned)o.frame_timeout_ms;
	cfg->max_output = o.max_output;
	cfg->max_per_addr = o.max_per_addr;
	cfg->max_roots = (unsigned)o.max_roots;
	cfg->max_resyncs = o.max_resyncs;
	pd->snap.diff = o.diff;
	pd->snap.lim.max_units = o.diff_units;
	pd->snap.lim.max_edits = (unsigned)o.diff_edits;
	pd->snap.deflate = o.deflate;
	pd->snap.deflate_level = (int)o.deflate_level;
	pd->snap.deflate_min = o.deflate_min;
	pd->snap.deflate_max = o.deflate_max;
	cfg->snap = &pd->snap;
	pd->peers = peers_new();
	for (size_t i = 0; i < o.trust.n; i++) {
		if (peers_trust(pd->peers, o.trust.v[i]) != 0) {
			fprintf(stderr, "keycast-pushd: --trust-proxy takes an "
			    "IPv4 or IPv6 address, not %s\n", o.trust.v[i]);
			return 2;
		}
	}
	cfg->peers = pd->peers;
	pd->nofile = raise_nofile();
	pd->cap = pd->nofile > FD_RESERVE + o.app_conns ?
	    pd->nofile - FD_RESERVE - o.app_conns : 1;
	cfg->max_conns = pd->cap;
	/* Room for heads and refusals above the clients themselves. */
	cfg->max_clients = pd->cap > 128 ? pd->cap - 64 : pd->cap;
	if (o.max_clients != 0 && o.max_clients < cfg->max_clients)
		cfg->max_clients = o.max_clients;
	return 0;
}

/* Builds every module and opens the listener. Returns 0, or 1 after
 * logging why (pushd_stop frees what was built). */
static int
start(struct pushd *pd)
{
	char err[512];

	if ((pd->base = event_base_new()) == NULL) {
		log_error("cannot create the event loop");
		return 1;
	}
	/* Host names in --db and --app are looked up with this, off the
	 * loop, again on every reconnect. */
	if ((pd->dns = evdns_base_new(pd->base,
	    EVDNS_BASE_INITIALIZE_NAMESERVERS)) == NULL) {
		log_error("cannot set up the DNS resolver (/etc/resolv.conf)");
		return 1;
	}
	pd->hub = hub_new(&hub_ops, pd, (unsigned)o.max_urls);
	hub_set_max_inflight(pd->hub, (unsigned)o.app_conns);
	hub_set_max_views(pd->hub, (unsigned)o.max_views);
	hub_set_snap_config(pd->hub, &pd->snap);
	pd->keys = keys_new(pd->base, pd->hub, (unsigned)o.quiet_key_warn);
	if ((pd->rnd = rnd_new(pd->base, o.app, &(struct rnd_opts){
	    .conns = (unsigned)o.app_conns, .wire_ms = (unsigned)o.wire_ms,
	    .queue_ms = (unsigned)o.queue_ms, .dns = pd->dns }, err,
	    sizeof(err))) == NULL) {
		log_error("--app %s", err);
		return 1;
	}
	/* Authorizations share the app's connections with renders; each
	 * side keeps at most --app-conns requests out. */
	pd->vw = vw_new(pd->base, pd->rnd, &(struct vw_opts){
	    .max_inflight = (unsigned)o.app_conns,
	    .reauth_ms = (unsigned)o.reauth_ms }, &vw_ops, pd);
	pd->cfg.vw = pd->vw;
	if ((pd->srv = srv_new(pd->base, pd->hub, &pd->cfg, &srv_hooks, pd,
	    err, sizeof(err))) == NULL) {
		log_error("--listen %s", err);
		return 1;
	}
	pd->pgl = pgl_new(pd->base, o.db, o.channel, &(struct pgl_opts){
	    .retry_max_ms = (unsigned)o.db_retry_ms, .dns = pd->dns,
	    .revoke_channel = o.revoke_channel }, &pgl_cb, pd);
	pd->sdn = sdn_new(pd->base, pd->srv, pd->pgl);
	pd->sigs[0] = evsignal_new(pd->base, SIGTERM, on_stop_signal, pd);
	pd->sigs[1] = evsignal_new(pd->base, SIGINT, on_stop_signal, pd);
	pd->sigs[2] = evsignal_new(pd->base, SIGHUP, on_hup, pd);
	for (int i = 0; i < 3; i++)
		event_add(pd->sigs[i], NULL);
	return 0;
}

/* Runs the loop until a stop signal has drained the clients. */
static int
dispatch(struct pushd *pd)
{
	log_info("keycast-pushd %s listening on %s; app %s (%lu conns); "
	    "LISTEN %s; open files %lu, max clients %lu", PACKAGE_VERSION,
	    o.listen, o.app, o.app_conns, o.channel, pd->nofile,
	    pd->cfg.max_clients);
	if (event_base_dispatch(pd->base) != 0) {
		log_error("event loop failed");
		return 1;
	}
	return 0;
}

/* Frees whatever start built, in reverse. */
static void
stop(struct pushd *pd)
{
	for (int i = 0; i < 3; i++)
		if (pd->sigs[i] != NULL)
			event_free(pd->sigs[i]);
	if (pd->deadline != NULL)
		event_free(pd->deadline);
	sdn_free(pd->sdn);
	srv_free(pd->srv);
	vw_free(pd->vw);
	pgl_free(pd->pgl);
	keys_free(pd->keys);
	hub_free(pd->hub);
	rnd_free(pd->rnd);
	if (pd->dns != NULL)
		evdns_base_free(pd->dns, 0);
	if (pd->base != NULL)
		event_base_free(pd->base);
	peers_free(pd->peers);
}

int
main(int argc, char **argv)
{
	struct pushd pd;
	int rc;

	memset(&pd, 0, sizeof(pd));
	switch (parse(argc, argv)) {
	case FLAGS_EXIT:
		rc = 0;
		goto done;
	case FLAGS_BAD:
		rc = 2;
		goto done;
	}
	signal(SIGPIPE, SIG_IGN);
	if (o.check.url != NULL) {
		rc = run_check();
		goto done;
	}
	log_init("keycast-pushd", o.level >= 0 ? (enum log_level)o.level :
	    LOG_INFO, o.log_file);
	if ((rc = configure(&pd)) != 0)
		goto done;
	event_set_log_callback(on_libevent_log);
	if ((rc = start(&pd)) == 0)
		rc = dispatch(&pd);
done:
	stop(&pd);
	flags_free(&prog);
	return rc;
}
