/* keycast-pushd: flags, start-up, and the wiring between the modules:
 * LISTEN notifies -> hub -> render client -> hub -> server broadcast. One
 * libevent loop; signals arrive as events. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
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
#include "handshake.h"
#include "hub.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "peers.h"
#include "render.h"
#include "sdnotify.h"
#include "server.h"
#include "text.h"
#include "viewers.h"
#include "xmalloc.h"

#define SHUTDOWN_MS	5000
#define FD_RESERVE	32	/* LISTEN, log, listener, spare, stdio... */

struct pushd {
	struct event_base	*base;
	struct evdns_base	*dns;		/* names in --db and --app */
	struct hub		*hub;
	struct rnd		*rnd;
	struct vw		*vw;
	struct pgl		*pgl;
	struct srv		*srv;
	struct sdn		*sdn;		/* NULL unless under systemd */
	int			 draining;
	struct event		*deadline;
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
		.tags = vw_tags(pd->vw),
		.authorizing = srv_authorizing(pd->srv),
		.output_bytes = srv_output_bytes(pd->srv),
		.pg_connected = pgl_is_up(pd->pgl),
	};

	metrics_write(out, &g);
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

static void
usage(FILE *f)
{
	fprintf(f,
"usage: keycast-pushd [options]\n"
"       keycast-pushd --check URL [--via http://HOST:PORT] [--key KEY] [options]\n"
"Holds the WebSocket clients of keycast pages. On NOTIFY of a key it asks\n"
"the FastCGI app for each of the key's urls once and sends the fragment to\n"
"every client of that (key, url). Under systemd (Type=notify) it reports\n"
"READY=1 once LISTEN is up, and pings the watchdog.\n"
"\n"
"  --listen HOST:PORT|unix:PATH  where browsers (via the web server) connect\n"
"                       (default 127.0.0.1:8081); serves GET\n"
"                       /__realtime?key=K&url=U, /healthz and /metrics\n"
"  --app unix:PATH|HOST:PORT  keycast-fcgi's FastCGI address\n"
"                       (default unix:/run/keycast/fcgi.sock); a HOST name\n"
"                       is looked up again, off the loop, on every connect\n"
"  --app-conns N        FastCGI connections kept open to the app (default 4);\n"
"                       each pins one app worker, so keep the app's workers\n"
"                       above this plus the web server's keepalive; at most\n"
"                       this many renders run at once, the others wait\n"
"  --render-timeout MS  a render sent to the app fails without an answer\n"
"                       within this (default 5000); its connection waits as\n"
"                       long again for the late answer before it is closed\n"
"  --render-queue-timeout MS  a render waiting for a free app connection\n"
"                       fails after this (default 5000)\n"
"  --db CONNINFO        libpq connection string for LISTEN (default: libpq\n"
"                       defaults and PG* variables); a host name is looked\n"
"                       up off the loop before every attempt\n"
"  --db-retry-max MS    while PostgreSQL is down, retry LISTEN at least this\n"
"                       often, jittered (default 250, minimum 100)\n"
"  --channel NAME       NOTIFY channel (default keycast)\n"
"  --revoke-channel NAME  channel of revokes, payload one tag: the clients\n"
"                       holding it are authorized again (default\n"
"                       keycast_revoke)\n"
"  --forward-cookie NAME  a cookie the authorize request carries\n"
"                       (repeatable; default kc_session); renders never\n"
"                       carry one\n"
"  --max-views-per-url N  view classes of one (key, url); a client in one\n"
"                       more is closed 4400 (default 16)\n"
"  --reauth-interval SEC  authorize every client again this often, jittered\n"
"                       by 10%%, besides revokes (default 600; 0: never)\n"
"  --allow-origin ORIGIN  also accept this Origin (repeatable); by default\n"
"                       the Origin must be X-Forwarded-Proto (or http)://Host\n"
"  --host HOST          HTTP_HOST of render requests (default: the Host the\n"
"                       first client of each url sent)\n"
"  --max-clients N      WebSocket clients before upgrades get 503 (default:\n"
"                       the open-files limit minus a reserve)\n"
"  --max-urls-per-key N distinct urls under one key; more close 4400\n"
"                       (default 32)\n"
"  --max-roots N        (key, url) pairs one v2 client subscribes, 1..64;\n"
"                       more close 4400 (default 8)\n"
"  --max-resyncs N      resyncs a v2 client may send a minute, 1..1000;\n"
"                       more close 1008 (default 30)\n"
"  --diff               send v2 clients that hold the previous fragment a\n"
"                       diff instead of the whole fragment (default on)\n"
"  --no-diff            send every client whole fragments\n"
"  --diff-max-units N   fragments of more units (lines, tags) get no diff,\n"
"                       16..1000000 (default 20000)\n"
"  --diff-max-edits N   diffs needing more edits are not made, 1..100000\n"
"                       (default 1000)\n"
"  --deflate            accept permessage-deflate offers (default on)\n"
"  --no-deflate         decline them: every frame goes uncompressed\n"
"  --deflate-level N    zlib level for frames, compressed once each, 1..9\n"
"                       (default 6)\n"
"  --deflate-min BYTES  smaller frames go uncompressed, 0..1048576\n"
"                       (default 256)\n"
"  --deflate-max BYTES  larger frames go uncompressed, 0..16777216\n"
"                       (default 4194304)\n"
"  --ping-interval SEC  heartbeat period: a ping and an empty text frame\n"
"                       (which scripts can see); a client silent for two\n"
"                       is closed (default 25)\n"
"  --send-timeout SEC   a frame must be written within this once the\n"
"                       client's socket is full, else close 1008 (default 30)\n"
"  --frame-timeout SEC  a client must finish a frame it began within this,\n"
"                       else close 1008 (default 10)\n"
"  --max-output MIB     output queued for all clients, in MiB; past it the\n"
"                       clients blocked longest are shed (default 256)\n"
"  --max-conns-per-addr N  WebSocket clients per client address; more get\n"
"                       503 (default 64)\n"
"  --trust-proxy ADDR   take the client address from X-Forwarded-For (last\n"
"                       element) or X-Real-IP when the peer is ADDR\n"
"                       (repeatable; default 127.0.0.1 and ::1)\n"
"  --expose-metrics     serve /healthz and /metrics to any peer, not only\n"
"                       loopback and unix-socket ones\n"
"  --log-level LEVEL    error, warn, info (default) or debug\n"
"  --log-file PATH      append logs here instead of stderr (SIGHUP reopens)\n"
"  --check URL          check once, instead of running, each link a push of\n"
"                       URL takes: the database (--db), a LISTEN/NOTIFY\n"
"                       round trip on --channel, the app (--app) rendering\n"
"                       URL as a fragment, and with --via the web server's\n"
"                       /__realtime; prints ok/FAILED per link and exits 0\n"
"                       only when all work\n"
"  --via http://HOST:PORT  with --check: open /__realtime?key=KEY&url=URL\n"
"                       there and expect the fragment as the first frame\n"
"  --key KEY            with --check: the key to subscribe (default: URL)\n"
"  --version            print the version and exit\n"
"  --help               print this help and exit\n"
"\n"
"SIGTERM or SIGINT closes every client with 1001 and exits within 5 s.\n");
}

