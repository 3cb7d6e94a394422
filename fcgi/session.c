/* Tokens and password hashes (see session.h). */
#include "session.h"

#include <sodium.h>
#include <string.h>

int
sess_init(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

static void
token_hash(const unsigned char tok[SESS_TOKEN_BYTES],
    char hash[SESS_HASH_HEX + 1])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, tok, SESS_TOKEN_BYTES);
	sodium_bin2hex(hash, SESS_HASH_HEX + 1, h, sizeof(h));
	sodium_memzero(h, sizeof(h));
}

void
sess_new(char cookie[SESS_COOKIE_LEN + 1], char hash[SESS_HASH_HEX + 1])
{
	unsigned char tok[SESS_TOKEN_BYTES];

	randombytes_buf(tok, sizeof(tok));
	sodium_bin2base64(cookie, SESS_COOKIE_LEN + 1, tok, sizeof(tok),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	token_hash(tok, hash);
	sodium_memzero(tok, sizeof(tok));
}

int
sess_from_cookie(const char *header, char hash[SESS_HASH_HEX + 1])
{
	const size_t nlen = sizeof(SESS_COOKIE) - 1;
	unsigned char tok[SESS_TOKEN_BYTES];
	const char *p = header, *v, *end;
	size_t got;

	while (p != NULL && *p != '\0') {
		p += strspn(p, " \t;");
		end = p + strcspn(p, ";");
		if ((size_t)(end - p) > nlen && strncmp(p, SESS_COOKIE, nlen) == 0 &&
		    p[nlen] == '=') {
			v = p + nlen + 1;
			while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
			if (end - v != SESS_COOKIE_LEN ||
			    sodium_base642bin(tok, sizeof(tok), v, SESS_COOKIE_LEN,
			    NULL, &got, NULL,
			    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
			    got != sizeof(tok))
				return -1;
			token_hash(tok, hash);
			sodium_memzero(tok, sizeof(tok));
			return 1;
		}
		p = end;
	}
	return 0;
}

int
sess_pw_hash(const char *pw, char out[SESS_PW_HASH_MAX])
{
	return crypto_pwhash_str(out, pw, strlen(pw),
	    crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0 ? 0 : -1;
}

int
sess_pw_check(const char *hash, const char *pw)
{
	return crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0;
}

int
sess_pw_check_none(const char *pw)
{
	static char dummy[SESS_PW_HASH_MAX];
	unsigned char raw[16];
	char secret[2 * sizeof(raw) + 1];

	if (dummy[0] == '\0') {
		/* A password nobody knows: the check below always fails. */
		randombytes_buf(raw, sizeof(raw));
		sodium_bin2hex(secret, sizeof(secret), raw, sizeof(raw));
		if (sess_pw_hash(secret, dummy) != 0) {
			dummy[0] = '\0';
			return 0;
		}
	}
	(void)sess_pw_check(dummy, pw);
	return 0;
}
