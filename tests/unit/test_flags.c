/* Unit tests for common/flags.c: defaults go through the same parser as
 * argv, each kind keeps its bounds and says which flag is wrong, lists
 * replace their default, and --help is laid out from the rows. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flags.h"
#include "tap.h"

static struct {
	unsigned long	 n, ms, sec, mib;
	const char	*name, *path;
	struct flag_list list;
	int		 on, level;
} o;

static const char *
no_comma(const char *v)
{
	return strchr(v, ',') != NULL ? "takes no comma" : NULL;
}

static const char *const levels[] = { "low", "high", NULL };

static const struct flag rows[] = {
FLAG_ROW("n", "N", FLAG_UINT, 1, 10, "4", &o.n, "a count (default {})"),
FLAG_ROW("wait", "MS", FLAG_MS, 0, 1000, "250", &o.ms, "a wait\n(default {})"),
FLAG_ROW("period", "SEC", FLAG_SEC, 1, 60, "5", &o.sec, "a period"),
FLAG_ROW("max-output", "MIB", FLAG_MIB, 1, 64, "2", &o.mib, "a size"),
FLAG_ROW("name", "NAME", FLAG_STRING, 1, 8, "kc", &o.name, "a name"),
FLAG_ROW("path", "PATH", FLAG_STRING, 1, 0, NULL, &o.path, "a path"),
{ .name = "item", .arg = "V", .kind = FLAG_LIST, .def = "a b",
  .dst = &o.list, .check = no_comma, .help = "repeatable (default {})" },
FLAG_ROW("on", NULL, FLAG_BOOL, 1, 0, "1", &o.on, "on (default)"),
FLAG_ROW("no-on", NULL, FLAG_BOOL, 0, 0, NULL, &o.on, "off"),
{ .name = "level", .arg = "L", .kind = FLAG_ENUM, .def = "high",
  .dst = &o.level, .choices = levels, .help = "low or high (default)" },
FLAG_ROW("help", NULL, FLAG_HELP, 0, 0, NULL, NULL, "print this help"),
};

static const struct flags_prog prog = {
	.name = "prog",
	.version = "1.0",
	.head = "usage: prog\n",
	.tail = "end\n",
	.rows = rows,
	.nrows = sizeof(rows) / sizeof(rows[0]),
};

static char err[1024];

/* Runs flags_parse on the NULL-terminated arguments, stderr into err and
 * stdout (--help) with it. */
