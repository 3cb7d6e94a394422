#!/usr/bin/env bash
# HTTP benchmark: keycast-fcgi against the same counter page in PHP on
# php-fpm, both behind the same nginx and the same PostgreSQL, measured in
# the same run with interleaved rounds. Results: bench/RESULTS.md, section
# "HTTP: keycast-fcgi vs php-fpm".
#
#   bench/http.sh            build (release), start everything, run, stop
#
# It starts, in its own directory ($KC_VAR, default var/bench-http) and on its
# own ports, PostgreSQL, keycast-fcgi (--log-level warn), a php-fpm master
# (pm = static) and one nginx with two server blocks: keycast on
# $KC_HTTP_PORT (48080) and PHP on $BENCH_PHP_PORT (48083). Both upstreams
# are configured alike: unix socket, `keepalive 2`, `fastcgi_keep_conn on`,
# $BENCH_WORKERS workers each. Then, for each of $BENCH_ROUNDS rounds, wrk
# runs GET /counter and POST /api/counter/increment on both sides (the side
# that goes first alternates), then the POST rounds again with
# synchronous_commit = off, then one more round of keycast with
# --log-level info to show what per-request logging costs. It prints a
# table, the ratios and the CPU each process group used, and stops all it
# started (on any exit).
#
# Settings (environment), defaults in brackets:
#   BENCH_ROUNDS [3] BENCH_DURATION [10s] BENCH_THREADS [2] BENCH_CONNS [32]
#   BENCH_WARMUP [3s]    wrk parameters, per run
#   BENCH_WORKERS [8]    keycast-fcgi --workers and php-fpm pm.max_children
#   BENCH_PHP_PORT [KC_HTTP_PORT+3]
#   BENCH_PHP_DRIVER [pgsql]  pgsql: pg_pconnect + pg_prepare/pg_execute;
#                        pdo: persistent PDO, emulated prepares (php/index.php)
#   BENCH_KEEP_CONN [on] off: no upstream keepalive, no fastcgi_keep_conn, on
#                        BOTH sides (what kept-alive FastCGI connections do)
#   BENCH_ASYNC_ROUNDS [BENCH_ROUNDS]  interleaved POST rounds with
#                        PostgreSQL's synchronous_commit = off (the commit
#                        does not wait for the WAL flush); 0 skips them
#   BENCH_INFO_ROUND [1] the keycast round at --log-level info; 0 skips it
#   BENCH_OTHER_MAX [0.3] BENCH_RETRIES [3]  every run first waits for a
#                        quiet machine; a run during which processes outside
#                        the benchmark used more than that many cores is run
#                        again (the machine may be shared)
#   BENCH_SKIP_BUILD [0] 1: use the binary already in $KC_BUILD
#   BENCH_REPORT_ONLY    a runs file of an earlier run: print its table only
#   BENCH_HOLD [0]       1: start and check both sides, then wait for Ctrl-C
#                        instead of measuring (for perf, experiments by hand)
#   and the KC_* variables of tools/lib.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
here=$root/bench/http

: "${KC_VAR:=$root/var/bench-http}"
: "${KC_HTTP_PORT:=48080}"
: "${KC_PUSHD_PORT:=48081}"
: "${KC_LIGHTTPD_PORT:=48082}"
: "${KC_PGPORT:=45432}"
: "${KC_BUILD:=$root/build/release}"
: "${BENCH_WORKERS:=8}"
: "${BENCH_PHP_PORT:=$((KC_HTTP_PORT + 3))}"
: "${BENCH_ROUNDS:=3}"
: "${BENCH_DURATION:=10s}"
: "${BENCH_THREADS:=2}"
: "${BENCH_CONNS:=32}"
: "${BENCH_WARMUP:=3s}"
: "${BENCH_INFO_ROUND:=1}"
: "${BENCH_SKIP_BUILD:=0}"
: "${BENCH_PHP_DRIVER:=pgsql}"
: "${BENCH_KEEP_CONN:=on}"
: "${BENCH_ASYNC_ROUNDS:=$BENCH_ROUNDS}"
: "${BENCH_OTHER_MAX:=0.3}"
: "${BENCH_RETRIES:=3}"
KC_FCGI_WORKERS=$BENCH_WORKERS
KC_FCGI_FLAGS="--log-level warn"
export KC_VAR KC_HTTP_PORT KC_PUSHD_PORT KC_LIGHTTPD_PORT KC_PGPORT KC_BUILD \
	KC_FCGI_WORKERS KC_FCGI_FLAGS
