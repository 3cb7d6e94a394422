/* The report of keycast-pushd --check: one line per link result, and
 * the test the links share for an answer that is a whole page. Below the
 * links (check_links.h), so the runner (check.c) calls the links and the
 * links call only this. */
#include <ctype.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "check_links.h"

void
check_report(struct check *c, enum check_outcome oc, const char *link,
    const char *fmt, ...)
{
	static const char *const word[] = { "ok  ", "FAILED", "skipped",
	    "note" };
	struct buf b, line;
	va_list ap;

	buf_init(&b);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	/* Runs of white space (libpq's "\n\t") become one space. */
	buf_init(&line);
	for (size_t i = 0; i < b.len; i++) {
		if (!isspace((unsigned char)b.data[i]))
			buf_putc(&line, b.data[i]);
		else if (line.len > 0 && line.data[line.len - 1] != ' ')
			buf_putc(&line, ' ');
	}
	while (line.len > 0 && line.data[line.len - 1] == ' ')
		line.len--;
	fprintf(c->out, "%s %s: %.*s\n", word[oc], link, (int)line.len,
	    line.len > 0 ? line.data : "");
	fflush(c->out);
	buf_cleanup(&b);
	buf_cleanup(&line);
	if (oc == CK_FAILED || oc == CK_SKIPPED)
		c->failed = 1;
}

int
check_is_whole_page(const char *s, size_t n)
{
	while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) {
		s++;
		n--;
	}
	return (n >= 9 && strncasecmp(s, "<!doctype", 9) == 0) ||
	    (n >= 5 && strncasecmp(s, "<html", 5) == 0);
}
