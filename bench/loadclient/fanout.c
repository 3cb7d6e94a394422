/* The fanout, storm and idle modes (bench/fanout.sh). The master arms
 * the workers (each connection remembers the value it shows), takes t0
 * and fires the mutation from its own loop:
 *
 *   fanout  one HTTP request (POST /api/counter/increment, a publish, the
 *           floor's trigger) on a kept-alive connection;
 *   storm   --storm-n commits in one burst: --storm-n pipelined HTTP
 *           publishes, or (--pg) one libpq query string of --storm-n
 *           separate transactions, as the integration test does;
 *   idle    no mutation: the connections are opened and held, the watched
 *           processes' RSS read before and after.
 *
 * A fan-out arrival is the first fragment whose value (the integer after
 * --marker) differs from the armed one; a storm arrival the first showing
 * the final value. Around each round the master reads, for every --watch
 * NAME:PID, CPU time (schedstat), utime/stime, VmRSS, the same for the
 * load client's processes and the machine (/proc/stat). One JSON line
 * per round goes to stdout. With --pg the master also LISTENs on the
 * channel, so a round reports when the notification reached a listener. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <libpq-fe.h>
#include "master.h"
#include "modes.h"
#include "opt.h"
#include "procstat.h"
#include "stats.h"
#include "trigger.h"
#include "util.h"
#include "worker.h"
#include "xmalloc.h"

enum { EV_LISTEN = 2, EV_BURST = 3 };

struct sample {
	struct ps_cpu	w[LC_MAXWATCH];
	struct ps_cpu	client[LC_MAXPROCS + 1];
	int		nclient;
	long long	busy, total;
	int64_t		t;
};

static struct {
	PGconn	*listen, *burst;
	int64_t	 t0;
	int64_t	 notify_first, notify_last;
	long	 notifies;
	int	 burst_busy;
	int64_t	 commit_t;	/* the last commit (commit timestamp) */
	int64_t	 burst_done_t;
	int64_t	 burst_final;
} M;

static void
take_sample(struct sample *s)
{
	int pids[LC_MAXPROCS + 1];

	for (int i = 0; i < opt.nwatch; i++)
		ps_read(opt.wpid[i], &s->w[i]);
	s->nclient = ms_pids(pids, LC_MAXPROCS + 1);
	for (int i = 0; i < s->nclient; i++)
		ps_read(pids[i], &s->client[i]);
	ps_machine_jiffies(&s->busy, &s->total);
	s->t = lc_mono_ns();
}

static void
print_cpu(const struct sample *a, const struct sample *b)
{
	int64_t cns = 0;

	printf(",\"cpu\":{");
	for (int i = 0; i < opt.nwatch; i++)
		printf("%s\"%s\":{\"ns\":%lld,\"wait_ns\":%lld,\"ut\":%ld,"
		    "\"st\":%ld,\"rss_kb\":%ld}", i ? "," : "", opt.wname[i],
		    (long long)(b->w[i].ns - a->w[i].ns),
		    (long long)(b->w[i].wait_ns - a->w[i].wait_ns),
		    b->w[i].ut - a->w[i].ut, b->w[i].st - a->w[i].st,
		    b->w[i].rss_kb);
	printf("}");
	for (int i = 0; i < b->nclient; i++)
		cns += b->client[i].ns - a->client[i].ns;
	printf(",\"client_ns\":%lld,\"window_ns\":%lld,\"machine_busy_ns\":%.0f",
	    (long long)cns, (long long)(b->t - a->t),
	    b->total > a->total ? (double)(b->busy - a->busy) /
	    (double)(b->total - a->total) * (double)(b->t - a->t) *
	    (double)sysconf(_SC_NPROCESSORS_ONLN) : 0.0);
}

static PGconn *
pg_open(void)
{
	PGconn *c = PQconnectdb(opt.pg);

	if (PQstatus(c) != CONNECTION_OK)
		lc_die("PostgreSQL: %s", PQerrorMessage(c));
	return c;
}

/* When the counter's last change committed (track_commit_timestamp; the
 * time is taken as the commit record is written, before the WAL flush),
 * on CLOCK_MONOTONIC; 0 if unknown. */
