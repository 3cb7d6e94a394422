/* Command-line flags from one table per daemon, as Redis's config.c keeps
 * its directives: a row names a flag, its kind, bounds, default,
 * destination and help text. flags_parse sets every destination (the
 * defaults first, through the same parser as the command line, then
 * argv) and flags_usage prints --help from the same rows, so a flag
 * cannot be parsed without being documented or the other way round.
 *
 * Adding a flag is one row in the daemon's table (pushd/main.c,
 * fcgi/main.c), next to similar ones, plus its entry in the man page
 * (tests/integration/manpage.mjs holds --help and man/ together):
 *
 *   FLAG_ROW("max-roots", "N", FLAG_UINT, 1, 64, "8", &o.max_roots,
 *       "(key, url) pairs one socket may subscribe (default {})"),
 *   FLAG_ROW("diff", NULL, FLAG_BOOL, 1, 0, "1", &o.diff,
 *       "send diffs (default)"),
 *   FLAG_ROW("no-diff", NULL, FLAG_BOOL, 0, 0, NULL, &o.diff,
 *       "send only full fragments"),
 *
 * (the field, here o.max_roots, goes in the daemon's options struct;
 * a string flag with a rule of its own names a check function, a flag
 * with choices an array, with designated initializers: see log-level.)
 *
 * Help text: "\n" starts a continuation line (indented under the text);
 * "{}" stands for the row's default. Destinations by kind: BOOL and ENUM
 * an int, the numbers an unsigned long (MS in ms, SEC in ms, MIB in
 * bytes), STRING a const char * (borrowed from argv or the row), LIST a
 * struct flag_list. */
#ifndef KC_FLAGS_H
#define KC_FLAGS_H
#include <stdio.h>

enum flag_kind {
	FLAG_BOOL,	/* no argument: *dst = min (default "0"/"1") */
	FLAG_UINT,	/* a number in min..max */
	FLAG_MS,	/* milliseconds, min..max */
	FLAG_SEC,	/* seconds, min..max; stored in ms */
	FLAG_MIB,	/* MiB, min..max; stored in bytes */
	FLAG_STRING,	/* min..max bytes (max 0: any length) */
	FLAG_LIST,	/* repeatable string; the default only if none given */
	FLAG_ENUM,	/* one of choices; *dst = its index */
	FLAG_HELP,	/* prints the usage, flags_parse returns FLAGS_EXIT */
	FLAG_VERSION,	/* prints "PROG VERSION", returns FLAGS_EXIT */
};

struct flag_list {
	const char	**v;	/* owned array of borrowed strings */
	size_t		  n;
	char		 *owned;	/* the default's copy, v points in it */
};

struct flag {
	const char	*name;		/* without the leading "--" */
	const char	*arg;		/* metavar in --help; NULL without one */
	enum flag_kind	 kind;
	unsigned long	 min, max;
	const char	*def;		/* parsed before argv; NULL: none.
					 * LIST: space-separated values */
	void		*dst;
	const char	*help;
	/* STRING/LIST: NULL if v is acceptable, else what is wrong ("takes
	 * a cookie name"), printed after the flag. */
	const char	*(*check)(const char *v);
	const char *const *choices;	/* ENUM: NULL-terminated */
};

#define FLAG_ROW(name, arg, kind, min, max, def, dst, help) \
	{ (name), (arg), (kind), (min), (max), (def), (dst), (help), NULL, NULL }

struct flags_prog {
	const char		*name;		/* "keycast-pushd" */
	const char		*version;
	const char		*head;		/* usage lines and description */
	const char		*tail;		/* after the options, or NULL */
	const struct flag	*rows;
	size_t			 nrows;
};

enum { FLAGS_RUN = 0, FLAGS_EXIT = 1, FLAGS_BAD = 2 };

/* Sets every row's destination from its default, then from argv; errors
 * name the flag on stderr. Returns FLAGS_RUN, FLAGS_EXIT (--help or
 * --version printed to stdout) or FLAGS_BAD. */
int	flags_parse(const struct flags_prog *p, int argc, char **argv);
/* The --help text. */
void	flags_usage(const struct flags_prog *p, FILE *f);
/* Frees what LIST destinations own. */
void	flags_free(const struct flags_prog *p);
/* The row named name, or NULL. */
const struct flag *flags_find(const struct flags_prog *p, const char *name);

#endif
