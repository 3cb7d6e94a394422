/* Mustache compiled once into a flat node array per template; a section is
 * the run of nodes up to its end index, so rendering walks the array with
 * contexts and partial indentation kept on the C stack and allocates nothing
 * but the output buf's growth. Partials refer to a slot of the set by index,
 * declared on first mention, so templates may be added in any order. */
#include "template.h"
#include "arena.h"
#include "buf.h"
#include "xmalloc.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TPL_MAX_DEPTH	64	/* partials within partials, at render time */
#define TPL_MAX_NEST	64	/* sections within sections, in one source */
#define TPL_MAX_DELIM	16

enum tpl_type { T_NULL, T_BOOL, T_STR, T_INT, T_MAP, T_LIST };

struct tpl_ent {
	struct tpl_ent	*next;
	const char	*key;
	size_t		 klen;
	struct tpl_val	*val;
};

struct tpl_item {
	struct tpl_item	*next;
	struct tpl_val	*val;
};

struct tpl_val {
	enum tpl_type	 type;
	union {
		int		 b;
		long long	 i;
		struct {
			const char	*s;
			size_t		 len;
		} str;
		struct tpl_ent	*map;	/* newest first; keys are unique */
		struct {
			struct tpl_item	*head;
			struct tpl_item	*tail;	/* so pushes keep order in O(1) */
		} list;
	} u;
};

enum op { OP_TEXT, OP_VAR, OP_RAW, OP_SECTION, OP_INVERTED, OP_PARTIAL };

struct part {			/* one component of a dotted name */
	const char	*s;	/* points into tpl->src */
	size_t		 len;
};

struct node {
	enum op		 op;
	unsigned	 line;		/* where the tag starts, for messages */
	int		 bol;		/* starts a source line: takes the indentation */
	int		 standalone;	/* PARTIAL alone on its line: s/len indent it */
	const char	*s;		/* TEXT: bytes; SECTION, INVERTED: raw name */
	size_t		 len;
	size_t		 name;		/* first of nname parts in tpl->parts */
	size_t		 nname;		/* 0 for the implicit iterator "." */
	size_t		 end;		/* SECTION, INVERTED: index past the content */
	size_t		 slot;		/* PARTIAL: index in set->slots */
};

struct tpl {
	char		*file;
	char		*src;	/* owned copy: nodes and parts point into it */
	struct node	*nodes;
	size_t		 nnodes, capnodes;
	struct part	*parts;
	size_t		 nparts, capparts;
};

struct slot {
	char		*name;
	struct tpl	*tpl;	/* NULL: named by a partial tag, never added */
};

struct tpl_set {
	struct slot	*slots;	/* only grows, so node->slot stays valid */
	size_t		 nslots, capslots;
};

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static struct tpl_val *
val_new(struct arena *a, enum tpl_type type)
{
	struct tpl_val *v = arena_calloc(a, sizeof(*v));

	v->type = type;
	return v;
}

struct tpl_val *
tpl_null(struct arena *a)
{
	return val_new(a, T_NULL);
}

struct tpl_val *
tpl_bool(struct arena *a, int b)
{
	struct tpl_val *v = val_new(a, T_BOOL);

	v->u.b = b != 0;
	return v;
}

struct tpl_val *
tpl_str(struct arena *a, const char *s)
{
	if (s == NULL)
		return tpl_null(a);
	return tpl_strn(a, s, strlen(s));
}

struct tpl_val *
tpl_strn(struct arena *a, const char *s, size_t n)
{
	struct tpl_val *v = val_new(a, T_STR);

	v->u.str.s = arena_strndup(a, s, n);
	v->u.str.len = n;
	return v;
}

struct tpl_val *
tpl_int(struct arena *a, long long i)
{
	struct tpl_val *v = val_new(a, T_INT);

	v->u.i = i;
	return v;
}

struct tpl_val *
tpl_map(struct arena *a)
{
	return val_new(a, T_MAP);
}

struct tpl_val *
tpl_list(struct arena *a)
{
	return val_new(a, T_LIST);
}

static struct tpl_ent *
map_find(const struct tpl_val *map, const char *key, size_t klen)
{
	struct tpl_ent *e;

	for (e = map->u.map; e != NULL; e = e->next)
		if (e->klen == klen && memcmp(e->key, key, klen) == 0)
			return e;
	return NULL;
}

