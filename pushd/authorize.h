/* The authorize contract without I/O (docs/protocol.md section 4): which cookies of
 * an upgrade go to the app, and what the app's answer means. The app says
 * once per connection who may watch (key, url) and under which view class;
 * renders never see a cookie. */
#ifndef KC_AUTHORIZE_H
#define KC_AUTHORIZE_H
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define AZ_VIEW_MAX	64	/* bytes of a view class */
#define AZ_TAG_MAX	128	/* bytes of one tag */
#define AZ_TAGS_MAX	32	/* tags per answer */
#define AZ_REASON_MAX	120	/* bytes of a close reason from the body */

enum az_verdict {
	AZ_OK,		/* 200 with a valid view: join (key, url, view) */
	AZ_DENY,	/* 401/403/404: close 4401/4403/4404 with the reason */
	AZ_ERROR,	/* any other status, or a malformed 200: close 1011 */
	AZ_NO_ANSWER,	/* the app did not answer (down, too slow) */
};

struct az_answer {
	enum az_verdict	 verdict;
	char		 view[AZ_VIEW_MAX + 1];
	char		 tags[AZ_TAGS_MAX][AZ_TAG_MAX + 1];
	unsigned	 ntags;
	uint16_t	 code;			/* AZ_DENY, AZ_ERROR */
	char		 reason[AZ_REASON_MAX + 1];
};

/* Appends to out the pairs of the Cookie header value hdr (n bytes) whose
 * name is one of names[0..nnames), as "a=1; b=2", in the header's order.
 * Returns how many were kept. */
unsigned	az_pick_cookies(const char *hdr, size_t n, char *const *names,
		    size_t nnames, struct buf *out);

/* Judges the app's answer: status as the render client gives it (-1 for
 * no answer), head the CGI header block (head_len bytes, may be 0), body
 * the rest. Fills a. */
void	az_judge(int status, const char *head, size_t head_len,
	    const char *body, size_t body_len, struct az_answer *a);

#endif
