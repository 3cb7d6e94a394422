# How tools/test runs each kind of suite and counts what it saw. Sourced by
# tools/test and by tests/tally/run.sh (which feeds it fake suites); sourcing
# defines functions and the three counters and does nothing else.
#
# The rule everywhere: a result counts as passed only when the runner printed
# it and then exited cleanly. A runner that failed, was killed, timed out or
# printed fewer results than it should have adds a failure, so a green line
# always means every test ran and passed. Skipped tests are counted on their
# own and shown in the final line.

tally_passed=0
tally_failed=0
tally_skipped=0

# tally_add PASSED FAILED [SKIPPED]
tally_add() {
	tally_passed=$((tally_passed + $1))
	tally_failed=$((tally_failed + $2))
	tally_skipped=$((tally_skipped + ${3:-0}))
}

# The closing line of tools/test.
tally_line() {
	echo "$tally_passed passed, $tally_failed failed, $tally_skipped skipped"
}

# tally_ok [CI]: whether the run is green. With CI non-empty a skipped test
# is a failure too: CI's machine is set up by tools/deps with everything the
# suites ask for, so a skip there means a missing install step.
tally_ok() {
	[ "$tally_failed" -eq 0 ] && [ "$tally_passed" -gt 0 ] &&
		{ [ -z "${1:-}" ] || [ "$tally_skipped" -eq 0 ]; }
}

# tally_unit BUILD_DIR LOG: runs `make check` in BUILD_DIR (an automake tree
# whose tests write tests/unit/*.trs) and counts the .trs results. Results of
# an earlier run are deleted first, so a test that no longer builds cannot be
# counted from a stale file; a non-zero make adds a failure.
tally_unit() {
	local dir=$1 log=$2 rc t p=0 f=0 s=0
	[ -n "$dir" ] && [ -n "$log" ] || { echo "tally_unit: BUILD_DIR and LOG needed" >&2; return 2; }
	rm -f "$dir"/tests/unit/*.trs "$dir"/tests/unit/*.log
	( cd "$dir" && ASAN_OPTIONS=detect_leaks=1 \
		make -j"$(nproc)" check >"$log" 2>&1 )
	rc=$?
	for t in "$dir"/tests/unit/*.trs; do
		[ -f "$t" ] || continue
		p=$((p + $(grep -c '^:test-result: PASS' "$t")))
		f=$((f + $(grep -cE '^:test-result: (FAIL|XPASS|ERROR)' "$t")))
		s=$((s + $(grep -c '^:test-result: SKIP' "$t")))
	done
	grep -h '^not ok\|^# mustache' "$dir"/tests/unit/*.log 2>/dev/null
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "unit: make check exited $rc with no failing test (a test did not build?); see $log"
		f=1
	fi
	if [ "$p" -eq 0 ]; then
		echo "unit: make check ran no test; see $log"
		f=$((f + 1))
	fi
	echo "unit: $p passed, $f failed, $s skipped"
	tally_add "$p" "$f" "$s"
}

# tally_node_log NAME LOG RC: counts the summary that node's TAP reporter
# ends with. cancelled (a test that timed out or never settled) and todo
# count as failures; a non-zero RC with no failure counted adds one, and so
# does a missing summary or a run of zero tests.
tally_node_log() {
	local name=$1 log=$2 rc=$3 n p f c t s
	n=$(sed -n 's/^# tests \([0-9]*\)$/\1/p' "$log" | tail -1)
	p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$log" | tail -1)
	f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$log" | tail -1)
	c=$(sed -n 's/^# cancelled \([0-9]*\)$/\1/p' "$log" | tail -1)
	t=$(sed -n 's/^# todo \([0-9]*\)$/\1/p' "$log" | tail -1)
	s=$(sed -n 's/^# skipped \([0-9]*\)$/\1/p' "$log" | tail -1)
	grep -E '^\s*not ok' "$log" | head -20
	grep -E '^\s*ok .*# (SKIP|TODO)' "$log" | head -20
	if [ -z "$n" ] || [ -z "$p" ]; then
		echo "$name: the runner did not finish (exit $rc); see $log"
		tally_add 0 1 0
		return
	fi
	f=$((${f:-0} + ${c:-0} + ${t:-0}))
	[ "${c:-0}" -eq 0 ] || echo "$name: $c cancelled (timed out or never settled)"
	[ "${t:-0}" -eq 0 ] || echo "$name: $t todo"
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "$name: node exited $rc with no failing test; see $log"
		f=1
	fi
	if [ "$n" -eq 0 ]; then
		echo "$name: ran no test"
		f=$((f + 1))
	fi
	echo "$name: $p passed, $f failed, ${s:-0} skipped"
	tally_add "$p" "$f" "${s:-0}"
}

# tally_node NAME LOG DIR FILE...: runs node:test FILEs from DIR, one at a
# time, with the TAP reporter, and counts them.
tally_node() {
	local name=$1 log=$2 dir=$3 rc
	shift 3
	[ $# -gt 0 ] || { echo "$name: no test files"; tally_add 0 1 0; return; }
	( cd "$dir" && timeout "${KC_NODE_TIMEOUT:-1500}" node --test \
		--test-concurrency=1 --test-reporter=tap "$@" >"$log" 2>&1 )
	rc=$?
	tally_node_log "$name" "$log" "$rc"
}

# tally_fuzz LOG RUNNER SECONDS: RUNNER --list names the targets; RUNNER
# SECONDS prints one "ok"/"not ok - TARGET: ..." line per target. Every
# target must report, and the runner must exit 0 (a killed run adds a
# failure for each target that did not report).
tally_fuzz() {
	local log=$1 runner=$2 secs=$3 rc t p=0 f=0 targets
	if [ ! -x "$runner" ]; then
		echo "fuzz: $runner missing"; tally_add 0 1 0; return
	fi
	targets=$("$runner" --list) || targets=
	[ -n "$targets" ] || { echo "fuzz: $runner --list named no target"; tally_add 0 1 0; return; }
	timeout "${KC_FUZZ_TIMEOUT:-300}" "$runner" "$secs" >"$log" 2>&1
	rc=$?
	for t in $targets; do
		if grep -qE "^ok - $t:" "$log"; then
			p=$((p + 1))
		elif grep -qE "^not ok - $t:" "$log"; then
			f=$((f + 1))
		else
			echo "fuzz: $t did not report (runner exit $rc)"
			f=$((f + 1))
		fi
	done
	grep '^not ok' "$log"
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "fuzz: runner exited $rc with every target ok; see $log"
		f=1
	fi
	echo "fuzz: $p passed, $f failed"
	tally_add "$p" "$f" 0
}
