/* keycast-pushd --check: the WebSocket link through the web server. The
 * upgrade is written by hand, as a browser's would be, and the frames are
 * read by a wslay client context over the blocking helpers. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <wslay/wslay.h>

#include "addr.h"
#include "buf.h"
#include "check_io.h"
#include "check_links.h"
#include "clock.h"
#include "ws.h"
#include "xmalloc.h"

#define LINK	"websocket"

struct wsc {
	int		 fd;
	const char	*pre;		/* frame bytes read with the head */
	size_t		 prelen;
	char		*text;		/* the first text message */
	size_t		 len;
	int		 closed;	/* a close frame came */
	uint16_t	 code;
	char		 reason[124];
};

static ssize_t
wsc_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
    void *arg)
{
	struct wsc *w = arg;
	ssize_t n;

	if (w->prelen > 0) {
		n = (ssize_t)(len < w->prelen ? len : w->prelen);
		memcpy(buf, w->pre, (size_t)n);
		w->pre += n;
		w->prelen -= (size_t)n;
		return n;
	}
	n = recv(w->fd, buf, len, MSG_DONTWAIT);
	if (n > 0)
		return n;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
	else
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

static ssize_t
wsc_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *arg)
{
	struct wsc *w = arg;
	ssize_t n = send(w->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
	else
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

static int
wsc_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *arg)
{
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

static void
wsc_msg(wslay_event_context_ptr ctx,
    const struct wslay_event_on_msg_recv_arg *m, void *arg)
{
	struct wsc *w = arg;

	if (m->opcode == WSLAY_TEXT_FRAME && w->text == NULL) {
		w->text = xstrndup((const char *)m->msg, m->msg_length);
		w->len = m->msg_length;
	} else if (m->opcode == WSLAY_CONNECTION_CLOSE && !w->closed) {
		size_t n = m->msg_length > 2 ? m->msg_length - 2 : 0;

		w->closed = 1;
		w->code = m->status_code;
		if (n >= sizeof(w->reason))
			n = sizeof(w->reason) - 1;
		if (n > 0)
			memcpy(w->reason, m->msg + 2, n);
		w->reason[n] = '\0';
	}
}

/* What a close code from pushd means (DESIGN's contracts). */
static const char *
close_meaning(uint16_t code)
{
	switch (code) {
	case WS_CLOSE_GOING_AWAY: return "pushd is shutting down";
	case WS_CLOSE_POLICY: return "policy: too slow or a protocol limit";
	case WS_CLOSE_INTERNAL: return "pushd's internal error";
	case WS_CLOSE_BAD_KEY: return "bad key or url, or too many urls "
		    "under the key";
	case WS_CLOSE_FORBIDDEN: return "pushd refused the Origin (does the "
		    "web server pass Host with the port?), or the app forbids "
		    "the url";
	case WS_CLOSE_NOT_FOUND: return "the app says the url does not exist";
	default: return "unexpected";
	}
}

/* A hint for an HTTP answer other than 101 to the upgrade. */
static const char *
upgrade_hint(int status)
{
	switch (status) {
	case 400: return "pushd refused the request";
	case 403: return "refused by the web server, or by a keycast-pushd "
		    "older than its 4403 close";
	case 404: return "no /__realtime location, or pushd not behind it";
	case 426: return "the web server does not pass the Upgrade and "
		    "Connection headers";
	case 502: case 504: return "the web server cannot reach keycast-pushd";
	case 503: return "pushd is full or the web server's upstream is down";
	default: return "expected 101 Switching Protocols";
	}
}

/* Connects to --via and upgrades /__realtime for (c->key, url) as
 * keycast.js asks: Origin matching Host, so a web server that does not
 * pass Host on makes pushd close 4403 here as it would a browser's.
 * Returns 0 with w->fd open and the bytes after the 101's head in resp
 * from *off, or -1 after reporting why. */
static int
upgrade(struct check *c, struct wsc *w, int64_t deadline, struct buf *resp,
    size_t *off)
{
	const char *via = c->o->via;
	char host[256], addrspec[272], err[512], wskey[32], line[160];
	char accept[WS_ACCEPT_LEN + 1], got[WS_ACCEPT_LEN + 2];
	unsigned char nonce[16];
	struct buf req;
	struct addr a;
	int status = 0, rc = -1;

	buf_init(&req);
	/* check_run validated via. */
	cio_parse_via(via, host, sizeof(host), addrspec, sizeof(addrspec));
	if (addr_parse(addrspec, &a, err, sizeof(err)) != 0) {
		check_report(c, CK_FAILED, LINK, "%s", err);
		goto done;
	}
	if ((w->fd = cio_connect(&a, deadline, err, sizeof(err))) < 0) {
		check_report(c, CK_FAILED, LINK, "%s: %s", via, err);
		goto done;
	}
	if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
		check_report(c, CK_FAILED, LINK, "no random bytes for the key");
		goto done;
	}
	EVP_EncodeBlock((unsigned char *)wskey, nonce, sizeof(nonce));
	if (ws_accept_key(wskey, strlen(wskey), accept) != 0) {
		check_report(c, CK_FAILED, LINK, "cannot compute the accept "
		    "key");
		goto done;
	}
	buf_puts(&req, "GET /__realtime?key=");
	cio_put_query_value(&req, c->key);
	buf_puts(&req, "&url=");
	cio_put_query_value(&req, c->o->url);
	buf_printf(&req, " HTTP/1.1\r\nHost: %s\r\nOrigin: http://%s\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
	    "User-Agent: keycast-pushd --check\r\n\r\n", host, host, wskey);
	if (send(w->fd, req.data, req.len, MSG_NOSIGNAL) != (ssize_t)req.len) {
		check_report(c, CK_FAILED, LINK, "%s: cannot send the upgrade",
		    via);
		goto done;
	}
	if ((*off = cio_read_head(w->fd, resp, deadline, err,
	    sizeof(err))) == 0) {
		check_report(c, CK_FAILED, LINK, "%s: %s", via, err);
		goto done;
	}
	if (sscanf(resp->data, "HTTP/1.%*1[01] %3d", &status) != 1) {
		check_report(c, CK_FAILED, LINK, "%s: the answer is not "
		    "HTTP/1.x", via);
		goto done;
	}
	if (status != 101) {
		/* pushd's refusals say why in a one-line text body; a web
		 * server's own error pages are HTML, not worth quoting. */
		size_t blen = strcspn(resp->data + *off, "\r\n");

		line[0] = '\0';
		if (cio_head_field(resp->data, *off, "Content-Type", got,
		    sizeof(got)) == 0 && strncasecmp(got, "text/plain", 10) == 0)
			snprintf(line, sizeof(line), "%.*s", (int)(blen < 120 ?
			    blen : 120), resp->data + *off);
		check_report(c, CK_FAILED, LINK, "%s answered %d to the upgrade "
		    "of /__realtime: %s%s%s", via, status, upgrade_hint(status),
		    line[0] != '\0' ? ": " : "", line);
		goto done;
	}
	if (cio_head_field(resp->data, *off, "Sec-WebSocket-Accept", got,
	    sizeof(got)) != 0 || strcmp(got, accept) != 0) {
		check_report(c, CK_FAILED, LINK, "%s: 101 without the right "
		    "Sec-WebSocket-Accept", via);
		goto done;
	}
	rc = 0;
done:
	buf_cleanup(&req);
	return rc;
}

/* Reads frames until the first text message or a close. Returns 0, or -1
 * after reporting why none came. */
static int
first_message(struct check *c, struct wsc *w, int64_t deadline)
{
	struct wslay_event_callbacks cbs = {
		.recv_callback = wsc_recv,
		.send_callback = wsc_send,
		.genmask_callback = wsc_genmask,
		.on_msg_recv_callback = wsc_msg,
	};
	wslay_event_context_ptr ctx = NULL;
	const char *via = c->o->via;
	int rc = -1;

	if (wslay_event_context_client_init(&ctx, &cbs, w) != 0) {
		check_report(c, CK_FAILED, LINK, "cannot set up wslay");
		return -1;
	}
	while (w->text == NULL && !w->closed) {
		short ev = POLLIN | (wslay_event_want_write(ctx) ? POLLOUT : 0);
		int r = w->prelen > 0 ? 1 : cio_wait(w->fd, ev, deadline);

		if (r <= 0) {
			check_report(c, CK_FAILED, LINK, "%s upgraded /__realtime "
			    "but no frame came within %d s", via,
			    CHECK_LINK_MS / 1000);
			goto done;
		}
		/* A web server may end the connection right after pushd's
		 * close frame: the close, already read, is the answer. */
		if ((wslay_event_recv(ctx) != 0 || wslay_event_send(ctx) != 0) &&
		    w->text == NULL && !w->closed) {
			check_report(c, CK_FAILED, LINK, "%s upgraded /__realtime, "
			    "then the connection ended without a frame", via);
			goto done;
		}
	}
	rc = 0;
done:
	wslay_event_context_free(ctx);
	return rc;
}

/* The verdict on what the first message (or close) was. */
static void
judge(struct check *c, const struct wsc *w)
{
	const char *via = c->o->via;

	if (w->text == NULL) {
		check_report(c, CK_FAILED, LINK, "%s upgraded /__realtime, then "
		    "pushd closed it with %u (%s)%s%s", via, w->code,
		    close_meaning(w->code), w->reason[0] != '\0' ? ": " : "",
		    w->reason);
	} else if (w->len == c->fragment_len &&
	    memcmp(w->text, c->fragment, w->len) == 0) {
		check_report(c, CK_OK, LINK, "%s upgraded /__realtime and the "
		    "first frame is the rendered fragment (%zu bytes)", via,
		    w->len);
	} else if (check_is_whole_page(w->text, w->len)) {
		check_report(c, CK_FAILED, LINK, "%s upgraded /__realtime but the "
		    "first frame is a whole page, not a fragment", via);
	} else {
		check_report(c, CK_OK, LINK, "%s upgraded /__realtime; the first "
		    "frame is a %zu-byte fragment that differs from the render "
		    "(%zu bytes): the data changed in between, or pushd renders "
		    "with another Host", via, w->len, c->fragment_len);
	}
}

void
check_websocket(struct check *c)
{
	int64_t deadline = clock_ms() + CHECK_LINK_MS;
	struct buf resp;
	struct wsc w;
	size_t off = 0;

	memset(&w, 0, sizeof(w));
	w.fd = -1;
	buf_init(&resp);
	if (c->fragment == NULL) {
		check_report(c, CK_SKIPPED, LINK, "needs a working render");
		goto done;
	}
	if (upgrade(c, &w, deadline, &resp, &off) != 0)
		goto done;
	w.pre = resp.data + off;
	w.prelen = resp.len - off;
	if (first_message(c, &w, deadline) == 0)
		judge(c, &w);
done:
	if (w.fd >= 0)
		close(w.fd);
	free(w.text);
	buf_cleanup(&resp);
}