. "$root/tools/lib.sh"

PHPFPM=${BENCH_PHPFPM:-php-fpm8.2}
command -v wrk >/dev/null || kc_die "wrk is missing (apt-get install wrk)"
command -v "$PHPFPM" >/dev/null || kc_die "$PHPFPM is missing (apt-get install php8.2-fpm php8.2-pgsql)"
case $'\n'"$("$PHPFPM" -m 2>/dev/null)"$'\n' in *$'\n'pgsql$'\n'*) ;; *) kc_die "PHP's pgsql module is missing (apt-get install php8.2-pgsql)" ;; esac

out=$KC_VAR/bench
mkdir -p "$KC_VAR/run" "$KC_VAR/log" "$out"

# ---------------------------------------------------------------- report
# report RUNS_FILE: the table, the ratios and the ceilings from the runs.
report() {
awk -v ncpu="$(nproc)" '
function median(a, n,   i, j, t) {
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
	delete v
	for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	if (v["label"] ~ /^info-/) { info[v["test"]] = v["rps"]; next }
	k = (v["label"] ~ /^async/ ? "POST*" : v["test"]) SUBSEP v["side"]
	c = ++n[k]
	rps[k, c] = v["rps"]; p50[k, c] = v["lat_p50_us"] / 1000; p99[k, c] = v["lat_p99_us"] / 1000
	tmo[k] += v["err_timeout"]; errs[k] += v["err_connect"] + v["err_read"] + v["err_write"] + v["err_status"]
	busy = v["cpu_nginx"] + v["cpu_app"] + v["cpu_pg"] + v["cpu_wrk"] + v["cpu_other"]
	# CPU per request (microseconds) of everything but the app, and of the app.
	rest[k, c] = (busy - v["cpu_app"]) / v["rps"] * 1e6; app[k, c] = v["cpu_app"] / v["rps"] * 1e6
	cn[k, c] = v["cpu_nginx"]; ca[k, c] = v["cpu_app"]; cp[k, c] = v["cpu_pg"]; cw[k, c] = v["cpu_wrk"]; co[k, c] = v["cpu_other"]; ci[k, c] = v["cpu_idle"]
}
END {
	print "| test | side | req/s per round | median req/s | p50 ms | p99 ms | timeouts / other errors | CPU cores: nginx / app / postgres / wrk / other / idle | app CPU us/req | rest CPU us/req |"
	print "|---|---|---|---:|---:|---:|---:|---|---:|---:|"
	nt = split("GET POST POST*", tests, " "); split("keycast php", sides, " ")
	for (ti = 1; ti <= nt; ti++) for (si = 1; si <= 2; si++) {
		k = tests[ti] SUBSEP sides[si]; if (!n[k]) continue
		list = ""
		for (i = 1; i <= n[k]; i++) list = list (i > 1 ? ", " : "") sprintf("%.0f", rps[k, i])
		for (i = 1; i <= n[k]; i++) a[i] = rps[k, i]; med[k] = median(a, n[k])
		for (i = 1; i <= n[k]; i++) a[i] = p50[k, i]; m50 = median(a, n[k])
		for (i = 1; i <= n[k]; i++) a[i] = p99[k, i]; m99 = median(a, n[k])
		for (i = 1; i <= n[k]; i++) a[i] = app[k, i]; mapp[k] = median(a, n[k])
		for (i = 1; i <= n[k]; i++) a[i] = rest[k, i]; mrest[k] = median(a, n[k])
		for (i = 1; i <= n[k]; i++) a[i] = cn[k, i]; x1 = median(a, n[k])
		for (i = 1; i <= n[k]; i++) a[i] = ca[k, i]; x2 = median(a, n[k])
		for (i = 1; i <= n[k]; i++) a[i] = cp[k, i]; x3 = median(a, n[k])
		for (i = 1; i <= n[k]; i++) a[i] = cw[k, i]; x4 = median(a, n[k])
		for (i = 1; i <= n[k]; i++) a[i] = co[k, i]; x6 = median(a, n[k])
		for (i = 1; i <= n[k]; i++) a[i] = ci[k, i]; x5 = median(a, n[k])
		printf "| %s | %s | %s | %.0f | %.2f | %.1f | %d / %d | %.2f / %.2f / %.2f / %.2f / %.2f / %.2f | %.0f | %.0f |\n",
		    tests[ti] == "POST*" ? "POST, synchronous_commit=off" : tests[ti],
		    sides[si] == "php" ? "php-fpm" : "keycast-fcgi", list, med[k], m50, m99, tmo[k], errs[k],
		    x1, x2, x3, x4, x6, x5, mapp[k], mrest[k]
	}
	print ""
	goal["GET"] = 3; goal["POST"] = 1.5; goal["POST*"] = 1.5
	for (ti = 1; ti <= nt; ti++) {
		t = tests[ti]; kk = t SUBSEP "keycast"; kp = t SUBSEP "php"
		if (!n[kk] || !n[kp]) continue
		r = med[kk] / med[kp]
		printf "ratio %-30s keycast/php-fpm = %.2fx (goal >= %gx: %s)\n",
		    t == "POST*" ? "POST (synchronous_commit=off)" : t, r, goal[t], (r >= goal[t]) ? "met" : "MISSED"
	}
	kk = "GET" SUBSEP "keycast"; kp = "GET" SUBSEP "php"
	if (n[kk] && n[kp]) {
		printf "GET ceiling if keycast-fcgi cost no CPU at all: %d CPUs / %.0f us of nginx+postgres+wrk+kernel per request = %.0f req/s = %.2fx php-fpm\n",
		    ncpu, mrest[kk], ncpu / mrest[kk] * 1e6, ncpu / mrest[kk] * 1e6 / med[kp]
	}
	for (t in info)
		printf "keycast %s with --log-level info: %.0f req/s (%+.1f%% vs the --log-level warn median)\n",
		    t, info[t], (info[t] / med[t SUBSEP "keycast"] - 1) * 100
}' "$1"
echo
echo "every run, with the CPU each process group used (in cores): $1"
}
if [ -n "${BENCH_REPORT_ONLY:-}" ]; then
	report "$BENCH_REPORT_ONLY"
	exit 0
