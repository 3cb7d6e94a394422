#!/usr/bin/env bash
# Fan-out benchmark: keycast-pushd against the floor and the peers, in one
# run with interleaved rounds (issue 3, "Benchmarks"). Results:
# bench/RESULTS.md, section "Fan-out: keycast-pushd vs floor and peers".
#
#   bench/fanout.sh          build, start everything, measure, print, stop
#
# Contenders (each holds N WebSocket clients of key /counter):
#   pushd        keycast-pushd, clients connect to it directly; the mutation
#                is POST /api/counter/increment (X-Keycast: 1) to nginx
#   pushd-nginx  the same, clients connect through nginx's /__realtime
#   floor        bench/fanout/floor.c: on a trigger, one write() of one
#                pre-encoded frame to each socket (the physical limit)
#   floor-nginx  the floor behind the same nginx proxy settings
#   node         bench/fanout/node-peer.mjs (ws + pg, renders through the
#                same keycast-fcgi, same POST as the mutation)
#   nchan        nginx + nchan (one worker), a publish is the mutation
# The load client (bench/loadclient, built with the release in $KC_BUILD,
# raw epoll, workers forked so that no process passes the 20,000
# open-files cap; --mode fanout, storm or idle) connects N
# clients, waits until each has its first fragment, fires the mutation
# from its own event loop and times each client's arrival of the new
# fragment on CLOCK_MONOTONIC (one clock for all its processes), both in
# user space and with the kernel's receive timestamp (SO_TIMESTAMPNS);
# for pushd and node also from the commit (PostgreSQL commit timestamps,
# switched on here with track_commit_timestamp). Around each mutation it
# reads the contenders' CPU time (/proc/PID/task/*/schedstat) and RSS.
# Each set of connections first runs one unreported warm-up mutation.
#
# Phases: (1) idle: BENCH_IDLE_N clients held on pushd, node, nchan and the
# floor (first, on fresh processes), RSS before and after; then 600 more
# than pushd's --max-clients (19500), which must get 503; (2) fan-out:
# for each N in BENCH_NS, BENCH_ROUNDS rounds, each running every
# contender once (the order rotates per round) with BENCH_FANOUTS
# mutations on one set of connections; (3) storm: BENCH_STORM commits in
# one burst (separate transactions in one query string, as the integration
# test does, synchronous_commit off; for nchan pipelined publishes), time
# from the last commit until every client shows the final value, for each
# N in BENCH_STORM_NS (nchan only at the smallest: it sends every message
# to every client); (4) with BENCH_PERF=1, a perf sample (cpu-clock,
# 2 kHz) of keycast-pushd and of the floor during BENCH_PERF_FANOUTS (10)
# fan-outs to the largest N, for the user/kernel split (schedstat has no
# split, and /proc/PID/stat counts 10 ms ticks). The raw JSON lines go to
# $KC_VAR/fanout/results.jsonl, the tables to stdout and
# $KC_VAR/fanout/report.md. Everything listens on 127.0.0.1 only, and all
# that the script starts is stopped on exit.
#
# Settings (environment): BENCH_NS ("1000 10000"), BENCH_ROUNDS (4),
# BENCH_FANOUTS (3), BENCH_IDLE_N (19000; 0 skips), BENCH_STORM (1000),
# BENCH_STORM_NS ("1000 10000"; "" skips), BENCH_CONTENDERS (all six),
# BENCH_PERF (1), BENCH_PERF_FANOUTS (10), BENCH_SKIP_BUILD (0),
# BENCH_HOLD (1: start everything, then wait for Ctrl-C instead of
# measuring), BENCH_PROCS (load client workers, 2), BENCH_PIN (1: the
# server process on BENCH_SERVER_CPU (1), the load client on
# BENCH_CLIENT_CPU (0); see below), BENCH_FLOOR_PORT
# (47084), BENCH_FLOOR_NGINX_PORT (47083), BENCH_NODE_PORT (47085),
# BENCH_NCHAN_PORT (47086), plus the KC_* of tools/lib.sh (default here:
# var/bench-fanout, ports 47080-47082 and 47432, build/release,
# KC_PUSHD_FLAGS "--max-clients 19500 --max-conns-per-addr 20000
# --log-level warn": every load client is 127.0.0.1, also through nginx).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
here=$root/bench/fanout

