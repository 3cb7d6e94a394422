/* CPU time and memory of processes and of the machine, from /proc: what a
 * benchmark round costs the servers it watches. */
#ifndef LC_PROCSTAT_H
#define LC_PROCSTAT_H
#include <stdint.h>

#define PS_MAXPIDS	256

struct ps_cpu {
	int64_t	ns;		/* all threads on a CPU (schedstat); -1: gone */
	int64_t	wait_ns;	/* and runnable but waiting for one */
	long	ut, st;		/* utime, stime in clock ticks (USER_HZ) */
	long	rss_kb;		/* VmRSS */
};

/* One process, all its threads. */
void	ps_read(int pid, struct ps_cpu *c);

/* A process and the children of its main thread (nginx and its workers),
 * the pids fixed at the first sample so two samples compare. */
struct ps_group {
	int		npid;
	int		pid[PS_MAXPIDS];
	struct ps_cpu	c[PS_MAXPIDS];
};
/* Reads pid and its children, or (like != NULL) the pids of like. */
void	ps_group_take(struct ps_group *g, int pid, const struct ps_group *like);
/* CPU between two samples in ms and ticks (pids gone are skipped), and the
 * RSS of b. */
void	ps_group_delta(const struct ps_group *a, const struct ps_group *b,
	    double *ms, int64_t *ticks, int64_t *rss_kb);

/* The machine's busy and total jiffies of all CPUs (/proc/stat). */
void	ps_machine_jiffies(long long *busy, long long *total);
/* The machine's CPU time by task (schedstat of every task, ns); jiffies are
 * too coarse for windows of a few ms. Tasks that come or go in between
 * are missed. */
struct ps_tasks;
struct ps_tasks	*ps_tasks_take(void);		/* owned; free() it */
double		 ps_tasks_ms(const struct ps_tasks *a, const struct ps_tasks *b);

#endif
