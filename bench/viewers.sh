#!/usr/bin/env bash
# Viewers benchmark (issue 9, "Benchmark"): view classes, revocation,
# reconnect storm. Results: bench/RESULTS.md, section "Viewers: view
# classes, revocation, reconnect storm".
#
#   bench/viewers.sh         build, start a private stack, measure, print, stop
#
# Its own stack (tools/lib.sh, like bench/fanout.sh and bench/soak.sh):
# PostgreSQL on 28432, keycast-pushd on 28081, the release build in
# build/release. pushd's --app is NOT keycast-fcgi but bench/viewers/app.mjs,
# the pushd tests' FastCGI responder (tests/integration/fcgi_app.mjs) run
# as its own Node.js process: it authorizes a cookie
# kc_session=VIEW.ID with view VIEW and tag user:ID (403 once the driver put
# ID on its deny list), renders "<p data-view=VIEW>..." per view, and counts
# the requests it holds at once (peak) on a control port (28090).
# The driver, bench/viewers/run.mjs, is Node.js (package ws), NOT the C
# load client: one process, one clock, all clients of ONE key (/k, url /k).
#   fan-out   for N in VIEWERS_NS and V in VIEWERS_VS: N clients, client i
#             in view v(i mod V); one warm-up and VIEWERS_UPDATES measured
#             updates (pg_notify('keycast','/k')); per update the renders
#             (keycast_renders_total delta, must equal V) and frames sent,
#             the arrival of the new fragment at each client (from sending
#             the NOTIFY), and pushd's CPU time (sum of
#             /proc/PID/task/*/schedstat) per frame sent.
#   revoke    VIEWERS_REVOKES tries with VIEWERS_REVOKE_BG other clients
#             connected: a client is put on the app's deny list, then
#             pg_notify('keycast_revoke','user:ID') in its own transaction;
#             time until the client has the close frame (4403). Then 3
#             times one tag carried by VIEWERS_REVOKE_MANY (1000) clients:
#             time until every one has its close frame.
#   storm     VIEWERS_STORM_N clients (VIEWERS_STORM_V views) that reconnect
#             50-150 ms after a close; pushd is stopped (SIGTERM) and
#             started again; time until every client has a fragment from the
#             new pushd, and the app's peak of requests in flight (must stay
#             <= --app-conns, KC_APP_CONNS).
#   floor     in every fan-out round, for each N: the same clients on
#             bench/fanout/floor.c (one write() of one pre-encoded frame per
#             client on POST /trigger; port 28084, VIEWERS_FLOOR_PORT=0
#             skips), for p99 and CPU per frame against the floor.
# Raw JSON lines: $KC_VAR/viewers/results.jsonl; tables: stdout and
# $KC_VAR/viewers/report.md (bench/viewers/report.mjs).
#
# Settings (environment): VIEWERS_NS ("1000 10000"), VIEWERS_VS ("1 4 16"),
# VIEWERS_ROUNDS (3: each round runs the floor and every V on fresh
# connections, the order rotating), VIEWERS_UPDATES (10), VIEWERS_REVOKES
# (50), VIEWERS_REVOKE_BG (1000), VIEWERS_REVOKE_MANY (1000; 0 skips),
# VIEWERS_STORM_N (10000), VIEWERS_STORM_V (16), VIEWERS_STORM_AUTHZ_MS
# ("1 0": the app's hold per authorize in the storms), VIEWERS_STORM_APP_CONNS
# ("1 4 16": the restarted pushd's --app-conns; one storm per pair),
# VIEWERS_PHASES ("fanout revoke storm"), VIEWERS_AUTHZ_MS (1: the app's
# time per authorize, held with a timer, standing in for a session lookup),
# VIEWERS_SKIP_BUILD (0), KC_APP_CONNS (4, pushd's own default;
# tools/lib.sh has 2), plus the KC_* of tools/lib.sh (here
# var/bench-viewers, ports 28080-28082 and 28432; KC_PUSHD_FLAGS
# "--max-clients 19500 --max-conns-per-addr 20000 --log-level warn").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
here=$root/bench/viewers

