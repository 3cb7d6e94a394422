/* Fragment diffs (protocol section 2): a fragment is a list of units, each
 * ending just after '\n' or '>'; a diff is a JSON array of ops over the
 * base's units (n copy, -n skip, "s" insert) ending with the cursor at the
 * end of the base. Pure: no I/O. The encoder's work is bounded by
 * struct diff_limits; the decoder never trusts its ops. Versions are
 * FNV-1a 32-bit content hashes. */
#ifndef KC_DIFF_H
#define KC_DIFF_H
#include <stddef.h>
#include <stdint.h>
#include "buf.h"

#define DIFF_UNITS_MAX_DEFAULT 20000
#define DIFF_EDITS_MAX_DEFAULT 1000
enum { DIFF_OK = 0, DIFF_TOO_COSTLY = -1, DIFF_NOT_SMALLER = -2,
       DIFF_MALFORMED = -3 };
struct diff_limits { size_t max_units; unsigned max_edits; };
/* FNV-1a 32-bit of s; versions print as "%08x". */
uint32_t diff_version(const void *s, size_t n);
/* Appends to out the JSON ops turning a into b (section 2). Returns DIFF_OK,
 * DIFF_TOO_COSTLY (a bound was hit) or DIFF_NOT_SMALLER (ops >= blen);
 * out is then reset. */
int diff_encode(const char *a, size_t alen, const char *b, size_t blen,
    const struct diff_limits *lim, struct buf *out);
/* Applies ops to a into out (appending at most max_out bytes). Returns
 * DIFF_OK or DIFF_MALFORMED. Never trusts ops: bounded, no crash. */
int diff_apply(const char *a, size_t alen, const char *ops, size_t olen,
    size_t max_out, struct buf *out);

#endif
