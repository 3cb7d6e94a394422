/* fcgi/pages/: the registered features' tables are complete and agree with
 * the tree (every template and migration they name exists, every sql/ file
 * belongs to a feature, every key's url is one of the feature's GET
 * routes), and fcgi/app.c uses what a handler returns. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "fcgi/app.h"
#include "fcgi/router.h"
#include "fcgi/template.h"
#include "tap.h"

static int
exists(const char *dir, const char *name, const char *suffix)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s/%s%s", SRC_DIR, dir, name, suffix);
	return access(path, R_OK) == 0;
}

static int
claimed(const char *file)
{
	size_t i, j;

	for (i = 0; i < app_nfeatures; i++)
		for (j = 0; app_features[i]->migrations != NULL &&
		    app_features[i]->migrations[j] != NULL; j++)
			if (strcmp(app_features[i]->migrations[j], file) == 0)
				return 1;
	return 0;
}

static void
check_tables(void)
{
	struct arena *a = arena_new();
	struct route_match m;
	char err[256] = "";
	struct dirent *de;
	size_t i, j;
	DIR *d;

	ok(app_check_features(err, sizeof(err)) == 0, "the features' tables "
	    "are complete, statement names unique %s", err);
	for (i = 0; i < app_nfeatures; i++) {
		const struct feature *f = app_features[i];

		for (j = 0; f->templates != NULL && f->templates[j] != NULL; j++)
			ok(exists("templates", f->templates[j], ".mustache"),
			    "%s: templates/%s.mustache exists", f->name,
			    f->templates[j]);
		for (j = 0; f->migrations != NULL && f->migrations[j] != NULL; j++)
			ok(exists("sql", f->migrations[j], ""), "%s: sql/%s exists",
			    f->name, f->migrations[j]);
		for (j = 0; j < f->nkeys; j++)
			ok(route_match(f->routes, f->nroutes, "GET", f->keys[j].url,
			    a, &m) == ROUTE_OK, "%s: key %s's url %s is one of "
			    "its GET routes", f->name, f->keys[j].key,
			    f->keys[j].url);
	}
	d = opendir(SRC_DIR "/sql");
	ok(d != NULL, "sql/ opens");
	while (d != NULL && (de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (n > 4 && strcmp(de->d_name + n - 4, ".sql") == 0)
			ok(claimed(de->d_name), "sql/%s belongs to a feature",
			    de->d_name);
	}
	if (d != NULL)
		closedir(d);
	arena_free(a);
}

/* Handlers for the request cycle below. */
static int
h_bare_status(struct req *rq, struct resp *rs)
{
	(void)rq;
	(void)rs;
	return 418;
}

static int
h_mutated(struct req *rq, struct resp *rs)
{
	return app_mutated(rq, rs, "/somewhere");
}

static int
h_lies(struct req *rq, struct resp *rs)
{
	(void)rq;
	resp_text(rs, 200, "fine");
	return 201;
}

static int
h_nonsense(struct req *rq, struct resp *rs)
{
	(void)rq;
	(void)rs;
	return -1;
}

static struct route test_routes[] = {
	{ "GET", "/bare", h_bare_status },
	{ "POST", "/mutate", h_mutated },
	{ "GET", "/lies", h_lies },
	{ "GET", "/nonsense", h_nonsense },
};

static const char *
env_get(void *ctx, const char *name)
{
	const char *const *e = ctx;

	for (; e[0] != NULL; e += 2)
		if (strcmp(e[0], name) == 0)
			return e[1];
	return NULL;
}

/* Runs method path through app_handle; the status it returns. */
static int
run(struct app *app, struct arena *a, struct resp *rs, const char *method,
    const char *path)
{
	const char *env[] = { "REQUEST_METHOD", method, "REQUEST_URI", path,
		"HTTP_HOST", "example.com", NULL, NULL };
	struct req rq;

	arena_reset(a);
	resp_reset(rs);
	if (req_init(&rq, a, env_get, env) != 0)
		return -1;
	rq.app = app;
	return app_handle(app, &rq, rs);
}

static void
check_cycle(void)
{
	struct arena *a = arena_new();
	struct app app;
	struct resp rs;
	char err[256] = "";
	int st;

	memset(&app, 0, sizeof(app));
	app.tpl = tpl_set_new();
	ok(tpl_load_dir(app.tpl, SRC_DIR "/templates", err, sizeof(err)) == 0,
	    "templates load %s", err);
	app.routes = test_routes;
	app.nroutes = sizeof(test_routes) / sizeof(test_routes[0]);
	resp_init(&rs);

	st = run(&app, a, &rs, "GET", "/bare");
	ok(st == 418 && rs.status == 418, "a status returned alone is answered "
	    "(%d, %d)", st, rs.status);
	ok(rs.body.len > 0 && memmem(rs.body.data, rs.body.len, "418", 3) != NULL,
	    "with the error page");
	st = run(&app, a, &rs, "POST", "/mutate");
	ok(st == 303 && rs.status == 303, "app_mutated's status is the answer's");
	st = run(&app, a, &rs, "GET", "/lies");
	ok(st == 200 && rs.status == 200, "a status other than the answer's: "
	    "the answer's stands (and is logged)");
	st = run(&app, a, &rs, "GET", "/nonsense");
	ok(st == 500 && rs.status == 500, "a status that is none: 500");
	st = run(&app, a, &rs, "GET", "/nope");
	ok(st == 404 && rs.status == 404, "no route: 404");
	st = run(&app, a, &rs, "GET", "/mutate");
	ok(st == 405 && rs.status == 405, "wrong method: 405");

	resp_cleanup(&rs);
	tpl_set_free(app.tpl);
	arena_free(a);
}

int
main(void)
{
	check_tables();
	check_cycle();
	return tap_done();
}
