/* The scale mode (bench/scaleout.sh, bench/delta.sh's chat): clients of
 * --keys keys /chat/PREFIXi, one transaction per round that changes
 * every key, the time from its COMMIT to each client's arrival.
 *
 * Per round the master picks a token, arms the workers (each waits for the
 * text TOKEN-kI-e in a fragment of its key I) and runs, on its own libpq
 * connection: BEGIN; INSERT one chat message per room (body TOKEN-kI-e
 * padded to 72 characters, as long as bench/scaleout.sh's filler, so the
 * room keeps its last 50 messages and the oldest drops off); COMMIT. t0
 * is the commit's timestamp (pg_xact_commit_timestamp with
 * track_commit_timestamp on; else when COMMIT was sent). A second libpq
 * connection LISTENs, so a round also reports when the notification
 * reached a listener. Around each round, the CPU time and RSS of every
 * --watch NAME:PID and its children, of the load client, and of the
 * machine (all tasks' schedstat). One JSON line per round, every
 * latency (µs) in it. */
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
#include "util.h"
#include "worker.h"
#include "xmalloc.h"

enum { EV_LISTEN = 2, EV_COMMIT = 3 };

static struct {
	PGconn	*db, *lis;
	int	 commit_busy;
	int64_t	 t_ack, t_notify;
} S;

static PGresult *
q(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK)
		lc_die("%s: %s", sql, PQerrorMessage(c));
	return r;
}

static void
on_event(uint64_t key, uint32_t events)
{
	int64_t t = lc_mono_ns();

	if (key == EV_LISTEN) {
		PQconsumeInput(S.lis);
		for (PGnotify *nf; (nf = PQnotifies(S.lis)) != NULL;) {
			if (S.t_notify == 0)
				S.t_notify = t;
			PQfreemem(nf);
		}
	} else if (key == EV_COMMIT && S.commit_busy) {
		if (!PQconsumeInput(S.db))
			lc_die("COMMIT: %s", PQerrorMessage(S.db));
		while (S.commit_busy && !PQisBusy(S.db)) {
			PGresult *cr = PQgetResult(S.db);

			if (cr == NULL) {
				S.commit_busy = 0;
				S.t_ack = t;
				break;
			}
			if (PQresultStatus(cr) != PGRES_COMMAND_OK)
				lc_die("COMMIT: %s", PQerrorMessage(S.db));
			PQclear(cr);
		}
	}
}

static int
round_done(void)
{
	for (int i = 0; i < ms.nprocs; i++)
		if (ms.replies[i] != WK_DONE)
			return 0;
	return !S.commit_busy;
}

static void
wait_connected(void)
{
	int64_t t = lc_mono_ns();
	long ready;

	if (!ms_wait_all(WK_READY, opt.connect_timeout_s * 1000 + 5000))
		lc_die("%s: clients not connected after %d s", opt.label,
		    opt.connect_timeout_s);
	ready = ms_sum(WK_READY);
	fprintf(stderr, "loadclient: %s: %ld of %ld clients connected in "
	    "%.1f s%s%s\n", opt.label, ready, opt.n,
	    (double)(lc_mono_ns() - t) / 1e9,
	    shm.w[0].err[0] ? "; first error: " : "", shm.w[0].err);
	if (ready < opt.n)
		lc_die("%s: only %ld of %ld clients connected", opt.label,
		    ready, opt.n);
}

static void
print_procs(const struct ps_group *before, const struct ps_group *after)
{
	printf(",\"procs\":{");
	for (int i = 0; i <= opt.nwatch; i++) {
		double msec;
		int64_t ticks, rss;

		ps_group_delta(&before[i], &after[i], &msec, &ticks, &rss);
		printf("%s\"%s\":{\"pid\":%d,\"npids\":%d,\"cpu_ms\":%.3f,"
		    "\"ticks\":%lld,\"rss_kb\":%lld}", i ? "," : "",
		    i < opt.nwatch ? opt.wname[i] : "client", before[i].pid[0],
		    before[i].npid, msec, (long long)ticks, (long long)rss);
	}
	printf("}");
}

