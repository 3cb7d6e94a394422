// permessage-deflate (RFC 7692; docs/protocol.md): pushd takes an offer,
// answers with no context takeover either way, and sends each frame of at
// least --deflate-min bytes compressed once (RSV1) to every client that
// negotiated it; smaller frames, and clients that did not offer it, get
// plain frames. A negotiated client's resync may come compressed, and
// inflates to at most 16 bytes. Against a FastCGI responder we control.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { env, psql } from './lib.mjs';
import { kc, closeAll, metrics, metric, startPushd, settle, rawConnect, encodeFrame, OP } from './ws.mjs';
import { startApp } from './fcgi_app.mjs';
import { connectV2, v2Path, parseV2, version, list } from './v2.mjs';

const BASE_PORT = env.pushdPort + 620;
const OFFER = 'permessage-deflate; client_max_window_bits';
const ANSWER = 'permessage-deflate; server_no_context_takeover; client_no_context_takeover';
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

async function setup(t, port, { flags = [] } = {}) {
	const app = await startApp({ path: `${kc.KC_VAR}/run/deflate-app-${port}.sock` });
	t.after(() => app.close());
	app.fragment = (url, n) => url.startsWith('/list') ? list(n) : undefined;
	const pushd = await startPushd({ port, flags: ['--app', app.address, ...flags] });
	t.after(() => pushd.stop());
	const clients = [];
	t.after(() => closeAll(clients));
	const raw = async (opts) => {
		const c = await rawConnect({ port, ...opts });
		t.after(() => c.destroy());
		return c;
	};
	return { app, raw, keep: (c) => { clients.push(c); return c; } };
}

const inflate = (payload) => zlib.inflateRawSync(Buffer.concat([payload, TAIL]),
	{ finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString('utf8');
const dataFrames = (c) => c.frames.filter((f) => f.opcode === OP.TEXT && f.payload.length > 0);
// A frame's text, inflated when RSV1 is set.
const text = (f) => (f.rsv & 4 ? inflate(f.payload) : f.payload.toString('utf8'));
// One message deflated as a client would send it (trailing 00 00 ff ff off).
const deflateMsg = (s) => {
	const z = zlib.deflateRawSync(Buffer.from(s), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
	return z.subarray(0, z.length - 4);
};

test('negotiated: big frames come compressed once (RSV1) and inflate to what plain clients get; small ones plain', async (t) => {
	const port = BASE_PORT;
	const { raw } = await setup(t, port);
	const m0 = await metrics(port);
	const path = v2Path([['/list', '/list'], ['/small', '/small']]);
	const z = await raw({ path, headers: { 'Sec-WebSocket-Extensions': OFFER } });
	const plain = await raw({ path });
	assert.equal(z.head.headers['sec-websocket-extensions'], ANSWER);
	assert.equal(plain.head.headers['sec-websocket-extensions'], undefined, 'no offer, no answer');
	for (const c of [z, plain])
		await c.waitFrame('both roots', () => dataFrames(c).length >= 2, { timeout: 10000 });
	const byUrl = (c) => Object.fromEntries(dataFrames(c).map((f) => [parseV2(text(f)).url, f]));
	const zf = byUrl(z), pf = byUrl(plain);
	assert.equal(zf['/list'].rsv, 4, 'the list frame is compressed');
	assert.ok(zf['/list'].payload.length < pf['/list'].payload.length / 2,
		`${zf['/list'].payload.length} compressed bytes for ${pf['/list'].payload.length}`);
	assert.equal(text(zf['/list']), text(pf['/list']), 'inflates to the plain frame');
	assert.equal(parseV2(text(zf['/list'])).version, version(list(1)));
	assert.equal(zf['/small'].rsv, 0, 'a frame under --deflate-min goes plain');
	assert.equal(text(zf['/small']), text(pf['/small']));
	assert.ok(dataFrames(plain).every((f) => f.rsv === 0), 'a client without the offer gets plain frames');
	await settle(port);
	const m1 = await metrics(port);
	assert.equal(metric(m1, 'keycast_deflate_frames_total') - metric(m0, 'keycast_deflate_frames_total'), 1,
		'compressed once for the one client that needs it');
	assert.ok(metric(m1, 'keycast_deflate_bytes_out_total') < metric(m1, 'keycast_deflate_bytes_in_total'));

	// A v1 client that offers it gets the bare fragment compressed.
	const v1 = await raw({ key: '/list', headers: { 'Sec-WebSocket-Extensions': OFFER } });
	assert.equal(v1.head.headers['sec-websocket-extensions'], ANSWER);
	const f = await v1.waitFrame('the fragment', (x) => x.opcode === OP.TEXT && x.payload.length > 0);
	assert.equal(f.rsv, 4);
	assert.equal(inflate(f.payload), list(1));
});

test('a compressed resync is served; one that inflates past 16 bytes closes 1008', async (t) => {
	const port = BASE_PORT + 1;
	const { raw } = await setup(t, port);
	const path = v2Path([['/list']]);
	const z = await raw({ path, headers: { 'Sec-WebSocket-Extensions': OFFER } });
	await z.waitFrame('the fragment', () => dataFrames(z).length === 1);
	z.send(encodeFrame({ payload: deflateMsg('r'), rsv: 4 }));
	await z.waitFrame('the fragment again', () => dataFrames(z).length === 2, { timeout: 10000 });
	assert.equal(parseV2(text(dataFrames(z)[1])).kind, 'F');
	z.send(encodeFrame({ payload: deflateMsg('r'.repeat(1000)), rsv: 4 }));
	assert.equal((await z.waitClosed()).code, 1008);
	// RSV1 without the negotiation is a protocol error.
	const p = await raw({ path });
	await p.waitFrame('the fragment', () => dataFrames(p).length === 1);
	p.send(encodeFrame({ payload: deflateMsg('r'), rsv: 4 }));
	assert.equal((await p.waitClosed()).code, 1002);
});

test('npm ws with perMessageDeflate: diffs and a compressed resync round-trip', async (t) => {
	const port = BASE_PORT + 2;
	const { keep } = await setup(t, port);
	const c = keep(await connectV2([['/list']], { port, deflate: true }));
	assert.match(c.ws.extensions, /permessage-deflate/);
	await c.waitHtml('/list', '/list', (h) => h === list(1));
	psql(`SELECT pg_notify('keycast', '/list')`);
	await c.waitHtml('/list', '/list', (h) => h === list(2), { timeout: 10000 });
	c.ws.send('r');
	await c.waitMessage('a full frame after the resync', () => c.frames.length === 3 && c.frames[2].kind === 'F', { timeout: 10000 });
	assert.deepEqual(c.frames.map((f) => f.kind), ['F', 'D', 'F']);
	assert.deepEqual(c.bad, []);
});

test('--no-deflate: an offer is not taken, frames go plain', async (t) => {
	const port = BASE_PORT + 3;
	const { raw } = await setup(t, port, { flags: ['--no-deflate'] });
	const z = await raw({ path: v2Path([['/list']]), headers: { 'Sec-WebSocket-Extensions': OFFER } });
	assert.equal(z.head.headers['sec-websocket-extensions'], undefined);
	await z.waitFrame('the fragment', () => dataFrames(z).length === 1);
	assert.equal(dataFrames(z)[0].rsv, 0);
	assert.equal(parseV2(text(dataFrames(z)[0])).payload, list(1));
});
