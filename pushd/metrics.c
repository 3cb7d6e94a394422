/* Prometheus text exposition of struct metrics (see metrics.h). Bucket
 * counts are kept per bucket and summed when written, as the format wants
 * cumulative counts. */
#include "metrics.h"

#include <inttypes.h>

#include "snap.h"

struct metrics metrics;

static const double bucket_le[METRICS_BUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
};

void
metrics_observe_render(double seconds)
{
	for (int i = 0; i < METRICS_BUCKETS; i++) {
		if (seconds <= bucket_le[i]) {
			metrics.render_buckets[i]++;
			break;
		}
	}
	metrics.render_count++;
	metrics.render_sum += seconds;
}

static void
counter(struct buf *out, const char *name, const char *help, uint64_t v)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %" PRIu64 "\n",
	    name, help, name, name, v);
}

/* The snaps' process-wide counters (snap.h). */
static void
snap_metrics(struct buf *out)
{
	const struct snap_stats *st = snap_stats();

	counter(out, "keycast_diff_frames_total",
	    "Diff frames encoded (once per render, shared).", st->diff_frames);
	counter(out, "keycast_diff_fallbacks_total",
	    "Renders whose diff was tried and not used (over --diff-max-units "
	    "or --diff-max-edits, or not smaller).", st->diff_fallbacks);
	counter(out, "keycast_deflate_frames_total",
	    "Frames compressed (once each, shared).", st->deflate_frames);
	counter(out, "keycast_deflate_bytes_in_total",
	    "Bytes given to compression.", st->deflate_in);
	counter(out, "keycast_deflate_bytes_out_total",
	    "Bytes compression gave back.", st->deflate_out);
	buf_printf(out, "# HELP keycast_deflate_seconds_total CPU seconds spent "
	    "compressing.\n# TYPE keycast_deflate_seconds_total counter\n"
	    "keycast_deflate_seconds_total %.6f\n", st->deflate_seconds);
}

static void
gauge(struct buf *out, const char *name, const char *help, unsigned long v)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %lu\n",
	    name, help, name, name, v);
}

