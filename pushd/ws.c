/* WebSocket frames, accept key and the client frame reader (see ws.h). The
 * reader checks each frame header itself (it must know a frame's length to
 * keep it whole) and gives wslay only whole control frames, so a wslay
 * context never outlives one call. */
#include "ws.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <wslay/wslay.h>

#include "buf.h"
#include "deflate.h"
#include "xmalloc.h"

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

struct ws_frame *
ws_frame_raw(const void *bytes, size_t n)
{
	struct ws_frame *f = xmalloc(sizeof(*f) + n);

	f->refs = 1;
	f->queued = 0;
	f->is_data = 0;
	f->len = n;
	if (n > 0)
		memcpy(f->data, bytes, n);
	return f;
}

/* A frame with FIN set and an unmasked payload of n bytes (RFC 6455 5.2). */
static struct ws_frame *
frame_alloc(uint8_t opcode, size_t n, unsigned char **payload)
{
	size_t hlen = n < 126 ? 2 : n <= 0xffff ? 4 : 10;
	struct ws_frame *f = xmalloc(sizeof(*f) + hlen + n);
	unsigned char *h = f->data;

	f->refs = 1;
	f->queued = 0;
	f->is_data = 0;
	f->len = hlen + n;
	h[0] = 0x80 | opcode;
	if (n < 126) {
		h[1] = (unsigned char)n;
	} else if (n <= 0xffff) {
		h[1] = 126;
		h[2] = (unsigned char)(n >> 8);
		h[3] = (unsigned char)n;
	} else {
		h[1] = 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
	}
	*payload = h + hlen;
	return f;
}

struct ws_frame *
ws_frame_text(const void *payload, size_t n)
{
	unsigned char *p;
	struct ws_frame *f = frame_alloc(WSLAY_TEXT_FRAME, n, &p);

	if (n > 0)
		memcpy(p, payload, n);
	f->is_data = 1;
	return f;
}

struct ws_frame *
ws_frame_text_rsv1(const void *payload, size_t n)
{
	struct ws_frame *f = ws_frame_text(payload, n);

	f->data[0] |= 0x40;	/* RSV1: the payload is compressed */
	return f;
}

struct ws_frame *
ws_frame_close(uint16_t code, const char *reason)
{
	/* A control frame's payload is at most 125 bytes: 2 for the code.
	 * A longer reason is cut before the character the cut would split
	 * (the byte after it continues one): a browser fails a close whose
	 * reason is not UTF-8, and would never see the code. */
	size_t rlen = reason != NULL ? strnlen(reason, 123) : 0;
	unsigned char *p;
	struct ws_frame *f;

	while (rlen > 0 && ((unsigned char)reason[rlen] & 0xc0) == 0x80)
		rlen--;
	f = frame_alloc(WSLAY_CONNECTION_CLOSE, 2 + rlen, &p);

	p[0] = (unsigned char)(code >> 8);
	p[1] = (unsigned char)code;
	if (rlen > 0)
		memcpy(p + 2, reason, rlen);
	return f;
}

struct ws_frame *
ws_frame_beat(void)
{
	static const unsigned char beat[] = {
		0x80 | WSLAY_PING, 0x00,	/* ping, no payload */
		0x80 | WSLAY_TEXT_FRAME, 0x00,	/* empty text */
	};

	return ws_frame_raw(beat, sizeof(beat));
}

struct ws_frame *
ws_frame_ref(struct ws_frame *f)
{
	f->refs++;
	return f;
}

void
ws_frame_unref(struct ws_frame *f)
{
	if (f != NULL && --f->refs == 0)
		free(f);
}

int
ws_accept_key(const char *key, size_t n, char out[WS_ACCEPT_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	int rc = -1;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, key, n) != 1 ||
	    EVP_DigestUpdate(ctx, ws_guid, sizeof(ws_guid) - 1) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 20)
		goto done;
	if (EVP_EncodeBlock((unsigned char *)out, md, 20) != WS_ACCEPT_LEN)
		goto done;
	rc = 0;
done:
	EVP_MD_CTX_free(ctx);
	return rc;
}