: "${KC_VAR:=$root/var/bench-viewers}"
: "${KC_HTTP_PORT:=28080}"
: "${KC_PUSHD_PORT:=28081}"
: "${KC_LIGHTTPD_PORT:=28082}"
: "${KC_PGPORT:=28432}"
: "${KC_BUILD:=$root/build/release}"
: "${KC_APP_CONNS:=4}"
: "${KC_PUSHD_FLAGS:=--max-clients 19500 --max-conns-per-addr 20000 --log-level warn}"
: "${VIEWERS_CTL_PORT:=28090}"
: "${VIEWERS_AUTHZ_MS:=1}"
: "${VIEWERS_SKIP_BUILD:=0}"
export KC_VAR KC_HTTP_PORT KC_PUSHD_PORT KC_LIGHTTPD_PORT KC_PGPORT KC_BUILD KC_APP_CONNS KC_PUSHD_FLAGS
# pushd's --app is our responder's socket.
export KC_FCGI_SOCKET=$KC_VAR/run/viewers-app.sock
. "$root/bench/lib.sh"

out=$KC_VAR/viewers
mkdir -p "$out"
jsonl=$out/results.jsonl
: > "$jsonl"
bench_trap
bench_build "$VIEWERS_SKIP_BUILD"
build_rev=$(bench_build_rev)

kc_check_port 127.0.0.1 "$KC_PUSHD_PORT" keycast-pushd KC_PUSHD_PORT
kc_check_port 127.0.0.1 "$VIEWERS_CTL_PORT" "the app's control" VIEWERS_CTL_PORT
"$root/tools/stack" up pg
bench_spawn viewers-app node "$here/app.mjs" "$KC_FCGI_SOCKET" "$VIEWERS_CTL_PORT" "$VIEWERS_AUTHZ_MS"
kc_wait 10 curl -sf "http://127.0.0.1:$VIEWERS_CTL_PORT/stats" ||
	kc_die "the app did not start; see $KC_VAR/log/bench-viewers-app.log"
"$root/tools/stack" up pushd
kc_log "pushd $(cat "$KC_VAR/run/pushd.pid"): --app unix:$KC_FCGI_SOCKET --app-conns $KC_APP_CONNS $KC_PUSHD_FLAGS"

# The floor of bench/fanout.sh, for CPU per frame and p99 against it:
# the same Node.js clients, a fragment of the same shape.
: "${VIEWERS_FLOOR_PORT:=28084}"
if [ "$VIEWERS_FLOOR_PORT" != 0 ]; then
	kc_check_port 127.0.0.1 "$VIEWERS_FLOOR_PORT" "the floor's" VIEWERS_FLOOR_PORT
	gcc -O2 -Wall -o "$out/floor" "$root/bench/fanout/floor.c" -lcrypto
	printf '<p data-view="v0">/k @COUNT@</p>' > "$out/template.html"
	bench_spawn viewers-floor "$out/floor" --listen "127.0.0.1:$VIEWERS_FLOOR_PORT" --template "$out/template.html"
	kc_wait 10 bash -c "(exec 3<>/dev/tcp/127.0.0.1/$VIEWERS_FLOOR_PORT)" || kc_die "the floor did not start"
	VIEWERS_FLOOR_PID=$(cat "$KC_VAR/run/bench-viewers-floor.pid")
	export VIEWERS_FLOOR_PID
fi
export VIEWERS_CTL_PORT VIEWERS_FLOOR_PORT
export VIEWERS_RESTART="'$root/tools/stack' stop pushd && '$root/tools/stack' up pushd"
t_start=$SECONDS
node "$here/run.mjs" | tee -a "$jsonl"
kc_log "measured in $((SECONDS - t_start)) s"
{
	node "$here/report.mjs" "$jsonl"
	echo
	echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); app: bench/viewers/app.mjs (authorize held ${VIEWERS_AUTHZ_MS} ms), --app-conns $KC_APP_CONNS; client: Node.js ws (bench/viewers/run.mjs)."
	echo "keycast-pushd: $KC_BUILD, tree at $build_rev."
} | tee "$out/report.md"
