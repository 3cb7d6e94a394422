#!/usr/bin/env bash
# Deltas benchmark (issue 11, "Benchmark"): what one update costs on the
# wire, in latency and in server CPU, with today's full fragments (v1)
# against protocol v2 with diffs and permessage-deflate, and nchan
# publishing the same full fragment. Results: bench/RESULTS.md, section
# "Deltas: diffs and permessage-deflate".
#
#   bench/delta.sh           build, start a private stack, measure, print, stop
#
# Workloads (one key each, every client on it):
#   counter  /counter (~220 B fragment, the number changes in place); an
#            update is POST /api/counter/increment through nginx, timed
#            from sending it (--mode fanout)
#   chat     /chat/bench-0 holding 50 messages of 72 characters (13 KB);
#            an update is one INSERT: a message arrives, the oldest drops
#            off; timed from the commit's timestamp (--mode scale)
# Paths: direct (clients on keycast-pushd's port) and nginx (clients on
# nginx's /__realtime, the stack's deploy/nginx/keycast.conf). Modes: v1
# (today: every client gets the whole fragment), v2 (?v=2, offering
# permessage-deflate: D frames to up-to-date clients, deflated when
# pushd's --deflate-min allows), and with BENCH_MODES also v2plain (v=2
# without the offer). nchan: nginx + nchan (one worker, bench/lib.sh),
# the same fragment published whole on each update (its first message id
# or its number replaced by a counter so every publish differs), direct.
#
# The load client (bench/loadclient) holds per client what a browser would:
# it applies every diff, checks every version, and at the end of each run
# compares each client's fragment with the page fetched afresh through
# nginx (the data-rt-root of the key); any refused frame or mismatch makes
# it exit 3, and this script then fails (after printing what it has).
#
# For each N in BENCH_NS and each of BENCH_SETS sets (the order of the
# scenarios rotating per set), each scenario connects N clients, runs one
# warm-up update and BENCH_UPDATES measured ones (BENCH_GAP_MS apart),
# checks, disconnects. Per update: bytes each client received on the wire
# (frame headers included) and the frames by kind, arrival p50/p99 (kernel
# receive stamps, so the client's own diff work does not count), CPU of
# keycast-pushd and of nginx's workers (schedstat) per delivered frame and
# per update. pushd is pinned to BENCH_SERVER_CPU and the load client to
# BENCH_CLIENT_CPU unless BENCH_PIN=0 (see bench/fanout.sh for why).
# BENCH_MAX_SECONDS (660) bounds the measuring: sets that would start later
# are skipped (and said so). Raw lines: $KC_VAR/delta/results.jsonl;
# tables: stdout and $KC_VAR/delta/report.md.
#
# Settings (environment): BENCH_NS ("1000 10000"), BENCH_SETS (2),
# BENCH_UPDATES (10), BENCH_GAP_MS (300), BENCH_WORKLOADS ("counter chat"),
# BENCH_PATHS ("direct nginx"), BENCH_MODES ("v1 v2"), BENCH_NCHAN (1),
# BENCH_PROCS (2), BENCH_PIN (1), BENCH_SERVER_CPU (1), BENCH_CLIENT_CPU
# (0), BENCH_SKIP_BUILD (0), BENCH_NCHAN_PORT (26086), BENCH_MAX_SECONDS,
# plus the KC_* of tools/lib.sh (default here: var/bench-delta, ports
# 26080-26082 and 26432, build/release, KC_PUSHD_FLAGS "--max-clients 19500
# --max-conns-per-addr 20000 --log-level warn").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
here=$root/bench/delta