fi

# ---------------------------------------------------------------- stopping
stop_all() {
	local rc=$?
	trap - EXIT INT TERM
	kc_log "stopping everything this benchmark started"
	if [ "${async_on:-0}" = 1 ]; then
		psql_c "ALTER SYSTEM RESET synchronous_commit" >/dev/null 2>&1 || true
	fi
	kc_stop_pid php-fpm
	kc_down
	exit $rc
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- build
if [ "$BENCH_SKIP_BUILD" != 1 ]; then
	kc_log "building release in $KC_BUILD"
	# keycast-pushd may not build yet in a tree where it is being written;
	# this benchmark needs only keycast-fcgi.
	( kc_build ) 2>/dev/null || KC_MAKE_TARGETS=keycast-fcgi kc_build
fi
[ -x "$KC_BIN/keycast-fcgi" ] || kc_die "no $KC_BIN/keycast-fcgi"

# ---------------------------------------------------------------- php-fpm
php_conf() {
	sed -e "s|@KC_VAR@|$KC_VAR|g" -e "s|@WORKERS@|$BENCH_WORKERS|g" \
	    -e "s|@CONNINFO@|$KC_CONNINFO|g" -e "s|@DRIVER@|$BENCH_PHP_DRIVER|g" \
	    -e "s|@USER@|$( [ "$(id -u)" -eq 0 ] && echo "user = root" )|" \
	    "$here/php-fpm.conf.in" > "$KC_VAR/php-fpm.conf"
}

php_start() {
	local root_flag=
	php_conf
	rm -f "$KC_VAR/run/php-fpm.sock"
	[ "$(id -u)" -ne 0 ] || root_flag=-R
	# opcache on (it is by default for fpm; say so), no stat per request:
	# the production setting a tuned deployment uses.
	"$PHPFPM" -t -y "$KC_VAR/php-fpm.conf" $root_flag >>"$KC_VAR/log/php-fpm.log" 2>&1 ||
		kc_die "php-fpm refused its configuration; see $KC_VAR/log/php-fpm.log"
	kc_spawn php-fpm "$PHPFPM" -F -y "$KC_VAR/php-fpm.conf" $root_flag \
		-d opcache.enable=1 -d opcache.validate_timestamps=0 \
		-d opcache.memory_consumption=64 -d pgsql.allow_persistent=1 \
		-d pgsql.auto_reset_persistent=0
	kc_wait 10 test -S "$KC_VAR/run/php-fpm.sock" ||
		kc_die "php-fpm did not start; see $KC_VAR/log/php-fpm.log"
}

# ---------------------------------------------------------------- nginx
# One nginx, the generated keycast site plus a PHP server block configured
# like it (same fastcgi_params, keepalive, keep_conn and timeouts).
nginx_start() {
	local d=$KC_VAR/nginx
	kc_check_port "$KC_HTTP_HOST" "$KC_HTTP_PORT" nginx KC_HTTP_PORT
	kc_check_port "$KC_HTTP_HOST" "$BENCH_PHP_PORT" "nginx (PHP side)" BENCH_PHP_PORT
	kc_nginx_conf
	sed -e "s|@HOST@|$KC_HTTP_HOST|g" -e "s|@PORT@|$BENCH_PHP_PORT|g" \
	    -e "s|@SOCK@|$KC_VAR/run/php-fpm.sock|g" -e "s|@PHPDIR@|$here/php|g" \
	    -e "s|@STATIC@|$KC_ROOT/static/|g" \
	    "$here/nginx-php.conf.in" > "$d/php-site.conf"
	sed -i "s|^\tinclude $d/site.conf;|&\n\tinclude $d/php-site.conf;|" "$d/nginx.conf"
	if [ "$BENCH_KEEP_CONN" = off ]; then
		sed -i -e '/^\s*keepalive [0-9]*;/d' -e '/^\s*fastcgi_keep_conn on;/d' \
			"$d/site.conf" "$d/php-site.conf"
	fi
	grep -q php-site.conf "$d/nginx.conf" || kc_die "could not add the PHP site to $d/nginx.conf"
	nginx -t -q -c "$d/nginx.conf" -p "$d" 2>>"$KC_VAR/log/nginx-error.log" ||
		kc_die "nginx refused its configuration; see $KC_VAR/log/nginx-error.log"
	kc_spawn nginx nginx -c "$d/nginx.conf" -p "$d" -g 'daemon off;'
	kc_wait 10 curl -sf -o /dev/null "http://$KC_HTTP_HOST:$KC_HTTP_PORT/static/keycast.css" ||
		kc_die "nginx did not start; see $KC_VAR/log/nginx-error.log"
}

# ---------------------------------------------------------------- checks
url() { # SIDE PATH
	local port=$KC_HTTP_PORT
	[ "$1" = keycast ] || port=$BENCH_PHP_PORT
	echo "http://$KC_HTTP_HOST:$port$2"
}

psql_c() {
	psql -X -q -h "$KC_PGDATA" -p "$KC_PGPORT" -U "$KC_PGUSER" -d "$KC_PGDATABASE" -Atc "$1"
}
counter_value() { psql_c "SELECT value FROM counters WHERE name = 'global'"; }

# Both sides must answer the same thing before we time them.
check_sides() {
	local s code v0 v1
	for s in keycast php; do
		code=$(curl -s -o "$out/$s.html" -w '%{http_code}' "$(url $s /counter)")
		[ "$code" = 200 ] || kc_die "$s: GET /counter answered $code (see $out/$s.html)"
		v0=$(counter_value)
		code=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -X POST \
			-H 'Content-Type: application/x-www-form-urlencoded' --data-binary '' \
			"$(url $s /api/counter/increment)")
		v1=$(counter_value)
		[ "$code" = "303 $(url $s /counter)" ] || kc_die "$s: POST answered '$code', not 303 to /counter"
		[ $((v1 - v0)) -eq 1 ] || kc_die "$s: POST changed the counter by $((v1 - v0)), not 1"
	done
	# Same page, byte for byte, apart from the counter value.
	sed -i 's|<output id="count" aria-live="polite">[0-9-]*</output>|<output id="count" aria-live="polite">N</output>|' \
		"$out/keycast.html" "$out/php.html"
	cmp -s "$out/keycast.html" "$out/php.html" ||
		kc_die "the PHP page differs from keycast's: diff $out/keycast.html $out/php.html"
	kc_log "both sides serve the same page ($(wc -c < "$out/keycast.html") bytes) and answer the POST with 303"
}

