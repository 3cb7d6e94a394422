# Shared by tools/stack, tools/demo and tools/test: where things live and how
# to start, check and stop each part of a keycast stack in one directory.
# Every part records its pid in $KC_VAR/run/NAME.pid and logs to
# $KC_VAR/log/NAME.log. Sourced, not run: sourcing only sets variables (it
# creates nothing; the functions that write make their directories), and
# each function checks its arguments, failing with its usage line when
# called wrong (as git's t/test-lib-functions.sh does).

KC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${KC_VAR:=$KC_ROOT/var}"
# Absolute, so the daemons' paths hold from any directory; -m: it need not
# exist yet.
KC_VAR=$(realpath -m -- "$KC_VAR")
: "${KC_HTTP_HOST:=127.0.0.1}"
: "${KC_HTTP_PORT:=8080}"
# TLS: 363 above the HTTP port (8443 for the demo) unless set, and not
# exported, so a side stack on another KC_HTTP_PORT (scale-out tests) gets
# its own.
: "${KC_HTTPS_PORT:=$((KC_HTTP_PORT + 363))}"
: "${KC_PUSHD_PORT:=8081}"
: "${KC_LIGHTTPD_PORT:=8082}"
: "${KC_FCGI_SOCKET:=$KC_VAR/run/fcgi.sock}"
: "${KC_FCGI_WORKERS:=8}"
: "${KC_APP_CONNS:=2}"
: "${KC_PGDATA:=$KC_VAR/pg}"
: "${KC_PGPORT:=5432}"
: "${KC_PGDATABASE:=keycast}"
: "${KC_BUILD:=$KC_ROOT/build/release}"
KC_BIN=$KC_BUILD
if [ "$(id -u)" -eq 0 ]; then KC_PGUSER=postgres; else KC_PGUSER=$(id -un); fi
# Quoted for libpq, so a checkout path with spaces or quotes works.
kc_pgq=${KC_PGDATA//\\/\\\\}
kc_pgq=${kc_pgq//\'/\\\'}
KC_CONNINFO="host='$kc_pgq' port=$KC_PGPORT dbname=$KC_PGDATABASE user=$KC_PGUSER"
export KC_ROOT KC_VAR KC_HTTP_HOST KC_HTTP_PORT KC_PUSHD_PORT KC_LIGHTTPD_PORT \
	KC_FCGI_SOCKET KC_FCGI_WORKERS KC_APP_CONNS KC_PGDATA KC_PGPORT \
	KC_PGDATABASE KC_PGUSER KC_CONNINFO KC_BUILD KC_BIN

# kc_die MESSAGE...: prints "error: MESSAGE" and exits 1.
kc_die() { echo "error: $*" >&2; exit 1; }
# kc_log MESSAGE...: a timestamped line on stderr.
kc_log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# kc_args MIN MAX "USAGE" "$@": the caller's argument count must be within
# MIN..MAX (MAX "-" for no upper bound), else dies naming the caller and its
# usage. Each function below starts with it.
kc_args() {
	[ $# -ge 3 ] || kc_die "kc_args: usage: kc_args MIN MAX USAGE \"\$@\""
	local min=$1 max=$2 usage=$3; shift 3
	if [ $# -lt "$min" ] || { [ "$max" != - ] && [ $# -gt "$max" ]; }; then
		kc_die "${FUNCNAME[1]}: usage: $usage (called with $# argument$([ $# -eq 1 ] || echo s)$([ $# -eq 0 ] || echo ": $*"))"
	fi
}

# kc_dirs: creates $KC_VAR/run and $KC_VAR/log, for the functions that
# write there.
kc_dirs() {
	kc_args 0 0 kc_dirs "$@"
	mkdir -p "$KC_VAR/run" "$KC_VAR/log" || kc_die "cannot create $KC_VAR/run and $KC_VAR/log"
}

# kc_pgbin: prints PostgreSQL's server bin directory (initdb, pg_ctl): $PGBIN
# if set, else pg_config --bindir, else the newest Debian
# /usr/lib/postgresql/VERSION/bin; dies when none has initdb.
kc_pgbin() {
	kc_args 0 0 kc_pgbin "$@"
	local d
	if [ -n "${PGBIN:-}" ]; then
		[ -x "$PGBIN/initdb" ] || kc_die "PGBIN=$PGBIN has no initdb"
		echo "$PGBIN"
		return 0
	fi
	for d in "$(pg_config --bindir 2>/dev/null)" \
	    $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5 -rn); do
		[ -n "$d" ] && [ -x "$d/initdb" ] && { echo "$d"; return 0; }
	done
	kc_die "no PostgreSQL server binaries (initdb): set PGBIN, or apt-get install postgresql (tools/deps)"
}

# kc_wait SECONDS_MAX COMMAND [ARG...]: polls COMMAND every 50 ms until it
# succeeds (0) or SECONDS_MAX pass (1).
kc_wait() {
	kc_args 2 - "kc_wait SECONDS_MAX COMMAND [ARG...]" "$@"
	case $1 in ''|*[!0-9]*) kc_die "kc_wait: SECONDS_MAX must be a whole number, not '$1'" ;; esac
	local max=$1; shift
	local end=$((SECONDS + max))
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.05
	done
}

# kc_port_taken HOST PORT: succeeds when something accepts on HOST:PORT.
kc_port_taken() {
	kc_args 2 2 "kc_port_taken HOST PORT" "$@"
	(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}
# kc_check_port HOST PORT WHAT VARIABLE: dies when HOST:PORT is taken, naming
# WHAT wanted it and the VARIABLE that moves it.
kc_check_port() {
	kc_args 4 4 "kc_check_port HOST PORT WHAT VARIABLE" "$@"
	if kc_port_taken "$1" "$2"; then
		kc_die "$3 port $1:$2 is already in use (another demo or service?); set $4 to another port"
	fi
}

# kc_pidfile NAME: prints the pid file of part NAME.
kc_pidfile() {
	kc_args 1 1 "kc_pidfile NAME" "$@"
	echo "$KC_VAR/run/$1.pid"
}
# kc_running NAME: succeeds when part NAME's recorded pid is alive.
kc_running() {
	kc_args 1 1 "kc_running NAME" "$@"
	local f; f=$(kc_pidfile "$1")
	[ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

# kc_as_pg COMMAND [ARG...]: runs COMMAND as the PostgreSQL server's owner.
kc_as_pg() {
	kc_args 1 - "kc_as_pg COMMAND [ARG...]" "$@"
	if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# kc_build: builds out of tree in $KC_BUILD (release for the demo, ASan for
# tests), with $KC_CONFIGURE_FLAGS and $KC_MAKE_TARGETS.
kc_build() {
	kc_args 0 0 kc_build "$@"
	( cd "$KC_ROOT" && { [ -x configure ] || autoreconf -fi; } ) ||
		kc_die "autoreconf failed (run tools/deps)"
	mkdir -p "$KC_BUILD"
	( cd "$KC_BUILD" &&
	  { [ -f Makefile ] || "$KC_ROOT/configure" --enable-werror ${KC_CONFIGURE_FLAGS:-} >configure.out ||
	    { cat configure.out >&2; exit 1; }; } &&
	  make -j"$(nproc)" ${KC_MAKE_TARGETS:-} >make.out 2>&1 || { tail -40 make.out >&2; exit 1; } ) ||
		kc_die "build failed in $KC_BUILD"
}

# kc_pg_init: creates the PostgreSQL cluster in $KC_PGDATA unless there.
kc_pg_init() {
	kc_args 0 0 kc_pg_init "$@"
	[ -f "$KC_PGDATA/PG_VERSION" ] && return 0
	local bin; bin=$(kc_pgbin) || exit 1
	kc_dirs
	kc_log "creating PostgreSQL cluster in $KC_PGDATA"
	mkdir -p "$KC_PGDATA"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$KC_PGDATA"
		chmod 700 "$KC_PGDATA"
		runuser -u postgres -- test -w "$KC_PGDATA" || kc_die "the postgres user cannot reach $KC_PGDATA (a parent directory is not searchable); move the checkout or set KC_VAR"
	fi
	kc_as_pg "$bin/initdb" -D "$KC_PGDATA" -U "$KC_PGUSER" --auth=trust \
		-E UTF8 --locale=C.UTF-8 >"$KC_VAR/log/initdb.log" 2>&1 ||
		kc_die "initdb failed; see $KC_VAR/log/initdb.log"
	cat >>"$KC_PGDATA/postgresql.conf" <<CONF
# keycast: unix socket only, in the data directory
listen_addresses = ''
unix_socket_directories = '$KC_PGDATA'
port = $KC_PGPORT
fsync = ${KC_PG_FSYNC:-on}
max_connections = 200
CONF
}

# kc_pg_start: starts PostgreSQL (creating the cluster and the database,
# and migrating, as needed).
kc_pg_start() {
	kc_args 0 0 kc_pg_start "$@"
	kc_pg_init
	local bin; bin=$(kc_pgbin) || exit 1
	kc_dirs
	if kc_as_pg "$bin/pg_ctl" -D "$KC_PGDATA" status >/dev/null 2>&1; then
		return 0
	fi
	touch "$KC_VAR/log/postgresql.log"
	[ "$(id -u)" -ne 0 ] || chown postgres: "$KC_VAR/log/postgresql.log"
	kc_as_pg "$bin/pg_ctl" -D "$KC_PGDATA" -l "$KC_VAR/log/postgresql.log" \
		-w -t 60 start >/dev/null || kc_die "PostgreSQL did not start; see $KC_VAR/log/postgresql.log"
	if ! psql -X -q -h "$KC_PGDATA" -p "$KC_PGPORT" -U "$KC_PGUSER" -d postgres -Atc \
		"SELECT 1 FROM pg_database WHERE datname = '$KC_PGDATABASE'" | grep -q 1; then
		createdb -h "$KC_PGDATA" -p "$KC_PGPORT" -U "$KC_PGUSER" "$KC_PGDATABASE"
	fi
	PGHOST=$KC_PGDATA PGPORT=$KC_PGPORT PGUSER=$KC_PGUSER PGDATABASE=$KC_PGDATABASE \
		"$KC_ROOT/tools/migrate" >/dev/null
}

# kc_pg_stop: stops PostgreSQL if it runs.
kc_pg_stop() {
	kc_args 0 0 kc_pg_stop "$@"
	[ -f "$KC_PGDATA/postmaster.pid" ] || return 0
	local bin; bin=$(kc_pgbin) || exit 1
	kc_as_pg "$bin/pg_ctl" -D "$KC_PGDATA" -m fast -w -t 30 stop >/dev/null 2>&1 || true
}

# kc_spawn NAME COMMAND [ARG...]: starts COMMAND in the background as part
# NAME (own session, so Ctrl-C in a terminal reaches it only through us),
# logging to $KC_VAR/log/NAME.log.
kc_spawn() {
	kc_args 2 - "kc_spawn NAME COMMAND [ARG...]" "$@"
	kc_dirs
	local name=$1; shift
	setsid "$@" >>"$KC_VAR/log/$name.log" 2>&1 < /dev/null &
	echo $! > "$(kc_pidfile "$name")"
}

# kc_stop_pid NAME [SIGNAL]: stops part NAME (TERM by default, KILL after
# 10 s) and forgets its pid.
kc_stop_pid() {
	kc_args 1 2 "kc_stop_pid NAME [SIGNAL]" "$@"
	local name=$1 sig=${2:-TERM} f pid
	f=$(kc_pidfile "$name")
	[ -f "$f" ] || return 0
	pid=$(cat "$f")
	if kill -0 "$pid" 2>/dev/null; then
		kill -"$sig" "$pid" 2>/dev/null || true
		if ! kc_wait 10 bash -c "! kill -0 $pid 2>/dev/null"; then
			kc_log "$name ($pid) did not stop in 10 s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$f"
}

# kc_fcgi_start: starts keycast-fcgi on $KC_FCGI_SOCKET.
kc_fcgi_start() {
	kc_args 0 0 kc_fcgi_start "$@"
	kc_running fcgi && return 0
	rm -f "$KC_FCGI_SOCKET"
	kc_spawn fcgi "$KC_BIN/keycast-fcgi" --listen "unix:$KC_FCGI_SOCKET" \
		--workers "$KC_FCGI_WORKERS" --db "$KC_CONNINFO" \
		--templates "$KC_ROOT/templates" ${KC_FCGI_FLAGS:-}
	kc_wait 10 test -S "$KC_FCGI_SOCKET" ||
		kc_die "keycast-fcgi did not start; see $KC_VAR/log/fcgi.log"
}

# kc_pushd_start: starts keycast-pushd on $KC_PUSHD_PORT (if built).
kc_pushd_start() {
	kc_args 0 0 kc_pushd_start "$@"
	kc_running pushd && return 0
	[ -x "$KC_BIN/keycast-pushd" ] || return 0
	kc_check_port 127.0.0.1 "$KC_PUSHD_PORT" keycast-pushd KC_PUSHD_PORT
	kc_spawn pushd "$KC_BIN/keycast-pushd" --listen "127.0.0.1:$KC_PUSHD_PORT" \
		--app "unix:$KC_FCGI_SOCKET" --db "$KC_CONNINFO" \
		--app-conns "$KC_APP_CONNS" ${KC_PUSHD_FLAGS:-}
	kc_wait 10 curl -sf "http://127.0.0.1:$KC_PUSHD_PORT/healthz" ||
		kc_die "keycast-pushd did not become healthy; see $KC_VAR/log/pushd.log"
}

# kc_tls_cert: a self-signed certificate for the stack's TLS port, made
# once per $KC_VAR with openssl (nothing downloaded). Valid for 127.0.0.1
# and localhost; browsers must be told to accept it (Playwright:
# ignoreHTTPSErrors).
kc_tls_cert() {
	kc_args 0 0 kc_tls_cert "$@"
	kc_dirs
	local d=$KC_VAR/tls
	[ -s "$d/cert.pem" ] && [ -s "$d/key.pem" ] && return 0
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -days 30 -subj "/CN=keycast test stack" \
		-addext "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost" \
		-keyout "$d/key.pem" -out "$d/cert.pem" >"$KC_VAR/log/openssl.log" 2>&1 ||
		kc_die "openssl could not make a certificate; see $KC_VAR/log/openssl.log"
	chmod 600 "$d/key.pem"
}

# kc_nginx_conf: writes the demo's nginx.conf around the production site
# file, with this stack's paths and ports substituted. Each worker may open as many files as
# the hard limit allows (20,000 per process on the machines we test on, not
# raisable), less a reserve for listeners, logs and static files; every
# proxied WebSocket holds two connections (browser and pushd) in one worker,
# and reuseport spreads clients evenly over the workers, so together they
# hold about workers x connections / 2 WebSockets (19,744 with 2 workers
# here), not what the busiest worker alone can.
# The same site also listens with TLS on KC_HTTPS_PORT (self-signed, see
# kc_tls_cert): $scheme is then https, so the app sees HTTPS=on (its cookie
# gets Secure) and pushd gets X-Forwarded-Proto https for wss: Origins.
kc_nginx_conf() {
	kc_args 0 0 kc_nginx_conf "$@"
	local d=$KC_VAR/nginx nofile conns
	nofile=$(ulimit -Hn)
	[ "$nofile" = unlimited ] && nofile=65536
	conns=$((nofile - 256))
	mkdir -p "$d/tmp" "$KC_VAR/log"
	kc_tls_cert
	sed -e "s|listen 80;|listen $KC_HTTP_HOST:$KC_HTTP_PORT reuseport;\\
	listen $KC_HTTP_HOST:$KC_HTTPS_PORT ssl reuseport;\\
	ssl_certificate $KC_VAR/tls/cert.pem;\\
	ssl_certificate_key $KC_VAR/tls/key.pem;|" \
	    -e "s|unix:/run/keycast/fcgi.sock|unix:$KC_FCGI_SOCKET|" \
	    -e "s|127.0.0.1:8081|127.0.0.1:$KC_PUSHD_PORT|" \
	    -e "s|/usr/share/keycast/static/|$KC_ROOT/static/|" \
	    -e "s|include fastcgi_params;|include /etc/nginx/fastcgi_params;|" \
	    "$KC_ROOT/deploy/nginx/keycast.conf" > "$d/site.conf"
	cat > "$d/nginx.conf" <<CONF
# Generated by tools/lib.sh for $KC_VAR; the site itself is deploy/nginx/keycast.conf.
$( [ "$(id -u)" -eq 0 ] && echo "user root;" )
worker_processes 2;
worker_rlimit_nofile $nofile;
pid $d/nginx.pid;
error_log $KC_VAR/log/nginx-error.log warn;
events { worker_connections $conns; }
http {
	include /etc/nginx/mime.types;
	default_type application/octet-stream;
	access_log off;
	client_body_temp_path $d/tmp/body;
	proxy_temp_path $d/tmp/proxy;
	fastcgi_temp_path $d/tmp/fastcgi;
	uwsgi_temp_path $d/tmp/uwsgi;
	scgi_temp_path $d/tmp/scgi;
	include $d/site.conf;
}
CONF
}

# kc_nginx_start: starts nginx on $KC_HTTP_PORT (and $KC_HTTPS_PORT).
kc_nginx_start() {
	kc_args 0 0 kc_nginx_start "$@"
	kc_running nginx && return 0
	kc_check_port "$KC_HTTP_HOST" "$KC_HTTP_PORT" nginx KC_HTTP_PORT
	kc_check_port "$KC_HTTP_HOST" "$KC_HTTPS_PORT" nginx KC_HTTPS_PORT
	kc_nginx_conf
	nginx -t -q -c "$KC_VAR/nginx/nginx.conf" -p "$KC_VAR/nginx" 2>>"$KC_VAR/log/nginx-error.log" ||
		kc_die "nginx refused its configuration; see $KC_VAR/log/nginx-error.log"
	kc_spawn nginx nginx -c "$KC_VAR/nginx/nginx.conf" -p "$KC_VAR/nginx" -g 'daemon off;'
	kc_wait 10 curl -sf -o /dev/null "http://$KC_HTTP_HOST:$KC_HTTP_PORT/static/keycast.css" ||
		kc_die "nginx did not start; see $KC_VAR/log/nginx-error.log"
	kc_wait 10 curl -sfk -o /dev/null "https://$KC_HTTP_HOST:$KC_HTTPS_PORT/static/keycast.css" ||
		kc_die "nginx does not answer on its TLS port; see $KC_VAR/log/nginx-error.log"
}

# kc_lighttpd_conf: writes lighttpd's configuration around the production
# site file, with this stack's paths and ports.
kc_lighttpd_conf() {
	kc_args 0 0 kc_lighttpd_conf "$@"
	kc_dirs
	local d=$KC_VAR/lighttpd
	mkdir -p "$d"
	sed -e "s|^server.port = 80|server.port = $KC_LIGHTTPD_PORT|" \
	    -e "s|/run/keycast/fcgi.sock|$KC_FCGI_SOCKET|" \
	    -e "s|\"port\" => 8081|\"port\" => $KC_PUSHD_PORT|" \
	    -e "s|/usr/share/keycast/static/|$KC_ROOT/static/|" \
	    "$KC_ROOT/deploy/lighttpd/keycast.conf" > "$d/site.conf"
	cat > "$d/lighttpd.conf" <<CONF
# Generated by tools/lib.sh for $KC_VAR; the site is deploy/lighttpd/keycast.conf.
server.document-root = "$KC_ROOT/static"
server.bind = "127.0.0.1"
server.errorlog = "$KC_VAR/log/lighttpd-error.log"
server.pid-file = "$d/lighttpd.pid"
include "$d/site.conf"
CONF
}

# kc_lighttpd_start: starts lighttpd on $KC_LIGHTTPD_PORT.
kc_lighttpd_start() {
	kc_args 0 0 kc_lighttpd_start "$@"
	kc_running lighttpd && return 0
	kc_check_port 127.0.0.1 "$KC_LIGHTTPD_PORT" lighttpd KC_LIGHTTPD_PORT
	kc_lighttpd_conf
	lighttpd -tt -f "$KC_VAR/lighttpd/lighttpd.conf" >>"$KC_VAR/log/lighttpd-error.log" 2>&1 ||
		kc_die "lighttpd refused its configuration; see $KC_VAR/log/lighttpd-error.log"
	kc_spawn lighttpd lighttpd -D -f "$KC_VAR/lighttpd/lighttpd.conf"
	kc_wait 10 curl -sf -o /dev/null "http://127.0.0.1:$KC_LIGHTTPD_PORT/static/keycast.css" ||
		kc_die "lighttpd did not start; see $KC_VAR/log/lighttpd-error.log"
}

# kc_start PART: starts one part (pg, fcgi, pushd, nginx, lighttpd).
kc_start() {
	kc_args 1 1 "kc_start PART" "$@"
	kc_dirs
	case $1 in
	pg) kc_pg_start ;;
	fcgi) kc_fcgi_start ;;
	pushd) kc_pushd_start ;;
	nginx) kc_nginx_start ;;
	lighttpd) kc_lighttpd_start ;;
	*) kc_die "unknown part $1 (pg, fcgi, pushd, nginx, lighttpd)" ;;
	esac
}

# kc_stop PART [SIGNAL]: stops one part.
kc_stop() {
	kc_args 1 2 "kc_stop PART [SIGNAL]" "$@"
	case $1 in
	pg) kc_pg_stop ;;
	fcgi|pushd|nginx|lighttpd) kc_stop_pid "$1" "${2:-TERM}" ;;
	*) kc_die "unknown part $1 (pg, fcgi, pushd, nginx, lighttpd)" ;;
	esac
}

# kc_up PART...: starts the parts in order.
kc_up() {
	kc_args 1 - "kc_up PART..." "$@"
	local p
	for p in "$@"; do kc_start "$p"; done
}

# kc_down: stops every part started in $KC_VAR.
kc_down() {
	kc_args 0 0 kc_down "$@"
	local p
	for p in lighttpd nginx pushd fcgi pg; do kc_stop "$p"; done
}
