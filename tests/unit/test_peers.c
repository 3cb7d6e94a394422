/* Unit tests for pushd/peers.c: whose forwarding headers are believed,
 * which connections are exempt from the per-address limit, and the
 * count per address through joins, refusals and leaves (with enough
 * addresses to grow the table). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "pushd/peers.h"
#include "tap.h"

static struct sockaddr_in
v4(const char *ip)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, ip, &sin.sin_addr);
	return sin;
}

/* The client address as text, or "exempt". */
static const char *
client(const struct peers *t, const struct sockaddr *sa, const char *fwd,
    const char *real_ip)
{
	static char out[64];
	unsigned char a[PEERS_ADDR_LEN];

	if (!peers_client_addr(t, sa, fwd, real_ip, a))
		return "exempt";
	peers_format(a, out, sizeof(out));
	return out;
}

static void
test_trust(void)
{
	struct peers *t = peers_new();
	struct sockaddr_in proxy = v4("10.0.0.5"), other = v4("192.0.2.9");
	struct sockaddr_in6 six;
	struct sockaddr_un un;

	ok(peers_trust(t, "10.0.0.5") == 0 && peers_trust(t, "::1") == 0,
	    "trust an IPv4 and an IPv6 address");
	ok(peers_trust(t, "proxy.example") == -1 && peers_trust(t, "10.0.0.0/8")
	    == -1, "names and ranges are refused");
	is_str(client(t, (struct sockaddr *)&other, NULL, NULL), "192.0.2.9",
	    "untrusted peer: its own address");
	is_str(client(t, (struct sockaddr *)&other, "198.51.100.1",
	    "198.51.100.2"), "192.0.2.9", "untrusted peer: headers ignored");
	is_str(client(t, (struct sockaddr *)&proxy, "198.51.100.1",
	    "198.51.100.2"), "198.51.100.1",
	    "trusted proxy: X-Forwarded-For first");
	is_str(client(t, (struct sockaddr *)&proxy, NULL, "198.51.100.2"),
	    "198.51.100.2", "trusted proxy: else X-Real-IP");
	is_str(client(t, (struct sockaddr *)&proxy, NULL, NULL), "exempt",
	    "trusted proxy without a header: exempt");
	is_str(client(t, (struct sockaddr *)&proxy, "unknown", NULL),
	    "10.0.0.5", "trusted proxy forwarding garbage: counted as itself");
	is_str(client(t, (struct sockaddr *)&proxy, "2001:db8::7", NULL),
	    "2001:db8::7", "an IPv6 client behind an IPv4 proxy");
	memset(&six, 0, sizeof(six));
	six.sin6_family = AF_INET6;
	six.sin6_addr = in6addr_loopback;
	is_str(client(t, (struct sockaddr *)&six, "203.0.113.4", NULL),
	    "203.0.113.4", "trusted IPv6 proxy");
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	is_str(client(t, (struct sockaddr *)&un, "203.0.113.4", NULL), "exempt",
	    "unix-socket peer: exempt");
	peers_free(t);
}

static void
test_counts(void)
{
	struct peers *t = peers_new();
	struct sockaddr_in a = v4("192.0.2.1"), b = v4("192.0.2.2");
	unsigned char ka[PEERS_ADDR_LEN], kb[PEERS_ADDR_LEN], k[PEERS_ADDR_LEN];
	struct peer *p1, *p2, *p3, *q;
	struct peer *many[500];
	int all = 1;

	peers_client_addr(t, (struct sockaddr *)&a, NULL, NULL, ka);
	peers_client_addr(t, (struct sockaddr *)&b, NULL, NULL, kb);
	p1 = peers_join(t, ka, 2);
	p2 = peers_join(t, ka, 2);
	ok(p1 != NULL && p1 == p2, "two clients of one address share a count");
	ok(peers_join(t, ka, 2) == NULL, "a third past max 2: refused");
	ok((q = peers_join(t, kb, 2)) != NULL && q != p1,
	    "another address has its own count");
	peers_leave(t, p1);
	ok((p3 = peers_join(t, ka, 2)) != NULL, "a leave makes room");
	peers_leave(t, p2);
	peers_leave(t, p3);
	peers_leave(t, NULL);
	ok((p1 = peers_join(t, ka, 1)) != NULL, "all left: counted afresh");
	peers_leave(t, p1);
	for (int i = 0; i < 500; i++) {
		char ip[32];
		struct sockaddr_in sin;

		snprintf(ip, sizeof(ip), "198.18.%d.%d", i / 200, i % 200);
		sin = v4(ip);
		peers_client_addr(t, (struct sockaddr *)&sin, NULL, NULL, k);
		many[i] = peers_join(t, k, 1);
		all = all && many[i] != NULL && peers_join(t, k, 1) == NULL;
	}
	ok(all, "500 addresses, one client each, through the table's growth");
	for (int i = 0; i < 500; i++)
		peers_leave(t, many[i]);
	peers_leave(t, q);
	peers_free(t);
}

int
main(void)
{
	test_trust();
	test_counts();
	return tap_done();
}
