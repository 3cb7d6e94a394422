/* Unit tests for fcgi/template.c: every test of the official Mustache spec
 * files in SPEC_DIR (all but the optional ones) byte for byte, then our own
 * checks of error messages, partial checking, recursion and escaping. */
#include "fcgi/template.h"
#include "arena.h"
#include "buf.h"
#include "tap.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct tpl_val *
from_json(struct arena *a, json_t *j)
{
	struct tpl_val *v;
	const char *key;
	json_t *e;
	size_t i;
	char num[64];

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		v = tpl_map(a);
		json_object_foreach(j, key, e)
			tpl_put(a, v, key, from_json(a, e));
		return v;
	case JSON_ARRAY:
		v = tpl_list(a);
		json_array_foreach(j, i, e)
			tpl_push(a, v, from_json(a, e));
		return v;
	case JSON_STRING:
		return tpl_strn(a, json_string_value(j), json_string_length(j));
	case JSON_INTEGER:
		return tpl_int(a, json_integer_value(j));
	case JSON_REAL:
		/* Shortest form that round-trips the spec's decimals: 1.21, 1.1. */
		snprintf(num, sizeof(num), "%.15g", json_real_value(j));
		return tpl_str(a, num);
	case JSON_TRUE:
		return tpl_bool(a, 1);
	case JSON_FALSE:
		return tpl_bool(a, 0);
	case JSON_NULL:
		break;
	}
	return tpl_null(a);
}

/* Runs one spec test; returns whether it passed. */
static int
spec_test(const char *file, json_t *test, struct arena *a)
{
	const char *name = json_string_value(json_object_get(test, "name"));
	json_t *tmpl = json_object_get(test, "template");
	json_t *partials = json_object_get(test, "partials");
	const char *want = json_string_value(json_object_get(test, "expected"));
	struct tpl_set *set = tpl_set_new();
	struct buf out;
	const char *pname;
	json_t *p;
	char err[256] = "";
	int rc = 0;

	buf_init(&out);
	json_object_foreach(partials, pname, p)
		rc |= tpl_add(set, pname, json_string_value(p),
		    json_string_length(p), pname, err, sizeof(err));
	/* A name no spec partial uses, so tests can't shadow it. */
	rc |= tpl_add(set, "spec template", json_string_value(tmpl),
	    json_string_length(tmpl), "template", err, sizeof(err));
	if (rc == 0)
		rc = tpl_render(set, "spec template",
		    from_json(a, json_object_get(test, "data")), &out, err,
		    sizeof(err));
	if (rc != 0)
		printf("# error: %s\n", err);
	is_str(rc == 0 ? out.data ? out.data : "" : NULL, want, "%s: %s",
	    file, name);
	rc = rc == 0 && strcmp(out.data ? out.data : "", want) == 0;
	buf_cleanup(&out);
	tpl_set_free(set);
	arena_reset(a);
	return rc;
}

static void
spec(void)
{
	static const char *files[] = { "comments", "interpolation",
	    "sections", "inverted", "partials", "delimiters" };
	struct arena *a = arena_new();
	int total = 0, passed = 0;
	size_t f;

	for (f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		char path[512];
		json_error_t jerr;
		json_t *root, *tests, *test;
		size_t i;

		snprintf(path, sizeof(path), "%s/%s.json", SPEC_DIR, files[f]);
		root = json_load_file(path, 0, &jerr);
		ok(root != NULL, "load %s", path);
		if (root == NULL) {
			printf("# %s:%d: %s\n", path, jerr.line, jerr.text);
			continue;
		}
		tests = json_object_get(root, "tests");
		json_array_foreach(tests, i, test) {
			total++;
			passed += spec_test(files[f], test, a);
		}
		json_decref(root);
	}
	printf("# mustache spec: %d/%d passed\n", passed, total);
	ok(total > 0 && passed == total, "all mustache spec tests pass");
	arena_free(a);
}

/* Compiles src as x.mustache and returns the error text ("" if none). */
static const char *
compile_err(const char *src)
{
	static char err[256];
	struct tpl_set *set = tpl_set_new();

	err[0] = '\0';
	if (tpl_add(set, "x", src, strlen(src), "x.mustache", err,
	    sizeof(err)) == 0)
		strcpy(err, "");
	tpl_set_free(set);
	return err;
}

