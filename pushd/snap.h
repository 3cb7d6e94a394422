/* One render's frames, made once: what the hub caches per (key, url, view).
 * A snap holds the fragment, its version, at most one diff from the
 * group's previous snap (computed once, in snap_new), and the frames that
 * clients need (v1 full, v2 F, v2 D, each plain or deflated), encoded on
 * first use and shared by reference. No I/O. */
#ifndef KC_SNAP_H
#define KC_SNAP_H
#include <stddef.h>
#include <stdint.h>
#include "diff.h"
#include "ws.h"

struct snap_config {		/* from pushd's flags; borrowed for life */
	int		diff;		/* --diff */
	struct diff_limits lim;	/* --diff-max-units, --diff-max-edits */
	int		deflate;	/* --deflate */
	int		deflate_level;
	size_t		deflate_min, deflate_max;
};
struct snap;	/* refcounted; immutable except its lazy frame cache */
/* A render's body for (key, url). prev (borrowed, may be NULL) is the
 * group's previous snap: the one diff is computed from it, once, here.
 * Copies what it needs; returns one reference, NULL on ENOMEM. */
struct snap	*snap_new(const struct snap_config *c, const char *key,
		    const char *url, const struct snap *prev,
		    const char *body, size_t len);
struct snap	*snap_ref(struct snap *s);
void		 snap_unref(struct snap *s);
uint32_t	 snap_version(const struct snap *s);
/* 1 and *base set when the snap carries a diff from version *base. */
int		 snap_base(const struct snap *s, uint32_t *base);
enum { SNAP_V2 = 1, SNAP_DEFLATE = 2 };
/* The frame for a client with these flags that holds version have
 * (have_valid 0: holds nothing): v1 full, v2 F or v2 D (D only if
 * have == base), deflated when SNAP_DEFLATE and the size rules allow.
 * Encoded on first use and cached in s: returned frame is borrowed (take
 * ws_frame_ref to keep it). *is_diff set to 1 for D. NULL on ENOMEM. */
struct ws_frame	*snap_frame(struct snap *s, unsigned flags, int have_valid,
		    uint32_t have, int *is_diff);
/* Counters for /metrics (diff frames encoded, fallbacks, deflate frames,
 * bytes in/out, CPU seconds), process-wide. */
struct snap_stats { unsigned long diff_frames, diff_fallbacks,
	deflate_frames; unsigned long long deflate_in, deflate_out;
	double deflate_seconds; };
const struct snap_stats *snap_stats(void);

#endif