: "${KC_VAR:=$root/var/bench-delta}"
: "${KC_HTTP_PORT:=26080}"
: "${KC_PUSHD_PORT:=26081}"
: "${KC_LIGHTTPD_PORT:=26082}"
: "${KC_PGPORT:=26432}"
: "${KC_BUILD:=$root/build/release}"
: "${KC_PUSHD_FLAGS:=--max-clients 19500 --max-conns-per-addr 20000 --log-level warn}"
: "${BENCH_NS:=1000 10000}"
: "${BENCH_SETS:=2}"
: "${BENCH_UPDATES:=10}"
: "${BENCH_GAP_MS:=300}"
: "${BENCH_WORKLOADS:=counter chat}"
: "${BENCH_PATHS:=direct nginx}"
: "${BENCH_MODES:=v1 v2}"
: "${BENCH_NCHAN:=1}"
: "${BENCH_PROCS:=2}"
: "${BENCH_PIN:=1}"
: "${BENCH_SERVER_CPU:=1}"
: "${BENCH_CLIENT_CPU:=0}"
: "${BENCH_SKIP_BUILD:=0}"
: "${BENCH_NCHAN_PORT:=26086}"
: "${BENCH_MAX_SECONDS:=660}"
export KC_VAR KC_HTTP_PORT KC_PUSHD_PORT KC_LIGHTTPD_PORT KC_PGPORT KC_BUILD KC_PUSHD_FLAGS
. "$root/bench/lib.sh"

out=$KC_VAR/delta
mkdir -p "$out"
jsonl=$out/results.jsonl
: > "$jsonl"
: > "$out/loadclient.log"
bench_trap
bench_build "$BENCH_SKIP_BUILD"
build_rev=$(bench_build_rev)

bench_ports_free "$KC_HTTP_PORT" "$KC_PUSHD_PORT" "$BENCH_NCHAN_PORT"
bench_pg_up
"$root/tools/stack" up fcgi pushd
bench_nginx_up
pushd_pid=$(cat "$KC_VAR/run/pushd.pid")
nginx_pid=$(cat "$KC_VAR/run/nginx.pid")
http=127.0.0.1:$KC_HTTP_PORT

# The chat room: 50 messages as long as the ones the updates insert, so
# the fragment keeps its size.
room=bench-
"$root/tools/stack" psql -q -v ON_ERROR_STOP=1 <<SQL
DELETE FROM messages WHERE room = '${room}0';
INSERT INTO messages (room, author, body)
SELECT '${room}0', 'bench', rpad('filler ' || m || ' ', 72, 'lorem ipsum ')
FROM generate_series(1, 50) m;
SQL

if [ "$BENCH_PIN" = 1 ]; then
	taskset -a -pc "$BENCH_SERVER_CPU" "$pushd_pid" >/dev/null
	lc() { taskset -c "$BENCH_CLIENT_CPU" "$BENCH_LOADCLIENT" --procs "$BENCH_PROCS" "$@"; }
else
	lc() { "$BENCH_LOADCLIENT" --procs "$BENCH_PROCS" "$@"; }
fi

# The fragments as pushd sends them, for nchan's publishes: a counter
# (@COUNT@) where each one's arrival shows.
lc --mode idle --label fetch -n 1 --connect "127.0.0.1:$KC_PUSHD_PORT" --dump "$out/counter.html" >/dev/null
lc --mode idle --label fetch -n 1 --connect "127.0.0.1:$KC_PUSHD_PORT" \
	--path "/__realtime?key=/chat/${room}0&url=/chat/${room}0" --dump "$out/chat.html" >/dev/null
sed -E 's/(aria-live="polite">)-?[0-9]+/\1@COUNT@/' "$out/counter.html" > "$out/counter.tpl"
sed -E '0,/id="msg-[0-9]+"/s//id="msg-@COUNT@"/' "$out/chat.html" > "$out/chat.tpl"
grep -q @COUNT@ "$out/counter.tpl" && grep -q @COUNT@ "$out/chat.tpl" ||
	kc_die "no counter or message id in the fragments ($out/counter.html, $out/chat.html)"
kc_log "fragments: counter $(wc -c < "$out/counter.html") B, chat $(wc -c < "$out/chat.html") B"

nchan_pid=
if [ "$BENCH_NCHAN" = 1 ]; then
	bench_nchan_up "$BENCH_NCHAN_PORT"
	nchan_pid=$(bench_nchan_worker)
	[ "$BENCH_PIN" != 1 ] || taskset -a -pc "$BENCH_SERVER_CPU" "$nchan_pid" >/dev/null
fi

