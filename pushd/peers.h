/* Client addresses and the per-address client count. A client's address is
 * its TCP peer's, or, when the peer is a trusted proxy, the one the proxy
 * forwarded (X-Forwarded-For's last element, which the proxy appended
 * itself, else X-Real-IP). Addresses are kept as 16 bytes (IPv4 mapped
 * into IPv6) in a hash table with one entry per address that has clients.
 * No I/O. */
#ifndef KC_PEERS_H
#define KC_PEERS_H
#include <stddef.h>
#include <sys/socket.h>

#define PEERS_ADDR_LEN	16

struct peers;
struct peer;		/* one address with clients */

struct peers	*peers_new(void);
/* Frees the table; entries still joined go with it. */
void		 peers_free(struct peers *t);
/* Trusts ADDR (an IPv4 or IPv6 literal) as a proxy. Returns 0, or -1
 * when it is not an address. */
int		 peers_trust(struct peers *t, const char *addr);
/* The client address of a connection from sa that sent the forwarding
 * headers fwd and real_ip (NULL when absent) into out. Returns 1, or 0
 * when no per-address limit applies: a unix-socket peer, or a trusted
 * proxy that forwarded no address (its own health checks). Headers from
 * an untrusted peer are ignored. */
int		 peers_client_addr(const struct peers *t,
		    const struct sockaddr *sa, const char *fwd,
		    const char *real_ip, unsigned char out[PEERS_ADDR_LEN]);
/* Counts a client of address a; NULL (nothing counted) when a already
 * has max clients. */
struct peer	*peers_join(struct peers *t,
		    const unsigned char a[PEERS_ADDR_LEN], unsigned long max);
/* Uncounts a client of p; NULL is a no-op. */
void		 peers_leave(struct peers *t, struct peer *p);
/* The address as text, for logs: out needs 46 bytes. */
void		 peers_format(const unsigned char a[PEERS_ADDR_LEN], char *out,
		    size_t outlen);

#endif