static int64_t
commit_time(void)
{
	PGresult *r;
	int64_t t = 0;

	PQsetnonblocking(M.burst, 0);
	r = PQexec(M.burst, "SELECT (extract(epoch FROM "
	    "pg_xact_commit_timestamp(xmin)) * 1000000)::bigint "
	    "FROM counters WHERE name = 'global'");
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
	    !PQgetisnull(r, 0, 0))
		t = atoll(PQgetvalue(r, 0, 0)) * 1000 - lc_real_minus_mono();
	else if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fprintf(stderr, "loadclient: commit timestamp: %s",
		    PQresultErrorMessage(r));
	PQclear(r);
	PQsetnonblocking(M.burst, 1);
	return t;
}

/* Sends "enable" or "disable" to perf record --control fifo:CTL,ACK and
 * waits (5 s at most) for its ack, so that perf samples the measured
 * rounds only. Without a perf reading the fifo, it warns and gives up. */
static void
perf_cmd(const char *cmd)
{
	char ctlp[256], *ackp, ack[16];
	struct pollfd pfd;
	int fd;

	if (opt.perf_ctl == NULL)
		return;
	snprintf(ctlp, sizeof(ctlp), "%s", opt.perf_ctl);
	if ((ackp = strchr(ctlp, ':')) == NULL)
		lc_die("--perf-ctl CTL:ACK");
	*ackp++ = 0;
	if ((fd = open(ctlp, O_WRONLY | O_NONBLOCK)) < 0) {
		fprintf(stderr, "loadclient: %s: %s (is perf running?); "
		    "not controlling perf\n", ctlp, strerror(errno));
		opt.perf_ctl = NULL;
		return;
	}
	if (write(fd, cmd, strlen(cmd)) < 0)
		lc_die("perf control: %s", strerror(errno));
	close(fd);
	if ((fd = open(ackp, O_RDONLY | O_NONBLOCK)) < 0)
		lc_die("%s: %s", ackp, strerror(errno));
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 5000) != 1 || read(fd, ack, sizeof(ack)) <= 0)
		fprintf(stderr, "loadclient: perf did not acknowledge %s", cmd);
	close(fd);
}

static void
on_listen(void)
{
	PGnotify *nt;

	if (!PQconsumeInput(M.listen))
		lc_die("LISTEN connection: %s", PQerrorMessage(M.listen));
	while ((nt = PQnotifies(M.listen)) != NULL) {
		int64_t t = lc_mono_ns();

		if (M.t0 != 0 && t >= M.t0) {
			if (M.notifies++ == 0)
				M.notify_first = t;
			M.notify_last = t;
		}
		PQfreemem(nt);
	}
}

static void
on_burst(void)
{
	PGresult *r;

	if (!PQconsumeInput(M.burst))
		lc_die("burst connection: %s", PQerrorMessage(M.burst));
	while (M.burst_busy && !PQisBusy(M.burst)) {
		r = PQgetResult(M.burst);
		if (r == NULL) {
			M.burst_busy = 0;
			M.burst_done_t = lc_mono_ns();
			break;
		}
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
			M.burst_final = atoll(PQgetvalue(r, 0, 0));
		else if (PQresultStatus(r) != PGRES_COMMAND_OK &&
		    PQresultStatus(r) != PGRES_TUPLES_OK)
			lc_die("burst: %s", PQresultErrorMessage(r));
		PQclear(r);
	}
}

static void
on_event(uint64_t key, uint32_t events)
{
	if (key == TRIG_KEY)
		trig_on_event(events);
	else if (key == EV_LISTEN)
		on_listen();
	else if (key == EV_BURST)
		on_burst();
}

static int
burst_done(void)
{
	return !M.burst_busy;
}

static void
pg_start(void)
{
	char q[128];
	PGresult *r;

	M.listen = pg_open();
	snprintf(q, sizeof(q), "LISTEN %s", opt.channel);
	r = PQexec(M.listen, q);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		lc_die("LISTEN: %s", PQerrorMessage(M.listen));
	PQclear(r);
	PQsetnonblocking(M.listen, 1);
	ms_watch(PQsocket(M.listen), EV_LISTEN, EPOLLIN);
	M.burst = pg_open();
	PQsetnonblocking(M.burst, 1);
	ms_watch(PQsocket(M.burst), EV_BURST, EPOLLIN);
}

/* Separate transactions in one query string: they commit back to back
 * with no round trip between. Returns the final value. */