/* One round; r < opt.warmup are warm-up rounds. */
static void
round_run(int r, long total_ready, int64_t *tmp_u, int64_t *tmp_k)
{
	static struct ps_group before[LC_MAXWATCH + 1], after[LC_MAXWATCH + 1];
	struct ps_tasks *m0, *m1;
	char sql[1024], xid[32];
	int64_t t_send, t_end, t0, off, tw0, tw1;
	long got = 0, missing, closed = 0;
	int ts_known = 0;
	PGresult *res;

	ms_pump(opt.gap_ms, NULL);
	snprintf(shm.token, 64, "q%lxr%d", (unsigned long)random() & 0xffffff,
	    r);
	ms_broadcast(WK_ARM, r);
	if (!ms_wait_all('a', 10000))
		lc_die("workers did not arm");
	/* Drain stale notifications. */
	PQconsumeInput(S.lis);
	for (PGnotify *nf; (nf = PQnotifies(S.lis)) != NULL;)
		PQfreemem(nf);
	S.t_notify = 0;
	PQclear(q(S.db, "BEGIN"));
	snprintf(sql, sizeof(sql), "INSERT INTO messages (room, author, body) "
	    "SELECT '%s' || i, 'bench', rpad('%s-k' || i || '-e ', 72, "
	    "'lorem ipsum ') FROM generate_series(0, %d) i", opt.prefix,
	    shm.token, opt.keys - 1);
	PQclear(q(S.db, sql));
	res = q(S.db, "SELECT txid_current() % 4294967296");
	snprintf(xid, sizeof(xid), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);

	for (int i = 0; i <= opt.nwatch; i++)
		ps_group_take(&before[i], i < opt.nwatch ? opt.wpid[i] :
		    getpid(), NULL);
	m0 = ps_tasks_take();
	tw0 = lc_mono_ns();
	off = lc_real_minus_mono();
	t_send = lc_mono_ns();
	if (!PQsendQuery(S.db, "COMMIT"))
		lc_die("COMMIT: %s", PQerrorMessage(S.db));
	S.commit_busy = 1;
	for (int i = 0; i < ms.nprocs; i++)
		ms.replies[i] = 0;
	ms_pump(opt.timeout_s * 1000, round_done);
	t_end = tw1 = lc_mono_ns();
	m1 = ps_tasks_take();
	for (int i = 0; i <= opt.nwatch; i++)
		ps_group_take(&after[i], 0, &before[i]);
	if (!round_done()) {
		for (int i = 0; i < ms.nprocs; i++)
			if (ms.replies[i] != WK_DONE)
				wk_send(ms.ctl[i], WK_GIVEUP, r);
		ms_wait_all(WK_DONE, 2000);
	}
	if (S.commit_busy) {
		PGresult *cr;

		PQsetnonblocking(S.db, 0);
		while ((cr = PQgetResult(S.db)) != NULL)
			PQclear(cr);
		S.commit_busy = 0;
		S.t_ack = lc_mono_ns();
	}

	/* t0: the commit's own timestamp, if PostgreSQL keeps them. */
	t0 = t_send;
	snprintf(sql, sizeof(sql), "SELECT (extract(epoch FROM "
	    "pg_xact_commit_timestamp('%s'::xid)) * 1000000)::bigint", xid);
	res = PQexec(S.db, sql);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && !PQgetisnull(res, 0, 0)) {
		t0 = strtoll(PQgetvalue(res, 0, 0), NULL, 10) * 1000 - off;
		ts_known = 1;
	}
	PQclear(res);

	for (long i = 0; i < opt.n; i++) {
		if (shm.arr_u[i] == 0)
			continue;
		tmp_u[got] = shm.arr_u[i] - t0;
		tmp_k[got] = shm.arr_k[i] - t0;
		got++;
	}
	missing = total_ready - got;
	for (int w = 0; w < ms.nprocs; w++)
		closed += shm.w[w].closed;
	st_sort(tmp_u, got);
	st_sort(tmp_k, got);
	fprintf(stderr, "loadclient: %s n=%ld round %d%s: p50 %.2f p99 %.2f "
	    "max %.2f ms (kernel p50 %.2f p99 %.2f), notify %.2f, commit "
	    "%.2f ms%s\n", opt.label, opt.n, r + 1,
	    r < opt.warmup ? " (warm-up)" : "", st_pct(tmp_u, got, .5),
	    st_pct(tmp_u, got, .99), st_pct(tmp_u, got, 1),
	    st_pct(tmp_k, got, .5), st_pct(tmp_k, got, .99),
	    S.t_notify ? (double)(S.t_notify - t0) / 1e6 : -1,
	    (double)(S.t_ack - t_send) / 1e6,
	    missing ? " MISSING CLIENTS" : "");
	printf("{\"label\":\"%s\",\"n\":%ld,\"keys\":%d,\"round\":%d,"
	    "\"warmup\":%s,\"got\":%ld,\"missing\":%ld,\"t0\":\"%s\","
	    "\"commit_send_ms\":%.3f,\"commit_ack_ms\":%.3f,\"notify_ms\":%.3f,"
	    "\"window_ms\":%.3f,\"machine_cpu_ms\":%.3f,"
	    "\"machine_busy_cores\":%.3f,\"ncpu\":%ld,\"closed\":%ld,"
	    "\"proto\":%d,\"deflate\":%s", opt.label, opt.n, opt.keys, r,
	    r < opt.warmup ? "true" : "false", got, missing,
	    ts_known ? "commit_ts" : "commit_sent",
	    (double)(t_send - t0) / 1e6, (double)(S.t_ack - t0) / 1e6,
	    S.t_notify ? (double)(S.t_notify - t0) / 1e6 : -1.0,
	    (double)(t_end - t_send) / 1e6, ps_tasks_ms(m0, m1),
	    ps_tasks_ms(m0, m1) / ((double)(tw1 - tw0) / 1e6),
	    sysconf(_SC_NPROCESSORS_ONLN), closed, opt.v2 ? 2 : 1,
	    opt.deflate ? "true" : "false");
	print_procs(before, after);
	st_print_wire(opt.n, ms.nprocs);
	st_print_lat("lat_us", tmp_u, got);
	st_print_lat("latk_us", tmp_k, got);
	printf("}\n");
	fflush(stdout);
	free(m0);
	free(m1);
}

