/* keycast-fcgi: the FastCGI application server. The parent loads and checks
 * the templates, opens (or inherits on fd 0) the listening socket, then
 * preforks workers and replaces any that die, with backoff; each worker
 * serves one connection at a time with its own PostgreSQL connection.
 * A worker keeps its stop signals blocked except while it waits (for a
 * connection, or for the next request on a kept-alive one), so a stop ends
 * a wait at once but never a connection it has accepted: that one gets its
 * answer first. */
#include "config.h"

#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "arena.h"
#include "flags.h"
#include "log.h"
#include "session.h"
#include "xmalloc.h"

#define WORKERS_MAX	256
#define DRAIN_MAX	(1024 * 1024)
#define BACKLOG		1024
/* After an accept error such as EMFILE the connection stays queued:
 * pause instead of spinning on a listener that stays readable. */
#define ACCEPT_PAUSE_MS	100
/* What the parent adds to the longest a request may take (idle timeout
 * for its bytes, statement timeout for its query) before it kills a
 * worker that has not stopped: libfcgi's lingering close takes up to 2 s. */
#define STOP_MARGIN_MS	3000

static volatile sig_atomic_t worker_stop;
static volatile sig_atomic_t worker_reopen_log;

/* What a worker needs to wait for work; set up once in the worker. */
struct waiter {
	int		listen_fd;	/* borrowed, non-blocking */
	int		ep;		/* owned epoll fd watching listen_fd */
	sigset_t	waitmask;	/* the mask while waiting: stop signals open */
	int		idle_ms;	/* --idle-timeout */
};

/* What the parent hands every worker it starts. */
struct pool {
	struct app	*app;		/* borrowed; each worker has its copy */
	int		 listen_fd;
	int		 nworkers;
	int		 idle_ms;	/* --idle-timeout */
	long		 stop_ms;	/* how long a stop waits for the workers */
};

struct worker {
	pid_t		pid;		/* 0 when not running */
	struct timespec	started;
	struct timespec	restart_at;	/* when to start it again */
	long		backoff_ms;
};

/* What the flags set; see the table below for each one's meaning. */
static struct {
	const char	*listen, *db, *templates, *log_file;
	unsigned long	 workers, idle_ms, stmt_ms, lock_ms;
	unsigned long	 fail_name, fail_addr, fail_window_s, session_idle;
	int		 level;
} o;

static const struct flag rows[] = {
FLAG_ROW("listen", "unix:PATH|HOST:PORT", FLAG_STRING, 0, 0, NULL, &o.listen,
    "listen here instead of on fd 0; a unix\n"
    "socket is mode 0660, a live one at PATH is refused"),
FLAG_ROW("workers", "N", FLAG_UINT, 1, WORKERS_MAX, "16", &o.workers,
    "worker processes (default {}); each serves one\n"
    "FastCGI connection at a time, so keep N above pushd's\n"
    "--app-conns plus the web server's upstream keepalive"),
FLAG_ROW("idle-timeout", "MS", FLAG_MS, 1, 3600000, "5000", &o.idle_ms,
    "close a connection that sends nothing for MS ms,\n"
    "kept-alive between requests or inside one, so its\n"
    "worker returns to accept (default {})"),
FLAG_ROW("db", "CONNINFO", FLAG_STRING, 0, 0, "", &o.db,
    "libpq connection string (default: PG* variables)"),
FLAG_ROW("statement-timeout", "MS", FLAG_MS, 0, INT_MAX, "10000", &o.stmt_ms,
    "PostgreSQL statement_timeout of the workers'\n"
    "sessions, 0 for none (default {})"),
FLAG_ROW("lock-timeout", "MS", FLAG_MS, 0, INT_MAX, "3000", &o.lock_ms,
    "PostgreSQL lock_timeout: a request waiting longer for\n"
    "a lock (a migration's) gets 503 (default {})"),
FLAG_ROW("signin-failures", "N", FLAG_UINT, 1, 1000000, "5", &o.fail_name,
    "failed sign-ins per account within the window\n"
    "before sign-in answers 429 (default {})"),
FLAG_ROW("signin-failures-per-addr", "N", FLAG_UINT, 1, 1000000, "20",
    &o.fail_addr, "failed sign-ins per client address\n"
    "(REMOTE_ADDR) within the window (default {})"),
FLAG_ROW("session-idle", "DAYS", FLAG_UINT, 1, 3650, "30", &o.session_idle,
    "a session not used for this many days ends: its\n"
    "cookie signs in no more and its sockets close 4401\n"
    "(default {})"),
FLAG_ROW("signin-window", "S", FLAG_UINT, 1, 86400, "300", &o.fail_window_s,
    "the window of the two limits above, in seconds\n"
    "(default {})"),
FLAG_ROW("templates", "DIR", FLAG_STRING, 0, 0, KC_DATADIR "/templates",
    &o.templates, "template directory (default {})"),
{ .name = "log-level", .arg = "LEVEL", .kind = FLAG_ENUM, .def = "info",
  .dst = &o.level, .choices = log_level_names,
  .help = "error, warn, notice, info (default) or debug" },
FLAG_ROW("log-file", "PATH", FLAG_STRING, 0, 0, NULL, &o.log_file,
    "append logs here instead of stderr (SIGHUP reopens)"),
FLAG_ROW("version", NULL, FLAG_VERSION, 0, 0, NULL, NULL,
    "print the version and exit"),
FLAG_ROW("help", NULL, FLAG_HELP, 0, 0, NULL, NULL,
    "print this help and exit"),
};

