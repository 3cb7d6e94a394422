/* keycast-fcgi: the FastCGI application server. The parent loads and checks
 * the templates, opens (or inherits on fd 0) the listening socket, then
 * preforks workers and replaces any that die, with backoff; each worker
 * serves one connection at a time with its own PostgreSQL connection. */
#include "config.h"

#include <errno.h>
#include <fcgiapp.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "arena.h"
#include "log.h"
#include "xmalloc.h"

#define WORKERS_MAX	256
#define DRAIN_MAX	(1024 * 1024)

static volatile sig_atomic_t worker_stop;
/* Set while a request is being served: a stop signal then waits for the
 * answer; between requests (even on a kept-alive connection, where libfcgi
 * retries interrupted reads) the worker exits at once. */
static volatile sig_atomic_t worker_busy;
static volatile sig_atomic_t worker_reopen_log;

struct worker {
	pid_t		pid;		/* 0 when not running */
	struct timespec	started;
	struct timespec	restart_at;	/* when to start it again */
	long		backoff_ms;
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: keycast-fcgi [options]\n"
"Serves the keycast pages over FastCGI. Without --listen, fd 0 must be a\n"
"listening socket (spawn-fcgi, systemd socket activation, lighttpd).\n"
"\n"
"  --listen unix:PATH|HOST:PORT  listen here instead of on fd 0\n"
"  --workers N          worker processes (default 16); each serves one\n"
"                       FastCGI connection at a time, so keep N above the web\n"
"                       server's upstream keepalive plus pushd's --app-conns\n"
"  --db CONNINFO        libpq connection string (default: PG* variables)\n"
"  --templates DIR      template directory (default %s/templates)\n"
"  --log-level LEVEL    error, warn, info (default) or debug\n"
"  --log-file PATH      append logs here instead of stderr (SIGHUP reopens)\n"
"  --version            print the version and exit\n"
"  --help               print this help and exit\n",
	    KC_DATADIR);
}

static int
open_listener(const char *spec)
{
	char addr[512];
	int fd;

	if (strncmp(spec, "unix:", 5) == 0) {
		const char *path = spec + 5;
		if (strlen(path) >= 100) {
			log_error("--listen %s: unix socket path too long", spec);
			return -1;
		}
		unlink(path);
		snprintf(addr, sizeof(addr), "%s", path);
	} else if (strchr(spec, ':') != NULL) {
		snprintf(addr, sizeof(addr), "%s", spec);
	} else {
		log_error("--listen %s: expected unix:PATH or HOST:PORT", spec);
		return -1;
	}
	fd = FCGX_OpenSocket(addr, 1024);
	if (fd < 0) {
		log_error("cannot listen on %s: %s", spec, strerror(errno));
		return -1;
	}
	/* The web server's workers run as another user. */
	if (strncmp(spec, "unix:", 5) == 0 && chmod(spec + 5, 0666) != 0)
		log_warn("chmod %s: %s", spec + 5, strerror(errno));
	return fd;
}

static void
on_worker_signal(int sig)
{
	if (sig == SIGHUP) {
		worker_reopen_log = 1;
		return;
	}
	if (!worker_busy)
		_exit(0);
	worker_stop = 1;
}

static const char *
fcgx_getenv(void *ctx, const char *name)
{
	return FCGX_GetParam(name, (FCGX_ParamArray)ctx);
}

static double
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Reads the body into the arena; returns 0, 413 (too large) or 400 (the
 * body ended before CONTENT_LENGTH). */
static int
read_body(FCGX_Request *fr, struct req *rq)
{
	size_t want = rq->content_length > 0 ? (size_t)rq->content_length : 0;
	char *body;
	int n;

	if (rq->content_length > REQ_BODY_MAX)
		return 413;
	body = arena_alloc(rq->arena, want + 1);
	n = want > 0 ? FCGX_GetStr(body, (int)want, fr->in) : 0;
	if (n < 0 || (size_t)n != want)
		return 400;
	body[n] = '\0';
	rq->body = body;
	rq->body_len = (size_t)n;
	return 0;
}

/* A kept-alive connection carries the next request right after this
 * one's body: whatever of the body is left (a refused or over-long one)
 * must be read first, or libfcgi takes it for a protocol error and drops
 * the connection with the next request on it. Past a bound the connection
 * is closed instead. */
