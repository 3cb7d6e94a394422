/* CGI response building and serialisation (see response.h). */
#include "response.h"

#include <stdarg.h>
#include <string.h>

void
resp_init(struct resp *rs)
{
	rs->status = 200;
	rs->content_type = "text/html; charset=utf-8";
	buf_init(&rs->headers);
	buf_init(&rs->body);
}

void
resp_cleanup(struct resp *rs)
{
	buf_cleanup(&rs->headers);
	buf_cleanup(&rs->body);
}

void
resp_reset(struct resp *rs)
{
	rs->status = 200;
	rs->content_type = "text/html; charset=utf-8";
	buf_reset(&rs->headers);
	buf_reset(&rs->body);
}

void
resp_header(struct resp *rs, const char *name, const char *fmt, ...)
{
	va_list ap;

	buf_puts(&rs->headers, name);
	buf_puts(&rs->headers, ": ");
	va_start(ap, fmt);
	buf_vprintf(&rs->headers, fmt, ap);
	va_end(ap);
	buf_puts(&rs->headers, "\r\n");
}

void
resp_redirect(struct resp *rs, int status, const char *location)
{
	rs->status = status;
	resp_header(rs, "Location", "%s", location);
	rs->content_type = "text/plain; charset=utf-8";
	buf_reset(&rs->body);
	buf_printf(&rs->body, "See %s\n", location);
}

void
resp_text(struct resp *rs, int status, const char *msg)
{
	rs->status = status;
	rs->content_type = "text/plain; charset=utf-8";
	buf_reset(&rs->body);
	if (status != 204 && msg != NULL)
		buf_printf(&rs->body, "%s\n", msg);
}

const char *
resp_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 303: return "See Other";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

void
resp_serialize(const struct resp *rs, int head_only, struct buf *out)
{
	buf_reset(out);
	buf_printf(out, "Status: %d %s\r\n", rs->status, resp_reason(rs->status));
	if (rs->status != 204) {
		buf_printf(out, "Content-Type: %s\r\nContent-Length: %zu\r\n",
		    rs->content_type, rs->body.len);
	}
	if (rs->headers.len > 0)
		buf_append(out, rs->headers.data, rs->headers.len);
	buf_puts(out, "\r\n");
	if (!head_only && rs->status != 204 && rs->body.len > 0)
		buf_append(out, rs->body.data, rs->body.len);
}
