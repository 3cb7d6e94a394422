/* The load client of every keycast benchmark: N WebSocket clients of
 * keycast-pushd (directly or through a web server), a mutation per round,
 * each client's arrival of the update timed on one clock.
 *
 * A master process forks --procs workers (open files are capped at 20,000
 * per process here; worker.c), which open the connections and hold, per
 * client, the fragment a browser would show: v1 full frames, or with --v2
 * the F and D frames of protocol v2, deflated when --deflate offered
 * permessage-deflate, each D applied and its result's version checked
 * (held.c). A frame a browser would refuse fails the run. The mode
 * decides the mutation and what counts as an arrival: fanout, storm and
 * idle (fanout.c, bench/fanout.sh), scale (scale.c, bench/scaleout.sh and
 * the chat of bench/delta.sh). With --verify, at the end every client's
 * fragment is compared with the page fetched afresh (verify.c).
 *
 * Exit status: 0; 1 on an error; 3 when a frame was refused or a client
 * holds something other than the page. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "master.h"
#include "modes.h"
#include "opt.h"
#include "util.h"
#include "verify.h"
#include "worker.h"

struct lc_opt opt;

static void
usage(void)
{
	fprintf(stderr,
"usage: loadclient --connect HOST:PORT -n N [options]\n"
"  --mode fanout|storm|idle|scale (fanout) --label NAME\n"
"  --path TARGET (@KEY@ = the client's key index) --keys K --host HOSTHDR\n"
"  --v2 (protocol v2: F and D frames) --deflate (offer permessage-deflate)\n"
"  --verify HOST:PORT (compare with the page at the end)\n"
"  --max-failures N (refused frames before giving up at once; 0 = never)\n"
"  --procs P --inflight K --rounds R --warmup W --gap MS\n"
"  --connect-timeout S (60) --round-timeout S (scale: 10)\n"
"  --trigger HOST:PORT --method M --target PATH --header 'H: v' (repeat)\n"
"  --body-template FILE (@COUNT@ = value) --count C --publish-initial\n"
"  --pg CONNINFO --commit-ts --channel NAME --storm-n K --marker STR\n"
"  --prefix ROOMPREFIX (scale: rooms PREFIX0..; scale-)\n"
"  --dump FILE --perf-ctl CTLFIFO:ACKFIFO --on-ready CMD\n"
"  --watch NAME:PID (repeat; scale: with its children)\n");
	exit(2);
}

static void
add_watch(const char *s)
{
	const char *c = strrchr(s, ':');

	if (c == NULL || opt.nwatch == LC_MAXWATCH)
		lc_die("bad --watch %s (NAME:PID, at most %d)", s, LC_MAXWATCH);
	snprintf(opt.wname[opt.nwatch], sizeof(opt.wname[0]), "%.*s",
	    (int)(c - s), s);
	opt.wpid[opt.nwatch++] = atoi(c + 1);
}

static void
parse(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "label", 1, 0, 'L' }, { "mode", 1, 0, 'm' },
		{ "connect", 1, 0, 'c' }, { "path", 1, 0, 'p' },
		{ "host", 1, 0, 'H' }, { "procs", 1, 0, 'P' },
		{ "inflight", 1, 0, 'i' }, { "rounds", 1, 0, 'r' },
		{ "gap", 1, 0, 'g' }, { "warmup", 1, 0, 'W' },
		{ "connect-timeout", 1, 0, 'T' }, { "round-timeout", 1, 0, 'O' },
		{ "trigger", 1, 0, 't' }, { "method", 1, 0, 'M' },
		{ "target", 1, 0, 'u' }, { "header", 1, 0, 'h' },
		{ "body-template", 1, 0, 'b' }, { "count", 1, 0, 'C' },
		{ "publish-initial", 0, 0, 'I' }, { "pg", 1, 0, 'G' },
		{ "commit-ts", 0, 0, 'X' }, { "channel", 1, 0, 'N' },
		{ "storm-n", 1, 0, 's' }, { "marker", 1, 0, 'k' },
		{ "dump", 1, 0, 'd' }, { "watch", 1, 0, 'w' },
		{ "perf-ctl", 1, 0, 'Z' }, { "keys", 1, 0, 'K' },
		{ "prefix", 1, 0, 'x' }, { "on-ready", 1, 0, 'o' },
		{ "v2", 0, 0, '2' }, { "deflate", 0, 0, 'z' },
		{ "verify", 1, 0, 'V' }, { "max-failures", 1, 0, 'F' },
		{ "help", 0, 0, '?' }, { 0, 0, 0, 0 },
	};
	int ch, procs = 0, inflight = 0, rounds = -1, gap = -1;

	while ((ch = getopt_long(argc, argv, "n:", lo, NULL)) != -1) {
		switch (ch) {
		case 'L': opt.label = optarg; break;
		case 'm': opt.mode_name = optarg; break;
		case 'c': lc_parse_addr(optarg, &opt.connect); break;
		case 'p': opt.path = optarg; break;
		case 'H': snprintf(opt.host, sizeof(opt.host), "%s", optarg); break;
		case 'n': opt.n = atol(optarg); break;
		case 'P': procs = atoi(optarg); break;
		case 'i': inflight = atoi(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		case 'g': gap = atoi(optarg); break;
		case 'W': opt.warmup = atoi(optarg); break;
		case 'T': opt.connect_timeout_s = atoi(optarg); break;
		case 'O': opt.timeout_s = atoi(optarg); break;
		case 't':
			lc_parse_addr(optarg, &opt.trigger);
			opt.have_trigger = 1;
			break;
		case 'M': opt.method = optarg; break;
		case 'u': opt.target = optarg; break;
		case 'h':
			if (strlen(opt.theaders) + strlen(optarg) + 3 >
			    sizeof(opt.theaders))
				lc_die("too many --header");
			strcat(opt.theaders, optarg);
			strcat(opt.theaders, "\r\n");
			break;
		case 'b': opt.body_tpl = lc_slurp(optarg); break;
		case 'C': opt.count = atol(optarg); break;
		case 'I': opt.publish_initial = 1; break;
		case 'G': opt.pg = optarg; break;
		case 'X': opt.pg_commit_ts = 1; break;
		case 'N': opt.channel = optarg; break;
		case 's': opt.storm_n = atoi(optarg); break;
		case 'k': opt.marker = optarg; break;
		case 'd': opt.dump = optarg; break;
		case 'Z': opt.perf_ctl = optarg; break;
		case 'K': opt.keys = atoi(optarg); break;
		case 'x': opt.prefix = optarg; break;
		case 'o': opt.on_ready = optarg; break;
		case '2': opt.v2 = 1; break;
		case 'z': opt.deflate = 1; break;
		case 'V':
			lc_parse_addr(optarg, &opt.verify);
			opt.have_verify = 1;
			break;
		case 'F': opt.max_failures = atoi(optarg); break;
		case 'w': add_watch(optarg); break;
		default: usage();
		}
	}
	if (strcmp(opt.mode_name, "fanout") == 0)
		opt.mode = LC_FANOUT;
	else if (strcmp(opt.mode_name, "storm") == 0)
		opt.mode = LC_STORM;
	else if (strcmp(opt.mode_name, "idle") == 0)
		opt.mode = LC_IDLE;
	else if (strcmp(opt.mode_name, "scale") == 0)
		opt.mode = LC_SCALE;
	else
		usage();
	if (opt.n <= 0 || opt.connect.sin_port == 0 || opt.keys < 1 ||
	    opt.keys > LC_MAXKEYS)
		usage();
	/* Per-mode defaults: the values each benchmark was measured with. */
	if (opt.mode == LC_SCALE) {
		static char path[256];

		if (opt.path == NULL) {
			snprintf(path, sizeof(path), "/__realtime?key=/chat/"
			    "%s@KEY@&url=/chat/%s@KEY@", opt.prefix, opt.prefix);
			opt.path = path;
		}
		opt.procs = procs > 0 ? procs : 2;
		opt.inflight = inflight > 0 ? inflight : 128;
		opt.rounds = rounds >= 0 ? rounds : 5;
		opt.gap_ms = gap >= 0 ? gap : 400;
	} else {
		if (opt.path == NULL)
			opt.path = "/__realtime?key=/counter&url=/counter";
		opt.procs = procs > 0 ? procs : (int)((opt.n + 8999) / 9000);
		opt.inflight = inflight > 0 ? inflight : 256;
		opt.rounds = rounds >= 0 ? rounds : 3;
		opt.gap_ms = gap >= 0 ? gap : 300;
		if (opt.mode != LC_IDLE && !opt.have_trigger &&
		    !(opt.mode == LC_STORM && opt.pg != NULL))
			lc_die("--trigger (or, for a storm, --pg) is needed");
	}
	if (opt.procs > LC_MAXPROCS)
		opt.procs = LC_MAXPROCS;
	if (opt.host[0] == 0)
		snprintf(opt.host, sizeof(opt.host), "%s:%d",
		    inet_ntoa(opt.connect.sin_addr), ntohs(opt.connect.sin_port));
	if (opt.have_trigger)
		snprintf(opt.thost, sizeof(opt.thost), "%s:%d",
		    inet_ntoa(opt.trigger.sin_addr), ntohs(opt.trigger.sin_port));
}

