/* FastCGI 1.0 record encoding and response parsing (see fcgi_codec.h). The
 * parser walks a record at a time: 8 header bytes, content, padding. */
#include "fcgi_codec.h"

#include <string.h>
#include <strings.h>

#define FCGI_VERSION_1		1
#define FCGI_BEGIN_REQUEST	1
#define FCGI_END_REQUEST	3
#define FCGI_PARAMS		4
#define FCGI_STDIN		5
#define FCGI_STDOUT		6
#define FCGI_STDERR		7
#define FCGI_RESPONDER		1
#define FCGI_KEEP_CONN		1
#define FCGI_REQUEST_COMPLETE	0
#define RECORD_MAX		65535

static void
put_record(struct buf *out, uint8_t type, uint16_t id, const void *content,
    size_t len)
{
	static const unsigned char zeros[8];
	unsigned char h[8];
	size_t pad = (8 - len % 8) % 8;

	h[0] = FCGI_VERSION_1;
	h[1] = type;
	h[2] = (unsigned char)(id >> 8);
	h[3] = (unsigned char)id;
	h[4] = (unsigned char)(len >> 8);
	h[5] = (unsigned char)len;
	h[6] = (unsigned char)pad;
	h[7] = 0;
	buf_append(out, h, sizeof(h));
	if (len > 0)
		buf_append(out, content, len);
	if (pad > 0)
		buf_append(out, zeros, pad);
}

static void
put_length(struct buf *b, size_t n)
{
	unsigned char l[4];

	if (n < 128) {
		buf_putc(b, (char)n);
		return;
	}
	l[0] = (unsigned char)(0x80 | (n >> 24));
	l[1] = (unsigned char)(n >> 16);
	l[2] = (unsigned char)(n >> 8);
	l[3] = (unsigned char)n;
	buf_append(b, l, 4);
}

void
fcgc_encode_request(struct buf *out, uint16_t id, int keep_conn,
    const struct fcgc_param *params, size_t n)
{
	unsigned char begin[8] = { 0, FCGI_RESPONDER, 0, 0, 0, 0, 0, 0 };
	struct buf pairs;
	size_t off;

	begin[2] = keep_conn ? FCGI_KEEP_CONN : 0;
	put_record(out, FCGI_BEGIN_REQUEST, id, begin, sizeof(begin));
	buf_init(&pairs);
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(params[i].name), vl = strlen(params[i].value);

		put_length(&pairs, nl);
		put_length(&pairs, vl);
		buf_append(&pairs, params[i].name, nl);
		buf_append(&pairs, params[i].value, vl);
	}
	/* The params stream may span records; a record carries at most
	 * 65535 bytes, cut at a multiple of 8 so none needs padding. */
	for (off = 0; off < pairs.len; ) {
		size_t chunk = pairs.len - off;

		if (chunk > RECORD_MAX - 7)
			chunk = RECORD_MAX - 7;
		put_record(out, FCGI_PARAMS, id, pairs.data + off, chunk);
		off += chunk;
	}
	put_record(out, FCGI_PARAMS, id, NULL, 0);
	put_record(out, FCGI_STDIN, id, NULL, 0);
	buf_cleanup(&pairs);
}

void
fcgc_resp_init(struct fcgc_resp *r, uint16_t id, size_t max_out)
{
	memset(r, 0, sizeof(*r));
	r->id = id;
	r->max_out = max_out;
	buf_init(&r->out);
	buf_init(&r->err);
}

void
fcgc_resp_cleanup(struct fcgc_resp *r)
{
	buf_cleanup(&r->out);
	buf_cleanup(&r->err);
}

static int
header_name_is(const char *line, size_t n, const char *name)
{
	size_t l = strlen(name);

	return n > l && line[l] == ':' && strncasecmp(line, name, l) == 0;
}

