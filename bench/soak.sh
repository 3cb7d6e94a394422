#!/usr/bin/env bash
# Chaos soak (issue 8, "Slow recovery after PostgreSQL returns"): the whole
# stack under load while PostgreSQL restarts, pushd's LISTEN backend is
# terminated and keycast-fcgi workers are killed, in turn. bench/soak/soak.mjs
# drives it and prints: increments and chat posts acknowledged against what
# the database holds (nothing lost, nothing doubled), and per kind of fault
# the time until every /counter client is current again. Exits non-zero on
# a mismatch or a dropped client. Results: bench/RESULTS.md, "Chaos soak".
#
#   bench/soak.sh            build, start the stack, soak, print, stop
#
# Settings (environment): SOAK_SECONDS (600), SOAK_CLIENTS (400),
# SOAK_ROOMS (8), SOAK_WRITERS (4), SOAK_FAULT_EVERY (15 s between faults),
# SOAK_PG_DOWN_MS (2000), SOAK_SKIP_BUILD (0), plus the KC_* of
# tools/lib.sh (default here: var/bench-soak, ports 25080-25082, 25432,
# the release build).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

: "${KC_VAR:=$root/var/bench-soak}"
: "${KC_HTTP_PORT:=25080}"
: "${KC_PUSHD_PORT:=25081}"
: "${KC_LIGHTTPD_PORT:=25082}"
: "${KC_PGPORT:=25432}"
: "${KC_BUILD:=$root/build/release}"
: "${SOAK_SKIP_BUILD:=0}"
export KC_VAR KC_HTTP_PORT KC_PUSHD_PORT KC_LIGHTTPD_PORT KC_PGPORT KC_BUILD
. "$root/bench/lib.sh"
bench_trap
bench_build "$SOAK_SKIP_BUILD"
"$root/tools/stack" up pg fcgi pushd nginx
kc_log "soaking for ${SOAK_SECONDS:-600} s; pushd's log: $KC_VAR/log/pushd.log"
node "$root/bench/soak/soak.mjs"
