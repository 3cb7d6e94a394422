/* common/log.c: log_oneline, which folds multi-line messages (libpq's)
 * into the one line per event the logs promise. */
#include <string.h>

#include "log.h"
#include "tap.h"

/* src folded into a buffer of dstlen bytes (the rest of it poisoned). */
static const char *
fold(const char *src, size_t dstlen)
{
	static char dst[256];

	memset(dst, 'x', sizeof(dst));
	return log_oneline(dst, dstlen, src);
}

int
main(void)
{
	char one = 'x';

	is_str(fold("FATAL:  terminating connection due to administrator command\n",
	    256), "FATAL:  terminating connection due to administrator command",
	    "a trailing newline goes; the double space after FATAL: stays");
	is_str(fold("server closed the connection unexpectedly\n\tThis probably "
	    "means the server terminated abnormally\n\tbefore or while "
	    "processing the request.\n", 256),
	    "server closed the connection unexpectedly This probably means the "
	    "server terminated abnormally before or while processing the "
	    "request.", "libpq's three-line message becomes one line");
	is_str(fold(" \r\n a\r\n\r\nb \t c\n\n", 256), "a b c",
	    "each run of space holding a break is one space; ends trimmed");
	is_str(fold("", 256), "", "empty stays empty");
	is_str(fold("\n\t \n", 256), "", "only white space gives the empty string");
	is_str(fold("abcdef\nghi", 5), "abcd", "cut to dstlen - 1 bytes, terminated");
	is_str(fold("ab\ncd", 4), "ab ", "a fold at the cut still fits");
	log_oneline(&one, 0, "abc");
	ok(one == 'x', "dstlen 0 writes nothing");
	return tap_done();
}