static const struct flags_prog prog = {
	.name = "keycast-fcgi",
	.version = PACKAGE_VERSION,
	.head =
"usage: keycast-fcgi [options]\n"
"Serves the keycast pages over FastCGI. Without --listen, fd 0 must be a\n"
"listening socket (spawn-fcgi, systemd socket activation, lighttpd).\n"
"\n",
	.rows = rows,
	.nrows = sizeof(rows) / sizeof(rows[0]),
};

/* The unix socket at path, mode 0660 (the web server reaches it through
 * the group). A path where a live socket listens is refused, so a second
 * instance cannot take over a running one; a stale socket is replaced. */
static int
open_unix_listener(const char *path)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t old_umask;
	int fd = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_error("--listen unix:%s: unix socket path too long", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path));
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_error("--listen unix:%s: the path exists and is not a "
			    "socket", path);
			return -1;
		}
		/* Non-blocking: a live listener with a full queue says EAGAIN
		 * instead of making us wait. */
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			log_error("socket: %s", strerror(errno));
			return -1;
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ||
		    errno == EAGAIN) {
			log_error("--listen unix:%s: another process listens there "
			    "(stop it first)", path);
			goto fail;
		}
		if (errno != ECONNREFUSED) {
			log_error("--listen unix:%s: cannot tell whether the socket "
			    "is in use: %s", path, strerror(errno));
			goto fail;
		}
		close(fd);
		log_info("replacing the stale socket %s", path);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_error("socket: %s", strerror(errno));
		return -1;
	}
	/* Created 0660 at once: no moment where any local user may connect. */
	old_umask = umask(0117);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		umask(old_umask);
		log_error("cannot listen on unix:%s: %s", path, strerror(errno));
		goto fail;
	}
	umask(old_umask);
	if (listen(fd, BACKLOG) != 0) {
		log_error("listen on unix:%s: %s", path, strerror(errno));
		unlink(path);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/* Removes our socket file at exit, unless something else took the path. */
static void
unlink_if_ours(const char *path, const struct stat *bound)
{
	struct stat st;

	if (stat(path, &st) == 0 && st.st_ino == bound->st_ino &&
	    st.st_dev == bound->st_dev)
		unlink(path);
}

static int
open_listener(const char *spec)
{
	int fd;

	if (strncmp(spec, "unix:", 5) == 0)
		return open_unix_listener(spec + 5);
	if (strchr(spec, ':') == NULL) {
		log_error("--listen %s: expected unix:PATH or HOST:PORT", spec);
		return -1;
	}
	fd = FCGX_OpenSocket(spec, BACKLOG);
	if (fd < 0)
		log_error("cannot listen on %s: %s", spec, strerror(errno));
	return fd;
}

/* Runs only inside a wait (the signals are blocked elsewhere). */
static void
on_worker_signal(int sig)
{
	if (sig == SIGHUP)
		worker_reopen_log = 1;
	else
		worker_stop = 1;
}

static void
reopen_log_if_asked(void)
{
	if (worker_reopen_log) {
		worker_reopen_log = 0;
		log_reopen();
	}
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

/* Waits for a connection and accepts it; -1 once told to stop (checked
 * before accepting, so a stopping worker leaves queued connections to the
 * next instance on the same socket). EPOLLEXCLUSIVE wakes one idle worker
 * per connection, not all; a worker that loses the race sees EAGAIN. */
static int
accept_next(struct waiter *w)
{
	struct epoll_event ev;
	int fd, n;

	for (;;) {
		if (worker_stop)
			return -1;
		n = epoll_pwait(w->ep, &ev, 1, -1, &w->waitmask);
		reopen_log_if_asked();
		if (n < 0 && errno != EINTR) {
			log_error("epoll_wait: %s", strerror(errno));
			return -1;
		}
		if (n <= 0 || worker_stop)
			continue;
		fd = accept4(w->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
		    errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			struct timespec pause = { 0, ACCEPT_PAUSE_MS * 1000000L };

			log_error("accept: %s; pausing %d ms", strerror(errno),
			    ACCEPT_PAUSE_MS);
			ppoll(NULL, 0, &pause, &w->waitmask);
			continue;
		}
		log_error("accept: %s", strerror(errno));
		return -1;
	}
}

/* 1 when the kept-alive connection fd has bytes (the next request, or its
 * end), 0 when it stayed silent for the idle timeout or the worker is told
 * to stop; a request already waiting is still served when stopping. */
static int
wait_next_request(struct waiter *w, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct timespec deadline, now, left;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	ts_add_ms(&deadline, w->idle_ms);
	for (;;) {
		int n;

		if (worker_stop)
			return poll(&p, 1, 0) > 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!ts_before(&now, &deadline))
			return 0;
		left.tv_sec = deadline.tv_sec - now.tv_sec;
		left.tv_nsec = deadline.tv_nsec - now.tv_nsec;
		if (left.tv_nsec < 0) {
			left.tv_sec--;
			left.tv_nsec += 1000000000L;
		}
		n = ppoll(&p, 1, &left, &w->waitmask);
		reopen_log_if_asked();
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return 0;
	}
}

/* libfcgi 2.4 has no call that takes an accepted connection, but its
 * FCGX_Accept_r reads from fr->ipcFd when that is open, and keeps it open
 * across the FCGX_Finish_r it starts with while keepConnection is set (it
 * then sets keepConnection from the request). The request's listen socket
 * is -1, so libfcgi never accepts by itself: its accept is what left a
 * window between accept and knowing a connection is in hand. A read that
 * waits past the idle timeout fails, and libfcgi drops the connection. */
static void
conn_adopt(FCGX_Request *fr, int fd, int idle_ms)
{
	struct timeval tv = { idle_ms / 1000, (idle_ms % 1000) * 1000 };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
		log_warn("setsockopt: %s", strerror(errno));
	fr->ipcFd = fd;
	fr->keepConnection = 1;
}

/* Closes an idle kept-alive connection (not FCGX_Free, whose lingering
 * close waits up to 2 s for a peer that may never speak again). */
static void
conn_drop(FCGX_Request *fr)
{
	close(fr->ipcFd);
	fr->ipcFd = -1;
}

/* The worker's signals: the stop signals come blocked from the parent's
 * mask, so the handler is installed before any can run; they stay blocked,
 * and *waitmask (the parent's mask without them) opens them in the waits. */
static void
worker_signals(const sigset_t *parent_mask, sigset_t *waitmask)
{
	static const int stops[] = { SIGTERM, SIGINT, SIGHUP };
	struct sigaction sa;
	sigset_t blocked;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_worker_signal;
	sigemptyset(&blocked);
	*waitmask = *parent_mask;
	for (i = 0; i < sizeof(stops) / sizeof(stops[0]); i++) {
		sigaction(stops[i], &sa, NULL);
		sigaddset(&blocked, stops[i]);
		sigdelset(waitmask, stops[i]);
	}
	signal(SIGPIPE, SIG_IGN);
	sigprocmask(SIG_SETMASK, parent_mask, NULL);
	sigprocmask(SIG_BLOCK, &blocked, NULL);
}

static void
worker_run(struct app *app, int listen_fd, int idle_ms,
    const sigset_t *parent_mask)
{
	struct epoll_event ev;
	struct waiter w;
	FCGX_Request fr;
	struct arena *a = arena_new();
	struct resp rs;
	struct buf out;

	worker_signals(parent_mask, &w.waitmask);
	/* Per worker: libsodium picks its randomness source here. */
	if (sess_init() != 0) {
		log_error("cannot initialise libsodium");
		_exit(1);
	}
	w.listen_fd = listen_fd;
	w.idle_ms = idle_ms;
	w.ep = epoll_create1(EPOLL_CLOEXEC);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	if (w.ep < 0 || epoll_ctl(w.ep, EPOLL_CTL_ADD, listen_fd, &ev) != 0) {
		log_error("epoll: %s", strerror(errno));
		_exit(1);
	}

	resp_init(&rs);
	buf_init(&out);
	FCGX_InitRequest(&fr, -1, 0);
	for (;;) {
		if (fr.ipcFd < 0) {
			int fd = accept_next(&w);

			if (fd < 0)
				break;
			conn_adopt(&fr, fd, idle_ms);
		} else if (!wait_next_request(&w, fr.ipcFd)) {
			conn_drop(&fr);
			continue;
		}
		/* Fails when the peer closed or stalled; the connection is
		 * then closed and the loop accepts the next. */
		if (FCGX_Accept_r(&fr) != 0)
			continue;
		serve_one(app, &fr, a, &rs, &out);
		FCGX_Finish_r(&fr);
	}
	if (fr.ipcFd >= 0)
		conn_drop(&fr);
	close(w.ep);
	buf_cleanup(&out);
	resp_cleanup(&rs);
	arena_free(a);
	app_cleanup(app);
	_exit(0);
}

static void
worker_start(struct worker *w, const struct pool *pl, const sigset_t *oldmask)
{
	pid_t pid = fork();

	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		clock_gettime(CLOCK_MONOTONIC, &w->restart_at);
		ts_add_ms(&w->restart_at, 1000);
		return;
	}
	if (pid == 0)
		worker_run(pl->app, pl->listen_fd, pl->idle_ms, oldmask);
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
supervise(const struct pool *pl)
{
	int nworkers = pl->nworkers;
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
		worker_start(&ws[i], pl, &oldmask);
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
				worker_start(&ws[i], pl, &oldmask);
	}
	log_info("stopping %d workers", nworkers);
	for (i = 0; i < nworkers; i++)
		if (ws[i].pid > 0)
			kill(ws[i].pid, SIGTERM);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	ts_add_ms(&deadline, pl->stop_ms);
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
			log_warn("worker %d did not stop in %ld ms; killing it",
			    (int)ws[i].pid, pl->stop_ms);
			kill(ws[i].pid, SIGKILL);
			waitpid(ws[i].pid, NULL, 0);
		}
	}
	free(ws);
	return 0;
}