void
metrics_write(struct buf *out, const struct metrics_gauges *g)
{
	const struct metrics *m = &metrics;
	uint64_t cum = 0;

	gauge(out, "keycast_clients", "Open WebSocket clients.", g->clients);
	gauge(out, "keycast_keys", "Keys with at least one client.", g->keys);
	gauge(out, "keycast_views",
	    "Groups (key, url, view class): each renders once per notify.",
	    g->views);
	gauge(out, "keycast_keys_never_notified",
	    "Keys with clients and no notify since their first client joined "
	    "(a key mismatch? see /debug/keys).", g->keys_never_notified);
	gauge(out, "keycast_keys_unheld",
	    "Keys notified while no client held them (the most recent 256).",
	    g->keys_unheld);
	gauge(out, "keycast_tags", "Distinct revocation tags of clients.",
	    g->tags);
	gauge(out, "keycast_authorizing",
	    "Upgrades waiting for the app's authorize answer.", g->authorizing);
	gauge(out, "keycast_output_bytes",
	    "Bytes of distinct frames queued for clients.", g->output_bytes);
	gauge(out, "keycast_pg_connected",
	    "1 while the LISTEN connection is up.", (unsigned long)g->pg_connected);
	counter(out, "keycast_notifies_total", "Notifications received.",
	    m->notifies);
	buf_printf(out,
	    "# HELP keycast_renders_total Render requests by outcome: ok (200), "
	    "failed (anything else), coalesced (folded into a render already "
	    "due).\n"
	    "# TYPE keycast_renders_total counter\n"
	    "keycast_renders_total{result=\"ok\"} %" PRIu64 "\n"
	    "keycast_renders_total{result=\"failed\"} %" PRIu64 "\n"
	    "keycast_renders_total{result=\"coalesced\"} %" PRIu64 "\n",
	    m->renders_ok, m->renders_failed, m->renders_coalesced);
	counter(out, "keycast_renders_unusable_total",
	    "Answers no retry can fix (a fragment over 1 MiB, malformed "
	    "FastCGI/CGI output): the url's clients were closed with 1011.",
	    m->renders_unusable);
	counter(out, "keycast_app_connects_total",
	    "Connections opened to the app for renders.", m->app_connects);
	counter(out, "keycast_frames_sent_total",
	    "Fragment frames written to clients.", m->frames_sent);
	counter(out, "keycast_bytes_sent_total",
	    "Bytes written to WebSocket clients.", m->bytes_sent);
	counter(out, "keycast_conflated_frames_total",
	    "Unsent frames replaced by a newer one for a slow client.",
	    m->conflated);
	counter(out, "keycast_slow_client_closes_total",
	    "Clients closed with 1008: a frame not written in --send-timeout.",
	    m->slow_closes);
	counter(out, "keycast_output_cap_closes_total",
	    "Slow clients shed because all output passed --max-output.",
	    m->output_cap_closes);
	counter(out, "keycast_data_frame_closes_total",
	    "Clients closed with 1003 for sending a data frame.",
	    m->data_frame_closes);
	counter(out, "keycast_frame_timeout_closes_total",
	    "Clients closed with 1008: a frame not finished in --frame-timeout.",
	    m->frame_timeouts);
	counter(out, "keycast_per_addr_refusals_total",
	    "Upgrades refused with 503: the address has --max-conns-per-addr.",
	    m->per_addr_refusals);
	counter(out, "keycast_accept_pauses_total",
	    "Accepting paused for want of a file descriptor.",
	    m->accept_pauses);
	counter(out, "keycast_pg_reconnects_total",
	    "LISTEN connections re-established after a loss.", m->pg_reconnects);
	buf_printf(out,
	    "# HELP keycast_authorizations_total Authorize answers by result "
	    "(error: any other status, malformed, or no answer).\n"
	    "# TYPE keycast_authorizations_total counter\n"
	    "keycast_authorizations_total{result=\"ok\"} %" PRIu64 "\n"
	    "keycast_authorizations_total{result=\"401\"} %" PRIu64 "\n"
	    "keycast_authorizations_total{result=\"403\"} %" PRIu64 "\n"
	    "keycast_authorizations_total{result=\"404\"} %" PRIu64 "\n"
	    "keycast_authorizations_total{result=\"error\"} %" PRIu64 "\n",
	    m->authz_ok, m->authz_401, m->authz_403, m->authz_404,
	    m->authz_error);
	counter(out, "keycast_revokes_total",
	    "Revoke payloads (tags) received.", m->revokes);
	counter(out, "keycast_revoke_closes_total",
	    "Clients closed after a revoke made the app refuse them.",
	    m->revoke_closes);
	counter(out, "keycast_view_limit_closes_total",
	    "Clients closed with 4400: the url had --max-views-per-url views.",
	    m->view_limit_closes);
	counter(out, "keycast_quiet_key_warnings_total",
	    "Keys logged at notice: quiet for --quiet-key-warn while a similar "
	    "key was notified.", m->quiet_key_warnings);
	counter(out, "keycast_roots_refused_total",
	    "Upgrades closed with 4400: more (key, url) pairs than --max-roots.",
	    m->roots_refused);
	counter(out, "keycast_resyncs_total",
	    "Resyncs from clients: each root's next frame is full.", m->resyncs);
	counter(out, "keycast_resync_closes_total",
	    "Clients closed with 1008: more than --max-resyncs a minute.",
	    m->resync_closes);
	counter(out, "keycast_frames_sent_diff_total",
	    "Diff frames handed to clients (v2, holding the diff's base).",
	    m->frames_sent_diff);
	counter(out, "keycast_frames_sent_full_total",
	    "Full-fragment frames handed to clients (v1, and v2 F).",
	    m->frames_sent_full);
	counter(out, "keycast_frames_unchanged_total",
	    "Renders not sent to a v2 client: it holds that fragment already.",
	    m->frames_unchanged);
	snap_metrics(out);
	buf_puts(out, "# HELP keycast_render_seconds Time from render request "
	    "to the app's answer.\n# TYPE keycast_render_seconds histogram\n");
	for (int i = 0; i < METRICS_BUCKETS; i++) {
		cum += m->render_buckets[i];
		buf_printf(out, "keycast_render_seconds_bucket{le=\"%g\"} %"
		    PRIu64 "\n", bucket_le[i], cum);
	}
	buf_printf(out, "keycast_render_seconds_bucket{le=\"+Inf\"} %" PRIu64
	    "\nkeycast_render_seconds_sum %.6f\nkeycast_render_seconds_count %"
	    PRIu64 "\n", m->render_count, m->render_sum, m->render_count);
}
