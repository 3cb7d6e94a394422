/* WebSocket frames, accept key and the wslay-based client frame reader (see
 * ws.h). The reader counts the bytes of every frame wslay finished so it
 * can tell when wslay's buffers hold nothing: only then may it be freed. */
#include "ws.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <wslay/wslay.h>

#include "xmalloc.h"

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

struct ws_frame *
ws_frame_raw(const void *bytes, size_t n)
{
	struct ws_frame *f = xmalloc(sizeof(*f) + n);

	f->refs = 1;
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
ws_frame_close(uint16_t code, const char *reason)
{
	/* A control frame's payload is at most 125 bytes: 2 for the code. */
	size_t rlen = reason != NULL ? strnlen(reason, 123) : 0;
	unsigned char *p;
	struct ws_frame *f = frame_alloc(WSLAY_CONNECTION_CLOSE, 2 + rlen, &p);

	p[0] = (unsigned char)(code >> 8);
	p[1] = (unsigned char)code;
	if (rlen > 0)
		memcpy(p + 2, reason, rlen);
	return f;
}

struct ws_frame *
ws_frame_ping(void)
{
	unsigned char *p;

	return frame_alloc(WSLAY_PING, 0, &p);
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
	wslay_event_context_ptr	 ctx;
	ws_in_send_fn		*send;
	void			*arg;
	const unsigned char	*in;		/* bytes of the current feed */
	size_t			 in_len;
	uint64_t		 fed;		/* bytes handed to wslay */
	uint64_t		 consumed;	/* bytes of frames it finished */
	uint64_t		 frame_len;	/* header + payload of the frame
						   being received */
	int			 in_frame;
	int			 in_message;	/* a fragmented message is open */
};

static ssize_t
in_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
    void *user)
{
	struct ws_in *w = user;

	if (w->in_len == 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (len > w->in_len)
		len = w->in_len;
	memcpy(buf, w->in, len);
	w->in += len;
	w->in_len -= len;
	w->fed += len;
	return (ssize_t)len;
}

static ssize_t
in_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *user)
{
	struct ws_in *w = user;

	w->send(w->arg, data, len);
	return (ssize_t)len;
}

static void
in_frame_start(wslay_event_context_ptr ctx,
    const struct wslay_event_on_frame_recv_start_arg *a, void *user)
{
	struct ws_in *w = user;
	uint64_t n = a->payload_length;

	/* wslay rejects unmasked client frames and non-minimal lengths, so
	 * the header is 2 bytes, the extended length, and the 4-byte mask. */
	w->frame_len = 2 + (n < 126 ? 0 : n <= 0xffff ? 2 : 8) + 4 + n;
	w->in_frame = 1;
	if (a->opcode == WSLAY_TEXT_FRAME || a->opcode == WSLAY_BINARY_FRAME ||
	    a->opcode == WSLAY_CONTINUATION_FRAME)
		w->in_message = !a->fin;
}

static void
in_frame_end(wslay_event_context_ptr ctx, void *user)
{
	struct ws_in *w = user;

	w->consumed += w->frame_len;
	w->in_frame = 0;
}

/* wslay checks UTF-8 (1007), sizes (1009) and opcodes (1002) itself. */
static void
in_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
    void *user)
{
	static const char binary[] = "binary messages are not accepted";

	if (a->opcode == WSLAY_BINARY_FRAME) {
		wslay_event_queue_close(ctx, WS_CLOSE_UNSUPPORTED,
		    (const uint8_t *)binary, sizeof(binary) - 1);
		wslay_event_shutdown_read(ctx);
	}
}

static const struct wslay_event_callbacks in_callbacks = {
	.recv_callback = in_recv,
	.send_callback = in_send,
	.on_frame_recv_start_callback = in_frame_start,
	.on_frame_recv_end_callback = in_frame_end,
	.on_msg_recv_callback = in_msg,
};

struct ws_in *
ws_in_new(ws_in_send_fn *send, void *arg)
{
	struct ws_in *w = xcalloc(1, sizeof(*w));

	if (wslay_event_context_server_init(&w->ctx, &in_callbacks, w) != 0) {
		free(w);
		return NULL;
	}
	wslay_event_config_set_max_recv_msg_length(w->ctx, WS_INBOUND_MAX);
	w->send = send;
	w->arg = arg;
	return w;
}

void
ws_in_free(struct ws_in *w)
{
	if (w == NULL)
		return;
	wslay_event_context_free(w->ctx);
	free(w);
}

enum ws_in_state
ws_in_feed(struct ws_in *w, const void *bytes, size_t n)
{
	int rc;

	w->in = bytes;
	w->in_len = n;
	rc = wslay_event_recv(w->ctx);
	w->in = NULL;
	w->in_len = 0;
	if (rc != 0) {
		/* A malformed frame header (a fragmented or oversized control
		 * frame) makes wslay queue a close without a code; RFC 6455
		 * 7.4.1 wants 1002, so that close is replaced. */
		struct ws_frame *f = rc == WSLAY_ERR_NOMEM ?
		    ws_frame_close(WS_CLOSE_INTERNAL, "out of memory") :
		    ws_frame_close(WS_CLOSE_PROTOCOL, "protocol error");

		w->send(w->arg, f->data, f->len);
		ws_frame_unref(f);
		return WS_IN_CLOSED;
	}
	if (wslay_event_want_write(w->ctx))
		wslay_event_send(w->ctx);
	if (!wslay_event_get_read_enabled(w->ctx))
		return WS_IN_CLOSED;
	return WS_IN_OPEN;
}

int
ws_in_idle(const struct ws_in *w)
{
	return !w->in_frame && !w->in_message && w->fed == w->consumed &&
	    !wslay_event_want_write(w->ctx) &&
	    wslay_event_get_read_enabled(w->ctx);
}