failed=0
nchan_count=1000000
# run WORKLOAD N PATH MODE: one scenario, on fresh connections.
run() {
	local w=$1 n=$2 path=$3 mode=$4 port rc=0
	local args=(--label "$w/$n/$path/$mode" -n "$n" --rounds "$BENCH_UPDATES" --warmup 1
		--gap "$BENCH_GAP_MS" --connect-timeout 120 --max-failures 1)
	case $path in
	direct) port=$KC_PUSHD_PORT; args+=(--watch "pushd:$pushd_pid") ;;
	nginx) port=$KC_HTTP_PORT; args+=(--watch "pushd:$pushd_pid") ;;
	nchan) port=$BENCH_NCHAN_PORT; args+=(--watch "nchan:$nchan_pid") ;;
	esac
	case $mode in
	v2) args+=(--v2 --deflate) ;;
	v2plain) args+=(--v2) ;;
	esac
	case $w/$path in
	*/nchan)
		nchan_count=$((nchan_count + 100000))
		args+=(--mode fanout --connect "127.0.0.1:$port" --path /sub
			--trigger "127.0.0.1:$port" --target /pub
			--header 'Content-Type: text/html; charset=utf-8'
			--body-template "$out/$w.tpl" --count "$nchan_count" --publish-initial)
		[ "$w" = counter ] || args+=(--marker 'id="msg-') ;;
	counter/*)
		args+=(--mode fanout --connect "127.0.0.1:$port" --trigger "$http"
			--header 'X-Keycast: 1' --verify "$http")
		[ "$path" != nginx ] || mapfile -t -O "${#args[@]}" args < <(bench_nginx_watch) ;;
	chat/*)
		args+=(--mode scale --keys 1 --prefix "$room" --connect "127.0.0.1:$port"
			--pg "$KC_CONNINFO" --verify "$http")
		[ "$path" != nginx ] || args+=(--watch "nginx:$nginx_pid") ;;
	esac
	bench_settle "$KC_PUSHD_PORT"
	lc "${args[@]}" >> "$jsonl" 2>> "$out/loadclient.log" || rc=$?
	if [ "$rc" != 0 ]; then
		failed=1
		kc_log "  $w/$n/$path/$mode FAILED (status $rc; $out/loadclient.log):"
		tail -5 "$out/loadclient.log" >&2
	fi
}

scenarios=()
for w in $BENCH_WORKLOADS; do
	for p in $BENCH_PATHS; do
		for m in $BENCH_MODES; do scenarios+=("$w $p $m"); done
	done
	[ "$BENCH_NCHAN" != 1 ] || scenarios+=("$w nchan v1")
done

kc_log "machine: $(bench_machine)"
t_start=$SECONDS
skipped=0
for n in $BENCH_NS; do
	for ((s = 0; s < BENCH_SETS; s++)); do
		if [ $((SECONDS - t_start)) -ge "$BENCH_MAX_SECONDS" ]; then
			skipped=$((skipped + 1))
			continue
		fi
		kc_log "N = $n, set $((s + 1))/$BENCH_SETS"
		for ((i = 0; i < ${#scenarios[@]}; i++)); do
			read -r w p m <<< "${scenarios[$(((i + s * 3) % ${#scenarios[@]}))]}"
			kc_log "  $w $p $m"
			run "$w" "$n" "$p" "$m"
		done
	done
done
[ "$skipped" = 0 ] || kc_log "skipped $skipped sets: past BENCH_MAX_SECONDS ($BENCH_MAX_SECONDS s)"
kc_log "measured in $((SECONDS - t_start)) s; pushd's counters:"
bench_metrics "$KC_PUSHD_PORT" | grep -E '^keycast_(diff|deflate|frames_sent|resync)' >&2 || true

{
	node "$here/report.mjs" "$jsonl"
	echo
	echo "Machine: $(bench_machine) at the end."
	if [ "$BENCH_PIN" = 1 ]; then
		echo "Pinned: keycast-pushd and nchan's worker on CPU $BENCH_SERVER_CPU, the load client on CPU $BENCH_CLIENT_CPU (nginx, PostgreSQL, keycast-fcgi free)."
	fi
	echo "keycast: $KC_BUILD, tree at $build_rev; pushd flags: $KC_PUSHD_FLAGS."
} | tee "$out/report.md"
if [ "$failed" != 0 ]; then
	kc_log "FAILED: a load client refused a frame or held something other than the page (see $out/loadclient.log)"
	exit 3
fi
