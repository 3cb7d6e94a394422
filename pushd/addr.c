/* Address parsing for --listen and --app, and the one host:port splitter
 * (see addr.h). */
#include "addr.h"
#include "text.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

int
addr_parse(const char *spec, struct addr *a, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	char host[256];
	const char *h = spec, *port;
	size_t hlen, plen;
	int rc;

	memset(a, 0, sizeof(*a));
	if (strncmp(spec, "unix:", 5) == 0) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&a->sa;
		size_t n = strlen(spec + 5);

		if (n == 0 || n >= sizeof(sun->sun_path)) {
			snprintf(err, errlen, "%s: unix socket path empty or "
			    "longer than %zu bytes", spec, sizeof(sun->sun_path) - 1);
			return -1;
		}
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, spec + 5, n + 1);
		a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
		return 0;
	}
	/* The port is the tail of spec, so NUL-terminated as it is. */
	authority_split(spec, strlen(spec), &hlen, &port, &plen);
	if (port == NULL || plen == 0) {
		snprintf(err, errlen, "%s: expected unix:PATH or HOST:PORT", spec);
		return -1;
	}
	if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host)) {
		snprintf(err, errlen, "%s: bad host", spec);
		return -1;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", spec, gai_strerror(rc));
		return -1;
	}
	memcpy(&a->sa, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
	freeaddrinfo(res);
	{
		unsigned char bin[sizeof(struct in6_addr)];

		if (inet_pton(AF_INET, host, bin) != 1 &&
		    inet_pton(AF_INET6, host, bin) != 1) {
			memcpy(a->name, host, hlen + 1);
			/* As resolved: a service name in PORT works too. */
			a->port = ntohs(a->sa.ss_family == AF_INET6 ?
			    ((struct sockaddr_in6 *)&a->sa)->sin6_port :
			    ((struct sockaddr_in *)&a->sa)->sin_port);
		}
	}
	return 0;
}

int
addr_is_local(const struct sockaddr *sa)
{
	switch (sa->sa_family) {
	case AF_UNIX:
		return 1;
	case AF_INET: {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		const unsigned char *b = in6->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && b[12] == 127;
	}
	}
	return 0;
}
