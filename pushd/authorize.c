/* Cookie picking and the judging of authorize answers (see authorize.h).
 * The CGI head is read line by line; only Keycast-View and Keycast-Tags
 * matter, any other header (Set-Cookie among them) is dropped unread. */
#include "authorize.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ws.h"

static int
is_ws(char c)
{
	return c == ' ' || c == '\t';
}

unsigned
az_pick_cookies(const char *hdr, size_t n, char *const *names, size_t nnames,
    struct buf *out)
{
	size_t i = 0;
	unsigned kept = 0;

	while (i < n) {
		size_t start, end, eq;

		while (i < n && (is_ws(hdr[i]) || hdr[i] == ';'))
			i++;
		start = i;
		while (i < n && hdr[i] != ';')
			i++;
		end = i;
		while (end > start && is_ws(hdr[end - 1]))
			end--;
		for (eq = start; eq < end && hdr[eq] != '='; eq++)
			;
		if (eq == end || eq == start)
			continue;
		for (size_t k = 0; k < nnames; k++) {
			if (strlen(names[k]) != eq - start ||
			    memcmp(names[k], hdr + start, eq - start) != 0)
				continue;
			if (kept++ > 0)
				buf_puts(out, "; ");
			buf_append(out, hdr + start, end - start);
			break;
		}
	}
	return kept;
}

/* 1 when s[0..n) is 1..max printable ASCII bytes without a space. */
static int
token_ok(const char *s, size_t n, size_t max)
{
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return 0;
	return 1;
}

static int
parse_tags(const char *v, size_t n, struct az_answer *a)
{
	size_t i = 0;

	while (i < n) {
		size_t start;

		while (i < n && is_ws(v[i]))
			i++;
		if (i == n)
			break;
		start = i;
		while (i < n && !is_ws(v[i]))
			i++;
		if (a->ntags == AZ_TAGS_MAX ||
		    !token_ok(v + start, i - start, AZ_TAG_MAX))
			return -1;
		memcpy(a->tags[a->ntags], v + start, i - start);
		a->tags[a->ntags][i - start] = '\0';
		a->ntags++;
	}
	return 0;
}

/* Reads the head's Keycast-View and Keycast-Tags; -1 when malformed. */
static int
parse_head(const char *h, size_t n, struct az_answer *a)
{
	int have_view = 0, have_tags = 0;
	size_t i = 0;

	while (i < n) {
		size_t start = i, end, colon;
		const char *v;
		size_t vlen;

		while (i < n && h[i] != '\n')
			i++;
		end = i;
		if (i < n)
			i++;
		if (end > start && h[end - 1] == '\r')
			end--;
		if (end == start)
			continue;
		for (colon = start; colon < end && h[colon] != ':'; colon++)
			;
		if (colon == end)
			return -1;
		v = h + colon + 1;
		vlen = end - colon - 1;
		while (vlen > 0 && is_ws(*v)) {
			v++;
			vlen--;
		}
		while (vlen > 0 && is_ws(v[vlen - 1]))
			vlen--;
		if (colon - start == 12 &&
		    strncasecmp(h + start, "Keycast-View", 12) == 0) {
			if (have_view++ || !token_ok(v, vlen, AZ_VIEW_MAX))
				return -1;
			memcpy(a->view, v, vlen);
			a->view[vlen] = '\0';
		} else if (colon - start == 12 &&
		    strncasecmp(h + start, "Keycast-Tags", 12) == 0) {
			if (have_tags++ || parse_tags(v, vlen, a) != 0)
				return -1;
		}
	}
	return have_view ? 0 : -1;
}

/* The body's first line, printable ASCII only, as the close reason. */
static void
first_line(const char *b, size_t n, char *out)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k < AZ_REASON_MAX; i++) {
		if (b[i] == '\r' || b[i] == '\n')
			break;
		out[k++] = b[i] >= 0x20 && b[i] < 0x7f ? b[i] : '?';
	}
	out[k] = '\0';
}

void
az_judge(int status, const char *head, size_t head_len, const char *body,
    size_t body_len, struct az_answer *a)
{
	memset(a, 0, sizeof(*a));
	a->code = WS_CLOSE_INTERNAL;
	if (status == -1) {
		a->verdict = AZ_NO_ANSWER;
		snprintf(a->reason, sizeof(a->reason), "the app did not answer");
		return;
	}
	if (status == 401 || status == 403 || status == 404) {
		a->verdict = AZ_DENY;
		a->code = (uint16_t)(4000 + status);
		first_line(body, body_len, a->reason);
		if (a->reason[0] == '\0')
			snprintf(a->reason, sizeof(a->reason), "%s",
			    status == 401 ? "sign in" : status == 403 ?
			    "forbidden" : "not found");
		return;
	}
	if (status == 200 && parse_head(head, head_len, a) == 0) {
		a->verdict = AZ_OK;
		return;
	}
	a->verdict = AZ_ERROR;
	a->ntags = 0;
	a->view[0] = '\0';
	if (status == 200)
		snprintf(a->reason, sizeof(a->reason),
		    "malformed authorize answer from the app");
	else
		snprintf(a->reason, sizeof(a->reason),
		    "the app answered %d to authorize", status);
}
