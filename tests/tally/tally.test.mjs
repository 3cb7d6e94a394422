// The tally of tools/test (tools/tally.sh) fed fake suites, one per way a
// run could report a pass it did not see: a unit test that stopped building
// next to the previous run's results, node tests that were cancelled, todo,
// skipped or never ran, a node run that exited non-zero, and a fuzz run that
// was killed before every target reported. Each case also has a clean twin,
// so the checks tell a good run from a bad one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, existsSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const work = mkdtempSync(join(tmpdir(), 'keycast-tally-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

// Runs SCRIPT after sourcing tools/tally.sh; returns the counters, whether
// the run would be green (with and without CI) and what the tally printed.
function tally(script) {
	// The runner marks its children with NODE_TEST_CONTEXT; a nested runner
	// that inherits it reports to us instead of printing its own summary.
	const env = { ...process.env, KC_NODE_TIMEOUT: '60' };
	delete env.NODE_TEST_CONTEXT;
	const out = execFileSync('bash', ['-c', `
		. "${root}/tools/tally.sh"
		${script}
		echo "COUNT $tally_passed $tally_failed $tally_skipped"
		if tally_ok; then echo "GREEN yes"; else echo "GREEN no"; fi
		if tally_ok ci; then echo "CIGREEN yes"; else echo "CIGREEN no"; fi
		tally_line`], { encoding: 'utf8', env });
	const [, p, f, s] = /^COUNT (\d+) (\d+) (\d+)$/m.exec(out);
	return {
		passed: Number(p), failed: Number(f), skipped: Number(s),
		green: /^GREEN yes$/m.test(out), ciGreen: /^CIGREEN yes$/m.test(out),
		last: out.trimEnd().split('\n').pop(), out,
	};
}

function dir(name) {
	const d = join(work, name);
	mkdirSync(d, { recursive: true });
	return d;
}

// A fake automake build tree: `make check` runs RECIPE; tests/unit holds
// whatever .trs files the case puts there beforehand.
function unitTree(name, recipe, staleTrs) {
	const d = dir(name);
	mkdirSync(join(d, 'tests', 'unit'), { recursive: true });
	writeFileSync(join(d, 'Makefile'), `check:\n\t${recipe}\n`);
	if (staleTrs)
		writeFileSync(join(d, 'tests', 'unit', 'test_old.trs'),
			':test-result: PASS\n:test-result: PASS\n:global-test-result: PASS\n');
	return d;
}

test('unit: a make check that fails to build counts as a failure, not as the last run\'s passes', () => {
	const d = unitTree('unit-broken', 'exit 2', true);
	const r = tally(`tally_unit "${d}" "${d}/check.log"`);
	assert.equal(r.passed, 0, r.out);
	assert.ok(r.failed >= 1, r.out);
	assert.equal(r.green, false);
	assert.equal(existsSync(join(d, 'tests', 'unit', 'test_old.trs')), false, 'stale results deleted');
});

test('unit: a clean make check counts its .trs results', () => {
	const d = unitTree('unit-good',
		'printf \':test-result: PASS\\n:test-result: PASS\\n:test-result: SKIP\\n\' > tests/unit/t.trs');
	const r = tally(`tally_unit "${d}" "${d}/check.log"`);
	assert.deepEqual([r.passed, r.failed, r.skipped], [2, 0, 1], r.out);
});

test('unit: a failing test result is counted even when make exits non-zero', () => {
	const d = unitTree('unit-fail',
		'printf \':test-result: PASS\\n:test-result: FAIL\\n\' > tests/unit/t.trs; exit 2');
	const r = tally(`tally_unit "${d}" "${d}/check.log"`);
	assert.deepEqual([r.passed, r.failed], [1, 1], r.out);
});

function nodeSuite(name, body) {
	const d = dir(name);
	writeFileSync(join(d, 'case.test.mjs'), `import { test } from 'node:test';\n${body}\n`);
	return tally(`tally_node ${name} "${d}/run.log" "${d}" case.test.mjs`);
}

test('node: a test that never settles (cancelled) is a failure', () => {
	const r = nodeSuite('node-cancelled',
		"test('fine', () => {});\ntest('never settles', () => new Promise(() => {}));");
	assert.equal(r.passed, 1, r.out);
	assert.ok(r.failed >= 1, r.out);
	assert.equal(r.green, false);
});

test('node: a todo test is a failure', () => {
	const r = nodeSuite('node-todo', "test('fine', () => {});\ntest('later', { todo: true }, () => {});");
	assert.ok(r.failed >= 1, r.out);
	assert.equal(r.green, false);
});

