/* permessage-deflate (RFC 7692) without I/O: one message compressed with a
 * fresh raw-deflate stream (no context takeover), its inverse with a bound
 * on output, and the parser of a Sec-WebSocket-Extensions offer list
 * (RFC 7692 section 7). Uses zlib. */
#ifndef KC_DEFLATE_H
#define KC_DEFLATE_H
#include <stddef.h>
#include "buf.h"

/* Raw-deflates in into out for one permessage-deflate message (fresh
 * stream, trailing 00 00 ff ff removed). level 1..9. Returns 0 or -1. */
int deflate_message(const void *in, size_t n, int level, struct buf *out);
/* Inflates one message (appending 00 00 ff ff first) into out, at most
 * max_out bytes. Returns 0, or -1 if malformed or over max_out. */
int deflate_inflate(const void *in, size_t n, size_t max_out, struct buf *out);
/* Parses a Sec-WebSocket-Extensions value (all its header lines joined with
 * ", "); returns 1 and fills *o if a permessage-deflate offer pushd can take
 * exists, 0 if none, -1 if the value is malformed (ignore it then). */
struct deflate_offer { unsigned client_max_window_bits_seen : 1; };
int deflate_offer_parse(const char *v, size_t n, struct deflate_offer *o);

#endif
