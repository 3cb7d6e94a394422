// Several live regions on one socket (issue 10, docs/protocol.md "v2"):
// a v2 upgrade subscribes several (key, url) pairs; each is authorized
// and rendered on its own and every frame names its root. Against a
// FastCGI responder we control (fcgi_app.mjs) that counts renders per url
// and answers authorize requests as each test says. What must hold: two
// roots update independently and a notify of one key renders nothing of
// the other; duplicates are subscribed once; more than --max-roots pairs
// close 4400; a refused pair closes the socket with its code and "KEY: ";
// a revoke of one pair's tag authorizes every pair again; malformed v2
// queries are refused as a bad key is (4400); v1 clients are unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { env, until, psql } from './lib.mjs';
import { kc, connect, closeAll, metrics, metric, startPushd, settle, rawConnect, encodeFrame, OP } from './ws.mjs';
import { startApp } from './fcgi_app.mjs';
import { connectV2 } from './v2.mjs';

const BASE_PORT = env.pushdPort + 600;

async function setup(t, port, { flags = [] } = {}) {
	const app = await startApp({ path: `${kc.KC_VAR}/run/roots-app-${port}.sock` });
	t.after(() => app.close());
	const logPath = `${kc.KC_VAR}/log/pushd-${port}.log`;
	const start = existsSync(logPath) ? statSync(logPath).size : 0;
	const pushd = await startPushd({ port, flags: ['--app', app.address, '--log-level', 'debug', ...flags] });
	t.after(() => pushd.stop());
	const clients = [];
	t.after(() => closeAll(clients));
	const keep = (c) => { clients.push(c); return c; };
	return { app, pushd, keep, logStart: start };
}

const notify = (key) => psql(`SELECT pg_notify('keycast', '${key}')`);
const authorizes = (app, key) => app.requests.filter((p) => p.KEYCAST_AUTHORIZE === key).length;

test('two roots with different keys on one socket update independently', async (t) => {
	const port = BASE_PORT;
	const { app, keep } = await setup(t, port);
	const c = keep(await connectV2([['/ra', '/ra?x=1'], ['/rb', '/rb']], { port }));
	await c.waitHtml('/ra', '/ra?x=1', (h) => h === '<p>/ra?x=1 1</p>');
	await c.waitHtml('/rb', '/rb', (h) => h === '<p>/rb 1</p>');
	assert.equal(authorizes(app, '/ra') + authorizes(app, '/rb'), 2, 'one authorize request per pair');
	await settle(port);
	const m0 = await metrics(port);
	notify('/ra');
	await c.waitHtml('/ra', '/ra?x=1', (h) => h === '<p>/ra?x=1 2</p>', { timeout: 10000 });
	await settle(port);
	assert.equal(app.renders.get('/rb'), 1, 'a notify of /ra renders nothing of /rb');
	assert.equal(c.html('/rb'), '<p>/rb 1</p>');
	notify('/rb');
	notify('/rb');
	await c.waitHtml('/rb', '/rb', (h) => h === `<p>/rb ${app.renders.get('/rb')}</p>` && app.renders.get('/rb') >= 2,
		{ timeout: 10000 });
	await settle(port);
	assert.equal(app.renders.get('/ra?x=1'), 2, 'a notify of /rb renders nothing of /ra');
	assert.equal(c.html('/ra', '/ra?x=1'), '<p>/ra?x=1 2</p>');
	assert.deepEqual(c.bad, [], 'every frame checked out');
	const m1 = await metrics(port);
	assert.ok(metric(m1, 'keycast_frames_sent_full_total') > metric(m0, 'keycast_frames_sent_full_total'));
	assert.equal(metric(m1, 'keycast_clients'), 1, 'one socket');
});

test('duplicate pairs are subscribed once; url defaults to the key', async (t) => {
	const port = BASE_PORT + 1;
	const { app, keep } = await setup(t, port);
	const c = keep(await connectV2([['/rd'], ['/rd'], ['/re']], { port }));
	await c.waitHtml('/re', '/re', (h) => h === '<p>/re 1</p>');
	await c.waitHtml('/rd', '/rd', (h) => h === '<p>/rd 1</p>');
	await settle(port);
	assert.equal(authorizes(app, '/rd'), 1, 'the duplicate is authorized once');
	assert.equal(c.frames.filter((f) => f.key === '/rd').length, 1, 'and gets one frame');
	assert.deepEqual(c.bad, []);
});

