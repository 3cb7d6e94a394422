/* Forking and driving the workers (master.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "master.h"
#include "util.h"
#include "worker.h"

struct lc_master ms;
void (*ms_on_event)(uint64_t key, uint32_t events);
static int ep = -1;
static char want_op;

/* The master's one epoll descriptor, made on first use. */
static int
loop_fd(void)
{
	if (ep < 0 && (ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		lc_die("epoll_create1: %s", strerror(errno));
	return ep;
}

void
ms_watch(int fd, uint64_t key, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u64 = key };

	if (epoll_ctl(loop_fd(), EPOLL_CTL_ADD, fd, &ev) != 0 &&
	    (errno != EEXIST || epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) != 0))
		lc_die("epoll_ctl: %s", strerror(errno));
}

void
ms_unwatch(int fd)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
}

void
ms_start(void)
{
	long per = (opt.n + opt.procs - 1) / opt.procs;

	ms.nprocs = opt.procs;
	for (int i = 0; i < ms.nprocs; i++) {
		long base = per * i;
		long count = base >= opt.n ? 0 : opt.n - base < per ?
		    opt.n - base : per;
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
		    sv) != 0)
			lc_die("socketpair: %s", strerror(errno));
		fflush(stdout);
		if ((ms.kids[i] = fork()) < 0)
			lc_die("fork: %s", strerror(errno));
		if (ms.kids[i] == 0) {
			/* The worker needs its control socket only: the
			 * master's trigger and database connections must
			 * close when the master closes them. */
			long max = sysconf(_SC_OPEN_MAX);

			for (int fd = 3; fd < max; fd++)
				if (fd != sv[1])
					close(fd);
			wk_main(i, sv[1], base, count);
		}
		close(sv[1]);
		ms.ctl[i] = sv[0];
		ms_watch(ms.ctl[i], MS_KEY_CTL + (uint64_t)i, EPOLLIN);
	}
}

/* A worker exited: with its verdict if it refused frames (the others
 * exit when the master's end of their control socket closes). */
static void
worker_gone(int w)
{
	int st = 0;

	if (waitpid(ms.kids[w], &st, 0) == ms.kids[w] && WIFEXITED(st) &&
	    WEXITSTATUS(st) == LC_EXIT_REFUSED)
		exit(LC_EXIT_REFUSED);
	lc_die("worker %d is gone", w);
}

void
ms_pump(int msecs, int (*done)(void))
{
	int64_t end = lc_mono_ns() + (int64_t)msecs * 1000000;

	while (done == NULL || !done()) {
		struct epoll_event evs[32];
		int64_t left = (end - lc_mono_ns()) / 1000000;
		int n;

		if (left <= 0)
			return;
		n = epoll_wait(loop_fd(), evs, 32, (int)left);
		for (int i = 0; i < n; i++) {
			uint64_t k = evs[i].data.u64;
			struct wk_msg m;
			int w;

			if (k < MS_KEY_CTL) {
				if (ms_on_event != NULL)
					ms_on_event(k, evs[i].events);
				continue;
			}
			w = (int)(k - MS_KEY_CTL);
			if (recv(ms.ctl[w], &m, sizeof(m), 0) !=
			    (ssize_t)sizeof(m))
				worker_gone(w);
			ms.replies[w] = m.op;
			ms.rvals[w] = (long)m.val;
		}
	}
}

void
ms_broadcast(char op, int64_t val)
{
	for (int i = 0; i < ms.nprocs; i++) {
		ms.replies[i] = 0;
		wk_send(ms.ctl[i], op, val);
	}
}

static int
all_replied(void)
{
	for (int i = 0; i < ms.nprocs; i++)
		if (ms.replies[i] != want_op)
			return 0;
	return 1;
}

int
ms_wait_all(char op, int msecs)
{
	want_op = op;
	ms_pump(msecs, all_replied);
	return all_replied();
}

long
ms_sum(char op)
{
	long s = 0;

	for (int i = 0; i < ms.nprocs; i++)
		if (ms.replies[i] == op)
			s += ms.rvals[i];
	return s;
}

void
ms_quit(void)
{
	ms_broadcast(WK_QUIT, 0);
	for (int i = 0; i < ms.nprocs; i++)
		waitpid(ms.kids[i], NULL, 0);
}

int
ms_pids(int *pids, int cap)
{
	int n = 0;

	for (int i = 0; i < ms.nprocs && n < cap; i++)
		pids[n++] = ms.kids[i];
	if (n < cap)
		pids[n++] = getpid();
	return n;
}