: "${KC_VAR:=$root/var/bench-fanout}"
: "${KC_HTTP_PORT:=47080}"
: "${KC_PUSHD_PORT:=47081}"
: "${KC_LIGHTTPD_PORT:=47082}"
: "${KC_PGPORT:=47432}"
: "${KC_BUILD:=$root/build/release}"
: "${KC_PUSHD_FLAGS:=--max-clients 19500 --max-conns-per-addr 20000 --log-level warn}"
: "${BENCH_NS:=1000 10000}"
: "${BENCH_ROUNDS:=4}"
: "${BENCH_FANOUTS:=3}"
: "${BENCH_IDLE_N:=19000}"
: "${BENCH_STORM:=1000}"
: "${BENCH_STORM_NS=1000 10000}"
: "${BENCH_CONTENDERS:=pushd pushd-nginx floor floor-nginx node nchan}"
: "${BENCH_PERF:=1}"
: "${BENCH_PERF_FANOUTS:=10}"
: "${BENCH_SKIP_BUILD:=0}"
: "${BENCH_PROCS:=2}"
: "${BENCH_PIN:=1}"
: "${BENCH_SERVER_CPU:=1}"
: "${BENCH_CLIENT_CPU:=0}"
: "${BENCH_FLOOR_PORT:=47084}"
: "${BENCH_FLOOR_NGINX_PORT:=47083}"
: "${BENCH_NODE_PORT:=47085}"
: "${BENCH_NCHAN_PORT:=47086}"
export KC_VAR KC_HTTP_PORT KC_PUSHD_PORT KC_LIGHTTPD_PORT KC_PGPORT KC_BUILD KC_PUSHD_FLAGS
. "$root/bench/lib.sh"

out=$KC_VAR/fanout
bin=$out/bin
mkdir -p "$out" "$bin"
jsonl=$out/results.jsonl
: > "$jsonl"
bench_trap

bench_build "$BENCH_SKIP_BUILD"
build_rev=$(bench_build_rev)
gcc -O2 -Wall -o "$bin/floor" "$here/floor.c" -lcrypto

# ---- start ----
bench_ports_free "$KC_HTTP_PORT" "$KC_PUSHD_PORT" "$BENCH_FLOOR_PORT" "$BENCH_FLOOR_NGINX_PORT" \
	"$BENCH_NODE_PORT" "$BENCH_NCHAN_PORT"
kc_log "starting PostgreSQL, keycast-fcgi, keycast-pushd ($KC_PUSHD_FLAGS)"
bench_pg_up
"$root/tools/stack" up fcgi pushd

# nginx: the stack's site (deploy/nginx/keycast.conf as tools/lib.sh
# generates it) plus a server that proxies to the floor with the same
# /__realtime settings. tools/lib.sh's nginx.conf already sizes
# worker_connections from the open-files limit (a proxied WebSocket takes
# two connections; 10,000 clients take ~10,000 files in each of the two
# workers, which reuseport spreads evenly).
ng=$KC_VAR/nginx
mkdir -p "$ng"
cat > "$ng/floor.conf" <<CONF
server {
	listen 127.0.0.1:$BENCH_FLOOR_NGINX_PORT;
	location / {
		proxy_pass http://127.0.0.1:$BENCH_FLOOR_PORT;
		proxy_http_version 1.1;
		proxy_set_header Upgrade \$http_upgrade;
		proxy_set_header Connection \$keycast_connection;
		proxy_set_header Host \$http_host;
		proxy_read_timeout 75s;
		proxy_send_timeout 75s;
		proxy_buffering off;
	}
}
CONF
bench_nginx_up "$ng/floor.conf"

pushd_pid=$(cat "$KC_VAR/run/pushd.pid")

if [ "$BENCH_PIN" = 1 ]; then
	lc() { taskset -c "$BENCH_CLIENT_CPU" "$BENCH_LOADCLIENT" --procs "$BENCH_PROCS" "$@"; }
else
	lc() { "$BENCH_LOADCLIENT" --procs "$BENCH_PROCS" "$@"; }
fi

# The fragment as pushd sends it: the floor and nchan send the same bytes
# (the value aside).
kc_log "warm-up; fetching the fragment"
lc --label warm -n 10 --rounds 1 --connect "127.0.0.1:$KC_PUSHD_PORT" \
	--trigger "127.0.0.1:$KC_HTTP_PORT" --header 'X-Keycast: 1' \
	--dump "$out/fragment.html" > /dev/null
sed -E 's/(aria-live="polite">)-?[0-9]+/\1@COUNT@/' "$out/fragment.html" > "$out/template.html"
grep -q @COUNT@ "$out/template.html" || kc_die "no value in the fragment ($out/fragment.html)"
kc_log "fragment: $(wc -c < "$out/fragment.html") bytes"

# The floor.
bench_spawn floor "$bin/floor" --listen "127.0.0.1:$BENCH_FLOOR_PORT" --template "$out/template.html"
floor_pid=$(cat "$KC_VAR/run/bench-floor.pid")

# The Node.js peer.
bench_spawn node node "$here/node-peer.mjs" --port "$BENCH_NODE_PORT" --app "$KC_FCGI_SOCKET" \
	--pghost "$KC_PGDATA" --pgport "$KC_PGPORT" --pguser "$KC_PGUSER" \
	--pgdatabase "$KC_PGDATABASE"
