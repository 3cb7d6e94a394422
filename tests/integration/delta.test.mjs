// Diffs (issue 11, docs/protocol.md "v2 frames", "resync"): per (key, url,
// view) pushd diffs each render against the previous one once, and sends
// the diff (D) only to clients that hold its base; any other client (new,
// reconnected, conflated, resynced) gets the full fragment (F). Against a
// FastCGI responder we control (fcgi_app.mjs) whose list fragment slides by
// one item per render, as the chat's last 50 do. Each client here checks
// every frame as keycast.js does (v2.mjs): a D's base must be the version
// it holds and its result must hash to the version named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { env, until, psql } from './lib.mjs';
import { kc, connect, closeAll, metrics, metric, startPushd, settle, rawConnect, encodeFrame, OP } from './ws.mjs';
import { startApp } from './fcgi_app.mjs';
import { connectV2, v2Path, parseV2, version, list } from './v2.mjs';

const BASE_PORT = env.pushdPort + 610;

async function setup(t, port, { flags = [] } = {}) {
	const app = await startApp({ path: `${kc.KC_VAR}/run/delta-app-${port}.sock` });
	t.after(() => app.close());
	// /big*: ~1000 KB that no diff can shrink, new at every render.
	app.fragment = (url, n) => url.startsWith('/list') ? list(n)
		: url.startsWith('/same') ? '<p>the same at every render</p>'
		: url.startsWith('/big') ? crypto.randomBytes(500 * 1024).toString('hex') : undefined;
	const pushd = await startPushd({ port, flags: ['--app', app.address, ...flags] });
	t.after(() => pushd.stop());
	const clients = [];
	t.after(() => closeAll(clients));
	const keep = (c) => { clients.push(c); return c; };
	return { app, pushd, keep };
}

const notify = (key) => psql(`SELECT pg_notify('keycast', '${key}')`);
const delta = (m1, m0, name) => metric(m1, name) - metric(m0, name);

test('a client holding the previous fragment gets a diff that applies; a reconnect and a v1 client get it whole', async (t) => {
	const port = BASE_PORT;
	const { app, keep } = await setup(t, port);
	const c = keep(await connectV2([['/list']], { port }));
	await c.waitHtml('/list', '/list', (h) => h === list(1));
	await settle(port);
	const m0 = await metrics(port);
	for (let n = 2; n <= 4; n++) {
		notify('/list');
		await c.waitHtml('/list', '/list', (h) => h === list(n), { timeout: 10000 });
	}
	await settle(port);
	assert.deepEqual(c.bad, [], 'every diff applied and matched its version');
	assert.deepEqual(c.frames.map((f) => f.kind), ['F', 'D', 'D', 'D']);
	const d = c.frames[1];
	assert.equal(d.base, c.frames[0].version);
	assert.equal(d.version, version(list(2)));
	assert.ok(d.payload.length < list(2).length / 4, `a small diff: ${d.payload}`);
	const m1 = await metrics(port);
	assert.equal(delta(m1, m0, 'keycast_diff_frames_total'), 3, 'one diff encoded per render');
	assert.equal(delta(m1, m0, 'keycast_frames_sent_diff_total'), 3);
	assert.equal(app.renders.get('/list'), 4);
	// A fresh render of the same state: what a new client gets, whole.
	const again = keep(await connectV2([['/list']], { port }));
	await again.waitHtml('/list', '/list', (h) => h === list(4));
	assert.equal(again.frames[0].kind, 'F');
	assert.equal(again.html('/list'), c.html('/list'), 'the diffed fragment equals the fresh one');
	const v1 = keep(await connect('/list', { port }));
	await v1.waitMessage('the bare fragment', (x) => x === list(4));
	notify('/list');
	await v1.waitMessage('the next bare fragment', (x) => x === list(5), { timeout: 10000 });
	await c.waitHtml('/list', '/list', (h) => h === list(5), { timeout: 10000 });
	assert.equal(c.frames.at(-1).kind, 'D');
	assert.deepEqual(c.bad, []);
});

test('a render equal to what a v2 client holds sends it nothing; a v1 client still gets it', async (t) => {
	const port = BASE_PORT + 7;
	const { app, keep } = await setup(t, port);
	const c = keep(await connectV2([['/same']], { port }));
	await c.waitHtml('/same', '/same', (h) => h === '<p>the same at every render</p>');
	const v1 = keep(await connect('/same', { port }));
	const first = await v1.waitMessage('the bare fragment', (x) => x.startsWith('<p>'));
	await settle(port);
	const m0 = await metrics(port);
	const renders = app.renders.get('/same');
	notify('/same');
	// Both clients are in one group: by the time the v1 client has the
	// new render, pushd has decided for the v2 client too.
	await v1.waitMessage('the second render', (x) => x.startsWith('<p>'), { from: first.index + 1, timeout: 10000 });
	assert.equal(app.renders.get('/same'), renders + 1, 'the notify rendered once');
	const m1 = await metrics(port);
	assert.equal(delta(m1, m0, 'keycast_frames_unchanged_total'), 1);
	assert.deepEqual(c.frames.map((f) => f.kind), ['F'], 'no frame for an unchanged render');
	assert.deepEqual(c.bad, []);
});