struct ws_in {
	size_t		len;
	unsigned char	buf[WS_CTRL_FRAME_MAX];
};

/* One call's view of a whole frame, for wslay's callbacks. */
struct in_call {
	const unsigned char	*in;
	size_t			 in_len;
	ws_in_send_fn		*send;
	void			*arg;
};

static ssize_t
in_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
    void *user)
{
	struct in_call *r = user;

	if (r->in_len == 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (len > r->in_len)
		len = r->in_len;
	memcpy(buf, r->in, len);
	r->in += len;
	r->in_len -= len;
	return (ssize_t)len;
}

static ssize_t
in_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *user)
{
	struct in_call *r = user;

	r->send(r->arg, data, len);
	return (ssize_t)len;
}

static const struct wslay_event_callbacks in_callbacks = {
	.recv_callback = in_recv,
	.send_callback = in_send,
};

static enum ws_in_state
in_close(ws_in_send_fn *send, void *arg, uint16_t code, const char *reason,
    enum ws_in_state st)
{
	struct ws_frame *f = ws_frame_close(code, reason);

	send(arg, f->data, f->len);
	ws_frame_unref(f);
	return st;
}

/* What a client may send: control frames, and with o (a v2 client) one
 * whole text frame of at most 125 bytes, RSV1 only when permessage-deflate
 * was negotiated. Anything else is refused at its header. */
static int
client_may_send(const struct ws_in_opts *o, unsigned h0, size_t payload_len)
{
	unsigned opcode = h0 & 0x0f;

	if (opcode >= WSLAY_CONNECTION_CLOSE)
		return (h0 & 0x70) == 0;
	return o != NULL && opcode == WSLAY_TEXT_FRAME && (h0 & 0x80) &&
	    payload_len <= 125 && (h0 & 0x30) == 0 &&
	    ((h0 & 0x40) == 0 || o->deflate);
}

/* Checks a frame header (RFC 6455 5.2) from its first two bytes. Returns
 * the frame's whole length, or 0 with the close code to refuse it with. */
static size_t
frame_length(const struct ws_in_opts *o, const unsigned char h[2],
    uint16_t *code, const char **why)
{
	unsigned opcode = h[0] & 0x0f, fin = h[0] & 0x80;
	size_t n = h[1] & 0x7f;
	unsigned rsv = h[0] & 0x70;

	*code = WS_CLOSE_PROTOCOL;
	/* RSV1 on a text frame is permessage-deflate's: judged below. */
	if (rsv != 0 && !(rsv == 0x40 && opcode == WSLAY_TEXT_FRAME && o != NULL &&
	    o->deflate))
		*why = "reserved bits set";
	else if (!(h[1] & 0x80))
		*why = "client frames must be masked";
	else if ((opcode > WSLAY_BINARY_FRAME && opcode < WSLAY_CONNECTION_CLOSE) ||
	    opcode > WSLAY_PONG)
		*why = "reserved opcode";
	else if (opcode >= WSLAY_CONNECTION_CLOSE && (!fin || n > 125))
		*why = "control frames are whole and at most 125 bytes";
	else if (!client_may_send(o, h[0], n)) {
		*code = WS_CLOSE_UNSUPPORTED;
		*why = o != NULL ? "clients send only control frames and the "
		    "resync here" : "clients send only control frames here";
	} else
		return 2 + 4 + n;
	return 0;
}

/* A whole text frame from a v2 client: the resync ("r"), else 1003. A
 * compressed one is inflated with a bound of WS_IN_TEXT_MAX bytes. */
static enum ws_in_state
in_text(const unsigned char *frame, size_t len, const struct ws_in_opts *o,
    ws_in_send_fn *send, void *arg)
{
	unsigned char payload[125];
	size_t n = len - 6;
	struct buf plain;
	int is_resync;

	for (size_t i = 0; i < n; i++)
		payload[i] = frame[6 + i] ^ frame[2 + (i & 3)];
	buf_init(&plain);
	if (frame[0] & 0x40) {
		if (deflate_inflate(payload, n, WS_IN_TEXT_MAX, &plain) != 0) {
			buf_cleanup(&plain);
			return in_close(send, arg, WS_CLOSE_POLICY,
			    "bad or oversized compressed frame", WS_IN_CLOSED);
		}
	} else {
		buf_append(&plain, payload, n);
	}
	is_resync = plain.len == 1 && plain.data[0] == 'r';
	buf_cleanup(&plain);
	if (!is_resync)
		return in_close(send, arg, WS_CLOSE_UNSUPPORTED,
		    "clients send only the resync here", WS_IN_DATA);
	return o->resync(arg) == 0 ? WS_IN_OPEN : WS_IN_CLOSED;
}

