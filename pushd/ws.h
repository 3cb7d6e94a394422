/* WebSocket (RFC 6455) server side without I/O: the accept key, the
 * server's unmasked frames encoded once into refcounted immutable buffers
 * that any number of clients share, and a wslay reader that parses one
 * client's frames from bytes handed in and hands back the bytes wslay wants
 * sent (pong, close). */
#ifndef KC_WS_H
#define KC_WS_H
#include <stddef.h>
#include <stdint.h>

#define WS_ACCEPT_LEN	28	/* base64 of a SHA-1 digest */
#define WS_INBOUND_MAX	4096	/* clients only send control frames here */

/* The close codes pushd sends itself: RFC 6455 7.4.1 and DESIGN's 44xx.
 * wslay answers a peer's close, and sends 1007 and 1009, on its own (see
 * ws_in_send_fn). */
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
	int		is_data;	/* a text frame (counted as sent) */
	size_t		len;
	unsigned char	data[];
};

/* Each returns a new frame holding one reference. */
struct ws_frame	*ws_frame_text(const void *payload, size_t n);
struct ws_frame	*ws_frame_close(uint16_t code, const char *reason);
struct ws_frame	*ws_frame_ping(void);
struct ws_frame	*ws_frame_raw(const void *bytes, size_t n);
struct ws_frame	*ws_frame_ref(struct ws_frame *f);
void		 ws_frame_unref(struct ws_frame *f);

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: out gets WS_ACCEPT_LEN
 * characters and a NUL. Returns 0, or -1 if libcrypto fails. */
int	ws_accept_key(const char *key, size_t n, char out[WS_ACCEPT_LEN + 1]);

/* The reader: one wslay context, created when a client sends something and
 * freed again when ws_in_idle says it holds no state, so idle clients cost
 * no parser memory. */
struct ws_in;

/* Receives the bytes wslay wants sent: a pong, the reply to the peer's
 * close, or the close for a protocol error (1002), invalid UTF-8 (1007),
 * a message over WS_INBOUND_MAX (1009) or a binary message (1003). Text
 * messages are checked and ignored: clients have nothing to say here. */
typedef void ws_in_send_fn(void *arg, const void *bytes, size_t n);

enum ws_in_state {
	WS_IN_OPEN = 0,		/* keep reading */
	WS_IN_CLOSED,		/* close handshake done or failed: the close
				   frame (if any) went to send; end the
				   connection once it is written */
};

struct ws_in	*ws_in_new(ws_in_send_fn *send, void *arg);
void		 ws_in_free(struct ws_in *w);
/* Parses n bytes; replies go through cb->send before it returns. */
enum ws_in_state ws_in_feed(struct ws_in *w, const void *bytes, size_t n);
/* 1 when the reader is between frames with nothing buffered or queued. */
int		 ws_in_idle(const struct ws_in *w);

#endif
