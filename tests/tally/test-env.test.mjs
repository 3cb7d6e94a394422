// tools/test's own settings: whatever a shell exported for another stack
// (eval "$(tools/stack env)" for the demo exports its KC_PGDATA and socket),
// the tests run on their own cluster, socket and ports, and never stop or
// use the other stack's. `tools/test env` prints what they use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

// tools/test env, with env added to a KC_-free environment but for the
// KC_TEST_* settings the current run uses.
function testEnv(env) {
	const e = { ...process.env };
	for (const k of Object.keys(e)) if (k.startsWith('KC_') && !k.startsWith('KC_TEST_')) delete e[k];
	const r = spawnSync(join(root, 'tools', 'test'), ['env'], { env: { ...e, ...env }, encoding: 'utf8' });
	assert.equal(r.status, 0, r.stderr);
	return Object.fromEntries(r.stdout.trim().split('\n').map((l) => {
		const m = /^(KC_[A-Z_]+)='(.*)'$/.exec(l);
		assert.ok(m, `a line of tools/test env: ${l}`);
		return [m[1], m[2]];
	}));
}

test('tools/test never takes another stack\'s exported database or socket', () => {
	const mine = testEnv({});
	const varDir = process.env.KC_TEST_VAR || join(root, 'var', 'test');
	assert.equal(mine.KC_PGDATA, join(varDir, 'pg'));
	assert.equal(mine.KC_FCGI_SOCKET, join(varDir, 'run', 'fcgi.sock'));
	const demo = testEnv({ KC_VAR: '/tmp/kc-demo-elsewhere', KC_PGDATA: '/tmp/kc-demo-elsewhere/pg',
		KC_FCGI_SOCKET: '/tmp/kc-demo-elsewhere/run/fcgi.sock', KC_HTTP_PORT: '8080', KC_PGPORT: '5432' });
	assert.equal(demo.KC_PGDATA, mine.KC_PGDATA);
	assert.equal(demo.KC_FCGI_SOCKET, mine.KC_FCGI_SOCKET);
	assert.equal(demo.KC_VAR, mine.KC_VAR);
	assert.equal(demo.KC_HTTP_PORT, mine.KC_HTTP_PORT);
	assert.equal(demo.KC_PGPORT, mine.KC_PGPORT);
	assert.match(demo.KC_CONNINFO, new RegExp(`port=${mine.KC_PGPORT} `));
});