static void
drain_body(FCGX_Request *fr)
{
	char sink[8192];
	size_t total = 0;
	int n;

	while ((n = FCGX_GetStr(sink, sizeof(sink), fr->in)) > 0) {
		total += (size_t)n;
		if (total > DRAIN_MAX) {
			fr->keepConnection = 0;
			return;
		}
	}
}

static void
serve_one(struct app *app, FCGX_Request *fr, struct arena *a, struct resp *rs,
    struct buf *out)
{
	struct timespec t0;
	struct req rq;
	int status;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	arena_reset(a);
	resp_reset(rs);
	status = req_init(&rq, a, fcgx_getenv, fr->envp);
	rq.app = app;
	if (status == 0)
		status = read_body(fr, &rq);
	if (status == 413)
		app_error(&rq, rs, 413, "The request body is larger than 64 KiB.");
	else if (status != 0)
		app_error(&rq, rs, status, "The request could not be understood.");
	else
		app_handle(app, &rq, rs);
	drain_body(fr);
	resp_serialize(rs, strcmp(rq.method, "HEAD") == 0, out);
	if (FCGX_PutStr(out->data, (int)out->len, fr->out) < 0)
		log_warn("%s %s: client went away", rq.method, rq.uri);
	log_info("%s %s %d %.2fms%s", rq.method, rq.uri, rs->status,
	    ms_since(&t0), rq.render_key != NULL ? " render" : "");
}

static void
worker_run(struct app *app, int listen_fd)
{
	struct sigaction sa;
	FCGX_Request fr;
	struct arena *a = arena_new();
	struct resp rs;
	struct buf out;

	memset(&sa, 0, sizeof(sa));
	/* SA_RESTART: libfcgi does not retry interrupted reads itself, and a
	 * body cut short by a signal must not pass for a whole one. */
	sa.sa_handler = on_worker_signal;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	resp_init(&rs);
	buf_init(&out);
	FCGX_InitRequest(&fr, listen_fd, 0);
	while (!worker_stop && FCGX_Accept_r(&fr) == 0) {
		worker_busy = 1;
		if (worker_reopen_log) {
			worker_reopen_log = 0;
			log_reopen();
		}
		serve_one(app, &fr, a, &rs, &out);
		FCGX_Finish_r(&fr);
		worker_busy = 0;
	}
	buf_cleanup(&out);
	resp_cleanup(&rs);
	arena_free(a);
	app_cleanup(app);
	_exit(0);
}

static int
ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	    (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void
ts_add_ms(struct timespec *t, long ms)
{
	t->tv_sec += ms / 1000;
	t->tv_nsec += (ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

static void
worker_start(struct worker *w, struct app *app, int listen_fd,
    const sigset_t *oldmask)
{
	pid_t pid = fork();

	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		clock_gettime(CLOCK_MONOTONIC, &w->restart_at);
		ts_add_ms(&w->restart_at, 1000);
		return;
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, oldmask, NULL);
		worker_run(app, listen_fd);
	}
	w->pid = pid;
	clock_gettime(CLOCK_MONOTONIC, &w->started);
}

static void
reap(struct worker *ws, int n, int stopping)
{
	struct timespec now;
	int status, i;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < n; i++)
			if (ws[i].pid == pid)
				break;
		if (i == n)
			continue;
		ws[i].pid = 0;
		if (stopping)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &now);
		/* A worker that dies young is probably crashing at start:
		 * back off so we don't spin; one that ran a while restarts now. */
		if (ms_since(&ws[i].started) < 1000)
			ws[i].backoff_ms = ws[i].backoff_ms ?
			    (ws[i].backoff_ms * 2 > 5000 ? 5000 : ws[i].backoff_ms * 2) : 100;
		else
			ws[i].backoff_ms = 0;
		ws[i].restart_at = now;
		ts_add_ms(&ws[i].restart_at, ws[i].backoff_ms);
		if (WIFSIGNALED(status))
			log_warn("worker %d killed by signal %d; restarting in %ld ms",
			    (int)pid, WTERMSIG(status), ws[i].backoff_ms);
		else
			log_warn("worker %d exited with status %d; restarting in %ld ms",
			    (int)pid, WEXITSTATUS(status), ws[i].backoff_ms);
	}
}

