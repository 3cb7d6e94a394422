/* /proc readings for the watched servers and the machine (procstat.h).
 * Everything tolerates a process vanishing between two readings. */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "procstat.h"
#include "xmalloc.h"

static int
read_small(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = 0;
	return 0;
}

static void
read_schedstat(int pid, struct ps_cpu *c)
{
	char path[64], buf[128];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if ((d = opendir(path)) == NULL) {
		c->ns = -1;
		return;
	}
	while ((e = readdir(d)) != NULL) {
		char p[320];
		long long run, wait;

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/proc/%d/task/%s/schedstat", pid,
		    e->d_name);
		if (read_small(p, buf, sizeof(buf)) == 0 &&
		    sscanf(buf, "%lld %lld", &run, &wait) == 2) {
			c->ns += run;
			c->wait_ns += wait;
		}
	}
	closedir(d);
}

void
ps_read(int pid, struct ps_cpu *c)
{
	char path[64], buf[4096], *p;
	unsigned long ut, st;

	memset(c, 0, sizeof(*c));
	read_schedstat(pid, c);
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	/* after ")": state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime */
	if (read_small(path, buf, sizeof(buf)) == 0 &&
	    (p = strrchr(buf, ')')) != NULL &&
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) == 2) {
		c->ut = (long)ut;
		c->st = (long)st;
	}
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_small(path, buf, sizeof(buf)) == 0 &&
	    (p = strstr(buf, "VmRSS:")) != NULL)
		c->rss_kb = strtol(p + 6, NULL, 10);
}

void
ps_group_take(struct ps_group *g, int pid, const struct ps_group *like)
{
	if (like != NULL) {
		g->npid = like->npid;
		memcpy(g->pid, like->pid, sizeof(g->pid));
	} else {
		char path[64], buf[8192], *p, *end;

		g->npid = 0;
		g->pid[g->npid++] = pid;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid,
		    pid);
		if (read_small(path, buf, sizeof(buf)) == 0)
			for (p = buf; g->npid < PS_MAXPIDS; p = end) {
				long c = strtol(p, &end, 10);

				if (end == p)
					break;
				g->pid[g->npid++] = (int)c;
			}
	}
	for (int i = 0; i < g->npid; i++)
		ps_read(g->pid[i], &g->c[i]);
}

void
ps_group_delta(const struct ps_group *a, const struct ps_group *b,
    double *ms, int64_t *ticks, int64_t *rss_kb)
{
	*ms = 0;
	*ticks = 0;
	*rss_kb = 0;
	for (int i = 0; i < a->npid; i++) {
		*rss_kb += b->c[i].rss_kb;
		if (a->c[i].ns < 0 || b->c[i].ns < 0)
			continue;
		*ms += (double)(b->c[i].ns - a->c[i].ns) / 1e6;
		*ticks += (b->c[i].ut + b->c[i].st) - (a->c[i].ut + a->c[i].st);
	}
}

void
ps_machine_jiffies(long long *busy, long long *total)
{
	FILE *f = fopen("/proc/stat", "r");
	long long v[8] = { 0 };

	*busy = *total = 0;
	if (f == NULL)
		return;
	if (fscanf(f, "cpu %lld %lld %lld %lld %lld %lld %lld %lld", &v[0],
	    &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
		for (int i = 0; i < 8; i++)
			*total += v[i];
		*busy = *total - v[3] - v[4];	/* less idle and iowait */
	}
	fclose(f);
}

#define PS_MAXTASKS	4096

struct ps_task {
	int64_t	tid, ns;
};

struct ps_tasks {
	int		n;
	struct ps_task	t[PS_MAXTASKS];		/* by tid */
};

static int
cmp_tid(const void *a, const void *b)
{
	int64_t x = ((const struct ps_task *)a)->tid;
	int64_t y = ((const struct ps_task *)b)->tid;

	return x < y ? -1 : x > y;
}

struct ps_tasks *
ps_tasks_take(void)
{
	struct ps_tasks *m = xcalloc(1, sizeof(*m));
	DIR *d = opendir("/proc"), *t;
	struct dirent *e, *f;
	char path[600], buf[128];

	if (d == NULL)
		return m;
	while ((e = readdir(d)) != NULL && m->n < PS_MAXTASKS) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/task", e->d_name);
		if ((t = opendir(path)) == NULL)
			continue;
		while ((f = readdir(t)) != NULL && m->n < PS_MAXTASKS) {
			if (!isdigit((unsigned char)f->d_name[0]))
				continue;
			snprintf(path, sizeof(path), "/proc/%s/task/%s/schedstat",
			    e->d_name, f->d_name);
			if (read_small(path, buf, sizeof(buf)) != 0)
				continue;
			m->t[m->n].tid = atoi(f->d_name);
			m->t[m->n++].ns = strtoll(buf, NULL, 10);
		}
		closedir(t);
	}
	closedir(d);
	qsort(m->t, (size_t)m->n, sizeof(m->t[0]), cmp_tid);
	return m;
}

double
ps_tasks_ms(const struct ps_tasks *a, const struct ps_tasks *b)
{
	int64_t sum = 0;

	for (int i = 0, j = 0; i < a->n && j < b->n;) {
		if (a->t[i].tid == b->t[j].tid) {
			sum += b->t[j].ns - a->t[i].ns;
			i++;
			j++;
		} else if (a->t[i].tid < b->t[j].tid) {
			i++;
		} else {
			j++;
		}
	}
	return (double)sum / 1e6;
}