static int64_t
sql_storm(void)
{
	struct buf q;

	buf_init(&q);
	buf_puts(&q, "SET synchronous_commit = off; ");
	for (int i = 0; i < opt.storm_n; i++)
		buf_puts(&q, "BEGIN; UPDATE counters SET value = value + 1 "
		    "WHERE name = 'global'; COMMIT; ");
	buf_puts(&q, "SELECT value FROM counters WHERE name = 'global'");
	M.t0 = lc_mono_ns();
	if (!PQsendQuery(M.burst, q.data))
		lc_die("burst: %s", PQerrorMessage(M.burst));
	while (PQflush(M.burst) == 1)
		ms_pump(5, NULL);
	M.burst_busy = 1;
	buf_cleanup(&q);
	ms_pump(60000, burst_done);
	return M.burst_final;
}

static void
print_connect(const struct sample *idle, const struct sample *s0,
    long ready, int64_t tstart, int64_t tready)
{
	long hsf = 0;
	const char *err = "";

	for (int i = 0; i < ms.nprocs; i++) {
		hsf += shm.w[i].hs_failed;
		if (shm.w[i].err[0] && !err[0])
			err = shm.w[i].err;
	}
	printf("{\"label\":\"%s\",\"mode\":\"connect\",\"n\":%ld,\"procs\":%d,"
	    "\"ready\":%ld,\"failed\":%ld,\"connect_s\":%.3f,\"err\":\"%s\","
	    "\"rss_kb\":{", opt.label, opt.n, ms.nprocs, ready, hsf,
	    (double)(tready - tstart) / 1e9, err);
	for (int i = 0; i < opt.nwatch; i++)
		printf("%s\"%s\":[%ld,%ld]", i ? "," : "", opt.wname[i],
		    idle->w[i].rss_kb, s0->w[i].rss_kb);
	printf("}}\n");
	fflush(stdout);
}

static void
print_round(int r, long ready, int64_t final, const struct sample *s0,
    const struct sample *s1)
{
	long missing = ms_sum(WK_DONE), closed = 0, arrived = 0;
	double fr_sum = 0;
	int32_t fr_max = 0;
	int storm = opt.mode == LC_STORM;

	for (long i = 0; i < opt.n; i++) {
		if (shm.arr_u[i] == 0)
			continue;
		arrived++;
		fr_sum += shm.arr_frames[i];
		if (shm.arr_frames[i] > fr_max)
			fr_max = shm.arr_frames[i];
	}
	for (int i = 0; i < ms.nprocs; i++)
		closed += shm.w[i].closed;
	printf("{\"label\":\"%s\",\"mode\":\"%s\",\"n\":%ld,\"round\":%d,"
	    "\"warmup\":%s,\"ready\":%ld,\"arrived\":%ld,\"missing\":%ld,"
	    "\"closed\":%ld,\"proto\":%d,\"deflate\":%s", opt.label,
	    opt.mode_name, opt.n, r + 1, r < 0 ? "true" : "false", ready,
	    arrived, missing, closed, opt.v2 ? 2 : 1,
	    opt.deflate ? "true" : "false");
	if (storm)
		printf(",\"final\":%lld,\"frames_mean\":%.2f,\"frames_max\":%d",
		    (long long)final, arrived ? fr_sum / (double)arrived : 0,
		    fr_max);
	if (trig.got > 0)
		printf(",\"responses\":%ld,\"resp_first_ms\":%.3f,"
		    "\"resp_last_ms\":%.3f,\"status\":%d", trig.got,
		    (double)(trig.first_t - M.t0) / 1e6,
		    (double)(trig.last_t - M.t0) / 1e6, trig.last_status);
	if (M.notifies > 0)
		printf(",\"notifies\":%ld,\"notify_first_ms\":%.3f,"
		    "\"notify_last_ms\":%.3f", M.notifies,
		    (double)(M.notify_first - M.t0) / 1e6,
		    (double)(M.notify_last - M.t0) / 1e6);
	if (M.burst_done_t != 0)
		printf(",\"burst_ms\":%.3f", (double)(M.burst_done_t - M.t0) / 1e6);
	if (M.commit_t != 0)
		printf(",\"commit_ms\":%.3f", (double)(M.commit_t - M.t0) / 1e6);
	st_print_dist("lat", shm.arr_u, opt.n, M.t0);
	st_print_dist("klat", shm.arr_k, opt.n, M.t0);
	if (M.notifies > 0 && !storm)
		st_print_dist("nlat", shm.arr_u, opt.n, M.notify_first);
	if (M.commit_t != 0 && !storm) {
		st_print_dist("clat", shm.arr_u, opt.n, M.commit_t);
		st_print_dist("kclat", shm.arr_k, opt.n, M.commit_t);
	}
	if (storm) {
		/* From the last commit as the client saw it. */
		int64_t last = M.burst_done_t != 0 ? M.burst_done_t :
		    trig.last_t;

		st_print_dist("conv", shm.arr_u, opt.n, last);
		st_print_dist("kconv", shm.arr_k, opt.n, last);
		if (M.commit_t != 0)
			st_print_dist("cconv", shm.arr_u, opt.n, M.commit_t);
	}
	st_print_wire(opt.n, ms.nprocs);
	print_cpu(s0, s1);
	printf("}\n");
	fflush(stdout);
}

