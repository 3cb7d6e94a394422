/* An incremental HTTP/1.1 request-head parser for pushd's one listener:
 * WebSocket upgrades on /__realtime and plain GETs of /healthz, /metrics.
 * Bytes go in as they arrive (any split); the parser keeps only the fields
 * pushd needs, in fixed storage, so its state is one self-contained struct
 * that can live on the stack and be copied. Never more than HS_HEAD_MAX
 * bytes are accepted. No I/O. */
#ifndef KC_HANDSHAKE_H
#define KC_HANDSHAKE_H
#include <stddef.h>

#include "text.h"
#include "ws.h"

#define HS_HEAD_MAX	8192	/* request line + headers + blank line */
#define HS_TARGET_MAX	4096	/* request-target (path and query) */
#define HS_FIELD_MAX	255	/* Host, Origin and the upgrade headers */
#define HS_AUTH_MAX	4096	/* Authorization, forwarded to authorize */
#define HS_EXT_MAX	1024	/* Sec-WebSocket-Extensions lines, joined */
#define HS_ROOTS_MAX	64	/* (key, url) pairs of one v2 upgrade; the
				   bound of --max-roots */

enum hs_rc {
	HS_MORE = 0,		/* need more bytes */
	HS_DONE = 1,		/* the head is complete */
	HS_EBAD = -1,		/* malformed: answer 400 */
	HS_ETOOBIG = -2,	/* head past HS_HEAD_MAX: answer 431 */
	HS_ETARGET = -3,	/* request-target too long: answer 414 */
	HS_EVERSION = -4,	/* not HTTP/1.x: answer 505 */
};

struct hs_parser {
	int	 state;
	size_t	 total;			/* head bytes consumed */
	char	 method[8];		/* NUL-terminated; longer = EBAD */
	size_t	 method_len;
	char	 target[HS_TARGET_MAX + 1];
	size_t	 target_len;
	int	 minor;			/* HTTP/1.minor */
	char	 name[32];		/* current header name, lower case */
	size_t	 name_len;		/* > sizeof(name): a header we skip */
	char	 value[HS_FIELD_MAX + 1];	/* current value, if kept */
	size_t	 value_len;
	int	 field;			/* which header is being read */
	enum hs_rc err;			/* repeated once in S_ERROR */
	/* Results. */
	char	 host[HS_FIELD_MAX + 1];
	char	 origin[HS_FIELD_MAX + 1];
	char	 ws_key[HS_FIELD_MAX + 1];
	char	 fetch_site[16];	/* Sec-Fetch-Site; "" when too long */
	char	 fwd_proto[8];		/* X-Forwarded-Proto; "" when too long */
	char	 forwarded_for[HS_FIELD_MAX + 1];	/* X-Forwarded-For's
							   last element */
	char	 real_ip[HS_FIELD_MAX + 1];	/* X-Real-IP */
	char	 cookie[HS_HEAD_MAX + 1];	/* Cookie lines joined by
						   "; " (authorize picks) */
	size_t	 cookie_len;
	char	 authorization[HS_AUTH_MAX + 1];
	size_t	 authorization_len;
	char	 extensions[HS_EXT_MAX + 1];	/* lines joined by ", "; ""
						   when longer (ignored) */
	size_t	 extensions_len;
	int	 extensions_long;
	int	 has_cookie, has_authorization;
	int	 has_host, has_origin, has_ws_key, has_fetch_site,
		 has_fwd_proto;
	int	 has_forwarded_for, has_real_ip;
	int	 upgrade_websocket;	/* Upgrade: lists "websocket" */
	int	 connection_upgrade;	/* Connection: lists "upgrade" */
	int	 ws_version;		/* Sec-WebSocket-Version, -1 absent,
					   -2 malformed */
};

void	 hs_init(struct hs_parser *p);
/* Parses up to n bytes. *used gets how many were consumed: after HS_DONE
 * the rest belongs to whatever follows the head (a client's first frame).
 * After an error or HS_DONE further calls return the same code. */
enum hs_rc hs_feed(struct hs_parser *p, const char *data, size_t n,
	    size_t *used);
/* The HTTP status to answer an error code with (400, 414, 431, 505). */
int	 hs_error_status(enum hs_rc rc);

enum hs_route { HS_REALTIME, HS_HEALTHZ, HS_METRICS, HS_NOT_FOUND };
enum hs_route hs_route(const struct hs_parser *p);

/* One (key, url) pair of an upgrade: NUL-terminated, in its strs. */
struct hs_pair {
	const char	*key, *url;
};

/* What a valid upgrade asks for. */
struct hs_upgrade {
	char	key[KEY_MAX + 1];	/* the first pair's */
	size_t	key_len;
	char	url[URL_MAX + 1];	/* defaults to the key */
	size_t	url_len;
	char	accept[WS_ACCEPT_LEN + 1];	/* Sec-WebSocket-Accept */
	int	version;		/* 1 (no v, or v=1) or 2 */
	/* v2: the distinct pairs in query order; npairs is HS_ROOTS_MAX + 1
	 * when there were more (the rest is not kept). v1: the one pair. */
	unsigned	npairs;
	struct hs_pair	pairs[HS_ROOTS_MAX];
	char		strs[HS_TARGET_MAX + 2 * HS_ROOTS_MAX + 2];
	int	deflate;		/* a permessage-deflate offer we take */
};

/* Checks a complete head routed to HS_REALTIME as RFC 6455 4.2.1 and
 * DESIGN ask. The request must pass origin_request_ok (the scheme from
 * X-Forwarded-Proto, else http) or carry an Origin equal to one of
 * allow[0..nallow); a request without Origin nor Sec-Fetch-Site comes from
 * a non-browser client and passes. Returns 0 and fills
 * u, or -1 with the status to refuse with (400, 403, 405, 426, 500) in
 * *status and the reason in *why. A browser cannot read an HTTP status:
 * when the request is a valid WebSocket upgrade and only its key, url
 * (400) or Origin (403) is refused, u->accept is filled (else it is ""),
 * so the caller can accept and close with 4400 or 4403 instead. */
int	 hs_upgrade_check(const struct hs_parser *p, char *const *allow,
	    size_t nallow, struct hs_upgrade *u, int *status,
	    const char **why);

/* Finds name=VALUE in a query string and percent-decodes it into out
 * (outsz bytes, NUL-terminated). Returns the length, -1 when absent, -2
 * when malformed or too long. */
long	 hs_query_param(const char *query, size_t qlen, const char *name,
	    char *out, size_t outsz);

#endif