# ---------------------------------------------------------------- CPU use
# Prints "NAME TICKS" for each NAME=PID given (the process and all its
# descendants, plus what its reaped children used), "self" (this script's
# reaped children, i.e. wrk), and "busy"/"total" from /proc/stat.
cpu_snapshot() {
	{ cat /proc/stat; for f in /proc/[0-9]*/stat; do cat "$f" 2>/dev/null; done; } |
	awk -v roots="$*" -v self=$$ '
	$1 == "cpu" { busy = $2 + $3 + $4 + $7 + $8 + $9; total = busy + $5 + $6; next }
	/^cpu|^intr|^ctxt|^btime|^processes|^procs_|^softirq/ { next }
	{
		r = 0
		for (i = length($0); i > 0; i--) if (substr($0, i, 1) == ")") { r = i; break }
		n = split(substr($0, r + 2), f, " ")
		pid = $1; ppid[pid] = f[2]; own[pid] = f[12] + f[13]; kids[pid] = f[14] + f[15]
	}
	END {
		n = split(roots, rs, " ")
		for (i = 1; i <= n; i++) {
			split(rs[i], kv, "="); name = kv[1]; root = kv[2]; sum = kids[root]
			for (p in ppid) {
				q = p
				for (depth = 0; q != "" && q > 1 && depth < 20; depth++) {
					if (q == root) { sum += own[p]; break }
					q = ppid[q]
				}
			}
			print name, sum
		}
		print "self", kids[self]
		print "busy", busy
		print "total", total
	}'
}