node_pid=$(cat "$KC_VAR/run/bench-node.pid")

# nginx + nchan, one worker (single-threaded like pushd, the floor and
# node), its own prefix and port.
bench_nchan_up "$BENCH_NCHAN_PORT"
kc_wait 10 bash -c "(exec 3<>/dev/tcp/127.0.0.1/$BENCH_NODE_PORT) && (exec 3<>/dev/tcp/127.0.0.1/$BENCH_NCHAN_PORT) && (exec 3<>/dev/tcp/127.0.0.1/$BENCH_FLOOR_PORT)" ||
	kc_die "the floor, node peer or nchan did not start; see $KC_VAR/log/"
nchan_pid=$(bench_nchan_worker)

# Same host, 2 CPUs: unpinned, the load client's processes were woken onto
# keycast-pushd's CPU during its fan-out and preempted it (~20 ms of
# runnable wait per fan-out to 10,000, ~1,400 preemptions, perf sched),
# while the floor and nchan were never preempted. Remote browsers would
# not compete for the server's CPU; so by default each server process gets
# one CPU and the load client the other (nginx, PostgreSQL and
# keycast-fcgi stay unpinned). BENCH_PIN=0 turns this off.
if [ "$BENCH_PIN" = 1 ]; then
	for pid in "$pushd_pid" "$floor_pid" "$node_pid" "$nchan_pid"; do
		taskset -a -pc "$BENCH_SERVER_CPU" "$pid" >/dev/null
	done
fi

# Waits until the previous round's clients are gone from every server.
settle() {
	kc_wait 30 bash -c "curl -sf http://127.0.0.1:$BENCH_NODE_PORT/stats | grep -q '\"clients\":0,'" || true
	bench_settle "$KC_PUSHD_PORT"
}

nchan_count=1000000
# run CONTENDER MODE N [loadclient args...]
run() {
	local who=$1 mode=$2 n=$3; shift 3
	local args=(--label "$who" --mode "$mode" -n "$n" --rounds "$BENCH_FANOUTS")
	local post=(--trigger "127.0.0.1:$KC_HTTP_PORT" --header 'X-Keycast: 1')
	local pg=(--pg "$KC_CONNINFO" --commit-ts)
	case $who in
	pushd) args+=(--connect "127.0.0.1:$KC_PUSHD_PORT" --watch "pushd:$pushd_pid") ;;
	pushd-nginx) args+=(--connect "127.0.0.1:$KC_HTTP_PORT" --watch "pushd:$pushd_pid" $(bench_nginx_watch)) ;;
	floor) args+=(--connect "127.0.0.1:$BENCH_FLOOR_PORT" --watch "floor:$floor_pid") ;;
	floor-nginx) args+=(--connect "127.0.0.1:$BENCH_FLOOR_NGINX_PORT" --watch "floor:$floor_pid" $(bench_nginx_watch)) ;;
	node) args+=(--connect "127.0.0.1:$BENCH_NODE_PORT" --watch "node:$node_pid") ;;
	nchan) args+=(--connect "127.0.0.1:$BENCH_NCHAN_PORT" --path /sub --watch "nchan:$nchan_pid") ;;
	esac
	case $who/$mode in
	pushd*/fanout|node/fanout) args+=("${post[@]}" "${pg[@]}") ;;
	pushd*/storm|node/storm) args+=("${pg[@]}" --storm-n "$BENCH_STORM" --rounds 1) ;;
	floor*/fanout) args+=(--trigger "127.0.0.1:$BENCH_FLOOR_PORT" --target /trigger) ;;
	nchan/fanout|nchan/storm|nchan/idle)
		nchan_count=$((nchan_count + 100000))
		args+=(--trigger "127.0.0.1:$BENCH_NCHAN_PORT" --target /pub
			--header 'Content-Type: text/html; charset=utf-8'
			--body-template "$out/template.html" --count "$nchan_count" --publish-initial)
		# (no warm-up storm: nchan sends every publish to every client)
		[ "$mode" != storm ] || args+=(--storm-n "$BENCH_STORM" --rounds 1 --warmup 0) ;;
	esac
	settle
	lc "${args[@]}" "$@" | tee -a "$jsonl" | sed 's/^/  /' >&2
}

rotate() { # rotate K WORDS...: the words starting at the K-th (mod count)
	local k=$1; shift
	local a=("$@") n=$# i
	for ((i = 0; i < n; i++)); do printf '%s ' "${a[$(((i + k) % n))]}"; done
}

if [ "${BENCH_HOLD:-0}" = 1 ]; then
	kc_log "holding (BENCH_HOLD=1): pushd $pushd_pid, floor $floor_pid, node $node_pid, nchan $nchan_pid; Ctrl-C stops"
	sleep infinity & wait $!
