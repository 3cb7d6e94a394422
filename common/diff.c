/* Fragment diffs (see diff.h): Myers' O(ND) diff over units, in its
 * linear-space form (the "middle snake" bisection of Myers 1986, section
 * 4b), after trimming the common prefix and suffix. Linear space because
 * --diff-max-edits goes up to 100000: keeping every round's V vector (the
 * greedy form) costs O(D^2) memory, 40 GB at that bound, whereas the
 * bisection needs two vectors of O(min(N+M, max_edits)) entries whatever D.
 * Work is O((N+M) D) and stops as soon as D is known to exceed max_edits.
 * Invariant: the ops of diff_encode always leave the cursor exactly at the
 * end of a's units; diff_apply accepts nothing else. */
#include "diff.h"

#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

#define FNV_OFFSET	2166136261u
#define FNV_PRIME	16777619u

uint32_t
diff_version(const void *s, size_t n)
{
	const unsigned char *p = s;
	uint32_t h = FNV_OFFSET;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= FNV_PRIME;
	}
	return h;
}

/* The end (exclusive) of the unit starting at i < n. */
static size_t
unit_end(const char *s, size_t n, size_t i)
{
	for (; i < n; i++)
		if (s[i] == '>' || s[i] == '\n')
			return i + 1;
	return n;
}

struct unit {
	size_t		off, len;	/* bytes of the fragment */
	uint32_t	hash;		/* FNV-1a of them: a cheap first test */
};

/* Splits s into *units (owned by the caller, NULL for zero units).
 * Returns the count, or -1 if there are more than max. */
static long
units_split(const char *s, size_t n, size_t max, struct unit **units)
{
	size_t count = 0, i;
	struct unit *u;

	*units = NULL;
	for (i = 0; i < n; i = unit_end(s, n, i))
		if (++count > max)
			return -1;
	if (count == 0)
		return 0;
	u = xmalloc(count * sizeof(*u));
	count = 0;
	for (i = 0; i < n; count++) {
		size_t e = unit_end(s, n, i);

		u[count].off = i;
		u[count].len = e - i;
		u[count].hash = diff_version(s + i, e - i);
		i = e;
	}
	*units = u;
	return (long)count;
}

/* One diff's working state. Units of a are marked deleted in del, units of
 * b inserted in ins; the unmarked ones are the common subsequence. */
struct myers {
	const char	*a, *b;
	struct unit	*ua, *ub;
	char		*del, *ins;	/* owned, one per unit */
	long		*v1, *v2;	/* owned: forward and reverse V vectors */
	long		 vmax;		/* half the length of v1, v2 */
	long		 dmax;		/* bisection rounds allowed: D <= 2 dmax */
	unsigned long	 edits;		/* units marked so far */
	unsigned long	 max_edits;
};

static int
same(const struct myers *m, long i, long j)
{
	const struct unit *x = &m->ua[i], *y = &m->ub[j];

	return x->hash == y->hash && x->len == y->len &&
	    memcmp(m->a + x->off, m->b + y->off, x->len) == 0;
}

/* Finds a point (*sx, *sy) on an optimal path from (a0, b0) to (a1, b1)
 * that splits it into two strictly smaller problems (the end of the middle
 * snake). The ranges share no first or last unit (trimmed by the caller)
 * and neither is empty. Returns 0, or -1 when D > 2 * dmax. */
