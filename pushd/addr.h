/* Socket addresses as the command line spells them: "unix:PATH" or
 * "HOST:PORT" ("[V6]:PORT" for IPv6). Resolved at start-up, before the
 * event loop runs; a HOST that is a name is kept, for a caller that
 * resolves it again later off the loop (the render client, via evdns). */
#ifndef KC_ADDR_H
#define KC_ADDR_H
#include <stddef.h>
#include <sys/socket.h>

struct addr {
	struct sockaddr_storage	sa;
	socklen_t		len;
	char			name[256];	/* HOST when not numeric, else "" */
	int			port;		/* with name */
};

/* Returns 0, or -1 with the cause in err. */
int	addr_parse(const char *spec, struct addr *a, char *err, size_t errlen);
/* 1 for loopback IPv4/IPv6 peers and unix sockets. */
int	addr_is_local(const struct sockaddr *sa);

#endif
