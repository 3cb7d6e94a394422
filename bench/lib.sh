# Shared by the benchmark scripts (bench/*.sh): building the release and
# the load client, the private stack each script starts (through
# tools/lib.sh), our own extra processes, and small waits on pushd's
# /metrics. Sourced, not run, after the script has set its KC_* defaults.
#
# A script sets BENCH_NAME (its processes' pid files are
# $KC_VAR/run/bench-*.pid) and calls bench_trap once; everything it started
# is then stopped on exit.

# shellcheck source=../tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tools/lib.sh"
BENCH_LOADCLIENT=$KC_BUILD/bench/loadclient/loadclient
mkdir -p "$KC_VAR/run" "$KC_VAR/log"

# Starts "$@" as our part NAME (pid file bench-NAME.pid; tools/lib.sh's
# kc_spawn), stopped by bench_stop_own.
bench_spawn() {
	local name=$1; shift
	kc_spawn "bench-$name" "$@"
}

bench_stop_own() {
	local f
	for f in "$KC_VAR"/run/bench-*.pid; do
		[ -f "$f" ] || continue
		f=${f##*/}
		kc_stop_pid "${f%.pid}"
	done
}

bench_trap() {
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}
bench_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	bench_stop_own
	"$KC_ROOT/tools/stack" down >/dev/null 2>&1 || true
	exit $rc
}

# Builds the tree in $KC_BUILD (tools/stack build) unless the first
# argument is 1, and the load client in any case (make's target alone
# when the rest is already built).
bench_build() {
	if [ "${1:-0}" != 1 ]; then
		kc_log "building (release) in $KC_BUILD"
		"$KC_ROOT/tools/stack" build
	fi
	[ -f "$KC_BUILD/Makefile" ] || "$KC_ROOT/tools/stack" build
	make -C "$KC_BUILD" -s bench/loadclient/loadclient >/dev/null ||
		kc_die "the load client does not build in $KC_BUILD"
}

# "abc123 subject", plus a note if pushd/, fcgi/ or common/ differ from it.
bench_build_rev() {
	echo "$(git -C "$KC_ROOT" log -1 --format='%h %s' 2>/dev/null)$(
		[ -z "$(git -C "$KC_ROOT" status --porcelain -- pushd fcgi common 2>/dev/null)" ] ||
			echo ' (plus uncommitted changes in pushd/, fcgi/ or common/)')"
}

bench_machine() {
	echo "$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
}

# Starts PostgreSQL with commit timestamps on: the load client times
# arrivals from the commit itself (pg_xact_commit_timestamp).
bench_pg_up() {
	"$KC_ROOT/tools/stack" up pg
	if [ "$("$KC_ROOT/tools/stack" psql -Atc 'SHOW track_commit_timestamp')" != on ]; then
		"$KC_ROOT/tools/stack" psql -qc 'ALTER SYSTEM SET track_commit_timestamp = on'
		"$KC_ROOT/tools/stack" stop pg
		"$KC_ROOT/tools/stack" up pg
	fi
}

# Starts nginx with the stack's site (tools/lib.sh's kc_nginx_conf) plus
# the files given, each included next to the site.
bench_nginx_up() {
	local ng=$KC_VAR/nginx f
	kc_check_port "$KC_HTTP_HOST" "$KC_HTTP_PORT" nginx KC_HTTP_PORT
	kc_nginx_conf
	for f in "$@"; do
		sed -i -e "s|^\tinclude $ng/site.conf;|&\n\tinclude $f;|" "$ng/nginx.conf"
		grep -q "include $f;" "$ng/nginx.conf" ||
			kc_die "tools/lib.sh's nginx.conf changed shape; update bench/lib.sh"
	done
	nginx -t -q -c "$ng/nginx.conf" -p "$ng" 2>>"$KC_VAR/log/nginx-error.log" ||
		kc_die "nginx refused its configuration; see $KC_VAR/log/nginx-error.log"
	kc_spawn nginx nginx -c "$ng/nginx.conf" -p "$ng" -g 'daemon off;'
	kc_wait 10 curl -sf -o /dev/null "http://127.0.0.1:$KC_HTTP_PORT/static/keycast.css" ||
		kc_die "nginx did not start; see $KC_VAR/log/nginx-error.log"
}

