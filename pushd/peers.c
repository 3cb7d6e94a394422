/* Per-address client counts and proxy trust (see peers.h). The table
 * doubles when it holds more entries than buckets, so chains stay short;
 * the hash is seeded at start so that no one can aim addresses at one
 * bucket. */
#include "peers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"
#include "xmalloc.h"

struct peer {
	struct peer	*next;		/* in its bucket */
	unsigned long	 n;		/* clients of this address */
	unsigned char	 a[PEERS_ADDR_LEN];
};

struct peers {
	struct peer	**b;
	size_t		  nb;		/* buckets, a power of 2 */
	size_t		  n;		/* entries */
	uint64_t	  seed;
	unsigned char	(*trusted)[PEERS_ADDR_LEN];
	size_t		  ntrusted;
};

struct peers *
peers_new(void)
{
	struct peers *t = xcalloc(1, sizeof(*t));

	t->nb = 64;
	t->b = xcalloc(t->nb, sizeof(*t->b));
	if (getrandom(&t->seed, sizeof(t->seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(t->seed))
		t->seed = (uint64_t)clock_us();
	return t;
}

void
peers_free(struct peers *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nb; i++) {
		struct peer *p, *next;

		for (p = t->b[i]; p != NULL; p = next) {
			next = p->next;
			free(p);
		}
	}
	free(t->b);
	free(t->trusted);
	free(t);
}

/* IPv4 becomes ::ffff:a.b.c.d, so one table holds both families. */
static int
parse_ip(const char *s, unsigned char out[PEERS_ADDR_LEN])
{
	struct in_addr v4;

	if (inet_pton(AF_INET, s, &v4) == 1) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &v4, 4);
		return 0;
	}
	return inet_pton(AF_INET6, s, out) == 1 ? 0 : -1;
}

static int
sockaddr_ip(const struct sockaddr *sa, unsigned char out[PEERS_ADDR_LEN])
{
	if (sa->sa_family == AF_INET) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr,
		    PEERS_ADDR_LEN);
		return 0;
	}
	return -1;
}

int
peers_trust(struct peers *t, const char *addr)
{
	unsigned char a[PEERS_ADDR_LEN];

	if (parse_ip(addr, a) != 0)
		return -1;
	t->trusted = xrealloc(t->trusted, (t->ntrusted + 1) * sizeof(*t->trusted));
	memcpy(t->trusted[t->ntrusted++], a, PEERS_ADDR_LEN);
	return 0;
}

int
peers_client_addr(const struct peers *t, const struct sockaddr *sa,
    const char *fwd, const char *real_ip, unsigned char out[PEERS_ADDR_LEN])
{
	const char *hdr = fwd != NULL ? fwd : real_ip;
	int trusted = 0;

	if (sockaddr_ip(sa, out) != 0)
		return 0;
	for (size_t i = 0; i < t->ntrusted && !trusted; i++)
		trusted = memcmp(t->trusted[i], out, PEERS_ADDR_LEN) == 0;
	if (!trusted)
		return 1;
	if (hdr == NULL)
		return 0;
	/* Garbage from a trusted proxy counts against the proxy itself. */
	if (parse_ip(hdr, out) != 0)
		sockaddr_ip(sa, out);
	return 1;
}

static size_t
bucket(const struct peers *t, const unsigned char a[PEERS_ADDR_LEN])
{
	uint64_t h = t->seed ^ 0xcbf29ce484222325ULL;	/* FNV-1a */

	for (int i = 0; i < PEERS_ADDR_LEN; i++) {
		h ^= a[i];
		h *= 0x100000001b3ULL;
	}
	return (size_t)(h ^ (h >> 32)) & (t->nb - 1);
}

static void
grow(struct peers *t)
{
	struct peer **old = t->b;
	size_t oldn = t->nb;

	t->nb *= 2;
	t->b = xcalloc(t->nb, sizeof(*t->b));
	for (size_t i = 0; i < oldn; i++) {
		struct peer *p, *next;

		for (p = old[i]; p != NULL; p = next) {
			size_t j = bucket(t, p->a);

			next = p->next;
			p->next = t->b[j];
			t->b[j] = p;
		}
	}
	free(old);
}

struct peer *
peers_join(struct peers *t, const unsigned char a[PEERS_ADDR_LEN],
    unsigned long max)
{
	size_t i = bucket(t, a);
	struct peer *p;

	for (p = t->b[i]; p != NULL; p = p->next)
		if (memcmp(p->a, a, PEERS_ADDR_LEN) == 0)
			break;
	if (p == NULL) {
		if (max == 0)
			return NULL;
		if (t->n >= t->nb) {
			grow(t);
			i = bucket(t, a);
		}
		p = xcalloc(1, sizeof(*p));
		memcpy(p->a, a, PEERS_ADDR_LEN);
		p->next = t->b[i];
		t->b[i] = p;
		t->n++;
	} else if (p->n >= max) {
		return NULL;
	}
	p->n++;
	return p;
}

void
peers_leave(struct peers *t, struct peer *p)
{
	struct peer **pp;

	if (p == NULL || --p->n > 0)
		return;
	for (pp = &t->b[bucket(t, p->a)]; *pp != p; pp = &(*pp)->next)
		;
	*pp = p->next;
	t->n--;
	free(p);
}

void
peers_format(const unsigned char a[PEERS_ADDR_LEN], char *out, size_t outlen)
{
	static const unsigned char v4mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
	};

	if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0)
		inet_ntop(AF_INET, a + 12, out, (socklen_t)outlen);
	else
		inet_ntop(AF_INET6, a, out, (socklen_t)outlen);
}