int
main(int argc, char **argv)
{
	long refused = 0, mismatched = 0;

	opt.label = "run";
	opt.mode_name = "fanout";
	opt.keys = 1;
	opt.prefix = "scale-";
	opt.warmup = 1;
	opt.timeout_s = 10;
	opt.connect_timeout_s = 60;
	opt.method = "POST";
	opt.target = "/api/counter/increment";
	opt.channel = "keycast";
	opt.storm_n = 1000;
	opt.marker = "aria-live=\"polite\">";
	parse(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	wk_shm_init(opt.n, opt.keys, opt.procs);
	if (opt.mode == LC_SCALE)
		scale_main();
	else
		fanout_main();
	if (opt.have_verify)
		mismatched = verify_run();
	for (int i = 0; i < ms.nprocs; i++) {
		refused += shm.w[i].bad;
		if (shm.w[i].bad_err[0])
			fprintf(stderr, "loadclient: worker %d refused %lld "
			    "frames, first: %s\n", i, (long long)shm.w[i].bad,
			    shm.w[i].bad_err);
	}
	ms_quit();
	if (opt.mode != LC_SCALE)
		fanout_end();
	if (refused > 0 || mismatched > 0) {
		fprintf(stderr, "loadclient: %s: FAILED: %ld frames refused, "
		    "%ld clients differ from the page\n", opt.label, refused,
		    mismatched);
		return LC_EXIT_REFUSED;
	}
	return 0;
}