test('more pairs than --max-roots close 4400; v2 frames come only to v2 clients', async (t) => {
	const port = BASE_PORT + 2;
	const { app, keep } = await setup(t, port, { flags: ['--max-roots', '2'] });
	const m0 = await metrics(port);
	const three = keep(await connectV2([['/r1'], ['/r2'], ['/r3']], { port }));
	const closed = await three.waitClose();
	assert.equal(closed.code, 4400);
	assert.equal(closed.reason, 'too many roots (max 2)');
	assert.equal(three.messages.filter((m) => m.data !== '').length, 0, 'no fragment');
	assert.equal(authorizes(app, '/r1'), 0, 'nothing was authorized');
	const m1 = await metrics(port);
	assert.equal(metric(m1, 'keycast_roots_refused_total') - metric(m0, 'keycast_roots_refused_total'), 1);
	// Two distinct pairs (and a duplicate) pass.
	const two = keep(await connectV2([['/r1'], ['/r2'], ['/r1']], { port }));
	await two.waitHtml('/r2', '/r2', (h) => h === '<p>/r2 1</p>');
	// A v1 client of the same key still gets the bare fragment.
	const v1 = keep(await connect('/r1', { port }));
	await v1.waitMessage('the bare fragment', (d) => d === '<p>/r1 1</p>');
});

test('malformed v2 queries are refused like a bad key (4400), unknown v too', async (t) => {
	const port = BASE_PORT + 3;
	const { keep } = await setup(t, port);
	const cases = [
		['/__realtime?v=2&key=/a&key=/b&url=/a', 'every key needs its url, or no url is given'],
		['/__realtime?v=2&url=/a', 'missing key parameter'],
		['/__realtime?v=3&key=/a', 'unknown protocol version (v=1 or v=2)'],
		['/__realtime?v=2&key=/a&key=bad%20key', 'key must be 1..256 printable ASCII characters, no spaces'],
	];
	for (const [path, reason] of cases) {
		const c = keep(await connectV2([], { port, path }));
		const closed = await c.waitClose();
		assert.equal(closed.code, 4400, path);
		assert.equal(closed.reason, reason, path);
	}
});

test('a refused pair closes the socket with its code and "KEY: reason"', async (t) => {
	const port = BASE_PORT + 4;
	const { app, keep } = await setup(t, port);
	app.authorize = (p) => p.KEYCAST_AUTHORIZE === '/secret' ? { status: 403, body: 'members only' } : {};
	const c = keep(await connectV2([['/open'], ['/secret']], { port }));
	const closed = await c.waitClose();
	assert.equal(closed.code, 4403);
	assert.equal(closed.reason, '/secret: members only');
	assert.equal(c.messages.filter((m) => m.data !== '').length, 0, 'no fragment of the other root either');
	app.authorize = (p) => p.KEYCAST_AUTHORIZE === '/gone' ? { status: 404, body: 'no such room' } : {};
	const d = keep(await connectV2([['/gone', '/gone?page=2']], { port }));
	const dc = await d.waitClose();
	assert.equal(dc.code, 4404);
	assert.equal(dc.reason, '/gone: no such room');
	// v1 keeps its bare reason.
	const v1 = keep(await connect('/gone', { port }));
	const vc = await v1.waitClose();
	assert.equal(vc.code, 4404);
	assert.equal(vc.reason, 'no such room');
});

test('a revoke of one pair\'s tag authorizes every pair again; a refusal then closes with that pair\'s key', async (t) => {
	const port = BASE_PORT + 5;
	const { app, keep } = await setup(t, port);
	let denyB = false;
	// Only /ta's answer carries the tag.
	app.authorize = (p) => {
		if (p.KEYCAST_AUTHORIZE === '/ta') return { tags: ['user:9'] };
		return denyB ? { status: 403, body: 'signed out' } : {};
	};
	const c = keep(await connectV2([['/ta'], ['/tb']], { port }));
	await c.waitHtml('/tb', '/tb', () => true);
	await c.waitHtml('/ta', '/ta', () => true);
	const b0 = authorizes(app, '/tb');
	psql(`SELECT pg_notify('keycast_revoke', 'user:9')`);
	await until('/tb authorized again', () => authorizes(app, '/tb') > b0, { timeout: 10000 });
	assert.ok(c.open, 'still open while every pair is allowed');
	denyB = true;
	psql(`SELECT pg_notify('keycast_revoke', 'user:9')`);
	const closed = await c.waitClose(10000);
	assert.equal(closed.code, 4403);
	assert.equal(closed.reason, '/tb: signed out');
});

test('a v1 client sending data still gets 1003; v1 frames carry no header', async (t) => {
	const port = BASE_PORT + 6;
	await setup(t, port);
	const raw = await rawConnect({ key: '/plain', port });
	t.after(() => raw.destroy());
	const f = await raw.waitFrame('the fragment', (x) => x.opcode === OP.TEXT && x.payload.length > 0);
	assert.equal(f.payload.toString(), '<p>/plain 1</p>');
	assert.equal(f.rsv, 0);
	raw.send(encodeFrame({ payload: 'r' }));
	const cf = await raw.waitClosed();
	assert.equal(cf.code, 1003);
});