static int
bisect(struct myers *m, long a0, long a1, long b0, long b1, long *sx,
    long *sy)
{
	long n = a1 - a0, mm = b1 - b0, delta = n - mm;
	long dlim = (n + mm + 1) / 2, off = m->vmax;
	int front = (delta & 1) != 0;
	long k1start = 0, k1end = 0, k2start = 0, k2end = 0;

	long reach;

	if (dlim > m->dmax)
		dlim = m->dmax;
	/* Clear only what this call can read: diagonals within dlim + 1 of
	 * its own and of the other direction's (shifted by delta), so a small
	 * subproblem costs its size, not the vectors'. */
	reach = dlim + (delta < 0 ? -delta : delta) + 2;
	for (long i = off - reach; i <= off + reach; i++)
		if (i >= 0 && i < 2 * m->vmax)
			m->v1[i] = m->v2[i] = -1;
	m->v1[off + 1] = m->v2[off + 1] = 0;
	for (long d = 0; d <= dlim; d++) {
		for (long k = -d + k1start; k <= d - k1end; k += 2) {
			long x, y, ko = off + k;

			if (k == -d || (k != d && m->v1[ko - 1] < m->v1[ko + 1]))
				x = m->v1[ko + 1];
			else
				x = m->v1[ko - 1] + 1;
			y = x - k;
			while (x < n && y < mm && same(m, a0 + x, b0 + y)) {
				x++;
				y++;
			}
			m->v1[ko] = x;
			if (x > n) {
				k1end += 2;
			} else if (y > mm) {
				k1start += 2;
			} else if (front) {
				long k2o = off + delta - k;

				if (k2o >= 0 && k2o < 2 * m->vmax &&
				    m->v2[k2o] != -1 && x >= n - m->v2[k2o]) {
					*sx = a0 + x;
					*sy = b0 + y;
					return 0;
				}
			}
		}
		for (long k = -d + k2start; k <= d - k2end; k += 2) {
			long x, y, ko = off + k;

			if (k == -d || (k != d && m->v2[ko - 1] < m->v2[ko + 1]))
				x = m->v2[ko + 1];
			else
				x = m->v2[ko - 1] + 1;
			y = x - k;
			while (x < n && y < mm &&
			    same(m, a1 - x - 1, b1 - y - 1)) {
				x++;
				y++;
			}
			m->v2[ko] = x;
			if (x > n) {
				k2end += 2;
			} else if (y > mm) {
				k2start += 2;
			} else if (!front) {
				long k1o = off + delta - k;

				if (k1o >= 0 && k1o < 2 * m->vmax &&
				    m->v1[k1o] != -1) {
					long fx = m->v1[k1o];

					if (fx >= n - x) {
						*sx = a0 + fx;
						*sy = b0 + fx - (k1o - off);
						return 0;
					}
				}
			}
		}
	}
	return -1;
}

/* Marks the edits turning a[a0, a1) into b[b0, b1). Returns 0, or -1 when
 * the bound was hit. Recursion depth is O(log D): each bisection halves D. */
static int
myers_range(struct myers *m, long a0, long a1, long b0, long b1)
{
	long sx, sy;

	while (a0 < a1 && b0 < b1 && same(m, a0, b0)) {
		a0++;
		b0++;
	}
	while (a0 < a1 && b0 < b1 && same(m, a1 - 1, b1 - 1)) {
		a1--;
		b1--;
	}
	if (a0 == a1 || b0 == b1) {
		m->edits += (unsigned long)(a1 - a0 + b1 - b0);
		if (m->edits > m->max_edits)
			return -1;
		memset(m->del + a0, 1, (size_t)(a1 - a0));
		memset(m->ins + b0, 1, (size_t)(b1 - b0));
		return 0;
	}
	if (bisect(m, a0, a1, b0, b1, &sx, &sy) < 0)
		return -1;
	if (myers_range(m, a0, sx, b0, sy) < 0)
		return -1;
	return myers_range(m, sx, a1, sy, b1);
}

/* JSON string of s (section 2's escaping). */
static void
put_json_string(struct buf *out, const char *s, size_t n)
{
	size_t run = 0;

	buf_putc(out, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		buf_append(out, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': buf_puts(out, "\\\""); break;
		case '\\': buf_puts(out, "\\\\"); break;
		case '\n': buf_puts(out, "\\n"); break;
		case '\t': buf_puts(out, "\\t"); break;
		case '\r': buf_puts(out, "\\r"); break;
		default: buf_printf(out, "\\u%04x", c); break;
		}
	}
	buf_append(out, s + run, n - run);
	buf_putc(out, '"');
}

