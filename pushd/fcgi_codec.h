/* FastCGI client-side records without I/O: encoding one RESPONDER request
 * (BEGIN_REQUEST, PARAMS, empty STDIN) and an incremental parser for the
 * answer (STDOUT, STDERR, END_REQUEST), which then splits the CGI response
 * into status and body. Output is bounded: a response whose STDOUT passes
 * the limit is an error, never a large allocation. */
#ifndef KC_FCGI_CODEC_H
#define KC_FCGI_CODEC_H
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define FCGC_STDERR_MAX	1024	/* kept for the log; the rest is dropped */

struct fcgc_param {
	const char	*name;
	const char	*value;	/* NUL-terminated */
};

/* Appends the records of one request with id to out. keep_conn sets
 * FCGI_KEEP_CONN so the app leaves the connection open afterwards. */
void	fcgc_encode_request(struct buf *out, uint16_t id, int keep_conn,
	    const struct fcgc_param *params, size_t n);

enum fcgc_rc {
	FCGC_MORE = 0,		/* need more bytes */
	FCGC_DONE = 1,		/* END_REQUEST seen and the CGI head parsed */
	FCGC_EPROTO = -1,	/* not FastCGI, or a bad CGI head */
	FCGC_ETOOBIG = -2,	/* STDOUT past the limit */
	FCGC_EREFUSED = -3,	/* the app ended the request without a
				   response (protocol status not COMPLETE) */
};

struct fcgc_resp {
	uint16_t	id;		/* records of other ids are skipped */
	size_t		max_out;
	unsigned char	hdr[8];		/* record header being collected */
	size_t		hdr_have;
	uint8_t		type;
	size_t		content_left;	/* of the current record */
	size_t		padding_left;
	unsigned char	end[8];		/* END_REQUEST body */
	size_t		end_have;
	enum fcgc_rc	rc;		/* sticky once not FCGC_MORE */
	size_t		received;	/* bytes fed so far */
	struct buf	out;		/* STDOUT: CGI head and body */
	struct buf	err;		/* STDERR, first FCGC_STDERR_MAX bytes */
	/* Valid after FCGC_DONE: */
	uint32_t	app_status;
	int		status;		/* HTTP status from "Status:", or 200 */
	const char	*body;		/* points into out */
	size_t		body_len;
};

void	fcgc_resp_init(struct fcgc_resp *r, uint16_t id, size_t max_out);
void	fcgc_resp_cleanup(struct fcgc_resp *r);
/* Parses n bytes; *used gets how many belonged to this response. */
enum fcgc_rc fcgc_resp_feed(struct fcgc_resp *r, const void *data, size_t n,
	    size_t *used);
/* Splits a CGI response (RFC 3875 6.2) into status and body offset.
 * Returns 0, or -1 when the head is malformed or unterminated. */
int	fcgc_cgi_parse(const char *p, size_t n, int *status, size_t *body_off);

#endif
