#!/usr/bin/env bash
# Scale-out benchmark (issue 5, "Scale-out on real engines"): one
# keycast-pushd behind nginx against two keycast-pushd and two keycast-fcgi
# pools behind nginx (`hash $arg_key consistent` on /__realtime), in one run
# with interleaved sets. Results: bench/RESULTS.md, section "Scale-out: one
# vs two keycast-pushd".
#
#   bench/scaleout.sh        build, start everything, measure, print, stop
#
# Setups (both on the same PostgreSQL; clients always connect to nginx):
#   a  the plain stack: nginx -> keycast-pushd A -> keycast-fcgi pool A
#   b  a second nginx whose site is deploy/nginx/keycast.conf (through
#      tools/lib.sh's kc_nginx_conf) with both upstreams rewritten, as in
#      tests/integration/scaleout.test.mjs: keycast_pushd = A and B with
#      `hash $arg_key consistent`, keycast_fcgi = both pools; pushd B
#      renders through pool B
# Both nginx take tools/lib.sh's limits (worker_rlimit_nofile = the hard
# open-files limit, worker_connections a little below, reuseport): each
# proxied WebSocket uses two connections.
#
# Load (bench/loadclient --mode scale, built with the release, raw epoll,
# BENCH_PROCS forked workers): N clients over BENCH_KEYS keys /chat/scale-I (url = key),
# spread evenly. A round = one transaction that INSERTs one chat message
# per room (the messages trigger one NOTIFY per key; the rooms hold 50
# messages beforehand, so every fragment stays at the page's 50) with a
# token unique to the round; each client's arrival is the first fragment of
# its room carrying that round's text, timed from the commit's timestamp
# (track_commit_timestamp on). CPU time of each process around the round
# and RSS come from /proc.
#
# For each N in BENCH_NS, BENCH_SETS sets alternate the order (a b, b a,
# ...); each set connects N clients to one setup, runs BENCH_WARMUP
# unreported rounds and BENCH_ROUNDS measured ones, and disconnects.
# Raw lines: $KC_VAR/scaleout/results.jsonl; tables: stdout and
# $KC_VAR/scaleout/report.md. BENCH_MAX_SECONDS (330) bounds the measuring:
# sets that would start later are skipped (and said so).
#
# Settings (environment): BENCH_NS ("2000 8000"), BENCH_SETS (4),
# BENCH_ROUNDS (8), BENCH_WARMUP (1), BENCH_KEYS (32), BENCH_PROCS (2),
# BENCH_GAP_MS (400), BENCH_SKIP_BUILD (0), BENCH_FCGI_WORKERS (4, each
# pool), BENCH_B_HTTP_PORT (24090), BENCH_B_PUSHD_PORT (24091), plus the KC_*
# of tools/lib.sh (default here: var/bench-scale, ports 24080-24082, 24432).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
here=$root/bench/scaleout

: "${KC_VAR:=$root/var/bench-scale}"
: "${KC_HTTP_PORT:=24080}"
: "${KC_PUSHD_PORT:=24081}"
: "${KC_LIGHTTPD_PORT:=24082}"
: "${KC_PGPORT:=24432}"
: "${KC_BUILD:=$root/build/release}"
: "${KC_APP_CONNS:=2}"
: "${KC_PUSHD_FLAGS:=--max-conns-per-addr 20000 --log-level warn}"
: "${BENCH_NS:=2000 8000}"
: "${BENCH_SETS:=4}"
: "${BENCH_ROUNDS:=8}"
: "${BENCH_WARMUP:=1}"
: "${BENCH_KEYS:=32}"
: "${BENCH_PROCS:=2}"
: "${BENCH_GAP_MS:=400}"
: "${BENCH_SKIP_BUILD:=0}"
: "${BENCH_FCGI_WORKERS:=4}"
: "${BENCH_B_HTTP_PORT:=24090}"
: "${BENCH_B_PUSHD_PORT:=24091}"
: "${BENCH_MAX_SECONDS:=330}"
KC_FCGI_WORKERS=$BENCH_FCGI_WORKERS
export KC_VAR KC_HTTP_PORT KC_PUSHD_PORT KC_LIGHTTPD_PORT KC_PGPORT KC_BUILD \
	KC_APP_CONNS KC_PUSHD_FLAGS KC_FCGI_WORKERS
