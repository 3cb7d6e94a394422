/* Session tokens and password hashes, through libsodium. A token is 32
 * random bytes sent as the cookie kc_session (base64url, no padding); the
 * database keeps only SHA-256 of the 32 bytes, in hex, which is also the
 * session:<hex> revocation tag. Passwords are hashed with Argon2id
 * (crypto_pwhash_str). Nothing here logs a token or a password. */
#ifndef KC_SESSION_H
#define KC_SESSION_H
#include <stddef.h>

#define SESS_COOKIE		"kc_session"
#define SESS_TOKEN_BYTES	32
#define SESS_COOKIE_LEN		43	/* base64url of 32 bytes, no padding */
#define SESS_HASH_HEX		64
#define SESS_PW_HASH_MAX	128	/* crypto_pwhash_STRBYTES */

/* Once per process that uses the functions below: -1 when libsodium
 * cannot start (no entropy source). */
int	sess_init(void);
/* A new token: cookie gets its base64url form, hash its SHA-256 hex. */
void	sess_new(char cookie[SESS_COOKIE_LEN + 1], char hash[SESS_HASH_HEX + 1]);
/* Finds kc_session in a Cookie header (NULL: none). Returns 1 with hash
 * filled when it holds a well-formed token, 0 when there is no such
 * cookie, -1 when there is one that cannot be a token. */
int	sess_from_cookie(const char *header, char hash[SESS_HASH_HEX + 1]);
/* Argon2id hash of pw into out; -1 when out of memory. */
int	sess_pw_hash(const char *pw, char out[SESS_PW_HASH_MAX]);
/* 1 when pw matches hash, else 0. */
int	sess_pw_check(const char *hash, const char *pw);
/* For a name with no account: costs what sess_pw_check costs (a check
 * against a hash made once per process) and returns 0, so a failed
 * sign-in takes as long whether or not the name exists. */
int	sess_pw_check_none(const char *pw);

#endif