/* The listening socket from --listen or fd 0, made non-blocking: workers
 * wait for it in epoll and must not block in accept once another worker
 * took the connection. */
static int
listener(const char *listen_spec)
{
	int fd = 0, listening = 0, flags;
	socklen_t len = sizeof(listening);

	if (listen_spec != NULL) {
		fd = open_listener(listen_spec);
		if (fd < 0)
			return -1;
	} else if (getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 ||
	    !listening) {
		log_error("no --listen given and fd 0 is not a listening socket "
		    "(start me with spawn-fcgi, systemd or a web server, "
		    "or pass --listen)");
		return -1;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
		log_error("fcntl O_NONBLOCK on the listening socket: %s",
		    strerror(errno));
		return -1;
	}
	return fd;
}

int
main(int argc, char **argv)
{
	struct app app;
	char err[512];
	struct pool pl;
	struct stat bound;
	const char *listen_spec;
	int rc;

	switch (flags_parse(&prog, argc, argv)) {
	case FLAGS_EXIT:
		return 0;
	case FLAGS_BAD:
		return 2;
	}
	listen_spec = o.listen;
	log_init("keycast-fcgi", (enum log_level)o.level, o.log_file);
	if (app_init(&app, o.templates, o.db, err, sizeof(err)) != 0) {
		log_error("cannot start: %s", err);
		return 1;
	}
	db_set_timeouts(app.db, (int)o.stmt_ms, (int)o.lock_ms);
	app.fail_per_name = (int)o.fail_name;
	app.fail_per_addr = (int)o.fail_addr;
	app.fail_window_s = (int)o.fail_window_s;
	app.session_idle_days = (int)o.session_idle;
	if (FCGX_Init() != 0) {
		log_error("cannot initialise libfcgi");
		return 1;
	}
	pl.app = &app;
	pl.nworkers = (int)o.workers;
	pl.idle_ms = (int)o.idle_ms;
	/* A request in hand may wait for its bytes and then its statement. */
	pl.stop_ms = (long)o.idle_ms + (o.stmt_ms > 0 ? (long)o.stmt_ms : 30000) +
	    STOP_MARGIN_MS;
	pl.listen_fd = listener(listen_spec);
	if (pl.listen_fd < 0)
		return 1;
	/* The socket file's own inode, to recognise it at exit. */
	memset(&bound, 0, sizeof(bound));
	if (listen_spec != NULL && strncmp(listen_spec, "unix:", 5) == 0)
		stat(listen_spec + 5, &bound);
	log_info("listening on %s with %d workers, templates from %s",
	    listen_spec != NULL ? listen_spec : "fd 0", pl.nworkers, o.templates);
	rc = supervise(&pl);
	if (listen_spec != NULL && strncmp(listen_spec, "unix:", 5) == 0)
		unlink_if_ours(listen_spec + 5, &bound);
	app_cleanup(&app);
	return rc;
}
