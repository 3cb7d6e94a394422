/* common/text.c: keys, urls, UTF-8 and percent-decoding. */
#include <string.h>

#include "tap.h"
#include "text.h"

static int
key_ok(const char *s)
{
	return key_valid(s, strlen(s));
}

static int
url_ok(const char *s)
{
	return url_valid(s, strlen(s));
}

static int
utf8_ok(const char *s)
{
	return utf8_valid(s, strlen(s));
}

int
main(void)
{
	char big[KEY_MAX + 2], dst[64];
	char longurl[URL_MAX + 2];

	ok(key_ok("/counter"), "key /counter");
	ok(key_ok("/chat/lobby"), "key /chat/lobby");
	ok(key_ok("global"), "key global");
	ok(!key_ok(""), "empty key refused");
	ok(!key_ok("a b"), "key with space refused");
	ok(!key_ok("a\tb"), "key with tab refused");
	ok(!key_ok("caf\xc3\xa9"), "non-ASCII key refused");
	ok(!key_ok("a\x7f"), "DEL in key refused");
	memset(big, 'k', KEY_MAX);
	big[KEY_MAX] = '\0';
	ok(key_ok(big), "256-byte key accepted");
	big[KEY_MAX] = 'k';
	big[KEY_MAX + 1] = '\0';
	ok(!key_ok(big), "257-byte key refused");
	ok(!key_valid("a\0b", 3), "NUL in key refused");

	ok(url_ok("/counter"), "url /counter");
	ok(url_ok("/chat/lobby?x=1&y=%20"), "url with query");
	ok(!url_ok("counter"), "relative url refused");
	ok(!url_ok("//evil.example/x"), "scheme-relative url refused");
	ok(!url_ok("http://evil.example/"), "absolute url refused");
	ok(!url_ok("/a b"), "url with space refused");
	ok(!url_ok("/a#frag"), "url with fragment refused");
	memset(longurl, 'u', sizeof(longurl));
	longurl[0] = '/';
	longurl[URL_MAX] = '\0';
	ok(url_ok(longurl), "1 KiB url accepted");
	longurl[URL_MAX] = 'u';
	longurl[URL_MAX + 1] = '\0';
	ok(!url_ok(longurl), "url over 1 KiB refused");

	ok(utf8_ok("plain ascii"), "ASCII is UTF-8");
	ok(utf8_ok("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "2, 3 and 4-byte sequences");
	ok(!utf8_ok("\xff"), "0xff refused");
	ok(!utf8_ok("\xc3"), "truncated sequence refused");
	ok(!utf8_ok("\xc0\xaf"), "overlong '/' refused");
	ok(!utf8_ok("\xe0\x80\xaf"), "3-byte overlong refused");
	ok(!utf8_ok("\xed\xa0\x80"), "surrogate U+D800 refused");
	ok(!utf8_ok("\xf4\x90\x80\x80"), "code point above U+10FFFF refused");
	ok(!utf8_ok("\xe2\x28\xa1"), "bad continuation refused");
	ok(utf8_len("caf\xc3\xa9", 5) == 4, "utf8_len counts code points");

	ok(pct_decode(dst, "a%20b+c", 7, 1) == 5 && strcmp(dst, "a b c") == 0,
	    "percent and plus decoding");
	ok(pct_decode(dst, "a+b", 3, 0) == 3 && strcmp(dst, "a+b") == 0,
	    "plus kept in paths");
	ok(pct_decode(dst, "%e2%82%AC", 9, 1) == 3 && strcmp(dst, "\xe2\x82\xac") == 0,
	    "hex digits in either case");
	ok(pct_decode(dst, "%4", 2, 1) == -1, "truncated escape refused");
	ok(pct_decode(dst, "%zz", 3, 1) == -1, "non-hex escape refused");
	ok(pct_decode(dst, "", 0, 1) == 0 && dst[0] == '\0', "empty input");
	ok(origin_matches_host("http://example.com:8080", "example.com:8080"), "same host and port");
	ok(origin_matches_host("HTTP://Example.COM:8080", "example.com:8080"), "case-insensitive");
	ok(origin_matches_host("http://example.com", "example.com:80"), "http default port");
	ok(origin_matches_host("https://example.com", "example.com:443"), "https default port");
	ok(!origin_matches_host("https://example.com", "example.com:80"), "https is not port 80");
	ok(origin_matches_host("http://example.com:8080", "example.com"), "Host without port (proxy $host) matches any port");
	ok(!origin_matches_host("http://example.com:9090", "example.com:8080"), "other port refused");
	ok(!origin_matches_host("http://evil.example", "example.com"), "other host refused");
	ok(!origin_matches_host("http://example.com.evil", "example.com"), "suffix trick refused");
	ok(!origin_matches_host("null", "example.com"), "Origin null refused");
	ok(!origin_matches_host("file://", "example.com"), "file: refused");
	ok(!origin_matches_host("http://example.com/path", "example.com"), "an Origin has no path");
	ok(origin_matches_host("http://[::1]:8080", "[::1]:8080"), "IPv6 literal");
	return tap_done();
}
