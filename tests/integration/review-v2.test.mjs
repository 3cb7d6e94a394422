// A hostile review of pushd's protocol v2 (docs/protocol.md "Version 2"):
// each test here failed on the tree before its fix. Against a FastCGI
// responder we control (fcgi_app.mjs), with a pushd of its own per test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { env, until, psql } from './lib.mjs';
import { kc, closeAll, startPushd, rawConnect, OP } from './ws.mjs';
import { startApp } from './fcgi_app.mjs';
import { v2Path } from './v2.mjs';

const BASE_PORT = env.pushdPort + 680;

async function setup(t, port, { flags = [] } = {}) {
	const app = await startApp({ path: `${kc.KC_VAR}/run/review-v2-${port}.sock` });
	t.after(() => app.close());
	const logPath = `${kc.KC_VAR}/log/pushd-${port}.log`;
	const logStart = existsSync(logPath) ? statSync(logPath).size : 0;
	const pushd = await startPushd({ port, flags: ['--app', app.address, ...flags] });
	t.after(() => pushd.stop());
	const clients = [];
	t.after(() => closeAll(clients));
	return { app, pushd, logStart };
}

const authorizes = (app, key) => app.requests.filter((p) => p.KEYCAST_AUTHORIZE === key).length;

test('a pair refused on a revoke while another pair still waits for its first answer closes the socket', async (t) => {
	// /sess is answered at once with a session tag; /slow takes a while.
	// The session is revoked in between: /sess is asked again and refused.
	// That refusal must close the socket once it opens, not be dropped
	// because the socket was still authorizing its other pair.
	const port = BASE_PORT;
	const { app } = await setup(t, port);
	let signedOut = false;
	app.authorize = (p) => {
		if (p.KEYCAST_AUTHORIZE === '/sess')
			return signedOut ? { status: 401, body: 'session ended' } : { tags: ['session:r1'], view: 'user' };
		return { delayMs: 1500 };
	};
	const opening = rawConnect({ path: v2Path([['/sess'], ['/slow']]), port, timeout: 15000 });
	await until('/sess answered, /slow held', () => authorizes(app, '/slow') === 1 && app.inflight === 1,
		{ timeout: 10000, interval: 5 });
	signedOut = true;
	// Until pushd has the tag (from /sess's answer) and acts on the revoke.
	await until('/sess asked again', () => {
		if (authorizes(app, '/sess') >= 2) return true;
		psql(`SELECT pg_notify('keycast_revoke', 'session:r1')`);
		return false;
	}, { timeout: 10000, interval: 200 });
	const raw = await opening;
	t.after(() => raw.destroy());
	const cf = await raw.waitClosed({ timeout: 15000 });
	assert.equal(cf.code, 4401);
	assert.equal(cf.reason, '/sess: session ended');
	assert.ok(!raw.frames.some((f) => f.opcode === OP.TEXT && f.payload.toString().startsWith('F /sess ')),
		`no fragment of the revoked pair: ${raw.describe()}`);
});

test('a revoke of a tag every pair of a socket carries asks each pair once, not once per pair and tag holder', async (t) => {
	// The pairs' authorizations are linked in a ring; each tagged pair
	// walked the whole ring, so n tagged pairs (up to 64) cost n * n
	// queue operations per socket and a log claiming n * n clients.
	const port = BASE_PORT + 1;
	const { app, logStart } = await setup(t, port, { flags: ['--log-level', 'debug'] });
	app.authorize = () => ({ tags: ['group:r2'] });
	const pairs = [['/ga'], ['/gb'], ['/gc'], ['/gd']];
	const raw = await rawConnect({ path: v2Path(pairs), port });
	t.after(() => raw.destroy());
	await raw.waitFrame('every root', () => raw.texts().filter((x) => x.startsWith('F ')).length === 4, { timeout: 10000 });
	const before = app.authorizes;
	psql(`SELECT pg_notify('keycast_revoke', 'group:r2')`);
	const logPath = `${kc.KC_VAR}/log/pushd-${port}.log`;
	const line = await until('the revoke logged', () => {
		const m = readFileSync(logPath, 'utf8').slice(logStart).match(/revoke group:r2: authorizing (\d+) clients again/);
		return m ? Number(m[1]) : null;
	}, { timeout: 10000 });
	assert.equal(line, 4, 'each of the 4 pairs asked once');
	await until('every pair authorized again', () => app.authorizes >= before + 4, { timeout: 10000 });
	assert.equal(raw.closeFrame(), undefined, 'still open');
});
