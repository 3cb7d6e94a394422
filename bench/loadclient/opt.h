/* The load client's options: one struct for every mode, filled once by
 * main.c before the workers fork and read-only after. */
#ifndef LC_OPT_H
#define LC_OPT_H
#include <netinet/in.h>

#define LC_MAXPROCS	16
#define LC_MAXWATCH	16
#define LC_MAXKEYS	1024

enum lc_mode {
	LC_IDLE,	/* connect, hold, read RSS */
	LC_FANOUT,	/* one mutation; arrival: the value after --marker changed */
	LC_STORM,	/* --storm-n mutations; arrival: the final value */
	LC_SCALE,	/* one transaction inserting a chat message per key;
			 * arrival: the round's token in the key's fragment */
};

struct lc_opt {
	const char	*label;
	enum lc_mode	 mode;
	const char	*mode_name;
	struct sockaddr_in connect;
	char		 host[128];	/* Host header; Origin http://host */
	const char	*path;		/* @KEY@ becomes the connection's key index */
	int		 keys;		/* connection g gets key index g % keys */
	const char	*prefix;	/* scale: rooms PREFIX0.. */
	long		 n;
	int		 procs, inflight, rounds, warmup, gap_ms;
	int		 timeout_s;	/* connect (fanout) or per round (scale) */
	int		 connect_timeout_s;
	int		 v2;		/* v=2: F and D frames */
	int		 deflate;	/* offer permessage-deflate */
	int		 max_failures;	/* verification failures before exit 3 */
	int		 have_verify;
	struct sockaddr_in verify;	/* GET each url here at the end */
	struct sockaddr_in trigger;
	char		 thost[128];	/* the trigger's Host and Origin */
	int		 have_trigger;
	const char	*method, *target;
	char		 theaders[1024];
	char		*body_tpl;	/* @COUNT@ becomes the value */
	long		 count;		/* next value to publish */
	int		 publish_initial;
	const char	*pg;		/* conninfo: LISTEN, the SQL storm, scale */
	int		 pg_commit_ts;	/* read the commit timestamp */
	const char	*channel;
	int		 storm_n;
	const char	*marker;
	const char	*dump;
	const char	*perf_ctl;	/* "CTL:ACK" fifos of perf record --control */
	const char	*on_ready;	/* sh command once every client is ready */
	int		 watch_children;	/* --watch counts the children too */
	int		 nwatch;
	char		 wname[LC_MAXWATCH][32];
	int		 wpid[LC_MAXWATCH];
};

extern struct lc_opt opt;

#endif