. "$root/bench/lib.sh"

out=$KC_VAR/scaleout
bdir=$out/b			# setup b's own files (nginx prefix, fcgi socket)
mkdir -p "$bdir"
jsonl=$out/results.jsonl
dist=$out/dist.jsonl
: > "$jsonl"
: > "$dist"
bench_trap
bench_build "$BENCH_SKIP_BUILD"

# ---- start ----
kc_check_port 127.0.0.1 "$BENCH_B_HTTP_PORT" nginx BENCH_B_HTTP_PORT
kc_check_port 127.0.0.1 "$BENCH_B_PUSHD_PORT" keycast-pushd BENCH_B_PUSHD_PORT
bench_pg_up
"$root/tools/stack" up fcgi pushd

# Rooms scale-0.. hold 50 messages each (the page shows the last 50), all
# 72 characters long like the rounds' messages, so every round's fragment
# has the same size.
"$root/tools/stack" psql -q -v ON_ERROR_STOP=1 <<SQL
DELETE FROM messages WHERE room LIKE 'scale-%';
INSERT INTO messages (room, author, body)
SELECT 'scale-' || k, 'bench', rpad('filler ' || m || ' ', 72, 'lorem ipsum ')
FROM generate_series(0, $BENCH_KEYS - 1) k, generate_series(1, 50) m;
SQL

# nginx A: the stack's site.
bench_nginx_up

# Pool B and pushd B.
fcgi_b=$bdir/fcgi-b.sock
rm -f "$fcgi_b"
bench_spawn fcgi-b "$KC_BIN/keycast-fcgi" --listen "unix:$fcgi_b" --workers "$BENCH_FCGI_WORKERS" \
	--db "$KC_CONNINFO" --templates "$root/templates"
kc_wait 10 test -S "$fcgi_b" || kc_die "keycast-fcgi pool B did not start; see $KC_VAR/log/bench-fcgi-b.log"
# shellcheck disable=SC2086
bench_spawn pushd-b "$KC_BIN/keycast-pushd" --listen "127.0.0.1:$BENCH_B_PUSHD_PORT" --app "unix:$fcgi_b" \
	--db "$KC_CONNINFO" --app-conns "$KC_APP_CONNS" $KC_PUSHD_FLAGS
kc_wait 10 curl -sf "http://127.0.0.1:$BENCH_B_PUSHD_PORT/healthz" ||
	kc_die "keycast-pushd B did not become healthy; see $KC_VAR/log/bench-pushd-b.log"

# nginx B: the same site, both pools in keycast_fcgi, both pushd in
# keycast_pushd balanced by key.
( KC_VAR=$bdir KC_HTTP_PORT=$BENCH_B_HTTP_PORT bash -c '. "$0/tools/lib.sh" && kc_nginx_conf' "$root" )
ngb=$bdir/nginx
sed -i -e "/^upstream keycast_fcgi {/,/^}/c\\
upstream keycast_fcgi {\\
\tserver unix:$KC_FCGI_SOCKET;\\
\tserver unix:$fcgi_b;\\
\tkeepalive 2;\\
}" -e "/^upstream keycast_pushd {/,/^}/c\\
upstream keycast_pushd {\\
\thash \$arg_key consistent;\\
\tserver 127.0.0.1:$KC_PUSHD_PORT;\\
\tserver 127.0.0.1:$BENCH_B_PUSHD_PORT;\\
}" "$ngb/site.conf"
grep -q 'hash $arg_key consistent;' "$ngb/site.conf" && grep -q "server unix:$fcgi_b;" "$ngb/site.conf" ||
	kc_die "deploy/nginx/keycast.conf has no upstream blocks to rewrite; update bench/scaleout.sh"
