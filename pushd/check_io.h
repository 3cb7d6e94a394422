/* The small blocking client helpers of keycast-pushd --check: every wait
 * ends at a deadline (clock_ms time), every answer read has a bound, and
 * each call only works on the socket or buffer it is given. Errors are
 * one line in a caller's buffer. */
#ifndef KC_CHECK_IO_H
#define KC_CHECK_IO_H
#include <stddef.h>
#include <stdint.h>

#define CIO_HEAD_MAX	16384	/* an answer's head, blank line included */

struct addr;
struct buf;

/* Milliseconds left before deadline, at least 0. */
int	cio_left(int64_t deadline);
/* Waits until fd is ready for events (POLLIN, POLLOUT) or deadline
 * passes. Returns 1 when ready, 0 at the deadline, -1 on a poll error. */
int	cio_wait(int fd, short events, int64_t deadline);
/* Connects to a resolved address within deadline. Returns the socket
 * (non-blocking, the caller closes it) or -1 with err set. */
int	cio_connect(const struct addr *a, int64_t deadline, char *err,
	    size_t errlen);
/* Reads an HTTP answer head into b (bytes past it stay in b). Returns the
 * offset past its blank line, or 0 with err set. */
size_t	cio_read_head(int fd, struct buf *b, int64_t deadline, char *err,
	    size_t errlen);
/* The value of header name in a head, copied into out (truncated to
 * outsz); -1 when absent. */
int	cio_head_field(const char *head, size_t headlen, const char *name,
	    char *out, size_t outsz);
/* Appends s percent-encoded for a query value (RFC 3986 unreserved and
 * "/" stay as they are). */
void	cio_put_query_value(struct buf *b, const char *s);
/* "http://HOST[:PORT][/]" into the Host header value and the connect
 * address "HOST:PORT". Returns 0, or -1 when via is not such a URL. */
int	cio_parse_via(const char *via, char *host, size_t hostsz, char *addr,
	    size_t addrsz);
/* GET target (path and query) from a with Host host, HTTP/1.0. Sets
 * *status and body (reset first; at most max bytes, else an error).
 * Returns 0, or -1 with err set: no connection, no answer in time, not
 * HTTP, larger than max, or shorter than its Content-Length. */
int	cio_get(const struct addr *a, const char *host, const char *target,
	    size_t max, int64_t deadline, int *status, struct buf *body,
	    char *err, size_t errlen);

#endif