fi

t_start=$SECONDS
read -r -a contenders <<< "$BENCH_CONTENDERS"

if [ "$BENCH_IDLE_N" -gt 0 ]; then
	kc_log "idle: $BENCH_IDLE_N clients each on pushd, node, nchan, floor"
	for who in pushd node nchan floor; do
		[[ " $BENCH_CONTENDERS " == *" $who "* ]] || continue
		run "$who" idle "$BENCH_IDLE_N" --procs 2 --connect-timeout 120
	done
	# Past --max-clients (19500 here): the extra upgrades must get 503
	# and everyone else stay connected.
	if [[ " $BENCH_CONTENDERS " == *" pushd "* ]]; then
		run pushd idle $((BENCH_IDLE_N + 600)) --procs 3 --connect-timeout 120 --label pushd-overflow
		curl -sf "http://127.0.0.1:$KC_PUSHD_PORT/healthz" >/dev/null ||
			kc_log "keycast-pushd is not healthy after the overflow round"
	fi
fi

for n in $BENCH_NS; do
	for ((r = 0; r < BENCH_ROUNDS; r++)); do
		order=$(rotate "$r" "${contenders[@]}")
		kc_log "fan-out to $n, round $((r + 1))/$BENCH_ROUNDS: $order"
		for who in $order; do run "$who" fanout "$n"; done
	done
done

first_storm=1
for n in $BENCH_STORM_NS; do
	for ((r = 0; r < BENCH_ROUNDS; r++)); do
		order=""
		for who in $(rotate "$r" pushd pushd-nginx node nchan); do
			[[ " $BENCH_CONTENDERS " == *" $who "* ]] || continue
			[ "$who" != nchan ] || [ "$first_storm" = 1 ] || continue
			order="$order $who"
		done
		kc_log "storm of $BENCH_STORM commits, $n clients, round $((r + 1))/$BENCH_ROUNDS:$order"
		for who in $order; do run "$who" storm "$n"; done
	done
	first_storm=0
done

if [ "$BENCH_PERF" = 1 ] && command -v perf >/dev/null; then
	n=${BENCH_NS##* }
	for who in pushd floor; do
		pid=$pushd_pid; [ "$who" = floor ] && pid=$floor_pid
		kc_log "perf sample of $who during $BENCH_PERF_FANOUTS fan-outs to $n"
		settle
		# Sampling only during the measured fan-outs: the load client
		# enables and disables perf through its control fifos.
		rm -f "$out/perf.ctl" "$out/perf.ack"
		mkfifo "$out/perf.ctl" "$out/perf.ack"
		# 2 kHz: each sample costs tens of µs in this VM, and at 20 kHz
		# the fan-out took twice as long.
		perf record -q -e cpu-clock -F 2000 -D -1 --control "fifo:$out/perf.ctl,$out/perf.ack" \
			-p "$pid" -o "$out/perf-$who.data" 2>/dev/null &
		perf_pid=$!
		run "$who" fanout "$n" --label "$who-perf" --rounds "$BENCH_PERF_FANOUTS" \
			--perf-ctl "$out/perf.ctl:$out/perf.ack"
		kill -INT "$perf_pid"; wait "$perf_pid" || true
		perf report -i "$out/perf-$who.data" --sort dso --stdio 2>/dev/null |
			grep -v '^#' | grep -v '^$' | head -8 | sed "s/^/  $who /" > "$out/perf-$who.dso.txt" || true
		perf report -i "$out/perf-$who.data" --sort dso,sym --stdio 2>/dev/null |
			grep -v '^#' | grep -v '^$' | head -40 > "$out/perf-$who.sym.txt" || true
		cat "$out/perf-$who.dso.txt" >&2
	done
fi

kc_log "measured in $((SECONDS - t_start)) s; metrics of keycast-pushd:"
curl -sf "http://127.0.0.1:$KC_PUSHD_PORT/metrics" | grep -E '^keycast_(renders_total|notifies_total|frames_sent_total|conflated|slow)' >&2 || true
{
	node "$here/report.mjs" "$jsonl" "$out"
	echo
	if [ "$BENCH_PIN" = 1 ]; then
		echo "Pinned: each server process on CPU $BENCH_SERVER_CPU, the load client on CPU $BENCH_CLIENT_CPU (nginx, PostgreSQL, keycast-fcgi free)."
	else
		echo "Not pinned (BENCH_PIN=0)."
	fi
	if [ "$BENCH_SKIP_BUILD" = 1 ]; then
		echo "keycast-pushd: the binaries in $KC_BUILD (not rebuilt; the tree was at $build_rev)."
	else
		echo "keycast-pushd built in $KC_BUILD from $build_rev."
	fi
} | tee "$out/report.md"