static int
supervise(struct app *app, int listen_fd, int nworkers)
{
	struct worker *ws = xcalloc((size_t)nworkers, sizeof(*ws));
	sigset_t mask, oldmask;
	struct timespec now, deadline;
	int i, sig, alive;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, &oldmask);
	for (i = 0; i < nworkers; i++)
		worker_start(&ws[i], app, listen_fd, &oldmask);
	for (;;) {
		struct timespec wait = { 0, 200 * 1000000L };
		siginfo_t si;

		sig = sigtimedwait(&mask, &si, &wait);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGHUP) {
			log_reopen();
			for (i = 0; i < nworkers; i++)
				if (ws[i].pid > 0)
					kill(ws[i].pid, SIGHUP);
		}
		reap(ws, nworkers, 0);
		clock_gettime(CLOCK_MONOTONIC, &now);
		for (i = 0; i < nworkers; i++)
			if (ws[i].pid == 0 && !ts_before(&now, &ws[i].restart_at))
				worker_start(&ws[i], app, listen_fd, &oldmask);
	}
	log_info("stopping %d workers", nworkers);
	for (i = 0; i < nworkers; i++)
		if (ws[i].pid > 0)
			kill(ws[i].pid, SIGTERM);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	ts_add_ms(&deadline, 5000);
	do {
		struct timespec wait = { 0, 50 * 1000000L };
		siginfo_t si;

		sigtimedwait(&mask, &si, &wait);
		reap(ws, nworkers, 1);
		alive = 0;
		for (i = 0; i < nworkers; i++)
			alive += ws[i].pid > 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (alive > 0 && ts_before(&now, &deadline));
	for (i = 0; i < nworkers; i++) {
		if (ws[i].pid > 0) {
			log_warn("worker %d did not stop in 5 s; killing it",
			    (int)ws[i].pid);
			kill(ws[i].pid, SIGKILL);
			waitpid(ws[i].pid, NULL, 0);
		}
	}
	free(ws);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "workers", required_argument, NULL, 'w' },
		{ "db", required_argument, NULL, 'd' },
		{ "templates", required_argument, NULL, 't' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "log-file", required_argument, NULL, 'F' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *listen_spec = NULL, *conninfo = "", *log_file = NULL;
	const char *tpl_dir = KC_DATADIR "/templates";
	enum log_level level = LOG_INFO;
	struct app app;
	char err[512];
	int c, nworkers = 16, listen_fd, rc;
	char *end;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l': listen_spec = optarg; break;
		case 'w':
			nworkers = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || nworkers < 1 || nworkers > WORKERS_MAX) {
				fprintf(stderr, "keycast-fcgi: --workers must be 1..%d\n",
				    WORKERS_MAX);
				return 2;
			}
			break;
		case 'd': conninfo = optarg; break;
		case 't': tpl_dir = optarg; break;
		case 'L':
			if (log_parse_level(optarg, &level) != 0) {
				fprintf(stderr, "keycast-fcgi: unknown --log-level %s\n",
				    optarg);
				return 2;
			}
			break;
		case 'F': log_file = optarg; break;
		case 'V': printf("keycast-fcgi %s\n", PACKAGE_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "keycast-fcgi: unexpected argument %s\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	log_init("keycast-fcgi", level, log_file);
	if (app_init(&app, tpl_dir, conninfo, err, sizeof(err)) != 0) {
		log_error("cannot start: %s", err);
		return 1;
	}
	if (FCGX_Init() != 0) {
		log_error("cannot initialise libfcgi");
		return 1;
	}
	if (listen_spec != NULL) {
		listen_fd = open_listener(listen_spec);
		if (listen_fd < 0)
			return 1;
	} else {
		int listening = 0;
		socklen_t len = sizeof(listening);

		if (getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 ||
		    !listening) {
			log_error("no --listen given and fd 0 is not a listening socket "
			    "(start me with spawn-fcgi, systemd or a web server, "
			    "or pass --listen)");
			return 1;
		}
		listen_fd = 0;
	}
	log_info("listening on %s with %d workers, templates from %s",
	    listen_spec != NULL ? listen_spec : "fd 0", nworkers, tpl_dir);
	rc = supervise(&app, listen_fd, nworkers);
	if (listen_spec != NULL && strncmp(listen_spec, "unix:", 5) == 0)
		unlink(listen_spec + 5);
	app_cleanup(&app);
	return rc;
}
