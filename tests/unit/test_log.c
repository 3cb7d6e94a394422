/* Unit tests for common/log.c's log_fold (and log_oneline, its terminated
 * form): libpq's multi-line messages, as
 * they come, fold into one line, so every log line is one event. */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "tap.h"

static void
fold_is(const char *in, const char *want, const char *what)
{
	char buf[512];
	size_t n = log_fold(buf, sizeof(buf) - 1, in, strlen(in));

	buf[n] = '\0';
	is_str(buf, want, "%s", what);
}

int
main(void)
{
	fold_is("FATAL:  terminating connection due to administrator command\n",
	    "FATAL:  terminating connection due to administrator command",
	    "a trailing newline goes");
	fold_is("server closed the connection unexpectedly\n"
	    "\tThis probably means the server terminated abnormally\n"
	    "\tbefore or while processing the request.\n",
	    "server closed the connection unexpectedly This probably means "
	    "the server terminated abnormally before or while processing the "
	    "request.", "indented continuation lines join with a space");
	fold_is("FATAL:  the database system is shutting down\n"
	    "connection to server on socket \"/x/.s.PGSQL.5432\" failed: "
	    "No such file or directory\n",
	    "FATAL:  the database system is shutting down; connection to "
	    "server on socket \"/x/.s.PGSQL.5432\" failed: No such file or "
	    "directory", "a new message after a line break gets \"; \"");
	fold_is("a\r\n\r\nb", "a; b", "CRLF and blank lines fold once");
	fold_is("bell\a and\x1b[31m escape", "bell  and [31m escape",
	    "other control bytes become spaces");
	fold_is("\n\n", "", "nothing but line breaks: empty");
	fold_is("one line", "one line", "a plain line is unchanged");
	{
		char small[6];

		ok(log_fold(small, sizeof(small), "abc\ndef", 7) == 6 &&
		    memcmp(small, "abc; d", 6) == 0, "stops at size");
	}
	{
		char small[5], one = 'x';

		is_str(log_oneline(small, sizeof(small), "abcdef\nghi"), "abcd",
		    "log_oneline: cut to dstlen - 1 bytes, terminated");
		log_oneline(&one, 0, "abc");
		ok(one == 'x', "log_oneline: dstlen 0 writes nothing");
	}
	return tap_done();
}