# (Its error_log is $bdir/log/nginx-error.log.)
nginx -t -q -c "$ngb/nginx.conf" -p "$ngb" 2>>"$KC_VAR/log/nginx-b-error.log" ||
	kc_die "nginx B refused its configuration; see $KC_VAR/log/nginx-b-error.log"
bench_spawn nginx-b nginx -c "$ngb/nginx.conf" -p "$ngb" -g 'daemon off;'
# (A static file: a page request would leave a kept-alive FastCGI
# connection pinning a keycast-fcgi worker.)
for p in "$KC_HTTP_PORT" "$BENCH_B_HTTP_PORT"; do
	kc_wait 10 curl -sf -o /dev/null "http://127.0.0.1:$p/static/keycast.css" ||
		kc_die "nginx on port $p did not start; see $KC_VAR/log/ and $bdir/log/"
done

pid_pushd_a=$(cat "$KC_VAR/run/pushd.pid")
pid_pushd_b=$(cat "$KC_VAR/run/bench-pushd-b.pid")
pid_fcgi_a=$(cat "$KC_VAR/run/fcgi.pid")
pid_fcgi_b=$(cat "$KC_VAR/run/bench-fcgi-b.pid")
pid_nginx_a=$(cat "$KC_VAR/run/nginx.pid")
pid_nginx_b=$(cat "$KC_VAR/run/bench-nginx-b.pid")
pid_pg=$(head -1 "$KC_PGDATA/postmaster.pid")

# run SETUP N: one set.
run() {
	local setup=$1 n=$2 port watch snap=$out/snap
	if [ "$setup" = a ]; then
		port=$KC_HTTP_PORT
		watch=(--watch "pushd-a:$pid_pushd_a" --watch "nginx:$pid_nginx_a"
			--watch "fcgi-a:$pid_fcgi_a" --watch "postgres:$pid_pg")
	else
		port=$BENCH_B_HTTP_PORT
		watch=(--watch "pushd-a:$pid_pushd_a" --watch "pushd-b:$pid_pushd_b"
			--watch "nginx:$pid_nginx_b" --watch "fcgi-a:$pid_fcgi_a"
			--watch "fcgi-b:$pid_fcgi_b" --watch "postgres:$pid_pg")
	fi
	bench_settle "$KC_PUSHD_PORT" "$BENCH_B_PUSHD_PORT"
	rm -f "$snap".*
	timeout 120 "$BENCH_LOADCLIENT" --mode scale --label "$setup" --connect "127.0.0.1:$port" -n "$n" \
		--keys "$BENCH_KEYS" --procs "$BENCH_PROCS" --rounds "$BENCH_ROUNDS" \
		--warmup "$BENCH_WARMUP" --gap "$BENCH_GAP_MS" --pg "$KC_CONNINFO" "${watch[@]}" \
		--on-ready "curl -sf http://127.0.0.1:$KC_PUSHD_PORT/metrics > $snap.ready-a; curl -sf http://127.0.0.1:$BENCH_B_PUSHD_PORT/metrics > $snap.ready-b" \
		>> "$jsonl"
	bench_metrics "$KC_PUSHD_PORT" > "$snap.post-a"; bench_metrics "$BENCH_B_PUSHD_PORT" > "$snap.post-b"
	local ca cb ka kb ra rb fa fb ba bb
	ca=$(bench_metric "$snap.ready-a" keycast_clients); cb=$(bench_metric "$snap.ready-b" keycast_clients)
	ka=$(bench_metric "$snap.ready-a" keycast_keys); kb=$(bench_metric "$snap.ready-b" keycast_keys)
	# During the rounds only (from when every client was connected).
	ra=$(( $(bench_metric "$snap.post-a" 'keycast_renders_total{result="ok"}') - $(bench_metric "$snap.ready-a" 'keycast_renders_total{result="ok"}') ))
	rb=$(( $(bench_metric "$snap.post-b" 'keycast_renders_total{result="ok"}') - $(bench_metric "$snap.ready-b" 'keycast_renders_total{result="ok"}') ))
	fa=$(( $(bench_metric "$snap.post-a" keycast_frames_sent_total) - $(bench_metric "$snap.ready-a" keycast_frames_sent_total) ))
	fb=$(( $(bench_metric "$snap.post-b" keycast_frames_sent_total) - $(bench_metric "$snap.ready-b" keycast_frames_sent_total) ))
	ba=$(( $(bench_metric "$snap.post-a" keycast_bytes_sent_total) - $(bench_metric "$snap.ready-a" keycast_bytes_sent_total) ))
	bb=$(( $(bench_metric "$snap.post-b" keycast_bytes_sent_total) - $(bench_metric "$snap.ready-b" keycast_bytes_sent_total) ))
	printf '{"label":"%s","n":%s,"a":%s,"b":%s,"keys_a":%s,"keys_b":%s,"renders_a":%s,"renders_b":%s,"frames_a":%s,"frames_b":%s,"bytes_a":%s,"bytes_b":%s,"rounds":%s}\n' \
		"$setup" "$n" "$ca" "$cb" "$ka" "$kb" "$ra" "$rb" "$fa" "$fb" "$ba" "$bb" $((BENCH_ROUNDS + BENCH_WARMUP)) >> "$dist"
	kc_log "  $setup: clients A $ca B $cb; renders A $ra B $rb; frames A $fa B $fb"
}