struct tpl_val *
tpl_put(struct arena *a, struct tpl_val *map, const char *name,
    struct tpl_val *v)
{
	size_t klen = strlen(name);
	struct tpl_ent *e;

	assert(map->type == T_MAP && v != NULL);
	if ((e = map_find(map, name, klen)) == NULL) {
		e = arena_alloc(a, sizeof(*e));
		e->key = arena_strndup(a, name, klen);
		e->klen = klen;
		e->next = map->u.map;
		map->u.map = e;
	}
	e->val = v;
	return map;
}

struct tpl_val *
tpl_push(struct arena *a, struct tpl_val *list, struct tpl_val *v)
{
	struct tpl_item *it = arena_alloc(a, sizeof(*it));

	assert(list->type == T_LIST && v != NULL);
	it->next = NULL;
	it->val = v;
	if (list->u.list.tail != NULL)
		list->u.list.tail->next = it;
	else
		list->u.list.head = it;
	list->u.list.tail = it;
	return list;
}

static void
tpl_free(struct tpl *t)
{
	if (t == NULL)
		return;
	free(t->file);
	free(t->src);
	free(t->nodes);
	free(t->parts);
	free(t);
}

struct tpl_set *
tpl_set_new(void)
{
	return xcalloc(1, sizeof(struct tpl_set));
}

void
tpl_set_free(struct tpl_set *set)
{
	size_t i;

	if (set == NULL)
		return;
	for (i = 0; i < set->nslots; i++) {
		free(set->slots[i].name);
		tpl_free(set->slots[i].tpl);
	}
	free(set->slots);
	free(set);
}

