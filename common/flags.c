/* Flags from one table (see flags.h): getopt_long's option array is built
 * from the rows, and each value goes through one parser per kind, the
 * defaults included, so a default out of its own bounds fails at once. */
#include "flags.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

#define HELP_COL	23	/* where the help text starts */

static const char *
unit_name(enum flag_kind k)
{
	switch (k) {
	case FLAG_MS: return " (milliseconds)";
	case FLAG_SEC: return " (seconds)";
	case FLAG_MIB: return " (MiB)";
	default: return "";
	}
}

static int
set_number(const struct flags_prog *p, const struct flag *r, const char *v)
{
	unsigned long n, scale = r->kind == FLAG_SEC ? 1000 :
	    r->kind == FLAG_MIB ? 1UL << 20 : 1;
	char *end;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || v[0] == '-' ||
	    n < r->min || n > r->max) {
		fprintf(stderr, "%s: --%s must be a number in %lu..%lu%s\n",
		    p->name, r->name, r->min, r->max, unit_name(r->kind));
		return -1;
	}
	*(unsigned long *)r->dst = n * scale;
	return 0;
}

static int
set_string(const struct flags_prog *p, const struct flag *r, const char *v)
{
	const char *why;
	size_t len = strlen(v);

	if (len < r->min || (r->max > 0 && len > r->max)) {
		if (r->max > 0)
			fprintf(stderr, "%s: --%s must be %lu..%lu bytes\n",
			    p->name, r->name, r->min, r->max);
		else
			fprintf(stderr, "%s: --%s must not be empty\n",
			    p->name, r->name);
		return -1;
	}
	if (r->check != NULL && (why = r->check(v)) != NULL) {
		fprintf(stderr, "%s: --%s %s\n", p->name, r->name, why);
		return -1;
	}
	if (r->kind == FLAG_LIST) {
		struct flag_list *l = r->dst;

		l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
		l->v[l->n++] = v;
	} else {
		*(const char **)r->dst = v;
	}
	return 0;
}

static int
set_enum(const struct flags_prog *p, const struct flag *r, const char *v)
{
	for (int i = 0; r->choices[i] != NULL; i++) {
		if (strcmp(r->choices[i], v) == 0) {
			*(int *)r->dst = i;
			return 0;
		}
	}
	fprintf(stderr, "%s: unknown --%s %s\n", p->name, r->name, v);
	return -1;
}

/* Sets r from v (NULL for kinds without an argument). Returns 0, -1 after
 * a message on stderr, or FLAGS_EXIT. */
static int
set(const struct flags_prog *p, const struct flag *r, const char *v)
{
	switch (r->kind) {
	case FLAG_BOOL:
		*(int *)r->dst = v != NULL ? strcmp(v, "0") != 0 : (int)r->min;
		return 0;
	case FLAG_UINT:
	case FLAG_MS:
	case FLAG_SEC:
	case FLAG_MIB:
		return set_number(p, r, v);
	case FLAG_STRING:
	case FLAG_LIST:
		return set_string(p, r, v);
	case FLAG_ENUM:
		return set_enum(p, r, v);
	case FLAG_HELP:
		flags_usage(p, stdout);
		return FLAGS_EXIT;
	case FLAG_VERSION:
		printf("%s %s\n", p->name, p->version);
		return FLAGS_EXIT;
	}
	return -1;
}

/* A LIST default: each space-separated value of a copy the list owns. */
static int
set_list_default(const struct flags_prog *p, const struct flag *r)
{
	struct flag_list *l = r->dst;
	char *s, *save = NULL;

	l->owned = xstrdup(r->def);
	for (s = strtok_r(l->owned, " ", &save); s != NULL;
	    s = strtok_r(NULL, " ", &save))
		if (set_string(p, r, s) != 0)
			return -1;
	return 0;
}

int
flags_parse(const struct flags_prog *p, int argc, char **argv)
{
	struct option *opts = xcalloc(p->nrows + 1, sizeof(*opts));
	int c, rc = FLAGS_BAD;

	for (size_t i = 0; i < p->nrows; i++) {
		const struct flag *r = &p->rows[i];

		opts[i].name = r->name;
		opts[i].has_arg = r->kind == FLAG_BOOL || r->kind == FLAG_HELP ||
		    r->kind == FLAG_VERSION ? no_argument : required_argument;
		opts[i].val = 256 + (int)i;
		if (r->def != NULL && r->kind != FLAG_LIST &&
		    set(p, r, r->def) != 0) {
			fprintf(stderr, "%s: bad default of --%s\n", p->name,
			    r->name);
			goto done;
		}
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int s;

		if (c < 256 || (size_t)(c - 256) >= p->nrows) {
			flags_usage(p, stderr);
			goto done;
		}
		if ((s = set(p, &p->rows[c - 256], optarg)) != 0) {
			if (s == FLAGS_EXIT)
				rc = FLAGS_EXIT;
			goto done;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument %s\n", p->name,
		    argv[optind]);
		goto done;
	}
	for (size_t i = 0; i < p->nrows; i++) {
		const struct flag *r = &p->rows[i];

		if (r->kind == FLAG_LIST && r->def != NULL &&
		    ((struct flag_list *)r->dst)->n == 0 &&
		    set_list_default(p, r) != 0) {
			fprintf(stderr, "%s: bad default of --%s\n", p->name,
			    r->name);
			goto done;
		}
	}
	rc = FLAGS_RUN;
done:
	free(opts);
	return rc;
}

void
flags_usage(const struct flags_prog *p, FILE *f)
{
	fputs(p->head, f);
	for (size_t i = 0; i < p->nrows; i++) {
		const struct flag *r = &p->rows[i];
		const char *s = r->help;
		int col;

		col = fprintf(f, "  --%s%s%s", r->name, r->arg != NULL ? " " : "",
		    r->arg != NULL ? r->arg : "");
		fprintf(f, "%*s", col < HELP_COL ? HELP_COL - col : 2, "");
		for (; *s != '\0'; s++) {
			if (*s == '\n')
				fprintf(f, "\n%*s", HELP_COL, "");
			else if (s[0] == '{' && s[1] == '}' && r->def != NULL) {
				fputs(r->def, f);
				s++;
			} else
				fputc(*s, f);
		}
		fputc('\n', f);
	}
	if (p->tail != NULL)
		fputs(p->tail, f);
}

void
flags_free(const struct flags_prog *p)
{
	for (size_t i = 0; i < p->nrows; i++) {
		if (p->rows[i].kind == FLAG_LIST) {
			struct flag_list *l = p->rows[i].dst;

			free(l->v);
			free(l->owned);
			l->v = NULL;
			l->owned = NULL;
			l->n = 0;
		}
	}
}

const struct flag *
flags_find(const struct flags_prog *p, const char *name)
{
	for (size_t i = 0; i < p->nrows; i++)
		if (strcmp(p->rows[i].name, name) == 0)
			return &p->rows[i];
	return NULL;
}
