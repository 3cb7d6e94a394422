/* pushd/authorize.c: which cookies go to the app, and what its authorize
 * answers mean (docs/protocol.md, section 4). */
#include <string.h>

#include "pushd/authorize.h"
#include "buf.h"
#include "tap.h"

static const char *
pick(const char *hdr, char *const *names, size_t n)
{
	static char out[256];
	struct buf b;

	buf_init(&b);
	az_pick_cookies(hdr, strlen(hdr), names, n, &b);
	snprintf(out, sizeof(out), "%.*s", (int)b.len, b.len ? b.data : "");
	buf_cleanup(&b);
	return out;
}

static void
test_cookies(void)
{
	char *one[] = { "kc_session" };
	char *two[] = { "kc_session", "lang" };

	is_str(pick("a=1; kc_session=abc; b=2", one, 1), "kc_session=abc",
	    "only the named cookie");
	is_str(pick("kc_session=abc;lang=fr ; x=kc_session=1", two, 2),
	    "kc_session=abc; lang=fr", "two names, header order, trimmed");
	is_str(pick("kc_sessionx=1; xkc_session=2; kc_session", one, 1), "",
	    "prefixes, suffixes and a bare name never match");
	is_str(pick("", one, 1), "", "no cookie");
}

static void
judge(int status, const char *resp, struct az_answer *a)
{
	const char *sep = strstr(resp, "\r\n\r\n");
	size_t hl = sep != NULL ? (size_t)(sep - resp) + 4 : strlen(resp);

	az_judge(status, resp, hl, resp + hl, strlen(resp + hl), a);
}

static void
test_answers(void)
{
	struct az_answer a;
	char big[300];

	judge(200, "Status: 200\r\nSet-Cookie: kc_session=x\r\n"
	    "keycast-view: moderator\r\nKeycast-Tags:  session:3f9a  user:42 "
	    "\r\n\r\n", &a);
	ok(a.verdict == AZ_OK, "200 with a view is ok");
	is_str(a.view, "moderator", "the view");
	ok(a.ntags == 2, "two tags (%u)", a.ntags);
	is_str(a.tags[1], "user:42", "the second tag");

	judge(200, "Keycast-View: anon\r\n\r\n", &a);
	ok(a.verdict == AZ_OK && a.ntags == 0, "no Keycast-Tags: no tags");

	judge(200, "Content-Type: text/html\r\n\r\n<p>page</p>", &a);
	ok(a.verdict == AZ_ERROR && a.code == 1011,
	    "200 without a view is malformed: 1011");
	judge(200, "Keycast-View: two words\r\n\r\n", &a);
	ok(a.verdict == AZ_ERROR, "a view with a space is malformed");
	memset(big, 'v', sizeof(big));
	memcpy(big, "Keycast-View: ", 14);
	strcpy(big + 14 + 65, "\r\n\r\n");
	judge(200, big, &a);
	ok(a.verdict == AZ_ERROR, "a view of 65 bytes is malformed");

	judge(401, "Status: 401\r\n\r\nsign in to see this room\nmore", &a);
	ok(a.verdict == AZ_DENY && a.code == 4401, "401 -> 4401");
	is_str(a.reason, "sign in to see this room", "the body's first line");
	judge(403, "Status: 403\r\n\r\nnot a member", &a);
	ok(a.verdict == AZ_DENY && a.code == 4403, "403 -> 4403");
	judge(404, "Status: 404\r\n\r\n", &a);
	ok(a.verdict == AZ_DENY && a.code == 4404 && a.reason[0] != '\0',
	    "404 -> 4404 with a reason even without a body");
	judge(500, "Status: 500\r\n\r\noops", &a);
	ok(a.verdict == AZ_ERROR && a.code == 1011, "500 -> 1011");
	judge(302, "Status: 302\r\nLocation: /\r\n\r\n", &a);
	ok(a.verdict == AZ_ERROR, "any other status -> 1011");
	az_judge(-1, NULL, 0, NULL, 0, &a);
	ok(a.verdict == AZ_NO_ANSWER, "no answer");
}

int
main(void)
{
	test_cookies();
	test_answers();
	return tap_done();
}
