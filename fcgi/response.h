/* A response being built: status, extra header lines and body, serialised
 * as a CGI response ("Status:" line, headers, blank line, body) once the
 * handler returns. HEAD responses keep their headers and drop the body. */
#ifndef KC_RESPONSE_H
#define KC_RESPONSE_H
#include "keycast.h"

void		 resp_init(struct resp *rs);
void		 resp_cleanup(struct resp *rs);
void		 resp_reset(struct resp *rs);
void		 resp_redirect(struct resp *rs, int status, const char *location);
/* Plain-text body for statuses that have no page (e.g. 204, 413, 422). */
void		 resp_text(struct resp *rs, int status, const char *msg);
const char	*resp_reason(int status);
/* Serialises rs into out (which is reset first). */
void		 resp_serialize(const struct resp *rs, int head_only, struct buf *out);

#endif