static int
run(const char *first, ...)
{
	char *argv[16] = { "prog" };
	int argc = 1, saved = dup(2), saved_out = dup(1), rc;
	FILE *tmp = tmpfile();
	va_list ap;
	size_t n;

	va_start(ap, first);
	for (const char *a = first; a != NULL; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	flags_free(&prog);
	fflush(stderr);
	fflush(stdout);
	dup2(fileno(tmp), 2);
	dup2(fileno(tmp), 1);
	rc = flags_parse(&prog, argc, argv);
	fflush(stderr);
	fflush(stdout);
	dup2(saved, 2);
	dup2(saved_out, 1);
	close(saved);
	close(saved_out);
	rewind(tmp);
	n = fread(err, 1, sizeof(err) - 1, tmp);
	err[n] = '\0';
	fclose(tmp);
	return rc;
}

static void
test_defaults(void)
{
	ok(run(NULL) == FLAGS_RUN, "no arguments: run");
	ok(o.n == 4 && o.ms == 250, "numbers take their defaults");
	ok(o.sec == 5000, "SEC is stored in ms");
	ok(o.mib == 2UL << 20, "MIB is stored in bytes");
	is_str(o.name, "kc", "a string takes its default");
	ok(o.path == NULL, "no default: untouched");
	ok(o.list.n == 2 && strcmp(o.list.v[0], "a") == 0 &&
	    strcmp(o.list.v[1], "b") == 0, "a list's default is split on spaces");
	ok(o.on == 1 && o.level == 1, "bool and enum defaults");
}

static void
test_values(void)
{
	ok(run("--n", "10", "--wait", "0", "--period", "60", "--no-on",
	    "--level", "low", "--item", "x", "--item", "y", "--path", "/p",
	    NULL) == FLAGS_RUN, "values at their bounds: run");
	ok(o.n == 10 && o.ms == 0 && o.sec == 60000, "numbers set");
	ok(o.on == 0 && o.level == 0, "--no-on and --level low");
	ok(o.list.n == 2 && strcmp(o.list.v[0], "x") == 0 &&
	    strcmp(o.list.v[1], "y") == 0, "given items replace the default");
	is_str(o.path, "/p", "string set");
	ok(run("--no-on", "--on", NULL) == FLAGS_RUN && o.on == 1,
	    "the last of a bool pair wins");
}

static void
test_errors(void)
{
	ok(run("--n", "11", NULL) == FLAGS_BAD, "over the bound: bad");
	is_str(err, "prog: --n must be a number in 1..10\n", "says the bounds");
	ok(run("--n", "0", NULL) == FLAGS_BAD, "under the bound: bad");
	ok(run("--n", "-1", NULL) == FLAGS_BAD, "negative: bad");
	ok(run("--n", "4x", NULL) == FLAGS_BAD, "trailing junk: bad");
	ok(run("--n", "", NULL) == FLAGS_BAD, "empty: bad");
	ok(run("--n", "99999999999999999999999", NULL) == FLAGS_BAD,
	    "overflow: bad");
	ok(run("--wait", "1001", NULL) == FLAGS_BAD, "MS over: bad");
	is_str(err, "prog: --wait must be a number in 0..1000 (milliseconds)\n",
	    "a duration says its unit");
	ok(run("--period", "0", NULL) == FLAGS_BAD, "SEC under: bad");
	is_str(err, "prog: --period must be a number in 1..60 (seconds)\n",
	    "seconds");
	ok(run("--name", "123456789", NULL) == FLAGS_BAD, "long string: bad");
	is_str(err, "prog: --name must be 1..8 bytes\n", "says the lengths");
	ok(run("--path", "", NULL) == FLAGS_BAD, "empty path: bad");
	is_str(err, "prog: --path must not be empty\n", "says not empty");
	ok(run("--item", "a,b", NULL) == FLAGS_BAD, "the check refuses");
	is_str(err, "prog: --item takes no comma\n", "with the check's words");
	ok(run("--level", "mid", NULL) == FLAGS_BAD, "unknown choice: bad");
	is_str(err, "prog: unknown --level mid\n", "names the choice");
	ok(run("extra", NULL) == FLAGS_BAD, "an operand: bad");
	is_str(err, "prog: unexpected argument extra\n", "names it");
	ok(run("--nope", NULL) == FLAGS_BAD, "an unknown flag: bad");
	ok(strstr(err, "usage: prog") != NULL, "then the usage");
	ok(run("--n", NULL) == FLAGS_BAD, "a missing value: bad");
	ok(run("--help", NULL) == FLAGS_EXIT, "--help: exit");
	ok(strncmp(err, "usage: prog\n", 12) == 0, "after printing the usage");
}

static void
test_usage(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	flags_usage(&prog, f);
	fclose(f);
	is_str(text,
	    "usage: prog\n"
	    "  --n N                a count (default 4)\n"
	    "  --wait MS            a wait\n"
	    "                       (default 250)\n"
	    "  --period SEC         a period\n"
	    "  --max-output MIB     a size\n"
	    "  --name NAME          a name\n"
	    "  --path PATH          a path\n"
	    "  --item V             repeatable (default a b)\n"
	    "  --on                 on (default)\n"
	    "  --no-on              off\n"
	    "  --level L            low or high (default)\n"
	    "  --help               print this help\n"
	    "end\n", "--help from the rows, {} replaced by the default");
	free(text);
	ok(flags_find(&prog, "period") == &rows[2], "flags_find");
	ok(flags_find(&prog, "peri") == NULL, "flags_find: exact names");
}

int
main(void)
{
	test_defaults();
	test_values();
	test_errors();
	test_usage();
	flags_free(&prog);
	return tap_done();
}
