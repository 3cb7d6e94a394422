/* What a client holds of its realtime root, and how each data frame
 * changes it, as keycast.js does (protocol sections 2 and 5): a deflated
 * frame (RSV1) is inflated; v1 and F frames are taken whole, F only if
 * its content hashes to its version; a D frame is applied to the held
 * fragment, only if that is its base, and the result must hash to the D's
 * version. Pure: no I/O.
 *
 * The clients of one worker receive the same frames, so a decoded frame
 * is memoized per worker by (its bytes, the client's key, the fragment it
 * was applied to): the decoders are deterministic, so a hit gives exactly
 * what decoding again would, without the cost that would otherwise make
 * the load client slower than the servers it measures. Fragments are
 * shared by reference between the clients holding them. */
#ifndef LC_HELD_H
#define LC_HELD_H
#include <stddef.h>
#include <stdint.h>

struct held_frag {
	int		refs;
	uint32_t	version;	/* FNV-1a of data */
	int		value_known;
	int64_t		value;		/* the integer after the marker; -1 none */
	int64_t		tok_round;	/* the round tok_hit was computed for */
	int		tok_hit;	/* that round's token is in data */
	size_t		len;
	char		data[];		/* NUL-terminated */
};

enum held_kind {
	HELD_V1,	/* a v1 frame: the fragment itself */
	HELD_F,		/* v2 full */
	HELD_FZ,	/* v2 full, deflated */
	HELD_D,		/* v2 diff */
	HELD_DZ,	/* v2 diff, deflated */
	HELD_NKINDS
};

struct held_memo;

/* A worker's memo; held_memo_free(NULL) is a no-op. */
struct held_memo *held_memo_new(void);
void		held_memo_free(struct held_memo *m);

/* The expected root of a client: its key index (for the memo) and the key
 * and url a v2 header must name. Borrowed for the call. */
struct held_root {
	int		 index;
	const char	*key, *url;
};

/* Decodes one data frame (payload p, n bytes; rsv1: deflated) for a
 * client of root r holding *have (NULL: nothing yet). v2: the frame has
 * the v2 header. On success *have is replaced (the old reference dropped,
 * the new one owned by the caller), *kind set, and 0 returned. On a frame
 * a browser would refuse (bad header, wrong root, base not held, malformed
 * ops, wrong version, bad deflate data), -1 with why in err; *have is then
 * unchanged. *kind is set whenever the frame's kind could be read. */
int	held_frame(struct held_memo *m, const struct held_root *r, int v2,
	    int rsv1, const char *p, size_t n, struct held_frag **have,
	    int *kind, char *err, size_t errlen);
struct held_frag *held_ref(struct held_frag *f);
void	held_unref(struct held_frag *f);
/* The integer after marker in f (cached), -1 if none. */
int64_t	held_value(struct held_frag *f, const char *marker);
/* Whether token is in f, cached for round. */
int	held_has(struct held_frag *f, int64_t round, const char *token);

#endif