int
scale_main(void)
{
	int64_t *tmp_u, *tmp_k;
	long total_ready;
	char sql[128];
	PGresult *r;

	if (opt.pg == NULL)
		lc_die("--mode scale needs --pg");
	ms_on_event = on_event;
	ms_start();
	wait_connected();
	total_ready = ms_sum(WK_READY);
	if (opt.on_ready != NULL && system(opt.on_ready) != 0)
		fprintf(stderr, "loadclient: --on-ready command failed\n");
	S.db = PQconnectdb(opt.pg);
	S.lis = PQconnectdb(opt.pg);
	if (PQstatus(S.db) != CONNECTION_OK || PQstatus(S.lis) != CONNECTION_OK)
		lc_die("database: %s", PQerrorMessage(
		    PQstatus(S.db) != CONNECTION_OK ? S.db : S.lis));
	snprintf(sql, sizeof(sql), "LISTEN \"%s\"", opt.channel);
	PQclear(q(S.lis, sql));
	r = q(S.db, "SHOW track_commit_timestamp");
	if (strcmp(PQgetvalue(r, 0, 0), "on") != 0)
		fprintf(stderr, "loadclient: track_commit_timestamp is off: "
		    "t0 is when COMMIT was sent\n");
	PQclear(r);
	PQsetnonblocking(S.lis, 1);
	ms_watch(PQsocket(S.lis), EV_LISTEN, EPOLLIN);
	ms_watch(PQsocket(S.db), EV_COMMIT, EPOLLIN);
	tmp_u = xmalloc(sizeof(int64_t) * (size_t)opt.n);
	tmp_k = xmalloc(sizeof(int64_t) * (size_t)opt.n);
	srandom((unsigned)(getpid() ^ lc_mono_ns()));
	for (int i = 0; i < opt.warmup + opt.rounds; i++)
		round_run(i, total_ready, tmp_u, tmp_k);
	free(tmp_u);
	free(tmp_k);
	PQfinish(S.db);
	PQfinish(S.lis);
	return 0;
}
