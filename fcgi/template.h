/* Mustache templates: compiled once at start-up into a tpl_set, rendered per
 * request against a tree of tpl_val built in the request's arena. {{x}} is
 * HTML-escaped, {{{x}}} and {{&x}} are raw; sections, inverted sections,
 * comments, partials (with standalone indentation), dotted names, the
 * implicit iterator {{.}} and set-delimiter tags follow the Mustache spec. */
#ifndef KC_TEMPLATE_H
#define KC_TEMPLATE_H
#include <stddef.h>

struct arena;
struct buf;

/* Values. All are allocated in the arena and live as long as it does;
 * names and strings are copied; tpl_str(a, NULL) gives null. {{x}} renders
 * strings, integers in decimal, booleans as true/false, and nothing for null,
 * maps and lists. Only false, null, an empty list and a missing name are
 * falsy: 0 and "" are true. */
struct tpl_val;
struct tpl_val	*tpl_null(struct arena *a);
struct tpl_val	*tpl_bool(struct arena *a, int b);
struct tpl_val	*tpl_str(struct arena *a, const char *s);
struct tpl_val	*tpl_strn(struct arena *a, const char *s, size_t n);
struct tpl_val	*tpl_int(struct arena *a, long long v);
struct tpl_val	*tpl_map(struct arena *a);
struct tpl_val	*tpl_list(struct arena *a);
/* Sets map[name] = v (replacing an earlier value); returns map, which
 * must come from tpl_map. Lookups are linear: maps are meant to be small. */
struct tpl_val	*tpl_put(struct arena *a, struct tpl_val *map, const char *name,
		    struct tpl_val *v);
/* Appends v to list (from tpl_list); returns list. */
struct tpl_val	*tpl_push(struct arena *a, struct tpl_val *list, struct tpl_val *v);

/* A set of named compiled templates; partials are looked up by name in the
 * same set at render time (an unknown partial renders as empty, as the spec
 * requires; tpl_set_check refuses them for the application's own set). */
struct tpl_set;
struct tpl_set	*tpl_set_new(void);
void		 tpl_set_free(struct tpl_set *set);
/* Compiles src under name, replacing a template of that name; file (or
 * name when NULL) names the source in error messages. On error returns -1
 * with "file:line: cause" in err and leaves the set as it was. */
int		 tpl_add(struct tpl_set *set, const char *name, const char *src,
		    size_t len, const char *file, char *err, size_t errlen);
/* Compiles every DIR/NAME.mustache as NAME (hidden files skipped); on
 * error err names the file. */
int		 tpl_load_dir(struct tpl_set *set, const char *dir, char *err,
		    size_t errlen);
/* Fails naming file and line when a partial refers to a missing template. */
int		 tpl_set_check(const struct tpl_set *set, char *err, size_t errlen);
int		 tpl_has(const struct tpl_set *set, const char *name);
/* Appends the rendering of template name to out. -1 (with err, and out as
 * it was) only when name is unknown or partials nest deeper than 64. A
 * standalone {{>p}} indents each line of p's source by the tag's indent. */
int		 tpl_render(const struct tpl_set *set, const char *name,
		    const struct tpl_val *ctx, struct buf *out, char *err,
		    size_t errlen);

#endif