test('node: a skipped test shows in the final line and fails CI', () => {
	const r = nodeSuite('node-skip', "test('fine', () => {});\ntest('needs X', { skip: 'no X' }, () => {});");
	assert.deepEqual([r.passed, r.failed, r.skipped], [1, 0, 1], r.out);
	assert.equal(r.last, '1 passed, 0 failed, 1 skipped');
	assert.equal(r.green, true, 'a skip alone is not a failure on a developer machine');
	assert.equal(r.ciGreen, false, 'but it is in CI');
});

test('node: a run of zero tests is a failure', () => {
	const d = dir('node-zero');
	writeFileSync(join(d, 'run.log'), '1..0\n# tests 0\n# suites 0\n# pass 0\n# fail 0\n# cancelled 0\n# skipped 0\n# todo 0\n');
	const r = tally(`tally_node_log zero "${d}/run.log" 0`);
	assert.equal(r.passed, 0, r.out);
	assert.ok(r.failed >= 1, r.out);
	assert.equal(r.green, false);
});

test('node: all passing is green, in CI too', () => {
	const r = nodeSuite('node-good', "test('a', () => {});\ntest('b', () => {});");
	assert.deepEqual([r.passed, r.failed, r.skipped], [2, 0, 0], r.out);
	assert.ok(r.green && r.ciGreen);
	assert.equal(r.last, '2 passed, 0 failed, 0 skipped');
});

test('node: a non-zero exit with no failure in the summary is a failure', () => {
	const d = dir('node-exit');
	writeFileSync(join(d, 'run.log'), 'ok 1 - a\n1..1\n# tests 1\n# suites 0\n# pass 1\n# fail 0\n# cancelled 0\n# skipped 0\n# todo 0\n');
	const bad = tally(`tally_node_log exit "${d}/run.log" 1`);
	assert.deepEqual([bad.passed, bad.failed], [1, 1], bad.out);
	const good = tally(`tally_node_log exit "${d}/run.log" 0`);
	assert.deepEqual([good.passed, good.failed], [1, 0], good.out);
});

test('node: a log without a summary (runner killed) is a failure', () => {
	const d = dir('node-killed');
	writeFileSync(join(d, 'run.log'), 'ok 1 - a\nok 2 - b\n');
	const r = tally(`tally_node_log killed "${d}/run.log" 124`);
	assert.equal(r.passed, 0, r.out);
	assert.ok(r.failed >= 1);
});

function fuzzRunner(name, body) {
	const d = dir(name);
	const f = join(d, 'run.sh');
	writeFileSync(f, `#!/usr/bin/env bash\nif [ "$1" = --list ]; then printf 'fuzz_a\\nfuzz_b\\n'; exit 0; fi\n${body}\n`);
	chmodSync(f, 0o755);
	return tally(`tally_fuzz "${d}/fuzz.log" "${f}" 1`);
}

test('fuzz: a run killed before every target reported is a failure per missing target', () => {
	const r = fuzzRunner('fuzz-killed', 'echo "ok - fuzz_a: 10 runs"; kill -9 $$');
	assert.deepEqual([r.passed, r.failed], [1, 1], r.out);
	assert.match(r.out, /fuzz_b did not report/);
});

test('fuzz: a non-zero exit with every target ok is a failure', () => {
	const r = fuzzRunner('fuzz-exit', 'echo "ok - fuzz_a: 1 runs"; echo "ok - fuzz_b: 1 runs"; exit 3');
	assert.deepEqual([r.passed, r.failed], [2, 1], r.out);
});

test('fuzz: every target reporting ok is green', () => {
	const r = fuzzRunner('fuzz-good', 'echo "ok - fuzz_a: 1 runs"; echo "ok - fuzz_b: 1 runs"');
	assert.deepEqual([r.passed, r.failed], [2, 0], r.out);
	assert.ok(r.green);
});

test('the repository\'s fuzz runner lists one target per fuzz source', () => {
	const listed = execFileSync(join(root, 'tests/fuzz/run.sh'), ['--list'], { encoding: 'utf8' })
		.trim().split('\n').sort();
	const sources = execFileSync('bash', ['-c', `cd "${root}/tests/fuzz" && ls fuzz_*.c`], { encoding: 'utf8' })
		.trim().split('\n').map((f) => f.replace(/\.c$/, '')).sort();
	assert.deepEqual(listed, sources);
});
