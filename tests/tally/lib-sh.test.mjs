// tools/lib.sh, which tools/test, tools/stack, tools/demo and the benches
// source: sourcing it creates nothing (not $KC_VAR, not the checkout's var/),
// every function documents its arguments and checks them, a wrong call
// says which function and its usage and fails, and PostgreSQL's binaries
// are found by asking (PGBIN, pg_config --bindir), not by a fixed path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, copyFileSync, readdirSync, readFileSync, writeFileSync, chmodSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const lib = join(root, 'tools', 'lib.sh');
const work = mkdtempSync(join(tmpdir(), 'keycast-libsh-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

// Runs script after sourcing lib (a path) in cwd; {status, stdout, stderr}.
function sourced(script, { cwd = work, env = {}, path = lib } = {}) {
	const e = { ...process.env, ...env };
	for (const k of Object.keys(e)) if (k.startsWith('KC_') && !(k in env)) delete e[k];
	return spawnSync('bash', ['-c', `. "${path}"\n${script}`], { cwd, env: e, encoding: 'utf8' });
}

// Every file and directory under dir, relative.
function tree(dir) {
	const out = [];
	for (const ent of readdirSync(dir, { withFileTypes: true, recursive: true }))
		out.push(join(ent.parentPath ?? ent.path, ent.name).slice(dir.length));
	return out.sort();
}

test('sourcing tools/lib.sh creates nothing: not $KC_VAR, relative or absolute, nor a clone\'s var/', () => {
	const before = tree(work);
	let r = sourced('echo "$KC_VAR"', { env: { KC_VAR: join(work, 'a', 'var') } });
	assert.equal(r.status, 0, r.stderr);
	assert.equal(r.stdout.trim(), join(work, 'a', 'var'));
	r = sourced('echo "$KC_VAR"', { env: { KC_VAR: 'rel/var' } });
	assert.equal(r.stdout.trim(), join(work, 'rel', 'var'), 'a relative KC_VAR is made absolute');
	assert.deepEqual(tree(work), before, 'nothing appeared');

	// A clone of tools/ alone, KC_VAR unset: its var/ stays absent.
	const clone = join(work, 'clone');
	mkdirSync(join(clone, 'tools'), { recursive: true });
	copyFileSync(lib, join(clone, 'tools', 'lib.sh'));
	r = sourced('echo "$KC_VAR $KC_BUILD"', { path: join(clone, 'tools', 'lib.sh') });
	assert.equal(r.status, 0, r.stderr);
	assert.equal(r.stdout.trim(), `${join(clone, 'var')} ${join(clone, 'build', 'release')}`);
	assert.equal(existsSync(join(clone, 'var')), false, 'no var/ in the clone');
	assert.deepEqual(tree(clone), ['/tools', '/tools/lib.sh']);
});

test('a wrong call of a tools/lib.sh function names it, gives its usage and fails', () => {
	for (const [call, re] of [
		['kc_start', /^error: kc_start: usage: kc_start PART \(called with 0 arguments\)$/],
		['kc_start pg fcgi', /^error: kc_start: usage: kc_start PART \(called with 2 arguments: pg fcgi\)$/],
		['kc_wait', /^error: kc_wait: usage: kc_wait SECONDS_MAX COMMAND \[ARG\.\.\.\]/],
		['kc_wait soon true', /^error: kc_wait: SECONDS_MAX must be a whole number, not 'soon'$/],
		['kc_check_port 127.0.0.1 80', /^error: kc_check_port: usage: kc_check_port HOST PORT WHAT VARIABLE \(called with 2 arguments/],
		['kc_spawn fcgi', /^error: kc_spawn: usage: kc_spawn NAME COMMAND/],
		['kc_pidfile', /^error: kc_pidfile: usage: kc_pidfile NAME/],
		['kc_stop_pid a TERM extra', /^error: kc_stop_pid: usage: kc_stop_pid NAME \[SIGNAL\]/],
		['kc_down now', /^error: kc_down: usage: kc_down \(called with 1 argument: now\)$/],
		['kc_up', /^error: kc_up: usage: kc_up PART\.\.\./],
	]) {
		const r = sourced(`${call}\necho "went on"`, { env: { KC_VAR: join(work, 'calls') } });
		assert.equal(r.status, 1, `${call}: fails`);
		assert.match(r.stderr.trim(), re, call);
		assert.doesNotMatch(r.stdout, /went on/, `${call}: the script stops`);
	}
	assert.equal(existsSync(join(work, 'calls')), false, 'and writes nothing');
	// A right call still works.
	const r = sourced('kc_pidfile pushd', { env: { KC_VAR: join(work, 'calls') } });
	assert.equal(r.stdout.trim(), join(work, 'calls', 'run', 'pushd.pid'));
});

test('every function of tools/lib.sh has a comment naming it and checks its arguments first', () => {
	const lines = readFileSync(lib, 'utf8').split('\n');
	const fns = [];
	lines.forEach((line, i) => {
		const m = /^(kc_\w+)\(\) \{/.exec(line);
		if (!m) return;
		fns.push(m[1]);
		let j = i - 1;
		const comment = [];
		while (j >= 0 && lines[j].startsWith('#')) comment.unshift(lines[j--]);
		assert.ok(comment.some((c) => c.includes(m[1])), `${m[1]}: a comment above it names it and its arguments`);
		if (!['kc_die', 'kc_log', 'kc_args'].includes(m[1]))
			assert.match(lines[i + 1], /^\tkc_args \d+ [\d-]+ /, `${m[1]}: starts with kc_args`);
	});
	assert.ok(fns.length >= 25, `found the functions (${fns.length})`);
});

test('kc_pgbin asks PGBIN, then pg_config --bindir; a PGBIN without initdb is refused', () => {
	const fake = join(work, 'pg', 'bin');
	mkdirSync(fake, { recursive: true });
	writeFileSync(join(fake, 'initdb'), '#!/bin/sh\n');
	chmodSync(join(fake, 'initdb'), 0o755);
	const pgConfigDir = join(work, 'pgconfig');
	mkdirSync(pgConfigDir, { recursive: true });
	writeFileSync(join(pgConfigDir, 'pg_config'), `#!/bin/sh\n[ "$1" = --bindir ] && echo ${fake}\n`);
	chmodSync(join(pgConfigDir, 'pg_config'), 0o755);

	let r = sourced('kc_pgbin', { env: { PATH: `${pgConfigDir}:${process.env.PATH}` } });
	assert.equal(r.status, 0, r.stderr);
	assert.equal(r.stdout.trim(), fake, 'pg_config --bindir is asked');
	r = sourced('kc_pgbin', { env: { PGBIN: fake, PATH: process.env.PATH } });
	assert.equal(r.stdout.trim(), fake, 'PGBIN wins');
	r = sourced('kc_pgbin', { env: { PGBIN: join(work, 'nowhere') } });
	assert.equal(r.status, 1);
	assert.match(r.stderr, /PGBIN=.*nowhere has no initdb/);
	assert.doesNotMatch(readFileSync(lib, 'utf8'), /^[^#]*\/usr\/lib\/postgresql\/\d+/m, 'no fixed PostgreSQL version');
});
