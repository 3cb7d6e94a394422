#!/usr/bin/env bash
# Builds each libFuzzer target with clang (fuzzer, ASan, UBSan) into a
# temporary directory and runs it for at most SECONDS_EACH seconds (default
# 12) from its seed corpus in tests/fuzz/corpus/<target>/. Prints one TAP-style
# line per target, "ok - fuzz_<name>: N runs" or "not ok - ...", and exits
# non-zero if any target failed to build or found a crash (the crashing
# input is kept in $FUZZ_OUT, default test-output/fuzz, and its path printed).
#   usage: tests/fuzz/run.sh [SECONDS_EACH]
#          tests/fuzz/run.sh --list     (the targets, one per line)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
secs=${1:-12}
out=${FUZZ_OUT:-$root/test-output/fuzz}
cc=${CLANG:-clang}

targets=(fuzz_handshake fuzz_ws_in fuzz_fcgi_response fuzz_form fuzz_template
	fuzz_diff_apply fuzz_deflate_offer)
if [ "$secs" = --list ]; then printf '%s\n' "${targets[@]}"; exit 0; fi
case $secs in ''|*[!0-9]*) echo "usage: $0 [SECONDS_EACH]" >&2; exit 2 ;; esac
command -v "$cc" >/dev/null || { echo "not ok - fuzz: $cc not found (apt-get install clang libclang-rt-dev)"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/keycast-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

cflags=(-g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined
	-fno-sanitize-recover=undefined -I"$root" -I"$root/common")
common=("$root/common/xmalloc.c" "$root/common/buf.c" "$root/common/text.c"
	"$root/common/arena.c")

# target -> its sources and libraries
declare -A srcs=(
	[fuzz_handshake]="$root/pushd/handshake.c $root/pushd/ws.c $root/common/deflate.c"
	[fuzz_ws_in]="$root/pushd/ws.c $root/common/deflate.c"
	[fuzz_fcgi_response]="$root/pushd/fcgi_codec.c"
	[fuzz_form]="$root/fcgi/request.c"
	[fuzz_template]="$root/fcgi/template.c"
	[fuzz_diff_apply]="$root/common/diff.c"
	[fuzz_deflate_offer]="$root/common/deflate.c"
)
declare -A libs=(
	[fuzz_handshake]="-lwslay -lcrypto -lz"
	[fuzz_ws_in]="-lwslay -lcrypto -lz"
	[fuzz_fcgi_response]=""
	[fuzz_form]=""
	[fuzz_template]=""
	[fuzz_diff_apply]=""
	[fuzz_deflate_offer]="-lz"
)

status=0
for t in "${targets[@]}"; do
	bin=$work/$t
	# shellcheck disable=SC2086
	if ! "$cc" "${cflags[@]}" -o "$bin" "$here/$t.c" ${srcs[$t]} "${common[@]}" \
		${libs[$t]} >"$work/$t.build.log" 2>&1; then
		echo "not ok - $t: build failed"
		sed 's/^/# /' "$work/$t.build.log" | head -20
		status=1
		continue
	fi
	# New inputs go to a scratch corpus; the seeds in the tree stay as they are.
	mkdir -p "$work/$t.corpus"
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$out/$t-" -print_final_stats=1 \
		"$work/$t.corpus" "$here/corpus/$t" >"$work/$t.log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -1)
	if [ "$rc" -eq 0 ] && [ -n "$runs" ]; then
		echo "ok - $t: $runs runs"
	else
		artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$work/$t.log" | tail -1)
		echo "not ok - $t: exit $rc after ${runs:-?} runs${artifact:+; input kept in $artifact}"
		grep -E 'ERROR|SUMMARY|runtime error|==[0-9]+==' "$work/$t.log" | head -10 | sed 's/^/# /'
		status=1
	fi
done
exit $status
