/* WebSocket (RFC 6455) server side without I/O: the accept key, the
 * server's unmasked frames encoded once into refcounted immutable buffers
 * that any number of clients share, and a reader that parses one client's
 * frames (with wslay) from bytes handed in and hands back the bytes to send
 * (pong, close). */
#ifndef KC_WS_H
#define KC_WS_H
#include <stddef.h>
#include <stdint.h>

#define WS_ACCEPT_LEN	28	/* base64 of a SHA-1 digest */

/* The close codes pushd sends itself: RFC 6455 7.4.1 and DESIGN's 44xx.
 * wslay answers a peer's close, and sends 1007 for a close reason that is
 * not UTF-8, on its own (see ws_in_send_fn). */
#define WS_CLOSE_GOING_AWAY	1001
#define WS_CLOSE_PROTOCOL	1002
#define WS_CLOSE_UNSUPPORTED	1003
#define WS_CLOSE_POLICY		1008
#define WS_CLOSE_INTERNAL	1011
#define WS_CLOSE_BAD_KEY	4400
#define WS_CLOSE_FORBIDDEN	4403
#define WS_CLOSE_NOT_FOUND	4404

/* Immutable bytes ready for a socket: an encoded frame or an HTTP answer.
 * Shared by reference; the last ws_frame_unref frees it. */
struct ws_frame {
	unsigned	refs;
	unsigned	queued;		/* of refs, those held by output queues
					   (the server counts output memory) */
	int		is_data;	/* a fragment (counted as sent) */
	size_t		len;
	unsigned char	data[];
};

/* Each returns a new frame holding one reference. */
struct ws_frame	*ws_frame_text(const void *payload, size_t n);
/* A text frame with RSV1 set (RFC 7692 7.2.3.1): payload already deflated
 * for permessage-deflate. */
struct ws_frame	*ws_frame_text_rsv1(const void *payload, size_t n);
struct ws_frame	*ws_frame_close(uint16_t code, const char *reason);
/* The heartbeat: a ping for the browser and an empty text frame that the
 * page's script can see (pings are invisible to JavaScript), as one
 * buffer. Not a fragment: is_data is 0. */
struct ws_frame	*ws_frame_beat(void);
struct ws_frame	*ws_frame_raw(const void *bytes, size_t n);
struct ws_frame	*ws_frame_ref(struct ws_frame *f);
void		 ws_frame_unref(struct ws_frame *f);

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: out gets WS_ACCEPT_LEN
 * characters and a NUL. Returns 0, or -1 if libcrypto fails. */
int	ws_accept_key(const char *key, size_t n, char out[WS_ACCEPT_LEN + 1]);

/* The reader. Clients may send control frames only (ping, pong, close),
 * and a v2 client also its resync (protocol.md: a text frame "r"),
 * and a masked control frame is at most WS_CTRL_FRAME_MAX bytes: the
 * reader keeps an unfinished frame's bytes itself, in a small buffer that
 * exists only while a frame is unfinished, and hands wslay whole frames on
 * a context made for the call and freed before it returns. So one byte of
 * a frame header costs a client ~140 bytes, not wslay's ~8.7 KB context,
 * and a data frame is refused at its header, before any payload is kept. */
#define WS_CTRL_FRAME_MAX	(2 + 4 + 125)	/* header, mask, payload */

struct ws_in;		/* an unfinished client frame */

/* Receives the bytes to send back: a pong, the reply to the peer's close,
 * or the close for a protocol error (1002), a data frame (1003) or an
 * invalid close frame (1002, 1007). */
typedef void ws_in_send_fn(void *arg, const void *bytes, size_t n);

enum ws_in_state {
	WS_IN_OPEN = 0,		/* keep reading */
	WS_IN_CLOSED,		/* close handshake done or failed: the close
				   frame went to send; end the connection
				   once it is written */
	WS_IN_DATA,		/* as CLOSED, for a data frame (1003) */
};

/* Parses n bytes; replies go to send before it returns. *w is the
 * unfinished frame, NULL between frames: allocated and freed here, and
 * non-NULL after WS_IN_OPEN exactly while a frame is unfinished. */
enum ws_in_state ws_in_feed(struct ws_in **w, const void *bytes, size_t n,
		    ws_in_send_fn *send, void *arg);
void		 ws_in_free(struct ws_in *w);

#define WS_IN_TEXT_MAX	16	/* bytes a compressed client text frame may
				   inflate to (the resync is one) */

/* A v2 client's reader: its text frame "r" (plain, or compressed when
 * deflate is set) calls resync, which returns 0 to read on or -1 when it
 * closed the connection itself; any other text frame is refused 1003, a
 * compressed one that inflates past WS_IN_TEXT_MAX or not at all 1008. */
struct ws_in_opts {
	int	deflate;		/* permessage-deflate negotiated */
	int	(*resync)(void *arg);
};
/* ws_in_feed with o (borrowed; NULL is ws_in_feed). */
enum ws_in_state ws_in_feed_opts(struct ws_in **w, const void *bytes,
		    size_t n, const struct ws_in_opts *o, ws_in_send_fn *send,
		    void *arg);

#endif