cpu_groups() {
	local g=("nginx=$(cat "$(kc_pidfile nginx)")" "fcgi=$(cat "$(kc_pidfile fcgi)")"
		"phpfpm=$(cat "$(kc_pidfile php-fpm)")")
	g+=("postgres=$(head -1 "$KC_PGDATA/postmaster.pid")")
	echo "${g[@]}"
}

# ---------------------------------------------------------------- one run
# Waits (up to 2 minutes) until the machine has been nearly idle for a
# second: other people's jobs on a shared box must not land in a run.
wait_quiet() {
	local i a b
	for ((i = 0; i < 120; i++)); do
		a=$(head -1 /proc/stat); sleep 1; b=$(head -1 /proc/stat)
		if awk -v a="$a" -v b="$b" -v hz="$(getconf CLK_TCK)" -v max="$BENCH_OTHER_MAX" 'BEGIN {
			split(a, x, " "); split(b, y, " ")
			busy = (y[2] + y[3] + y[4] + y[7] + y[8] + y[9]) - (x[2] + x[3] + x[4] + x[7] + x[8] + x[9])
			exit !(busy / hz < max) }'; then
			return 0
		fi
	done
	kc_log "warning: the machine did not become quiet; measuring anyway"
}

# run SIDE TEST LABEL [DURATION]: one measured wrk run, repeated (up to
# BENCH_RETRIES times) when processes outside the benchmark took more than
# BENCH_OTHER_MAX cores during it; the kept run is the last one.
run() {
	local try
	for ((try = 0; ; try++)); do
		wait_quiet
		run_once "$@"
		awk -v max="$BENCH_OTHER_MAX" '{ for (i = 1; i <= NF; i++) if ($i ~ /^cpu_other=/) { split($i, kv, "="); exit !(kv[2] > max) } ; exit 1 }' <<< "$(tail -1 "$out/runs")" || return 0
		[ "$try" -lt "$BENCH_RETRIES" ] || { kc_log "warning: $3 stayed disturbed by other processes; kept"; return 0; }
		kc_log "$3 was disturbed by other processes on the machine; running it again"
		sed -i '$d' "$out/runs"
	done
}

