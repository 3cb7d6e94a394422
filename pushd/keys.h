/* Key diagnostics: both sides of a key mismatch (a page subscribed to one
 * key, the mutation notifying another). The hub counts notifies per key
 * that has clients (hub_key_stats); this module keeps the other side, the
 * keys notified while no client held them (the KEYS_UNHELD_MAX most recent),
 * writes both as the JSON of GET /debug/keys (docs/protocol.md), and logs
 * once per key, at notice, a key quiet for --quiet-key-warn while a similar
 * key was notified. */
#ifndef KC_KEYS_H
#define KC_KEYS_H
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "hub.h"

#define KEYS_UNHELD_MAX		256	/* unheld keys remembered */
#define KEYS_REPORT_MAX		(1 << 20)	/* a report stops listing keys
						   past this many bytes */
#define KEYS_REPORT_URLS	64	/* (url, view) entries listed per key */

struct event_base;
struct keys;

/* h is borrowed for life and must outlive the keys. With a base and
 * warn_s > 0, a timer looks for quiet keys a few times per warn_s (at
 * least every 30 s); without a base, keys_check is the caller's. */
struct keys	*keys_new(struct event_base *base, struct hub *h,
		    unsigned warn_s);
void		 keys_free(struct keys *ks);
/* A notify named key (after hub_notify): remembered when no client holds
 * it, forgotten when one does. */
void		 keys_notified(struct keys *ks, const char *key, size_t klen,
		    int64_t now_ms);
/* Logs each key quiet for longer than warn_s (clients, no notify since
 * the first joined) while a similar key is unheld, once per key. */
void		 keys_check(struct keys *ks, int64_t now_ms);
/* The /debug/keys JSON: keys never notified first; at most about
 * KEYS_REPORT_MAX bytes of keys, then "keys_omitted": N. */
void		 keys_report(struct keys *ks, int64_t now_ms, struct buf *out);
/* Keys with clients and no notify since the first joined. */
unsigned long	 keys_never_notified(const struct keys *ks);
/* Unheld keys remembered (none a client holds now). */
unsigned long	 keys_unheld(const struct keys *ks);

/* 1 when a and b differ but are the same after lowercasing and dropping
 * one trailing '/' each, or one is the other minus its query string. */
int		 keys_similar(const char *a, size_t alen, const char *b,
		    size_t blen);

#endif