/* Appends one op: n > 0 copy, n < 0 skip. */
static void
put_count(struct buf *out, long n)
{
	buf_printf(out, "%s%ld", out->data[out->len - 1] == '[' ? "" : ",", n);
}

/* Writes the ops from the marks, giving up (-1) once they reach limit
 * bytes past start. Per gap between copies: the skip, then the insert. */
static int
put_ops(const struct myers *m, long na, long nb, struct buf *out,
    size_t start, size_t limit)
{
	long i = 0, j = 0;

	buf_putc(out, '[');
	while (i < na || j < nb) {
		long i0 = i, j0;

		while (i < na && !m->del[i] && j < nb && !m->ins[j]) {
			i++;
			j++;
		}
		if (i > i0)
			put_count(out, i - i0);
		i0 = i;
		j0 = j;
		while (i < na && m->del[i])
			i++;
		if (i > i0)
			put_count(out, -(i - i0));
		while (j < nb && m->ins[j])
			j++;
		if (j > j0) {
			size_t from = m->ub[j0].off;
			size_t to = m->ub[j - 1].off + m->ub[j - 1].len;

			if (out->data[out->len - 1] != '[')
				buf_putc(out, ',');
			put_json_string(out, m->b + from, to - from);
		}
		if (out->len - start >= limit)
			return -1;
	}
	buf_putc(out, ']');
	return out->len - start >= limit ? -1 : 0;
}

int
diff_encode(const char *a, size_t alen, const char *b, size_t blen,
    const struct diff_limits *lim, struct buf *out)
{
	struct myers m = { .a = a, .b = b, .max_edits = lim->max_edits };
	size_t start = out->len;
	long na, nb;
	int rc = DIFF_TOO_COSTLY;

	na = units_split(a, alen, lim->max_units, &m.ua);
	nb = units_split(b, blen, lim->max_units, &m.ub);
	if (na < 0 || nb < 0)
		goto done;
	m.del = xcalloc((size_t)na + 1, 1);
	m.ins = xcalloc((size_t)nb + 1, 1);
	/* Round d of the bisection is reached only when D >= 2d - 1. */
	m.dmax = ((long)lim->max_edits + 1) / 2;
	m.vmax = (na + nb + 1) / 2 + 2;
	if (m.vmax > m.dmax + 2)
		m.vmax = m.dmax + 2;
	m.v1 = xmalloc(2 * (size_t)m.vmax * sizeof(*m.v1));
	m.v2 = xmalloc(2 * (size_t)m.vmax * sizeof(*m.v2));
	if (myers_range(&m, 0, na, 0, nb) < 0)
		goto done;
	rc = put_ops(&m, na, nb, out, start, blen) < 0 ? DIFF_NOT_SMALLER :
	    DIFF_OK;
done:
	if (rc != DIFF_OK) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
	}
	free(m.ua);
	free(m.ub);
	free(m.del);
	free(m.ins);
	free(m.v1);
	free(m.v2);
	return rc;
}

/* diff_apply's reader: a cursor over the ops' bytes. */
struct rd {
	const char	*p, *end;
};