/* One round: arm, mutate, wait for every arrival (30 s at most). */
static void
round_run(int r, long ready)
{
	int storm = opt.mode == LC_STORM;
	struct sample s0, s1;
	int64_t final = 0, end;

	ms_pump(opt.gap_ms, NULL);
	if (r == 0)
		perf_cmd("enable\n");
	/* A storm's pipelined requests go on a fresh connection: on one
	 * that had served a request before, nginx+nchan answered 999 of
	 * 1000 publishes sent in one write and never published the last. */
	if (opt.have_trigger && (!trig_connected() || storm))
		trig_connect();
	M.notifies = 0;
	M.notify_first = M.notify_last = 0;
	M.burst_done_t = 0;
	M.t0 = 0;
	trig_reset();
	ms_broadcast(storm ? WK_STORM : WK_ARM, r);
	ms_wait_all(storm ? 's' : 'a', 10000);
	for (int i = 0; i < ms.nprocs; i++)
		ms.replies[i] = 0;
	take_sample(&s0);
	M.t0 = lc_mono_ns();
	if (!storm) {
		trig_add(opt.count++);
		trig_flush();
	} else if (opt.pg != NULL && !opt.have_trigger) {
		final = sql_storm();
		ms_broadcast(WK_FINAL, final);
	} else {
		for (int i = 0; i < opt.storm_n; i++)
			trig_add(opt.count++);
		final = opt.count - 1;
		ms_broadcast(WK_FINAL, final);
		trig_flush();
	}
	end = lc_mono_ns() + 30000000000LL;
	while (!ms_wait_all(WK_DONE, 50) && lc_mono_ns() < end)
		;
	if (!ms_wait_all(WK_DONE, 0)) {
		for (int i = 0; i < ms.nprocs; i++)
			if (ms.replies[i] != WK_DONE)
				wk_send(ms.ctl[i], WK_GIVEUP, 0);
		ms_wait_all(WK_DONE, 2000);
	}
	if (opt.have_trigger)
		ms_pump(5000, trig_done);
	if (storm)
		trig_close();
	ms_pump(50, NULL);
	take_sample(&s1);
	M.commit_t = 0;
	if (M.burst != NULL && opt.pg_commit_ts)
		M.commit_t = commit_time();
	print_round(r, ready, final, &s0, &s1);
}

int
fanout_main(void)
{
	struct sample s0, sidle;
	int64_t tstart, tready;
	long ready;

	ms_on_event = on_event;
	if (opt.pg != NULL)
		pg_start();
	if (opt.have_trigger)
		trig_connect();
	if (opt.publish_initial) {
		trig_add(opt.count++);
		trig_flush();
		ms_pump(5000, trig_done);
		if (!trig_done())
			lc_die("no answer to the initial publish");
	}
	take_sample(&sidle);
	tstart = lc_mono_ns();
	ms_start();
	ms_wait_all(WK_READY, (opt.connect_timeout_s + 5) * 1000);
	tready = lc_mono_ns();
	ready = ms_sum(WK_READY);
	/* Let the servers settle (frees, lazy allocations) before RSS. */
	ms_pump(opt.mode == LC_IDLE ? 1000 : 200, NULL);
	take_sample(&s0);
	print_connect(&sidle, &s0, ready, tstart, tready);
	for (int r = -opt.warmup; opt.mode != LC_IDLE && r < opt.rounds &&
	    ready > 0; r++)
		round_run(r, ready);
	perf_cmd("disable\n");
	return 0;
}

void
fanout_end(void)
{
	if (M.listen != NULL)
		PQfinish(M.listen);
	if (M.burst != NULL)
		PQfinish(M.burst);
}
