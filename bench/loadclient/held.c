/* Decoding a client's data frames into the fragment it holds (held.h).
 * Invariant: a fragment in the memo or held by a client has been checked
 * (its version is its content's FNV-1a); nothing unchecked is shared. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "deflate.h"
#include "diff.h"
#include "held.h"
#include "xmalloc.h"

#define HELD_MEMO	16		/* a round's F, D and deflated forms */
#define HELD_OUT_MAX	(16u << 20)	/* bytes an inflate or diff may make */

struct held_entry {
	char			*bytes;		/* owned: the frame's payload */
	size_t			 n;
	int			 rsv1, index, kind;
	struct held_frag	*base;		/* NULL: any (v1, F) */
	struct held_frag	*result;
};

struct held_memo {
	struct held_entry	e[HELD_MEMO];
	int			next;		/* the next to replace */
};

struct held_memo *
held_memo_new(void)
{
	return xcalloc(1, sizeof(struct held_memo));
}

static void
entry_clear(struct held_entry *e)
{
	free(e->bytes);
	held_unref(e->base);
	held_unref(e->result);
	memset(e, 0, sizeof(*e));
}

void
held_memo_free(struct held_memo *m)
{
	if (m == NULL)
		return;
	for (int i = 0; i < HELD_MEMO; i++)
		entry_clear(&m->e[i]);
	free(m);
}

struct held_frag *
held_ref(struct held_frag *f)
{
	f->refs++;
	return f;
}

void
held_unref(struct held_frag *f)
{
	if (f != NULL && --f->refs == 0)
		free(f);
}

static struct held_frag *
frag_new(const char *s, size_t n, uint32_t version)
{
	struct held_frag *f = xmalloc(sizeof(*f) + n + 1);

	memset(f, 0, sizeof(*f));
	f->refs = 1;
	f->version = version;
	f->tok_round = -1;
	f->len = n;
	memcpy(f->data, s, n);
	f->data[n] = 0;
	return f;
}