# run_once SIDE TEST LABEL [DURATION]: one wrk run; appends a line to $out/runs.
run_once() {
	local side=$1 test=$2 label=$3 dur=${4:-$BENCH_DURATION}
	local method=GET path=/counter res=$out/$label.res v0 v1 c0 c1
	if [ "$test" = POST ]; then
		method=POST; path=/api/counter/increment
		# Every POST leaves a dead row version of the one hot row: start
		# each side from the same table state.
		psql_c "VACUUM counters" >/dev/null
	fi
	v0=$(counter_value)
	c0=$(cpu_snapshot $(cpu_groups))
	BENCH_METHOD=$method BENCH_OUT=$res wrk -t"$BENCH_THREADS" -c"$BENCH_CONNS" \
		-d"$dur" --latency -s "$here/wrk.lua" "$(url "$side" "$path")" >"$out/$label.wrk" 2>&1 ||
		kc_die "wrk failed; see $out/$label.wrk"
	c1=$(cpu_snapshot $(cpu_groups))
	v1=$(counter_value)
	[ -s "$res" ] || kc_die "wrk wrote no result; see $out/$label.wrk"
	# CPU used per group during the run, in cores (CPU seconds per second).
	local cpu
	cpu=$(paste <(echo "$c0") <(echo "$c1") | awk -v us="$(sed 's/.*duration_us=\([0-9]*\).*/\1/' "$res")" \
		-v app="$( [ "$side" = keycast ] && echo fcgi || echo phpfpm)" -v hz="$(getconf CLK_TCK)" '
		{ d[$1] = $4 - $2 }
		END {
			s = us / 1e6
			other = d["busy"] - d["nginx"] - d[app] - d["postgres"] - d["self"]
			if (other < 0) other = 0
			printf "cpu_nginx=%.2f cpu_app=%.2f cpu_pg=%.2f cpu_wrk=%.2f cpu_other=%.2f cpu_idle=%.2f",
			    d["nginx"] / hz / s, d[app] / hz / s, d["postgres"] / hz / s,
			    d["self"] / hz / s, other / hz / s, (d["total"] - d["busy"]) / hz / s
		}')
	echo "label=$label side=$side test=$test $(cat "$res") counter_delta=$((v1 - v0)) $cpu" >> "$out/runs"
	awk -v l="$label" '{
		for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		errs = v["err_connect"] + v["err_read"] + v["err_write"] + v["err_status"] + v["err_timeout"]
		printf "  %-22s %9.0f req/s  p50 %6.2f ms  p99 %7.2f ms  errors %d  counter +%d  cpu: nginx %.2f app %.2f pg %.2f wrk %.2f other %.2f idle %.2f\n",
		    l, v["rps"], v["lat_p50_us"] / 1000, v["lat_p99_us"] / 1000, errs,
		    v["counter_delta"], v["cpu_nginx"], v["cpu_app"], v["cpu_pg"], v["cpu_wrk"], v["cpu_other"], v["cpu_idle"]
	}' <<< "$(tail -1 "$out/runs")" >&2
	if grep -q 'err_status=[1-9]' "$res"; then
		kc_log "warning: $label had non-2xx/3xx answers; see $out/$label.wrk"
	fi
}