static int
parse_ulong(const char *flag, const char *s, unsigned long min,
    unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min ||
	    v > max) {
		fprintf(stderr, "keycast-pushd: %s must be a number in %lu..%lu\n",
		    flag, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

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

enum {
	OPT_LISTEN = 256, OPT_APP, OPT_APP_CONNS, OPT_DB, OPT_CHANNEL,
	OPT_ALLOW_ORIGIN, OPT_HOST, OPT_MAX_CLIENTS, OPT_MAX_URLS,
	OPT_PING, OPT_EXPOSE, OPT_LOG_LEVEL, OPT_LOG_FILE, OPT_CHECK, OPT_VIA,
	OPT_KEY, OPT_VERSION, OPT_HELP, OPT_RENDER_TIMEOUT, OPT_QUEUE_TIMEOUT,
	OPT_DB_RETRY, OPT_SEND_TIMEOUT, OPT_FRAME_TIMEOUT, OPT_MAX_OUTPUT,
	OPT_PER_ADDR, OPT_TRUST_PROXY, OPT_REVOKE_CHANNEL, OPT_FORWARD_COOKIE,
	OPT_MAX_VIEWS, OPT_REAUTH,
	OPT_MAX_ROOTS, OPT_MAX_RESYNCS, OPT_DIFF, OPT_NO_DIFF,
	OPT_DIFF_MAX_UNITS, OPT_DIFF_MAX_EDITS, OPT_DEFLATE, OPT_NO_DEFLATE,
	OPT_DEFLATE_LEVEL, OPT_DEFLATE_MIN, OPT_DEFLATE_MAX,
};

static const struct option options[] = {
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "app", required_argument, NULL, OPT_APP },
	{ "app-conns", required_argument, NULL, OPT_APP_CONNS },
	{ "render-timeout", required_argument, NULL, OPT_RENDER_TIMEOUT },
	{ "render-queue-timeout", required_argument, NULL, OPT_QUEUE_TIMEOUT },
	{ "db-retry-max", required_argument, NULL, OPT_DB_RETRY },
	{ "db", required_argument, NULL, OPT_DB },
	{ "channel", required_argument, NULL, OPT_CHANNEL },
	{ "revoke-channel", required_argument, NULL, OPT_REVOKE_CHANNEL },
	{ "forward-cookie", required_argument, NULL, OPT_FORWARD_COOKIE },
	{ "max-views-per-url", required_argument, NULL, OPT_MAX_VIEWS },
	{ "reauth-interval", required_argument, NULL, OPT_REAUTH },
	{ "allow-origin", required_argument, NULL, OPT_ALLOW_ORIGIN },
	{ "host", required_argument, NULL, OPT_HOST },
	{ "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
	{ "max-urls-per-key", required_argument, NULL, OPT_MAX_URLS },
	{ "max-roots", required_argument, NULL, OPT_MAX_ROOTS },
	{ "max-resyncs", required_argument, NULL, OPT_MAX_RESYNCS },
	{ "diff", no_argument, NULL, OPT_DIFF },
	{ "no-diff", no_argument, NULL, OPT_NO_DIFF },
	{ "diff-max-units", required_argument, NULL, OPT_DIFF_MAX_UNITS },
	{ "diff-max-edits", required_argument, NULL, OPT_DIFF_MAX_EDITS },
	{ "deflate", no_argument, NULL, OPT_DEFLATE },
	{ "no-deflate", no_argument, NULL, OPT_NO_DEFLATE },
	{ "deflate-level", required_argument, NULL, OPT_DEFLATE_LEVEL },
	{ "deflate-min", required_argument, NULL, OPT_DEFLATE_MIN },
	{ "deflate-max", required_argument, NULL, OPT_DEFLATE_MAX },
	{ "ping-interval", required_argument, NULL, OPT_PING },
	{ "send-timeout", required_argument, NULL, OPT_SEND_TIMEOUT },
	{ "frame-timeout", required_argument, NULL, OPT_FRAME_TIMEOUT },
	{ "max-output", required_argument, NULL, OPT_MAX_OUTPUT },
	{ "max-conns-per-addr", required_argument, NULL, OPT_PER_ADDR },
	{ "trust-proxy", required_argument, NULL, OPT_TRUST_PROXY },
	{ "expose-metrics", no_argument, NULL, OPT_EXPOSE },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "log-file", required_argument, NULL, OPT_LOG_FILE },
	{ "check", required_argument, NULL, OPT_CHECK },
	{ "via", required_argument, NULL, OPT_VIA },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

int
main(int argc, char **argv)
{
	struct pushd pd;
	struct srv_config cfg;
	struct check_opts check;
	const char *app = "unix:/run/keycast/fcgi.sock", *db = "";
	const char *channel = "keycast", *log_file = NULL;
	const char *revoke_channel = "keycast_revoke";
	char **forward = NULL;
	size_t nforward = 0;
	unsigned long max_views = 16, reauth = 600;
	unsigned long max_roots = 8, max_resyncs = 30;
	unsigned long diff_units = DIFF_UNITS_MAX_DEFAULT;
	unsigned long diff_edits = DIFF_EDITS_MAX_DEFAULT;
	unsigned long deflate_level = 6, deflate_min = 256;
	unsigned long deflate_max = 4UL << 20;
	struct snap_config snapcfg = { .diff = 1, .deflate = 1 };
	char **allow = NULL;
	unsigned long app_conns = 4, max_clients = 0, max_urls = 32, ping = 25;
	unsigned long wire_ms = RND_WIRE_MS, queue_ms = RND_QUEUE_MS;
	unsigned long db_retry_ms = 250;
	unsigned long send_timeout = 30, frame_timeout = 10, max_output = 256;
	char **trust = NULL;
	size_t ntrust = 0;
	struct peers *peers = NULL;
	unsigned long nofile, cap;
	enum log_level level = LOG_INFO;
	int level_set = 0;
	struct event *sigs[3] = { NULL, NULL, NULL };
	char err[512];
	int opt, rc = 1;

	memset(&pd, 0, sizeof(pd));
	memset(&cfg, 0, sizeof(cfg));
	memset(&check, 0, sizeof(check));
	cfg.listen = "127.0.0.1:8081";
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case OPT_LISTEN: cfg.listen = optarg; break;
		case OPT_APP: app = optarg; break;
		case OPT_APP_CONNS:
			if (parse_ulong("--app-conns", optarg, 1, 256, &app_conns))
				return 2;
			break;
		case OPT_RENDER_TIMEOUT:
			if (parse_ulong("--render-timeout", optarg, 1, 600000,
			    &wire_ms))
				return 2;
			break;
		case OPT_QUEUE_TIMEOUT:
			if (parse_ulong("--render-queue-timeout", optarg, 1,
			    600000, &queue_ms))
				return 2;
			break;
		case OPT_DB_RETRY:
			if (parse_ulong("--db-retry-max", optarg, 100, 60000,
			    &db_retry_ms))
				return 2;
			break;
		case OPT_DB: db = optarg; break;
		case OPT_CHANNEL:
			if (optarg[0] == '\0' || strlen(optarg) > 63) {
				fprintf(stderr, "keycast-pushd: --channel must "
				    "be 1..63 bytes\n");
				return 2;
			}
			channel = optarg;
			break;
		case OPT_REVOKE_CHANNEL:
			if (optarg[0] == '\0' || strlen(optarg) > 63) {
				fprintf(stderr, "keycast-pushd: "
				    "--revoke-channel must be 1..63 bytes\n");
				return 2;
			}
			revoke_channel = optarg;
			break;
		case OPT_FORWARD_COOKIE:
			if (optarg[0] == '\0' || strpbrk(optarg, "=; \t,") !=
			    NULL) {
				fprintf(stderr, "keycast-pushd: "
				    "--forward-cookie takes a cookie name\n");
				return 2;
			}
			forward = xrealloc(forward, (nforward + 1) *
			    sizeof(*forward));
			forward[nforward++] = optarg;
			break;
		case OPT_MAX_VIEWS:
			if (parse_ulong("--max-views-per-url", optarg, 1, 4096,
			    &max_views))
				return 2;
			break;
		case OPT_REAUTH:
			if (parse_ulong("--reauth-interval", optarg, 0, 86400,
			    &reauth))
				return 2;
			break;
		case OPT_ALLOW_ORIGIN:
			allow = xrealloc(allow, (cfg.nallow + 1) * sizeof(*allow));
			allow[cfg.nallow++] = optarg;
			break;
		case OPT_HOST: cfg.host = optarg; break;
		case OPT_MAX_CLIENTS:
			if (parse_ulong("--max-clients", optarg, 1, ULONG_MAX,
			    &max_clients))
				return 2;
			break;
		case OPT_MAX_URLS:
			if (parse_ulong("--max-urls-per-key", optarg, 1, 100000,
			    &max_urls))
				return 2;
			break;
		case OPT_PING:
			if (parse_ulong("--ping-interval", optarg, 1, 3600, &ping))
				return 2;
			break;
		case OPT_MAX_ROOTS:
			if (parse_ulong("--max-roots", optarg, 1, HS_ROOTS_MAX,
			    &max_roots))
				return 2;
			break;
		case OPT_MAX_RESYNCS:
			if (parse_ulong("--max-resyncs", optarg, 1, 1000,
			    &max_resyncs))
				return 2;
			break;
		case OPT_DIFF: snapcfg.diff = 1; break;
		case OPT_NO_DIFF: snapcfg.diff = 0; break;
		case OPT_DIFF_MAX_UNITS:
			if (parse_ulong("--diff-max-units", optarg, 16, 1000000,
			    &diff_units))
				return 2;
			break;
		case OPT_DIFF_MAX_EDITS:
			if (parse_ulong("--diff-max-edits", optarg, 1, 100000,
			    &diff_edits))
				return 2;
			break;
		case OPT_DEFLATE: snapcfg.deflate = 1; break;
		case OPT_NO_DEFLATE: snapcfg.deflate = 0; break;
		case OPT_DEFLATE_LEVEL:
			if (parse_ulong("--deflate-level", optarg, 1, 9,
			    &deflate_level))
				return 2;
			break;
		case OPT_DEFLATE_MIN:
			if (parse_ulong("--deflate-min", optarg, 0, 1 << 20,
			    &deflate_min))
				return 2;
			break;
		case OPT_DEFLATE_MAX:
			if (parse_ulong("--deflate-max", optarg, 0, 16 << 20,
			    &deflate_max))
				return 2;
			break;
		case OPT_SEND_TIMEOUT:
			if (parse_ulong("--send-timeout", optarg, 1, 3600,
			    &send_timeout))
				return 2;
			break;
		case OPT_FRAME_TIMEOUT:
			if (parse_ulong("--frame-timeout", optarg, 1, 3600,
			    &frame_timeout))
				return 2;
			break;
		case OPT_MAX_OUTPUT:
			if (parse_ulong("--max-output", optarg, 1, 1 << 20,
			    &max_output))
				return 2;
			break;
		case OPT_PER_ADDR:
			if (parse_ulong("--max-conns-per-addr", optarg, 1,
			    ULONG_MAX, &cfg.max_per_addr))
				return 2;
			break;
		case OPT_TRUST_PROXY:
			trust = xrealloc(trust, (ntrust + 1) * sizeof(*trust));
			trust[ntrust++] = optarg;
			break;
		case OPT_EXPOSE: cfg.expose = 1; break;
		case OPT_LOG_LEVEL:
			if (log_parse_level(optarg, &level) != 0) {
				fprintf(stderr, "keycast-pushd: unknown "
				    "--log-level %s\n", optarg);
				return 2;
			}
			level_set = 1;
			break;
		case OPT_LOG_FILE: log_file = optarg; break;
		case OPT_CHECK: check.url = optarg; break;
		case OPT_VIA: check.via = optarg; break;
		case OPT_KEY: check.key = optarg; break;
		case OPT_VERSION:
			printf("keycast-pushd %s\n", PACKAGE_VERSION);
			return 0;
		case OPT_HELP:
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "keycast-pushd: unexpected argument %s\n",
		    argv[optind]);
		return 2;
	}
	if (check.url == NULL && (check.via != NULL || check.key != NULL)) {
		fprintf(stderr, "keycast-pushd: --via and --key go with "
		    "--check URL\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (check.url != NULL) {
		/* The results are the output; the render client's own
		 * warnings would only repeat them. */
		log_init("keycast-pushd", level_set ? level : LOG_ERROR,
		    log_file);
		check.db = db;
		check.channel = channel;
		check.app = app;
		check.host = cfg.host;
		free(trust);
		free(allow);
		free(forward);
		return check_run(&check, stdout, stderr);
	}
	cfg.allow_origin = allow;
	if (nforward == 0) {
		forward = xmalloc(sizeof(*forward));
		forward[nforward++] = "kc_session";
	}
	cfg.forward_cookie = forward;
	cfg.nforward = nforward;
	cfg.ping_ms = (unsigned)ping * 1000;
	cfg.send_timeout_ms = (unsigned)send_timeout * 1000;
	cfg.frame_timeout_ms = (unsigned)frame_timeout * 1000;
	cfg.max_output = (size_t)max_output << 20;
	if (cfg.max_per_addr == 0)
		cfg.max_per_addr = 64;
	cfg.max_roots = (unsigned)max_roots;
	cfg.max_resyncs = max_resyncs;
	snapcfg.lim.max_units = diff_units;
	snapcfg.lim.max_edits = (unsigned)diff_edits;
	snapcfg.deflate_level = (int)deflate_level;
	snapcfg.deflate_min = deflate_min;
	snapcfg.deflate_max = deflate_max;
	cfg.snap = &snapcfg;
	peers = peers_new();
	/* By default the usual proxy: a web server on this host. */
	if (ntrust == 0) {
		peers_trust(peers, "127.0.0.1");
		peers_trust(peers, "::1");
	}
	for (size_t i = 0; i < ntrust; i++) {
		if (peers_trust(peers, trust[i]) != 0) {
			fprintf(stderr, "keycast-pushd: --trust-proxy takes an "
			    "IPv4 or IPv6 address, not %s\n", trust[i]);
			rc = 2;
			goto done;
		}
	}
	cfg.peers = peers;
	log_init("keycast-pushd", level, log_file);
	event_set_log_callback(on_libevent_log);

	nofile = raise_nofile();
	cap = nofile > FD_RESERVE + app_conns ? nofile - FD_RESERVE - app_conns : 1;
	cfg.max_conns = cap;
	/* Room for heads and refusals above the clients themselves. */
	cfg.max_clients = cap > 128 ? cap - 64 : cap;
	if (max_clients != 0 && max_clients < cfg.max_clients)
		cfg.max_clients = max_clients;

	if ((pd.base = event_base_new()) == NULL) {
		log_error("cannot create the event loop");
		goto done;
	}
	/* Host names in --db and --app are looked up with this, off the
	 * loop, again on every reconnect. */
	if ((pd.dns = evdns_base_new(pd.base,
	    EVDNS_BASE_INITIALIZE_NAMESERVERS)) == NULL) {
		log_error("cannot set up the DNS resolver (/etc/resolv.conf)");
		goto done;
	}
	pd.hub = hub_new(&hub_ops, &pd, (unsigned)max_urls);
	hub_set_max_inflight(pd.hub, (unsigned)app_conns);
	hub_set_max_views(pd.hub, (unsigned)max_views);
	hub_set_snap_config(pd.hub, &snapcfg);
	if ((pd.rnd = rnd_new(pd.base, app, &(struct rnd_opts){
	    .conns = (unsigned)app_conns, .wire_ms = (unsigned)wire_ms,
	    .queue_ms = (unsigned)queue_ms, .dns = pd.dns }, err,
	    sizeof(err))) == NULL) {
		log_error("--app %s", err);
		goto done;
	}
	/* Authorizations share the app's connections with renders; each
	 * side keeps at most --app-conns requests out. */
	pd.vw = vw_new(pd.base, pd.rnd, &(struct vw_opts){
	    .max_inflight = (unsigned)app_conns,
	    .reauth_ms = (unsigned)reauth * 1000 }, &vw_ops, &pd);
	cfg.vw = pd.vw;
	if ((pd.srv = srv_new(pd.base, pd.hub, &cfg, &srv_hooks, &pd, err,
	    sizeof(err))) == NULL) {
		log_error("--listen %s", err);
		goto done;
	}
	pd.pgl = pgl_new(pd.base, db, channel, &(struct pgl_opts){
	    .retry_max_ms = (unsigned)db_retry_ms, .dns = pd.dns,
	    .revoke_channel = revoke_channel }, &pgl_cb,
	    &pd);
	pd.sdn = sdn_new(pd.base, pd.srv, pd.pgl);
	sigs[0] = evsignal_new(pd.base, SIGTERM, on_stop_signal, &pd);
	sigs[1] = evsignal_new(pd.base, SIGINT, on_stop_signal, &pd);
	sigs[2] = evsignal_new(pd.base, SIGHUP, on_hup, &pd);
	for (int i = 0; i < 3; i++)
		event_add(sigs[i], NULL);
	log_info("keycast-pushd %s listening on %s; app %s (%lu conns); "
	    "LISTEN %s; open files %lu, max clients %lu", PACKAGE_VERSION,
	    cfg.listen, app, app_conns, channel, nofile, cfg.max_clients);

	if (event_base_dispatch(pd.base) != 0)
		log_error("event loop failed");
	else
		rc = 0;
done:
	for (int i = 0; i < 3; i++)
		if (sigs[i] != NULL)
			event_free(sigs[i]);
	if (pd.deadline != NULL)
		event_free(pd.deadline);
	sdn_free(pd.sdn);
	srv_free(pd.srv);
	vw_free(pd.vw);
	pgl_free(pd.pgl);
	hub_free(pd.hub);
	rnd_free(pd.rnd);
	if (pd.dns != NULL)
		evdns_base_free(pd.dns, 0);
	if (pd.base != NULL)
		event_base_free(pd.base);
	peers_free(peers);
	free(trust);
	free(allow);
	free(forward);
	return rc;
}