static int
slot_find(const struct tpl_set *set, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < set->nslots; i++)
		if (strlen(set->slots[i].name) == len &&
		    memcmp(set->slots[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

/* Returns the slot for name, declaring an empty one on first mention. */
static size_t
slot_get(struct tpl_set *set, const char *name, size_t len)
{
	int i = slot_find(set, name, len);

	if (i >= 0)
		return (size_t)i;
	if (set->nslots == set->capslots) {
		set->capslots = set->capslots ? set->capslots * 2 : 16;
		set->slots = xrealloc(set->slots,
		    set->capslots * sizeof(*set->slots));
	}
	set->slots[set->nslots].name = xstrndup(name, len);
	set->slots[set->nslots].tpl = NULL;
	return set->nslots++;
}

int
tpl_has(const struct tpl_set *set, const char *name)
{
	int i = slot_find(set, name, strlen(name));

	return i >= 0 && set->slots[i].tpl != NULL;
}

struct compiler {
	struct tpl_set	*set;
	struct tpl	*t;
	size_t		 len;
	char		*err;
	size_t		 errlen;
	char		 open[TPL_MAX_DELIM];	/* delimiters in force */
	char		 close[TPL_MAX_DELIM];
	size_t		 olen, clen;
	size_t		 stack[TPL_MAX_NEST];	/* open sections' nodes */
	size_t		 depth;
};

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static struct node *
node_add(struct compiler *c, enum op op, unsigned line, size_t at)
{
	struct tpl *t = c->t;
	struct node *n;

	if (t->nnodes == t->capnodes) {
		t->capnodes = t->capnodes ? t->capnodes * 2 : 32;
		t->nodes = xrealloc(t->nodes, t->capnodes * sizeof(*t->nodes));
	}
	n = &t->nodes[t->nnodes++];
	memset(n, 0, sizeof(*n));
	n->op = op;
	n->line = line;
	n->bol = at == 0 || t->src[at - 1] == '\n';
	return n;
}

static void
text_add(struct compiler *c, size_t from, size_t to, unsigned line)
{
	struct node *n;

	if (to <= from)
		return;
	n = node_add(c, OP_TEXT, line, from);
	n->s = c->t->src + from;
	n->len = to - from;
}

/* Splits a trimmed tag name into parts on the node: "." alone is the
 * implicit iterator, otherwise no part may be empty or hold spaces. */
static int
name_parse(struct compiler *c, struct node *n, const char *s, size_t len,
    unsigned line)
{
	struct tpl *t = c->t;
	size_t i, start = 0;

	if (len == 0) {
		seterr(c->err, c->errlen, "%s:%u: empty tag", t->file, line);
		return -1;
	}
	n->name = t->nparts;
	n->nname = 0;
	if (len == 1 && s[0] == '.')
		return 0;
	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != '.') {
			if (is_space(s[i]))
				goto bad;
			continue;
		}
		if (i == start)
			goto bad;
		if (t->nparts == t->capparts) {
			t->capparts = t->capparts ? t->capparts * 2 : 32;
			t->parts = xrealloc(t->parts,
			    t->capparts * sizeof(*t->parts));
		}
		t->parts[t->nparts].s = s + start;
		t->parts[t->nparts].len = i - start;
		t->nparts++;
		n->nname++;
		start = i + 1;
	}
	return 0;
bad:
	seterr(c->err, c->errlen, "%s:%u: bad name '%.*s'", t->file, line,
	    (int)len, s);
	return -1;
}

/* "{{=<% %>=}}": two whitespace-separated delimiters, none empty, too long,
 * or holding '=' or whitespace. */
static int
delim_parse(struct compiler *c, const char *s, size_t len, unsigned line)
{
	size_t i = 0, olen, cl, clen;

	while (i < len && !is_space(s[i]) && s[i] != '=')
		i++;
	olen = i;
	while (i < len && is_space(s[i]))
		i++;
	cl = i;
	while (i < len && !is_space(s[i]) && s[i] != '=')
		i++;
	clen = i - cl;
	if (i != len || olen == 0 || clen == 0 || olen > TPL_MAX_DELIM ||
	    clen > TPL_MAX_DELIM) {
		seterr(c->err, c->errlen, "%s:%u: bad delimiter '%.*s'",
		    c->t->file, line, (int)len, s);
		return -1;
	}
	memcpy(c->open, s, olen);
	c->olen = olen;
	memcpy(c->close, s + cl, clen);
	c->clen = clen;
	return 0;
}

static unsigned
count_lines(const char *s, size_t n)
{
	unsigned lines = 0;
	const char *p, *end = s + n;

	while ((p = memchr(s, '\n', (size_t)(end - s))) != NULL) {
		lines++;
		s = p + 1;
	}
	return lines;
}

static int
compile(struct compiler *c)
{
	struct tpl *t = c->t;
	const char *src = t->src;
	size_t len = c->len, pos = 0;
	unsigned line = 1;

	memcpy(c->open, "{{", 2);
	c->olen = 2;
	memcpy(c->close, "}}", 2);
	c->clen = 2;
	for (;;) {
		const char *hit, *name;
		char needle[TPL_MAX_DELIM + 1];
		size_t ts, te, p, nlen, ls, after = 0, namelen;
		unsigned tline;
		char type;
		int sa = 0;
		struct node *n;

		hit = memmem(src + pos, len - pos, c->open, c->olen);
		if (hit == NULL) {
			text_add(c, pos, len, line);
			break;
		}
		ts = (size_t)(hit - src);
		tline = line + count_lines(src + pos, ts - pos);
		p = ts + c->olen;
		type = p < len ? src[p] : '\0';
		if (type != '\0' && strchr("#^/!>={&", type) != NULL)
			p++;
		else
			type = '\0';

		/* The closer of {{{x}}} and {{=a b=}} carries the opener's sigil. */
		nlen = 0;
		if (type == '{' || type == '=')
			needle[nlen++] = type == '{' ? '}' : '=';
		memcpy(needle + nlen, c->close, c->clen);
		nlen += c->clen;
		hit = memmem(src + p, len - p, needle, nlen);
		if (hit == NULL) {
			seterr(c->err, c->errlen, "%s:%u: unclosed tag",
			    t->file, tline);
			return -1;
		}
		te = (size_t)(hit - src) + nlen;
		name = src + p;
		namelen = (size_t)(hit - name);
		while (namelen > 0 && is_space(name[0])) {
			name++;
			namelen--;
		}
		while (namelen > 0 && is_space(name[namelen - 1]))
			namelen--;

		/* Standalone: only spaces and tabs share the tag's line; the
		 * line then vanishes from the output, its newline included.
		 * Delimiters hold no whitespace, so a tag earlier on the line
		 * makes the scan back stop short of the line start. */
		ls = ts;
		if (type != '\0' && strchr("#^/!>=", type) != NULL) {
			while (ls > 0 && (src[ls - 1] == ' ' || src[ls - 1] == '\t'))
				ls--;
			if (ls == 0 || src[ls - 1] == '\n') {
				after = te;
				while (after < len &&
				    (src[after] == ' ' || src[after] == '\t'))
					after++;
				/* "\r\n" ends a line as "\n" does. */
				if (after + 1 < len && src[after] == '\r' &&
				    src[after + 1] == '\n')
					after++;
				if (after == len)
					sa = 1;
				else if (src[after] == '\n') {
					sa = 1;
					after++;
				}
			}
		}
		text_add(c, pos, sa ? ls : ts, line);

		switch (type) {
		case '\0':
		case '&':
		case '{':
			n = node_add(c, type == '\0' ? OP_VAR : OP_RAW, tline, ts);
			if (name_parse(c, n, name, namelen, tline) == -1)
				return -1;
			break;
		case '#':
		case '^':
			if (c->depth == TPL_MAX_NEST) {
				seterr(c->err, c->errlen,
				    "%s:%u: sections nest deeper than %d",
				    t->file, tline, TPL_MAX_NEST);
				return -1;
			}
			n = node_add(c, type == '#' ? OP_SECTION : OP_INVERTED,
			    tline, ts);
			n->bol = n->bol && !sa;
			n->s = name;
			n->len = namelen;
			if (name_parse(c, n, name, namelen, tline) == -1)
				return -1;
			c->stack[c->depth++] = t->nnodes - 1;
			break;
		case '/':
			if (c->depth == 0) {
				seterr(c->err, c->errlen,
				    "%s:%u: close of unopened section '%.*s'",
				    t->file, tline, (int)namelen, name);
				return -1;
			}
			n = &t->nodes[c->stack[--c->depth]];
			if (n->len != namelen || memcmp(n->s, name, namelen) != 0) {
				seterr(c->err, c->errlen,
				    "%s:%u: section '%.*s' (line %u) closed as '%.*s'",
				    t->file, tline, (int)n->len, n->s, n->line,
				    (int)namelen, name);
				return -1;
			}
			n->end = t->nnodes;
			break;
		case '>':
			if (namelen == 0) {
				seterr(c->err, c->errlen, "%s:%u: empty tag",
				    t->file, tline);
				return -1;
			}
			n = node_add(c, OP_PARTIAL, tline, ts);
			n->slot = slot_get(c->set, name, namelen);
			if (sa) {
				/* Its indent goes down the render as a
				 * chain, not out before the tag. */
				n->bol = 0;
				n->standalone = 1;
				n->s = src + ls;
				n->len = ts - ls;
			}
			break;
		case '=':
			if (delim_parse(c, name, namelen, tline) == -1)
				return -1;
			break;
		case '!':
			break;
		}
		pos = sa ? after : te;
		line = tline + count_lines(src + ts, pos - ts);
	}
	if (c->depth > 0) {
		const struct node *n = &t->nodes[c->stack[c->depth - 1]];

		seterr(c->err, c->errlen, "%s:%u: unclosed section '%.*s'",
		    t->file, n->line, (int)n->len, n->s);
		return -1;
	}
	return 0;
}

int
tpl_add(struct tpl_set *set, const char *name, const char *src, size_t len,
    const char *file, char *err, size_t errlen)
{
	struct compiler c;
	struct tpl *t;
	size_t slot;

	t = xcalloc(1, sizeof(*t));
	t->file = xstrdup(file != NULL ? file : name);
	t->src = xstrndup(src, len);
	memset(&c, 0, sizeof(c));
	c.set = set;
	c.t = t;
	c.len = len;
	c.err = err;
	c.errlen = errlen;
	if (compile(&c) == -1)
		goto fail;
	/* Replacing keeps the slot, so partial tags naming it stay bound. */
	slot = slot_get(set, name, strlen(name));
	tpl_free(set->slots[slot].tpl);
	set->slots[slot].tpl = t;
	return 0;
fail:
	tpl_free(t);
	return -1;
}

static int
load_file(struct tpl_set *set, const char *dir, const char *fname,
    size_t namelen, char *err, size_t errlen)
{
	struct buf path, src;
	char chunk[8192], *name = NULL;
	FILE *fp = NULL;
	size_t n;
	int rc = -1;

	buf_init(&path);
	buf_init(&src);
	buf_printf(&path, "%s/%s", dir, fname);
	if ((fp = fopen(path.data, "r")) == NULL)
		goto ioerr;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_append(&src, chunk, n);
	if (ferror(fp))
		goto ioerr;
	name = xstrndup(fname, namelen);
	rc = tpl_add(set, name, src.data != NULL ? src.data : "", src.len,
	    path.data, err, errlen);
	goto done;
ioerr:
	seterr(err, errlen, "%s: %s", path.data, strerror(errno));
done:
	if (fp != NULL)
		fclose(fp);
	free(name);
	buf_cleanup(&src);
	buf_cleanup(&path);
	return rc;
}

int
tpl_load_dir(struct tpl_set *set, const char *dir, char *err, size_t errlen)
{
	static const char ext[] = ".mustache";
	const size_t extlen = sizeof(ext) - 1;
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if ((d = opendir(dir)) == NULL) {
		seterr(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while (rc == 0 && (errno = 0, de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		/* Hidden files (editor swap files) are skipped, as a glob would. */
		if (de->d_name[0] == '.' || len <= extlen ||
		    strcmp(de->d_name + len - extlen, ext) != 0)
			continue;
		rc = load_file(set, dir, de->d_name, len - extlen, err, errlen);
	}
	if (rc == 0 && errno != 0) {
		seterr(err, errlen, "%s: %s", dir, strerror(errno));
		rc = -1;
	}
	closedir(d);
	return rc;
}

int
tpl_set_check(const struct tpl_set *set, char *err, size_t errlen)
{
	size_t i, k;

	for (i = 0; i < set->nslots; i++) {
		const struct tpl *t = set->slots[i].tpl;

		if (t == NULL)
			continue;
		for (k = 0; k < t->nnodes; k++) {
			const struct node *n = &t->nodes[k];

			if (n->op != OP_PARTIAL || set->slots[n->slot].tpl != NULL)
				continue;
			seterr(err, errlen, "%s:%u: no template '%s' for partial",
			    t->file, n->line, set->slots[n->slot].name);
			return -1;
		}
	}
	return 0;
}

struct frame {			/* context stack, innermost first */
	const struct tpl_val	*val;
	const struct frame	*up;
};

struct indent {			/* standalone partials' indentation, innermost first */
	const char		*s;
	size_t			 len;
	const struct indent	*up;
};

struct render {
	const struct tpl_set	*set;
	struct buf		*out;
	char			*err;
	size_t			 errlen;
};

static const struct tpl_val *
map_get(const struct tpl_val *v, const struct part *p)
{
	const struct tpl_ent *e;

	if (v == NULL || v->type != T_MAP)
		return NULL;
	e = map_find(v, p->s, p->len);
	return e != NULL ? e->val : NULL;
}

/* The first part is looked up through the context stack; the rest only
 * inside what it found, so a.b never falls back to an outer b. */
static const struct tpl_val *
lookup(const struct tpl *t, const struct node *n, const struct frame *ctx)
{
	const struct part *p;
	const struct tpl_val *v = NULL;
	size_t i;

	/* {{.}} has no parts, and a template without names no parts array. */
	if (n->nname == 0)
		return ctx != NULL ? ctx->val : NULL;
	p = &t->parts[n->name];
	for (; ctx != NULL && v == NULL; ctx = ctx->up)
		v = map_get(ctx->val, p);
	for (i = 1; i < n->nname && v != NULL; i++)
		v = map_get(v, &p[i]);
	return v;
}

static int
falsy(const struct tpl_val *v)
{
	return v == NULL || v->type == T_NULL ||
	    (v->type == T_BOOL && !v->u.b) ||
	    (v->type == T_LIST && v->u.list.head == NULL);
}

static void
put_indent(struct buf *out, const struct indent *ind)
{
	if (ind == NULL)
		return;
	put_indent(out, ind->up);
	buf_append(out, ind->s, ind->len);
}

/* Inside an indented partial every line the text starts gets the indent,
 * except after a final newline: the next line may not be the partial's. */
static void
put_text(struct buf *out, const char *s, size_t len, const struct indent *ind)
{
	const char *nl, *end = s + len;

	if (ind == NULL) {
		buf_append(out, s, len);
		return;
	}
	while ((nl = memchr(s, '\n', (size_t)(end - s))) != NULL &&
	    nl + 1 < end) {
		buf_append(out, s, (size_t)(nl + 1 - s));
		put_indent(out, ind);
		s = nl + 1;
	}
	buf_append(out, s, (size_t)(end - s));
}

static void
put_val(struct buf *out, const struct tpl_val *v, int escape)
{
	char num[32];
	int n;

	if (v == NULL)
		return;
	switch (v->type) {
	case T_STR:
		if (escape)
			buf_put_html(out, v->u.str.s, v->u.str.len);
		else
			buf_append(out, v->u.str.s, v->u.str.len);
		break;
	case T_INT:
		n = snprintf(num, sizeof(num), "%lld", v->u.i);
		buf_append(out, num, (size_t)n);
		break;
	case T_BOOL:
		buf_puts(out, v->u.b ? "true" : "false");
		break;
	case T_NULL:
	case T_MAP:
	case T_LIST:
		break;
	}
}

static int render(struct render *, const struct tpl *, size_t, size_t,
    const struct frame *, const struct indent *, int);

/* Renders the content of the truthy section at node i: once per item of a
 * list, once for anything else, with the item or value as innermost context. */
static int
section(struct render *r, const struct tpl *t, size_t i,
    const struct tpl_val *v, const struct frame *ctx,
    const struct indent *ind, int depth)
{
	const struct tpl_item *it;
	struct frame f;

	f.up = ctx;
	if (v->type != T_LIST) {
		f.val = v;
		return render(r, t, i + 1, t->nodes[i].end, &f, ind, depth);
	}
	for (it = v->u.list.head; it != NULL; it = it->next) {
		f.val = it->val;
		if (render(r, t, i + 1, t->nodes[i].end, &f, ind, depth) == -1)
			return -1;
	}
	return 0;
}

static int
render(struct render *r, const struct tpl *t, size_t i, size_t end,
    const struct frame *ctx, const struct indent *ind, int depth)
{
	while (i < end) {
		const struct node *n = &t->nodes[i];
		const struct tpl_val *v;
		const struct tpl *p;
		struct indent in;

		if (n->bol && ind != NULL)
			put_indent(r->out, ind);
		switch (n->op) {
		case OP_TEXT:
			put_text(r->out, n->s, n->len, ind);
			i++;
			break;
		case OP_VAR:
		case OP_RAW:
			put_val(r->out, lookup(t, n, ctx), n->op == OP_VAR);
			i++;
			break;
		case OP_SECTION:
			v = lookup(t, n, ctx);
			if (!falsy(v) && section(r, t, i, v, ctx, ind, depth) == -1)
				return -1;
			i = n->end;
			break;
		case OP_INVERTED:
			if (falsy(lookup(t, n, ctx)) &&
			    render(r, t, i + 1, n->end, ctx, ind, depth) == -1)
				return -1;
			i = n->end;
			break;
		case OP_PARTIAL:
			/* An unknown partial renders as nothing, per the spec. */
			if ((p = r->set->slots[n->slot].tpl) != NULL) {
				if (depth == TPL_MAX_DEPTH) {
					seterr(r->err, r->errlen,
					    "%s:%u: partials nest deeper than %d",
					    t->file, n->line, TPL_MAX_DEPTH);
					return -1;
				}
				/* Only a standalone tag indents: an inline one's
				 * partial continues the line it sits on. */
				in.s = n->s;
				in.len = n->len;
				in.up = ind;
				if (render(r, p, 0, p->nnodes, ctx,
				    n->standalone ? &in : NULL, depth + 1) == -1)
					return -1;
			}
			i++;
			break;
		}
	}
	return 0;
}

int
tpl_render(const struct tpl_set *set, const char *name,
    const struct tpl_val *ctx, struct buf *out, char *err, size_t errlen)
{
	struct render r;
	struct frame top;
	const struct tpl *t;
	size_t start = out->len;
	int i;

	if ((i = slot_find(set, name, strlen(name))) < 0 ||
	    (t = set->slots[i].tpl) == NULL) {
		seterr(err, errlen, "no template '%s'", name);
		return -1;
	}
	r.set = set;
	r.out = out;
	r.err = err;
	r.errlen = errlen;
	top.val = ctx;
	top.up = NULL;
	if (render(&r, t, 0, t->nnodes, ctx != NULL ? &top : NULL, NULL,
	    0) == -1) {
		/* Half a page is no use to the caller: take it back. */
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
		return -1;
	}
	return 0;
}
