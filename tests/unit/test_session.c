/* fcgi/session.c: the kc_session cookie found in a Cookie header, its
 * SHA-256 (the stored hash and the session:<hash> tag), new tokens, and
 * Argon2id password hashes. */
#include "fcgi/session.h"
#include "tap.h"

#include <string.h>

/* 32 bytes 0x00..0x1f in base64url, and SHA-256 of those bytes. */
#define TOK	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
#define TOKHASH	"630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd"

static void
test_cookie(void)
{
	char hash[SESS_HASH_HEX + 1];

	ok(sess_from_cookie(NULL, hash) == 0, "no Cookie header: no session");
	ok(sess_from_cookie("theme=dark", hash) == 0, "other cookies only: none");
	ok(sess_from_cookie("xkc_session=" TOK, hash) == 0,
	    "a name that merely ends in kc_session is not it");
	ok(sess_from_cookie("kc_session=" TOK, hash) == 1, "alone");
	is_str(hash, TOKHASH, "SHA-256 of the 32 decoded bytes, lower-case hex");
	memset(hash, 0, sizeof(hash));
	ok(sess_from_cookie("a=1; kc_session=" TOK "; b=2", hash) == 1 &&
	    strcmp(hash, TOKHASH) == 0, "among others");
	ok(sess_from_cookie("a=1;kc_session=" TOK " ", hash) == 1 &&
	    strcmp(hash, TOKHASH) == 0, "without a space, trailing blank");
	ok(sess_from_cookie("kc_session=", hash) == -1, "empty: not a token");
	ok(sess_from_cookie("kc_session=" TOK "A", hash) == -1, "too long");
	ok(sess_from_cookie("kc_session=" TOK "=", hash) == -1, "padded");
	ok(sess_from_cookie("kc_session=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+",
	    hash) == -1, "standard base64 (+) is not base64url");
}

static void
test_new(void)
{
	char c1[SESS_COOKIE_LEN + 1], h1[SESS_HASH_HEX + 1];
	char c2[SESS_COOKIE_LEN + 1], h2[SESS_HASH_HEX + 1];
	char again[SESS_HASH_HEX + 1], header[64];

	sess_new(c1, h1);
	sess_new(c2, h2);
	ok(strlen(c1) == SESS_COOKIE_LEN && strlen(h1) == SESS_HASH_HEX,
	    "a 43-character token and a 64-character hash");
	ok(strcmp(c1, c2) != 0 && strcmp(h1, h2) != 0, "two tokens differ");
	snprintf(header, sizeof(header), "kc_session=%s", c1);
	ok(sess_from_cookie(header, again) == 1 && strcmp(again, h1) == 0,
	    "the cookie sent back hashes to the stored hash");
}

static void
test_password(void)
{
	char h[SESS_PW_HASH_MAX];

	ok(sess_pw_hash("correct horse", h) == 0, "hashed");
	ok(strncmp(h, "$argon2id$", 10) == 0, "Argon2id: %.20s", h);
	ok(sess_pw_check(h, "correct horse"), "the password matches");
	ok(!sess_pw_check(h, "correct horsE"), "another does not");
	ok(!sess_pw_check("garbage", "correct horse"), "a malformed hash never matches");
}

int
main(void)
{
	ok(sess_init() == 0, "libsodium starts");
	test_cookie();
	test_new();
	test_password();
	return tap_done();
}