static void
compile_errors(void)
{
	is_str(compile_err("a\nb {{c\n"), "x.mustache:2: unclosed tag",
	    "unclosed tag names file and line");
	is_str(compile_err("a\n{{{c}}\n"), "x.mustache:2: unclosed tag",
	    "unclosed triple mustache");
	is_str(compile_err("\n\n{{#a}}\n{{#b}}{{/b}}\n"),
	    "x.mustache:3: unclosed section 'a'", "unclosed section");
	is_str(compile_err("{{#a}}\n{{/b}}\n"),
	    "x.mustache:2: section 'a' (line 1) closed as 'b'",
	    "mismatched section close");
	is_str(compile_err("x\n{{/a}}"),
	    "x.mustache:2: close of unopened section 'a'", "stray close");
	is_str(compile_err("\n{{=<% =}}"), "x.mustache:2: bad delimiter '<%'",
	    "one delimiter");
	is_str(compile_err("{{=<% %> x=}}"),
	    "x.mustache:1: bad delimiter '<% %> x'", "three delimiters");
	is_str(compile_err("{{= a=b c =}}"),
	    "x.mustache:1: bad delimiter 'a=b c'", "'=' in a delimiter");
	is_str(compile_err("{{=<% %>=}}\n<%a"), "x.mustache:2: unclosed tag",
	    "unclosed tag under new delimiters");
	is_str(compile_err("{{ }}"), "x.mustache:1: empty tag", "empty tag");
	is_str(compile_err("{{a..b}}"), "x.mustache:1: bad name 'a..b'",
	    "empty dotted part");
	is_str(compile_err("{{!\n\n}}\n{{a b}}"),
	    "x.mustache:4: bad name 'a b'",
	    "lines counted through a multiline comment");
	is_str(compile_err("{{#a}}{{/a}}{{^b}}{{/b}}{{! c }}{{=| |=}}|.|"), "",
	    "valid template compiles");
}

static void
render_eq(struct tpl_set *set, const char *name, struct tpl_val *ctx,
    const char *want, const char *what)
{
	struct buf out;
	char err[256] = "";

	buf_init(&out);
	if (tpl_render(set, name, ctx, &out, err, sizeof(err)) == -1)
		printf("# error: %s\n", err);
	is_str(out.data ? out.data : "", want, "%s", what);
	buf_cleanup(&out);
}

static void
own(void)
{
	struct arena *a = arena_new();
	struct tpl_set *set = tpl_set_new();
	struct tpl_val *ctx = tpl_map(a), *list = tpl_list(a);
	struct buf out;
	char err[256] = "";
	int i;

	tpl_set_free(NULL);

#define ADD(name, src) tpl_add(set, name, src, strlen(src), name ".mustache", \
	err, sizeof(err))
	ok(ADD("esc", "{{x}}|{{{x}}}|{{&x}}") == 0, "compile escaping test");
	tpl_put(a, ctx, "x", tpl_str(a, "&<>\"'"));
	render_eq(set, "esc", ctx, "&amp;&lt;&gt;&quot;&#39;|&<>\"'|&<>\"'",
	    "{{x}} escapes & < > \" ', {{{x}}} and {{&x}} do not");

	ok(ADD("num", "{{a}} {{b}} {{c}} {{d}} {{e}}") == 0, "compile numbers");
	tpl_put(a, ctx, "a", tpl_int(a, 0));
	tpl_put(a, ctx, "b", tpl_int(a, -42));
	tpl_put(a, ctx, "c", tpl_int(a, 9223372036854775807LL));
	tpl_put(a, ctx, "d", tpl_bool(a, 1));
	tpl_put(a, ctx, "e", tpl_str(a, NULL));
	render_eq(set, "num", ctx, "0 -42 9223372036854775807 true ",
	    "integers in decimal, bools by name, NULL string as null");
	tpl_put(a, ctx, "a", tpl_str(a, "replaced"));
	render_eq(set, "num", ctx, "replaced -42 9223372036854775807 true ",
	    "tpl_put replaces an existing key");

	ok(ADD("truth", "{{#z}}0{{/z}}{{#s}}s{{/s}}{{^l}}empty{{/l}}") == 0,
	    "compile truthiness");
	tpl_put(a, ctx, "z", tpl_int(a, 0));
	tpl_put(a, ctx, "s", tpl_str(a, ""));
	tpl_put(a, ctx, "l", list);
	render_eq(set, "truth", ctx, "0sempty",
	    "0 and \"\" are truthy, an empty list falsy");
	tpl_push(a, list, tpl_int(a, 1));
	tpl_push(a, list, tpl_int(a, 2));
	tpl_push(a, list, tpl_int(a, 3));
	ok(ADD("list", "{{#l}}{{.}},{{/l}}") == 0, "compile list");
	render_eq(set, "list", ctx, "1,2,3,", "lists keep push order");

	ok(ADD("page", "<p>\n  {{>missing}}\n</p>\n") == 0,
	    "a partial may name a template added later");
	ok(tpl_set_check(set, err, sizeof(err)) == -1,
	    "tpl_set_check refuses a missing partial");
	is_str(err, "page.mustache:2: no template 'missing' for partial",
	    "and names file and line");
	ok(!tpl_has(set, "missing"), "tpl_has: referenced only");
	render_eq(set, "page", ctx, "<p>\n</p>\n", "missing partial is empty");
	ok(ADD("missing", "{{#l}}\n{{.}}\n{{/l}}\n") == 0, "add the partial");
	ok(tpl_set_check(set, err, sizeof(err)) == 0, "now the set checks");
	ok(tpl_has(set, "missing"), "tpl_has: added");
	render_eq(set, "page", ctx, "<p>\n  1\n  2\n  3\n</p>\n",
	    "late partial bound; each line of its source indented");
	ok(ADD("missing", "[{{.}}]") == 0, "replace a template");
	render_eq(set, "page", ctx, "<p>\n  []</p>\n",
	    "the replacement is what the partial renders");

	ok(ADD("self", "a{{>self}}") == 0, "compile self-including template");
	buf_init(&out);
	buf_puts(&out, "kept");
	ok(tpl_render(set, "self", ctx, &out, err, sizeof(err)) == -1,
	    "unbounded recursion fails");
	is_str(err, "self.mustache:1: partials nest deeper than 64",
	    "with a message naming the tag");
	is_str(out.data, "kept", "and leaves the output as it was");
	ok(tpl_render(set, "nope", ctx, &out, err, sizeof(err)) == -1,
	    "unknown template fails");
	is_str(err, "no template 'nope'", "naming it");
	buf_cleanup(&out);

	/* 72 nested sections: past the bound of 64. */
	buf_init(&out);
	for (i = 0; i < 72; i++)
		buf_puts(&out, "{{#a}}");
	ok(tpl_add(set, "deep", out.data, out.len, "deep.mustache", err,
	    sizeof(err)) == -1, "sections nested too deep are refused");
	is_str(err, "deep.mustache:1: sections nest deeper than 64",
	    "with a message");
	buf_cleanup(&out);
	ok(!tpl_has(set, "deep"), "a failed compile adds nothing");