# --watch arguments for nginx's workers (NAME1:PID, NAME2:PID...) of the
# nginx whose master's pid file is $1 (default: the stack's).
bench_nginx_watch() {
	local w i=0 master
	master=$(cat "${1:-$KC_VAR/run/nginx.pid}")
	for w in $(pgrep -P "$master"); do
		i=$((i + 1)); printf '%s\n' --watch "nginx$i:$w"
	done
}

bench_metrics() { curl -sf "http://127.0.0.1:$1/metrics" || true; }
# FILE NAME: the value in a saved /metrics, 0 if absent.
bench_metric() {
	awk -v n="$2" '$1 == n { print $2; f = 1 } END { if (!f) print 0 }' "$1"
}

# Waits until no client of a previous set is left on the pushd of each
# port given (30 s at most each).
bench_settle() {
	local p
	for p in "$@"; do
		kc_wait 30 bash -c "curl -sf http://127.0.0.1:$p/metrics | grep -qx 'keycast_clients 0'" ||
			kc_log "pushd on $p still has clients after 30 s"
	done
	sleep 0.5
}

# Our ports may lie in the ephemeral range, so another program's outgoing
# connection may hold one for a while (bind fails although nothing
# listens): waits up to a minute for each port given.
bench_ports_free() {
	local p
	for p in "$@"; do
		kc_check_port 127.0.0.1 "$p" benchmark "KC_*_PORT or BENCH_*_PORT"
		bench_bindable "$p" || { kc_log "port $p is held by another connection; waiting"; kc_wait 60 bench_bindable "$p"; } ||
			kc_die "port 127.0.0.1:$p stays in use (ss -tanp | grep :$p); choose other ports"
	done
}
bench_bindable() {
	python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null
}

# nginx + nchan on 127.0.0.1:PORT as our part "nchan": one worker
# (single-threaded like pushd), its own prefix; subscribers on /sub
# (WebSocket), publishes on /pub, one channel. A new subscriber gets the
# latest message (the only one kept), as /__realtime gives the current
# fragment. bench_nchan_worker prints the worker's pid once it listens.
bench_nchan_up() {
	local nc=$KC_VAR/nchan port=$1
	mkdir -p "$nc/tmp"
	cat > "$nc/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_nchan_module.so;
$( [ "$(id -u)" -eq 0 ] && echo "user root;" )
worker_processes 1;
worker_rlimit_nofile 20000;
pid $nc/nginx.pid;
error_log $KC_VAR/log/nchan-error.log warn;
# Above the open-files limit on purpose: at 20000 nginx starts closing
# connections it deems idle ("worker_connections are not enough, reusing
# connections") before the limit on files is reached.
events { worker_connections 30000; }
http {
	access_log off;
	client_body_temp_path $nc/tmp/body;
	proxy_temp_path $nc/tmp/proxy;
	fastcgi_temp_path $nc/tmp/fastcgi;
	uwsgi_temp_path $nc/tmp/uwsgi;
	scgi_temp_path $nc/tmp/scgi;
	client_body_buffer_size 64k;
	server {
		listen 127.0.0.1:$port;
		nchan_message_buffer_length 1;
		location = /sub {
			nchan_subscriber websocket;
			nchan_channel_id counter;
			nchan_subscriber_first_message oldest;
		}
		location = /pub {
			nchan_publisher;
			nchan_channel_id counter;
		}
	}
}
CONF
	nginx -t -q -c "$nc/nginx.conf" -p "$nc" 2>>"$KC_VAR/log/nchan-error.log" ||
		kc_die "nginx+nchan refused its configuration; see $KC_VAR/log/nchan-error.log"
	bench_spawn nchan nginx -c "$nc/nginx.conf" -p "$nc" -g 'daemon off;'
	kc_wait 10 bash -c "(exec 3<>/dev/tcp/127.0.0.1/$port)" ||
		kc_die "nginx+nchan did not start; see $KC_VAR/log/nchan-error.log"
}
bench_nchan_worker() {
	local master
	master=$(cat "$KC_VAR/run/bench-nchan.pid")
	kc_wait 10 pgrep -P "$master" || kc_die "nginx+nchan has no worker"
	pgrep -P "$master" | head -1
}