kc_log "machine: $(bench_machine)"
t_start=$SECONDS
skipped=0
for n in $BENCH_NS; do
	for ((s = 0; s < BENCH_SETS; s++)); do
		if [ $((SECONDS - t_start)) -ge "$BENCH_MAX_SECONDS" ]; then
			skipped=$((skipped + 1))
			continue
		fi
		order="a b"; [ $((s % 2)) = 0 ] || order="b a"
		kc_log "N = $n, set $((s + 1))/$BENCH_SETS: $order"
		for setup in $order; do run "$setup" "$n"; done
	done
done
[ "$skipped" = 0 ] || kc_log "skipped $skipped sets: past BENCH_MAX_SECONDS ($BENCH_MAX_SECONDS s)"
kc_log "measured in $((SECONDS - t_start)) s; load $(cut -d' ' -f1-3 /proc/loadavg)"

{
	node "$here/report.mjs" "$jsonl" "$dist"
	echo
	echo "Renders and frames per round (warm-up included; pushd /metrics):"
	node -e '
		const fs = require("fs");
		const d = fs.readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map(JSON.parse);
		const g = {};
		for (const x of d) { const k = x.n + "/" + x.label; (g[k] ??= []).push(x); }
		for (const [k, xs] of Object.entries(g)) {
			const r = xs.reduce((s, x) => s + x.rounds, 0);
			const sum = (f) => xs.reduce((s, x) => s + x[f], 0);
			const bytes = (sum("bytes_a") + sum("bytes_b")) / (sum("frames_a") + sum("frames_b"));
			console.log(`- N = ${xs[0].n}, ${xs[0].label === "a" ? "one pushd" : "two pushd"}: renders per round A ${(sum("renders_a") / r).toFixed(1)}, B ${(sum("renders_b") / r).toFixed(1)}; frames per round A ${(sum("frames_a") / r).toFixed(0)}, B ${(sum("frames_b") / r).toFixed(0)}; ${bytes.toFixed(0)} bytes per frame`);
		}' "$dist"
	echo
	echo "keycast built from $(git -C "$root" log -1 --format='%h' 2>/dev/null)$(
		[ -z "$(git -C "$root" status --porcelain -- pushd fcgi common 2>/dev/null)" ] || echo ' (plus uncommitted changes)'); $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average at the end $(cut -d' ' -f1-3 /proc/loadavg)."
} | tee "$out/report.md"