# ---------------------------------------------------------------- main
kc_log "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(. /etc/os-release; echo "$PRETTY_NAME")"
kc_log "starting PostgreSQL, keycast-fcgi ($BENCH_WORKERS workers), php-fpm ($BENCH_WORKERS workers), nginx in $KC_VAR"
kc_start pg
kc_start fcgi
php_start
nginx_start
check_sides

if [ "${BENCH_HOLD:-0}" = 1 ]; then
	kc_log "BENCH_HOLD=1: keycast on $(url keycast /counter), PHP on $(url php /counter); Ctrl-C stops"
	while kc_running nginx; do sleep 1 & wait $! || true; done
	exit 0
fi

: > "$out/runs"
kc_log "warming up ($BENCH_WARMUP per side and test)"
for s in keycast php; do
	for t in GET POST; do
		run "$s" "$t" "warmup-$s-$t" "$BENCH_WARMUP"
	done
done
: > "$out/runs"

cmd="wrk -t$BENCH_THREADS -c$BENCH_CONNS -d$BENCH_DURATION --latency -s bench/http/wrk.lua URL"
kc_log "$BENCH_ROUNDS interleaved rounds of: $cmd"
for ((r = 1; r <= BENCH_ROUNDS; r++)); do
	if [ $((r % 2)) -eq 1 ]; then order="keycast php"; else order="php keycast"; fi
	for t in GET POST; do
		for s in $order; do
			run "$s" "$t" "r$r-$s-$t"
		done
	done
done

if [ "$BENCH_ASYNC_ROUNDS" -gt 0 ]; then
	kc_log "POST again with synchronous_commit = off (no WAL flush wait per commit), $BENCH_ASYNC_ROUNDS rounds"
	async_on=1
	psql_c "ALTER SYSTEM SET synchronous_commit = off" >/dev/null
	psql_c "SELECT pg_reload_conf()" >/dev/null
	sleep 0.5
	for ((r = 1; r <= BENCH_ASYNC_ROUNDS; r++)); do
		if [ $((r % 2)) -eq 1 ]; then order="keycast php"; else order="php keycast"; fi
		for s in $order; do
			run "$s" POST "async$r-$s-POST"
		done
	done
	psql_c "ALTER SYSTEM RESET synchronous_commit" >/dev/null
	psql_c "SELECT pg_reload_conf()" >/dev/null
	async_on=0
fi

if [ "$BENCH_INFO_ROUND" = 1 ]; then
	kc_log "one round of keycast-fcgi with --log-level info (one log line per request)"
	kc_stop fcgi
	KC_FCGI_FLAGS="--log-level info" kc_start fcgi
	lines0=$(wc -l < "$KC_VAR/log/fcgi.log")
	for t in GET POST; do
		run keycast "$t" "info-keycast-$t"
	done
	kc_log "keycast-fcgi wrote $(( $(wc -l < "$KC_VAR/log/fcgi.log") - lines0 )) log lines in that round"
fi

# ---------------------------------------------------------------- report
{
echo "HTTP: keycast-fcgi vs php-fpm ($BENCH_PHP_DRIVER), $BENCH_WORKERS workers each, one nginx (2 workers), one PostgreSQL; fastcgi_keep_conn $BENCH_KEEP_CONN"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(. /etc/os-release; echo "$PRETTY_NAME"), $(uname -r)"
echo "command: $cmd  (per run; $BENCH_ROUNDS interleaved rounds, side order alternating)"
echo
report "$out/runs"
} | tee "$out/report.txt"
