/* pushd's counters and the render-latency histogram, written out in the
 * Prometheus text format for GET /metrics. One process-wide instance: the
 * modules bump counters in place, gauges are sampled when rendering. */
#ifndef KC_METRICS_H
#define KC_METRICS_H
#include <stdint.h>

#include "buf.h"

#define METRICS_BUCKETS	12

struct metrics {
	uint64_t	notifies;		/* NOTIFY payloads received */
	uint64_t	renders_ok;		/* the app answered 200 */
	uint64_t	renders_failed;		/* any other outcome */
	uint64_t	renders_coalesced;	/* requests folded into a render
						   already due */
	uint64_t	renders_unusable;	/* answers no retry can fix (too
						   large, malformed): closed */
	uint64_t	app_connects;		/* render connections opened */
	uint64_t	frames_sent;		/* data frames fully written */
	uint64_t	bytes_sent;		/* all bytes written to clients */
	uint64_t	conflated;		/* unsent frames replaced */
	uint64_t	slow_closes;		/* clients closed: a frame not
						   written in --send-timeout */
	uint64_t	output_cap_closes;	/* clients shed past --max-output */
	uint64_t	data_frame_closes;	/* clients closed 1003: they sent
						   a data frame */
	uint64_t	frame_timeouts;		/* clients closed: a frame not
						   finished in --frame-timeout */
	uint64_t	per_addr_refusals;	/* upgrades refused: their address
						   has --max-conns-per-addr */
	uint64_t	accept_pauses;		/* accepting paused for want of
						   a file descriptor */
	uint64_t	pg_reconnects;		/* LISTEN re-established */
	uint64_t	authz_ok, authz_401, authz_403, authz_404,
			authz_error;		/* authorize answers by result
						   (error: other, malformed,
						   none) */
	uint64_t	revokes;		/* revoke payloads received */
	uint64_t	revoke_closes;		/* clients closed by the answer
						   a revoke asked for */
	uint64_t	view_limit_closes;	/* closed 4400: the url has
						   --max-views-per-url views */
	uint64_t	quiet_key_warnings;	/* --quiet-key-warn notices */
	uint64_t	roots_refused;		/* upgrades closed 4400: more
						   than --max-roots pairs */
	uint64_t	resyncs;		/* resyncs served */
	uint64_t	resync_closes;		/* closed 1008: --max-resyncs */
	uint64_t	frames_sent_diff;	/* D frames handed to clients */
	uint64_t	frames_sent_full;	/* full frames (v1, F) handed */
	uint64_t	frames_unchanged;	/* v2 clients not sent a render
						   equal to what they hold */
	uint64_t	render_buckets[METRICS_BUCKETS];	/* not cumulative */
	uint64_t	render_count;
	double		render_sum;
};

struct metrics_gauges {
	unsigned long	clients;
	unsigned long	keys;
	unsigned long	views;		/* (key, url, view) groups */
	unsigned long	keys_never_notified;	/* with clients, no notify
						   since the first joined */
	unsigned long	keys_unheld;	/* notified, no client (keys.h) */
	unsigned long	tags;		/* distinct tags of clients */
	unsigned long	authorizing;	/* upgrades awaiting the app */
	unsigned long	output_bytes;
	int		pg_connected;
};

extern struct metrics metrics;

void	metrics_observe_render(double seconds);
void	metrics_write(struct buf *out, const struct metrics_gauges *g);

#endif