/* 8 lowercase hex digits. */
static int
parse_version(const char *s, size_t n, uint32_t *v)
{
	*v = 0;
	if (n != 8)
		return -1;
	for (size_t i = 0; i < 8; i++) {
		char c = s[i];

		if (c >= '0' && c <= '9')
			*v = *v << 4 | (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v = *v << 4 | (uint32_t)(c - 'a' + 10);
		else
			return -1;
	}
	return 0;
}

/* Splits the header "F ver key url" or "D base ver key url" at single
 * spaces into at most 5 fields; returns their number. */
static int
split_header(const char *h, size_t n, const char **f, size_t *fl)
{
	int k = 0;
	size_t start = 0;

	for (size_t i = 0; i <= n && k < 5; i++) {
		if (i == n || h[i] == ' ') {
			f[k] = h + start;
			fl[k++] = i - start;
			start = i + 1;
		}
	}
	return start <= n ? 6 : k;	/* 6: more than five fields */
}

static int
same(const char *s, size_t n, const char *want)
{
	return strlen(want) == n && memcmp(s, want, n) == 0;
}

static int __attribute__((format(printf, 3, 4)))
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Decodes text (inflated already) for a client holding have; returns the
 * new fragment (one reference) or NULL with err set. */
static struct held_frag *
decode(const struct held_root *r, int v2, int rsv1, const char *text,
    size_t n, const struct held_frag *have, int *kind, char *err,
    size_t errlen)
{
	const char *nl, *f[5], *body;
	size_t fl[5], blen;
	uint32_t base = 0, version;
	struct held_frag *res = NULL;
	struct buf out;
	int nf, ki;

	if (!v2) {
		*kind = HELD_V1;
		return frag_new(text, n, diff_version(text, n));
	}
	if ((nl = memchr(text, '\n', n)) == NULL) {
		fail(err, errlen, "v2 frame without a header line");
		return NULL;
	}
	body = nl + 1;
	blen = n - (size_t)(body - text);
	nf = split_header(text, (size_t)(nl - text), f, fl);
	if (nf == 4 && same(f[0], fl[0], "F")) {
		*kind = rsv1 ? HELD_FZ : HELD_F;
		ki = 2;
		if (parse_version(f[1], fl[1], &version) != 0)
			goto bad_header;
	} else if (nf == 5 && same(f[0], fl[0], "D")) {
		*kind = rsv1 ? HELD_DZ : HELD_D;
		ki = 3;
		if (parse_version(f[1], fl[1], &base) != 0 ||
		    parse_version(f[2], fl[2], &version) != 0)
			goto bad_header;
	} else {
		goto bad_header;
	}
	if (!same(f[ki], fl[ki], r->key) || !same(f[ki + 1], fl[ki + 1], r->url)) {
		fail(err, errlen, "frame for another root: %.*s",
		    (int)(nl - text < 200 ? nl - text : 200), text);
		return NULL;
	}
	if (*kind == HELD_F || *kind == HELD_FZ) {
		if (diff_version(body, blen) != version) {
			fail(err, errlen, "%sF frame: content is not its "
			    "version %08x (hashes to %08x)", rsv1 ? "deflated " :
			    "", version, diff_version(body, blen));
			return NULL;
		}
		return frag_new(body, blen, version);
	}
	if (have == NULL || have->version != base) {
		fail(err, errlen, "%sD frame on base %08x; the client holds %08x",
		    rsv1 ? "deflated " : "", base, have ? have->version : 0);
		return NULL;
	}
	buf_init(&out);
	if (diff_apply(have->data, have->len, body, blen, HELD_OUT_MAX,
	    &out) != DIFF_OK)
		fail(err, errlen, "%sD frame: malformed ops (base %08x, "
		    "version %08x)", rsv1 ? "deflated " : "", base, version);
	else if (diff_version(out.data ? out.data : "", out.len) != version)
		fail(err, errlen, "%sD frame: the result is not version %08x "
		    "(hashes to %08x)", rsv1 ? "deflated " : "", version,
		    diff_version(out.data ? out.data : "", out.len));
	else
		res = frag_new(out.data ? out.data : "", out.len, version);
	buf_cleanup(&out);
	return res;

bad_header:
	fail(err, errlen, "bad v2 header: %.*s",
	    (int)(nl - text < 80 ? nl - text : 80), text);
	return NULL;
}

int
held_frame(struct held_memo *m, const struct held_root *r, int v2, int rsv1,
    const char *p, size_t n, struct held_frag **have, int *kind, char *err,
    size_t errlen)
{
	struct held_frag *res;
	struct held_entry *e;
	struct buf in;

	for (int i = 0; i < HELD_MEMO; i++) {
		e = &m->e[i];
		if (e->result != NULL && e->n == n && e->rsv1 == rsv1 &&
		    e->index == r->index &&
		    (e->base == NULL || e->base == *have) &&
		    memcmp(e->bytes, p, n) == 0) {
			*kind = e->kind;
			held_unref(*have);
			*have = held_ref(e->result);
			return 0;
		}
	}
	*kind = rsv1 ? HELD_FZ : v2 ? HELD_F : HELD_V1;
	buf_init(&in);
	if (rsv1 && deflate_inflate(p, n, HELD_OUT_MAX, &in) != 0) {
		buf_cleanup(&in);
		return fail(err, errlen, "RSV1 frame that does not inflate "
		    "(%zu bytes)", n);
	}
	res = rsv1 ? decode(r, v2, rsv1, in.data ? in.data : "", in.len,
	    *have, kind, err, errlen) :
	    decode(r, v2, rsv1, p, n, *have, kind, err, errlen);
	buf_cleanup(&in);
	if (res == NULL)
		return -1;
	e = &m->e[m->next];
	m->next = (m->next + 1) % HELD_MEMO;
	entry_clear(e);
	e->bytes = xmalloc(n ? n : 1);
	memcpy(e->bytes, p, n);
	e->n = n;
	e->rsv1 = rsv1;
	e->index = r->index;
	e->kind = *kind;
	e->base = *kind == HELD_D || *kind == HELD_DZ ? held_ref(*have) : NULL;
	e->result = held_ref(res);
	held_unref(*have);
	*have = res;
	return 0;
}

int64_t
held_value(struct held_frag *f, const char *marker)
{
	const char *m;
	int64_t v = 0;
	int neg = 0, any = 0;

	if (f->value_known)
		return f->value;
	f->value_known = 1;
	f->value = -1;
	if ((m = strstr(f->data, marker)) == NULL)
		return -1;
	m += strlen(marker);
	if (*m == '-') {
		neg = 1;
		m++;
	}
	for (; *m >= '0' && *m <= '9'; m++) {
		v = v * 10 + (*m - '0');
		any = 1;
	}
	if (any)
		f->value = neg ? -v : v;
	return f->value;
}

int
held_has(struct held_frag *f, int64_t round, const char *token)
{
	if (f->tok_round != round) {
		f->tok_round = round;
		f->tok_hit = strstr(f->data, token) != NULL;
	}
	return f->tok_hit;
}