test('--no-diff: every v2 frame is full', async (t) => {
	const port = BASE_PORT + 1;
	const { keep } = await setup(t, port, { flags: ['--no-diff'] });
	const c = keep(await connectV2([['/list']], { port }));
	await c.waitHtml('/list', '/list', (h) => h === list(1));
	notify('/list');
	await c.waitHtml('/list', '/list', (h) => h === list(2), { timeout: 10000 });
	assert.deepEqual(c.frames.map((f) => f.kind), ['F', 'F']);
	assert.deepEqual(c.bad, []);
});

test('a client that misses a frame (conflated while its socket is full) gets the full fragment next', async (t) => {
	const port = BASE_PORT + 2;
	const { app, keep } = await setup(t, port);
	// One socket, two roots: /big fills it, /list is the one that misses.
	const slow = await rawConnect({ path: v2Path([['/big'], ['/list2']]), port });
	t.after(() => slow.destroy());
	const listFrames = () => slow.texts().filter((x) => x.startsWith('F ') || x.startsWith('D '))
		.map(parseV2).filter((f) => f.key === '/list2');
	await slow.waitFrame('the /list2 fragment', () => listFrames().length === 1);
	await slow.waitFrame('the /big fragment', (f) => f.opcode === OP.TEXT && f.payload.length > 100000);
	const normal = keep(await connectV2([['/list2']], { port }));
	await normal.waitHtml('/list2', '/list2', (h) => h === list(1));
	slow.pause();
	const m0 = await metrics(port);
	await until('the slow socket to be full', async () => {
		const before = app.renders.get('/big');
		notify('/big');
		await until('a /big render', () => app.renders.get('/big') > before, { timeout: 10000 });
		await settle(port, 100);
		return metric(await metrics(port), 'keycast_output_bytes') > 0;
	}, { timeout: 60000, interval: 10 });
	for (let n = 2; n <= 3; n++) {
		notify('/list2');
		await normal.waitHtml('/list2', '/list2', (h) => h === list(n), { timeout: 10000 });
	}
	assert.deepEqual(normal.frames.map((f) => f.kind), ['F', 'D', 'D'], 'the reading client got diffs');
	await settle(port);
	const m1 = await metrics(port);
	assert.ok(delta(m1, m0, 'keycast_conflated_frames_total') >= 1, 'a frame was conflated');
	slow.resume();
	await slow.waitFrame('the latest /list2', () => listFrames().at(-1)?.version === version(list(3)), { timeout: 20000 });
	const got = listFrames();
	assert.deepEqual(got.map((f) => f.kind), ['F', 'F'], 'the diff it missed was replaced by a full fragment');
	assert.equal(got[1].payload, list(3));
});

test('resync: "r" gets each root in full; past --max-resyncs 1008; any other data frame 1003', async (t) => {
	const port = BASE_PORT + 3;
	const { keep } = await setup(t, port, { flags: ['--max-resyncs', '2'] });
	const c = keep(await connectV2([['/list', '/list'], ['/list', '/list?b']], { port }));
	await c.waitHtml('/list', '/list', (h) => h === list(1));
	await c.waitHtml('/list', '/list?b', (h) => h === list(1));
	notify('/list');
	await c.waitHtml('/list', '/list', (h) => h === list(2), { timeout: 10000 });
	await c.waitHtml('/list', '/list?b', (h) => h === list(2), { timeout: 10000 });
	await settle(port);
	const m0 = await metrics(port);
	const n0 = c.frames.length;
	c.ws.send('r');
	await until('two full frames', () => c.frames.length >= n0 + 2, { timeout: 10000 });
	assert.deepEqual(c.frames.slice(n0).map((f) => `${f.kind} ${f.url} ${f.version}`).sort(),
		[`F /list ${version(list(2))}`, `F /list?b ${version(list(2))}`]);
	const m1 = await metrics(port);
	assert.equal(delta(m1, m0, 'keycast_resyncs_total'), 1);
	// After a resync, diffs resume from the full fragment.
	notify('/list');
	await c.waitHtml('/list', '/list', (h) => h === list(3), { timeout: 10000 });
	assert.equal(c.frames.filter((f) => f.url === '/list').at(-1).kind, 'D');
	c.ws.send('r');
	c.ws.send('r');
	const closed = await c.waitClose(10000);
	assert.equal(closed.code, 1008);
	assert.equal(closed.reason, 'too many resyncs');
	assert.equal(delta(await metrics(port), m0, 'keycast_resync_closes_total'), 1);
	assert.deepEqual(c.bad, []);

	for (const [what, frame] of [['text', encodeFrame({ payload: 'resync' })],
		['binary', encodeFrame({ opcode: OP.BINARY, payload: 'r' })],
		['fragmented', encodeFrame({ payload: 'r', fin: false })]]) {
		const raw = await rawConnect({ path: v2Path([['/list']]), port });
		t.after(() => raw.destroy());
		await raw.waitFrame('the fragment', (f) => f.opcode === OP.TEXT && f.payload.length > 0);
		raw.send(frame);
		const cf = await raw.waitClosed();
		assert.equal(cf.code, 1003, what);
	}
});