#undef ADD
	tpl_set_free(set);
	arena_free(a);
}

static void
load_dir(void)
{
	char dir[] = "/tmp/test_template.XXXXXX", path[512], err[256] = "";
	struct arena *a = arena_new();
	struct tpl_set *set = tpl_set_new();
	struct tpl_val *ctx = tpl_map(a);
	FILE *fp;

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/page.mustache", dir);
	fp = fopen(path, "w");
	fputs("<h1>{{>title}}</h1>\n", fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/title.mustache", dir);
	fp = fopen(path, "w");
	fputs("{{t}}", fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/.swap.mustache", dir);
	fp = fopen(path, "w");
	fputs("{{", fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	fp = fopen(path, "w");
	fputs("{{", fp);
	fclose(fp);

	ok(tpl_load_dir(set, dir, err, sizeof(err)) == 0,
	    "tpl_load_dir loads *.mustache, skipping others");
	ok(tpl_has(set, "page") && tpl_has(set, "title") && !tpl_has(set, "notes"),
	    "named without the extension");
	ok(tpl_set_check(set, err, sizeof(err)) == 0, "loaded set checks");
	tpl_put(a, ctx, "t", tpl_str(a, "Hi"));
	render_eq(set, "page", ctx, "<h1>Hi</h1>\n", "loaded templates render");

	snprintf(path, sizeof(path), "%s/bad.mustache", dir);
	mkdir(path, 0700);
	ok(tpl_load_dir(set, dir, err, sizeof(err)) == -1,
	    "unreadable template fails the load");
	ok(strstr(err, path) != NULL && strstr(err, "directory") != NULL,
	    "naming the file: %s", err);
	rmdir(path);

	snprintf(path, sizeof(path), "%s/broken.mustache", dir);
	fp = fopen(path, "w");
	fputs("ok\n{{#s}}\n", fp);
	fclose(fp);
	ok(tpl_load_dir(set, dir, err, sizeof(err)) == -1,
	    "a compile error fails the load");
	ok(strstr(err, "broken.mustache:2: unclosed section 's'") != NULL,
	    "naming file and line: %s", err);
	unlink(path);

	snprintf(path, sizeof(path), "%s/nonexistent", dir);
	ok(tpl_load_dir(set, path, err, sizeof(err)) == -1,
	    "a missing directory fails");

	snprintf(path, sizeof(path), "%s/page.mustache", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/title.mustache", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/.swap.mustache", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	unlink(path);
	rmdir(dir);
	tpl_set_free(set);
	arena_free(a);
}

int
main(void)
{
	spec();
	compile_errors();
	own();
	load_dir();
	return tap_done();
}