int
fcgc_cgi_parse(const char *p, size_t n, int *status, size_t *body_off)
{
	size_t i = 0;
	int have_status = 0, have_location = 0;

	*status = 200;
	while (i < n) {
		const char *line = p + i, *nl = memchr(line, '\n', n - i);
		size_t len;

		if (nl == NULL)
			return -1;
		len = (size_t)(nl - line);
		i += len + 1;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (len == 0) {
			/* RFC 3875 6.2.3: Location alone is a redirect. */
			if (!have_status && have_location)
				*status = 302;
			*body_off = i;
			return 0;
		}
		if (memchr(line, ':', len) == NULL)
			return -1;
		if (header_name_is(line, len, "status")) {
			const char *v = line + 7;
			size_t vl = len - 7;

			while (vl > 0 && (*v == ' ' || *v == '\t')) {
				v++;
				vl--;
			}
			if (have_status || vl < 3 || v[0] < '1' || v[0] > '5' ||
			    v[1] < '0' || v[1] > '9' || v[2] < '0' || v[2] > '9' ||
			    (vl > 3 && v[3] != ' '))
				return -1;
			*status = (v[0] - '0') * 100 + (v[1] - '0') * 10 +
			    (v[2] - '0');
			have_status = 1;
		} else if (header_name_is(line, len, "location")) {
			have_location = 1;
		}
	}
	return -1;
}

/* A whole record's content, or a piece of it, arrived. */
static enum fcgc_rc
content(struct fcgc_resp *r, const unsigned char *p, size_t n)
{
	switch (r->type) {
	case FCGI_STDOUT:
		if (r->out.len + n > r->max_out)
			return FCGC_ETOOBIG;
		buf_append(&r->out, p, n);
		break;
	case FCGI_STDERR:
		if (r->err.len < FCGC_STDERR_MAX) {
			size_t room = FCGC_STDERR_MAX - r->err.len;
			buf_append(&r->err, p, n < room ? n : room);
		}
		break;
	case FCGI_END_REQUEST:
		if (r->end_have + n > sizeof(r->end))
			return FCGC_EPROTO;
		memcpy(r->end + r->end_have, p, n);
		r->end_have += n;
		break;
	}
	return FCGC_MORE;
}

static enum fcgc_rc
end_request(struct fcgc_resp *r)
{
	size_t off;

	if (r->end_have != sizeof(r->end))
		return FCGC_EPROTO;
	r->app_status = (uint32_t)r->end[0] << 24 | (uint32_t)r->end[1] << 16 |
	    (uint32_t)r->end[2] << 8 | r->end[3];
	if (r->end[4] != FCGI_REQUEST_COMPLETE)
		return FCGC_EREFUSED;
	if (fcgc_cgi_parse(r->out.data, r->out.len, &r->status, &off) != 0)
		return FCGC_EPROTO;
	r->body = r->out.data + off;
	r->body_len = r->out.len - off;
	return FCGC_DONE;
}

enum fcgc_rc
fcgc_resp_feed(struct fcgc_resp *r, const void *data, size_t n, size_t *used)
{
	const unsigned char *p = data;
	size_t i = 0;

	while (r->rc == FCGC_MORE && i < n) {
		if (r->hdr_have < sizeof(r->hdr)) {
			r->hdr[r->hdr_have++] = p[i++];
			if (r->hdr_have < sizeof(r->hdr))
				continue;
			if (r->hdr[0] != FCGI_VERSION_1) {
				r->rc = FCGC_EPROTO;
				break;
			}
			r->type = r->hdr[1];
			r->content_left = (size_t)r->hdr[4] << 8 | r->hdr[5];
			r->padding_left = r->hdr[6];
			/* Management records (id 0) and other requests'
			 * records are skipped. */
			if (((size_t)r->hdr[2] << 8 | r->hdr[3]) != r->id)
				r->type = 0;
			r->end_have = 0;
		} else if (r->content_left > 0) {
			size_t take = n - i < r->content_left ? n - i :
			    r->content_left;

			r->rc = content(r, p + i, take);
			i += take;
			r->content_left -= take;
		} else if (r->padding_left > 0) {
			size_t take = n - i < r->padding_left ? n - i :
			    r->padding_left;

			i += take;
			r->padding_left -= take;
		}
		if (r->hdr_have == sizeof(r->hdr) && r->content_left == 0 &&
		    r->padding_left == 0 && r->rc == FCGC_MORE) {
			if (r->type == FCGI_END_REQUEST)
				r->rc = end_request(r);
			r->hdr_have = 0;
		}
	}
	r->received += i;
	*used = i;
	return r->rc;
}