/* Runs one whole control frame through a fresh wslay context. */
static enum ws_in_state
in_frame(const unsigned char *frame, size_t len, ws_in_send_fn *send,
    void *arg)
{
	struct in_call r = { frame, len, send, arg };
	wslay_event_context_ptr ctx;
	enum ws_in_state st = WS_IN_OPEN;
	int rc;

	if (wslay_event_context_server_init(&ctx, &in_callbacks, &r) != 0)
		return in_close(send, arg, WS_CLOSE_INTERNAL, "out of memory",
		    WS_IN_CLOSED);
	rc = wslay_event_recv(ctx);
	if (rc != 0) {
		/* A close with a bad code makes wslay queue a close without
		 * a code; RFC 6455 7.4.1 wants 1002, so that close is
		 * replaced. */
		st = in_close(send, arg, rc == WSLAY_ERR_NOMEM ?
		    WS_CLOSE_INTERNAL : WS_CLOSE_PROTOCOL, rc == WSLAY_ERR_NOMEM ?
		    "out of memory" : "protocol error", WS_IN_CLOSED);
	} else {
		if (wslay_event_want_write(ctx))
			wslay_event_send(ctx);
		if (!wslay_event_get_read_enabled(ctx))
			st = WS_IN_CLOSED;
	}
	wslay_event_context_free(ctx);
	return st;
}

void
ws_in_free(struct ws_in *w)
{
	free(w);
}

enum ws_in_state
ws_in_feed(struct ws_in **wp, const void *bytes, size_t n, ws_in_send_fn *send,
    void *arg)
{
	return ws_in_feed_opts(wp, bytes, n, NULL, send, arg);
}

enum ws_in_state
ws_in_feed_opts(struct ws_in **wp, const void *bytes, size_t n,
    const struct ws_in_opts *o, ws_in_send_fn *send, void *arg)
{
	const unsigned char *p = bytes;
	struct ws_in *w = *wp;
	enum ws_in_state st = WS_IN_OPEN;

	while (n > 0 && st == WS_IN_OPEN) {
		const unsigned char *frame = p;
		size_t have = n, need = 2, take;
		uint16_t code;
		const char *why;

		if (w != NULL) {
			/* Complete the kept frame from the new bytes. */
			if (w->len < 2) {
				take = 2 - w->len < n ? 2 - w->len : n;
				memcpy(w->buf + w->len, p, take);
				w->len += take;
				p += take;
				n -= take;
			}
			frame = w->buf;
			have = w->len;
		}
		if (have >= 2 && (need = frame_length(o, frame, &code, &why)) == 0) {
			st = in_close(send, arg, code, why, code ==
			    WS_CLOSE_UNSUPPORTED ? WS_IN_DATA : WS_IN_CLOSED);
			break;
		}
		if (w != NULL && need > w->len) {
			take = need - w->len < n ? need - w->len : n;
			memcpy(w->buf + w->len, p, take);
			w->len += take;
			p += take;
			n -= take;
			have = w->len;
		}
		if (have < need) {
			if (w == NULL) {
				w = xmalloc(sizeof(*w));
				memcpy(w->buf, p, n);
				w->len = n;
				n = 0;
			}
			break;
		}
		if ((frame[0] & 0x0f) == WSLAY_TEXT_FRAME)
			st = in_text(frame, need, o, send, arg);
		else
			st = in_frame(frame, need, send, arg);
		if (w != NULL) {
			free(w);
			w = NULL;
		} else {
			p += need;
			n -= need;
		}
	}
	if (st != WS_IN_OPEN) {
		free(w);
		w = NULL;
	}
	*wp = w;
	return st;
}