static void
rd_space(struct rd *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' ||
	    *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

/* A JSON integer without fraction or exponent, not 0, into *n. */
static int
rd_int(struct rd *r, long *n)
{
	int neg = 0;
	unsigned long v = 0;

	if (r->p < r->end && *r->p == '-') {
		neg = 1;
		r->p++;
	}
	if (r->p == r->end || *r->p < '1' || *r->p > '9')
		return -1;
	while (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
		v = v * 10 + (unsigned long)(*r->p++ - '0');
		if (v > 0x7fffffffUL)	/* more units than any fragment */
			return -1;
	}
	if (r->p < r->end && (*r->p == '.' || *r->p == 'e' || *r->p == 'E'))
		return -1;
	*n = neg ? -(long)v : (long)v;
	return 0;
}

static int
hex4(const char *p, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	return 0;
}

/* The escape after a backslash at r->p as UTF-8 into u; returns its byte
 * count or -1. Lone surrogates are refused: they have no UTF-8. */
static int
rd_escape(struct rd *r, char u[4])
{
	unsigned cp, lo;

	if (r->p == r->end)
		return -1;
	switch (*r->p++) {
	case '"': u[0] = '"'; return 1;
	case '\\': u[0] = '\\'; return 1;
	case '/': u[0] = '/'; return 1;
	case 'b': u[0] = '\b'; return 1;
	case 'f': u[0] = '\f'; return 1;
	case 'n': u[0] = '\n'; return 1;
	case 'r': u[0] = '\r'; return 1;
	case 't': u[0] = '\t'; return 1;
	case 'u': break;
	default: return -1;
	}
	if (r->end - r->p < 4 || hex4(r->p, &cp) < 0)
		return -1;
	r->p += 4;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return -1;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' ||
		    hex4(r->p + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
			return -1;
		r->p += 6;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (cp < 0x80) {
		u[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	u[0] = (char)(0xf0 | cp >> 18);
	u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	u[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Appends the JSON string at r->p (its opening quote) to out, keeping
 * out's growth within *room. */
static int
rd_string(struct rd *r, struct buf *out, size_t *room)
{
	r->p++;
	for (;;) {
		const char *run = r->p;
		char u[4];
		int n;

		while (r->p < r->end && *r->p != '"' && *r->p != '\\' &&
		    (unsigned char)*r->p >= 0x20)
			r->p++;
		if ((size_t)(r->p - run) > *room)
			return -1;
		buf_append(out, run, (size_t)(r->p - run));
		*room -= (size_t)(r->p - run);
		if (r->p == r->end || (unsigned char)*r->p < 0x20)
			return -1;
		if (*r->p++ == '"')
			return 0;
		if ((n = rd_escape(r, u)) < 0 || (size_t)n > *room)
			return -1;
		buf_append(out, u, (size_t)n);
		*room -= (size_t)n;
	}
}

/* Applies one copy (n > 0) or skip (n < 0) at *pos. */
static int
apply_count(const char *a, size_t alen, long n, size_t *pos, struct buf *out,
    size_t *room)
{
	size_t from = *pos;

	for (long k = n < 0 ? -n : n; k > 0; k--) {
		if (*pos == alen)
			return -1;
		*pos = unit_end(a, alen, *pos);
	}
	if (n < 0)
		return 0;
	if (*pos - from > *room)
		return -1;
	buf_append(out, a + from, *pos - from);
	*room -= *pos - from;
	return 0;
}

int
diff_apply(const char *a, size_t alen, const char *ops, size_t olen,
    size_t max_out, struct buf *out)
{
	struct rd r = { ops, ops + olen };
	size_t start = out->len, room = max_out, pos = 0;

	rd_space(&r);
	if (r.p == r.end || *r.p++ != '[')
		goto fail;
	rd_space(&r);
	if (r.p < r.end && *r.p == ']')
		r.p++;
	else
		for (;;) {
			long n;

			rd_space(&r);
			if (r.p < r.end && *r.p == '"') {
				if (rd_string(&r, out, &room) < 0)
					goto fail;
			} else if (rd_int(&r, &n) < 0 ||
			    apply_count(a, alen, n, &pos, out, &room) < 0) {
				goto fail;
			}
			rd_space(&r);
			if (r.p == r.end)
				goto fail;
			if (*r.p == ']') {
				r.p++;
				break;
			}
			if (*r.p++ != ',')
				goto fail;
		}
	rd_space(&r);
	if (r.p != r.end || pos != alen)
		goto fail;
	return DIFF_OK;
fail:
	out->len = start;
	if (out->data != NULL)
		out->data[start] = '\0';
	return DIFF_MALFORMED;
}
