/* Fatal errors, clocks and command-line parsing helpers (see util.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "util.h"
#include "xmalloc.h"

void
lc_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "loadclient: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static int64_t
clock_ns(clockid_t id)
{
	struct timespec t;

	clock_gettime(id, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int64_t
lc_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

int64_t
lc_real_minus_mono(void)
{
	int64_t best = 0, bestw = INT64_MAX;

	for (int i = 0; i < 5; i++) {
		int64_t a = lc_mono_ns(), r = clock_ns(CLOCK_REALTIME);
		int64_t b = lc_mono_ns();

		if (b - a < bestw) {
			bestw = b - a;
			best = r - (a + (b - a) / 2);
		}
	}
	return best;
}

void
lc_parse_addr(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
		lc_die("bad address %s (HOST:PORT)", s);
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1 || sa->sin_port == 0)
		lc_die("bad address %s (HOST:PORT)", s);
}

char *
lc_slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *b;
	long n;

	if (f == NULL)
		lc_die("%s: %s", path, strerror(errno));
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0)
		lc_die("%s: cannot size it", path);
	b = xmalloc((size_t)n + 1);
	if (fread(b, 1, (size_t)n, f) != (size_t)n)
		lc_die("%s: short read", path);
	b[n] = 0;
	fclose(f);
	return b;
}
