/* Mustache templates: compiled once at start-up into a tpl_set, rendered per
 * request against a tree of tpl_val built in the request's arena. {{x}} is
 * HTML-escaped, {{{x}}} and {{&x}} are raw; sections, inverted sections,
 * comments, partials (with standalone indentation), dotted names, the
 * implicit iterator {{.}} and set-delimiter tags follow the Mustache spec. */
#ifndef KC_TEMPLATE_H
#define KC_TEMPLATE_H
#include <stddef.h>

#include "keycast.h"

/* Values (tpl_str, tpl_map...) are declared in keycast.h. */

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
