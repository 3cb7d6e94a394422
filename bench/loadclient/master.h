/* The master process's side of the workers: forking them, one epoll loop
 * over their control sockets and the mode's own descriptors, commands to
 * all and the collection of their replies. */
#ifndef LC_MASTER_H
#define LC_MASTER_H
#include <stdint.h>
#include <sys/types.h>
#include "opt.h"

struct lc_master {
	int	nprocs;
	pid_t	kids[LC_MAXPROCS];
	int	ctl[LC_MAXPROCS];
	char	replies[LC_MAXPROCS];	/* the last reply's op, 0: none yet */
	long	rvals[LC_MAXPROCS];	/* and its value */
};

extern struct lc_master ms;

/* Forks opt.procs workers over opt.n connections. */
void	ms_start(void);
/* Adds fd to the loop; its events go to on_event(key, events). key must
 * be below MS_KEY_CTL. */
#define MS_KEY_CTL	100
void	ms_watch(int fd, uint64_t key, uint32_t events);
void	ms_unwatch(int fd);
extern void (*ms_on_event)(uint64_t key, uint32_t events);
/* Handles events for up to ms milliseconds, or until done() holds. */
void	ms_pump(int ms, int (*done)(void));
/* Sends op to every worker and forgets their previous replies. */
void	ms_broadcast(char op, int64_t val);
/* Waits up to ms for every worker to reply op; 1 if all did. */
int	ms_wait_all(char op, int ms);
/* The sum of the values of the workers whose last reply is op. */
long	ms_sum(char op);
/* Tells the workers to quit and reaps them. */
void	ms_quit(void);
/* The workers' pids and the master's, for CPU accounting. */
int	ms_pids(int *pids, int cap);

#endif
