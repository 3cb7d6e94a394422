// keycast-pushd against the real stack (PostgreSQL, keycast-fcgi, nginx,
// lighttpd): issue 3's "Tests" 1-10, plus the render-contract close codes
// and the heartbeat/limit flags. Clients are npm `ws` for well-behaved ones
// and raw sockets (ws.mjs) for everything a library would refuse to send.
// Every wait polls with a deadline; the few fixed pauses only let something
// that must NOT happen have its chance to happen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { env, until, postForm, stack, partPid, childPids, isAlive, psql, pgConnect, signUp, as } from './lib.mjs';
import {
	kc, httpPort, lighttpdPort, connect, connectAll, closeAll, countOf, indexCountOf,
	OP, encodeFrame, closePayload, upgradeRequest, rawExchange, rawConnect,
	metrics, metric, healthz, settle, rssKiB, startPushd, psqlOnSidePort, delay,
	RENDERS_OK, RENDERS_FAILED, RENDERS_COALESCED,
} from './ws.mjs';

const run = crypto.randomBytes(3).toString('hex');
const XK = { headers: { 'X-Keycast': '1' } };
const PORT = env.pushdPort;
const OWN_PORT = PORT + 100; // private keycast-pushd instances

const dbCount = () => Number(psql("SELECT value FROM counters WHERE name = 'global'"));

async function increment() {
	const res = await postForm(env.httpBase, '/api/counter/increment', '', XK);
	assert.equal(res.status, 204, `POST /api/counter/increment: ${res.status} ${res.body.slice(0, 200)}`);
	return dbCount();
}

// Posting needs a signed-in user: one account for the whole file.
let posterSignUp;
const poster = () => (posterSignUp ??= signUp('pushd'));

async function chatPost(room, text) {
	const res = await postForm(env.httpBase, `/api/chat/${room}/messages`, { text },
		{ headers: as(await poster(), XK.headers) });
	assert.equal(res.status, 204, `POST chat ${room}: ${res.status} ${res.body.slice(0, 200)}`);
}

const waitCount = (clients, v, opts) =>
	Promise.all(clients.map((c) => c.waitMessage(`count ${v}`, (d) => countOf(d) === v, opts)));

// pushd has dropped the clients of earlier tests (its gauge equals ours).
async function clientsGauge(n, port = PORT) {
	await until(`keycast_clients == ${n}`, async () => metric(await metrics(port), 'keycast_clients') === n);
}

function assertAllOpen(clients, when) {
	for (const c of clients)
		assert.ok(c.open && !c.close, `${c.label} dropped ${when}: ${JSON.stringify(c.close)}`);
}

test('1. one POST reaches every /counter client (direct, nginx, lighttpd); /chat clients get nothing, and vice versa', async (t) => {
	const room = `it-a-${run}`;
	const key = `/chat/${room}`;
	const counters = await connectAll([
		...Array.from({ length: 6 }, () => ({ key: '/counter' })),
		{ key: '/counter', port: httpPort, label: 'nginx /counter #1' },
		{ key: '/counter', port: httpPort, label: 'nginx /counter #2' },
		{ key: '/counter', port: lighttpdPort, label: 'lighttpd /counter #1' },
		{ key: '/counter', port: lighttpdPort, label: 'lighttpd /counter #2' },
	]);
	t.after(() => closeAll(counters));
	const chats = await connectAll([
		{ key }, { key },
		{ key, port: httpPort, label: `nginx ${key}` },
		{ key, port: lighttpdPort, label: `lighttpd ${key}` },
	]);
	t.after(() => closeAll(chats));

	const v0 = dbCount();
	for (const c of counters)
		assert.equal(countOf(c.messages[0].data), v0, `${c.label}: first fragment shows the current count`);
	for (const c of chats) {
		assert.match(c.messages[0].data, /class="card chat"/, `${c.label}: first fragment is the chat`);
		assert.ok(c.messages[0].data.includes(`#${room}`), `${c.label}: names the room`);
		assert.ok(!c.messages[0].data.includes('data-rt-root'), `${c.label}: the inner HTML only`);
	}

	const v1 = await increment();
	assert.ok(v1 > v0);
	await waitCount(counters, v1, { from: 1 });

	const text = `hello from ${run}`;
	await chatPost(room, text);
	await Promise.all(chats.map((c) => c.waitMessage('the new chat message', (d) => d.includes(text), { from: 1 })));

	await settle();
	for (const c of counters) {
		assert.equal(c.messages.length, 2, `${c.label}: the initial fragment and one update, got ${c.messages.length}`);
		assert.ok(c.messages.every((m) => countOf(m.data) !== undefined && !m.data.includes(text)),
			`${c.label}: received something else than counter fragments`);
	}
	for (const c of chats) {
		assert.equal(c.messages.length, 2, `${c.label}: the initial fragment and one update, got ${c.messages.length}`);
		assert.ok(c.messages.every((m) => countOf(m.data) === undefined), `${c.label}: received a counter fragment`);
	}
	assertAllOpen([...counters, ...chats], 'during the test');
});

test('2. two view classes of one (key, url) each get their own render', async (t) => {
	// A url belongs to one key (the app refuses made-up ones): what splits
	// a (key, url) now is the view class. A moderator sees delete buttons.
	await clientsGauge(0);
	const room = `it-views-${run}`;
	const key = `/chat/${room}`;
	const mod = await signUp('it-mod');
	psql(`UPDATE users SET role = 'moderator' WHERE id = ${mod.id}`);
	await chatPost(room, `first ${run}`);
	const clients = await connectAll([
		{ key, label: 'anon #1' },
		{ key, label: 'anon #2' },
		{ key, label: 'moderator', headers: as(mod) },
	]);
	t.after(() => closeAll(clients));
	const [a, b, c] = clients;
	await clientsGauge(3);
	await settle();
	const m0 = await metrics();
	assert.equal(metric(m0, 'keycast_views'), 2, 'two groups');

	await chatPost(room, `second ${run}`);
	await Promise.all(clients.map((x) => x.waitMessage('the second post', (d) => d.includes(`second ${run}`), { from: 1 })));
	await settle();
	const m1 = await metrics();
	assert.equal(a.last, b.last, 'the clients of one (key, url, view) get the same fragment');
	assert.notEqual(a.last, c.last, 'the moderator\'s view differs');
	assert.equal(metric(m1, RENDERS_OK) - metric(m0, RENDERS_OK), 2,
		'one notify of a url with two view classes costs exactly two renders');
});

test('3. a psql UPDATE reaches the clients through the trigger; a bare pg_notify re-renders', async (t) => {
	const clients = await connectAll([{ key: '/counter' }, { key: '/counter' }, { key: '/counter', port: httpPort }]);
	t.after(() => closeAll(clients));
	const v1 = Number(psql("UPDATE counters SET value = value + 1 WHERE name = 'global' RETURNING value"));
	await waitCount(clients, v1, { from: 1 });

	await settle();
	const m0 = await metrics();
	psql("SELECT pg_notify('keycast', '/counter')");
	await until('a render for the hand-made notify', async () => {
		const m = await metrics();
		return metric(m, 'keycast_notifies_total') > metric(m0, 'keycast_notifies_total') &&
			metric(m, RENDERS_OK) > metric(m0, RENDERS_OK);
	});
	assertAllOpen(clients, 'by a notify');
});

// 1000 separate transactions, each committing one UPDATE (whose trigger
// notifies /counter and global), sent as one query string so that they
// commit back to back with no round trip in between: a real burst. (One
// transaction would let PostgreSQL fold the notifies into one.)
async function burst(pg, n = 1000) {
	await pg.query('SET synchronous_commit = off; ' +
		"BEGIN; UPDATE counters SET value = value + 1 WHERE name = 'global'; COMMIT; ".repeat(n));
}

test('4. a burst of 1000 notifies costs few renders and every client ends on the final value', async (t) => {
	await clientsGauge(0);
	const clients = await connectAll([
		...Array.from({ length: 4 }, () => ({ key: '/counter' })),
		{ key: '/counter', port: httpPort, label: 'nginx /counter' },
	]);
	t.after(() => closeAll(clients));
	const pg = await pgConnect();
	t.after(() => pg.end());

	// (a) The whole burst lands while one render is in flight (the app's
	// workers are stopped meanwhile): per (key,url) one render in flight and
	// one pending, so the burst costs at most two renders.
	await settle();
	let m0 = await metrics();
	const workers = childPids(partPid('fcgi'));
	assert.ok(workers.length > 0, 'keycast-fcgi has workers');
	const resume = () => { for (const p of workers) try { process.kill(p, 'SIGCONT'); } catch {} };
	t.after(resume);
	for (const p of workers) process.kill(p, 'SIGSTOP');
	await burst(pg);
	await until('pushd to receive the 2000 notifies (with its render stalled)', async () =>
		metric(await metrics(), 'keycast_notifies_total') - metric(m0, 'keycast_notifies_total') >= 2000,
	{ timeout: 3000 }); // well inside pushd's 5 s render timeout
	resume();
	let final = dbCount();
	await waitCount(clients, final, { timeout: 10000 });
	await settle();
	let m1 = await metrics();
	let d = (name) => metric(m1, name) - metric(m0, name);
	t.diagnostic(`burst during a stalled render: renders ok +${d(RENDERS_OK)} failed +${d(RENDERS_FAILED)} coalesced +${d(RENDERS_COALESCED)}`);
	assert.equal(d(RENDERS_FAILED), 0);
	assert.ok(d(RENDERS_OK) >= 1 && d(RENDERS_OK) <= 2, `renders ok +${d(RENDERS_OK)}: want the one in flight and at most one pending`);
	assert.ok(d(RENDERS_OK) + d(RENDERS_COALESCED) >= 990, 'the folded notifies are counted as coalesced');
	for (const c of clients) assert.equal(countOf(c.last), final, `${c.label} ends on the final value`);

	// (b) A free-running burst: renders run back to back while commits keep
	// coming, each one serving every notify that arrived before it started.
	// How many that makes depends on the render time against the commit
	// rate (~200-300 of 0.4 ms each for a 200-400 ms burst, release build,
	// 2 CPUs); far fewer than the notifies either way, and clients converge
	// right after the last commit.
	await settle();
	m0 = await metrics();
	const from = clients.map((c) => c.messages.length);
	const t0 = Date.now();
	await burst(pg);
	const committed = Date.now();
	final = dbCount();
	const got = await Promise.all(clients.map((c, i) =>
		c.waitMessage(`count ${final}`, (data) => countOf(data) === final, { from: from[i], timeout: 10000 })));
	const convergeMs = Math.max(...got.map((m) => m.t)) - committed;
	await settle();
	m1 = await metrics();
	d = (name) => metric(m1, name) - metric(m0, name);
	const renders = d(RENDERS_OK);
	const meanRenderMs = (d('keycast_render_seconds_sum') * 1000) / d('keycast_render_seconds_count');
	t.diagnostic(`free burst of 1000 commits in ${committed - t0} ms: notifies +${d('keycast_notifies_total')}, ` +
		`renders ok +${renders} failed +${d(RENDERS_FAILED)} coalesced +${d(RENDERS_COALESCED)}, ` +
		`mean render ${meanRenderMs.toFixed(2)} ms, clients on the final value ${convergeMs} ms after the last commit`);
	assert.ok(d('keycast_notifies_total') >= 2000, 'every commit notified /counter and global');
	assert.equal(d(RENDERS_FAILED), 0);
	assert.ok(renders >= 1 && renders <= 500, `renders ok +${renders} for 1000 notifies`);
	assert.ok(d(RENDERS_COALESCED) > 0, 'the folded notifies are counted as coalesced');
	assert.ok(convergeMs <= 1000, `clients converged ${convergeMs} ms after the last commit`);
	for (const c of clients) {
		assert.equal(countOf(c.last), final, `${c.label} ends on the final value`);
		const seen = c.messages.map((m) => countOf(m.data));
		assert.ok(seen.every((v, i) => i === 0 || v >= seen[i - 1]), `${c.label} went backwards: ${seen.join(' ')}`);
	}
});

test('5. PostgreSQL restarted: clients stay, /healthz follows, a change made while LISTEN was down is pushed', async (t) => {
	const clients = await connectAll([{ key: '/counter' }, { key: '/counter' }, { key: '/counter', port: httpPort }]);
	t.after(() => closeAll(clients));
	t.after(() => stack('start', 'pg')); // no-op unless the test failed midway
	await settle();
	const m0 = await metrics();
	assert.equal(metric(m0, 'keycast_pg_connected'), 1);
	assert.equal(await healthz(), 200);

	stack('stop', 'pg');
	await until('/healthz 503 with PostgreSQL down', async () => (await healthz()) === 503);
	assert.equal(metric(await metrics(), 'keycast_pg_connected'), 0);
	assertAllOpen(clients, 'when PostgreSQL stopped');

	// Commit on a side port keycast-pushd cannot reach: its notify is lost
	// for certain, whatever pushd's reconnect timing.
	const v1 = Number(psqlOnSidePort("UPDATE counters SET value = value + 1 WHERE name = 'global' RETURNING value"));
	assertAllOpen(clients, 'while PostgreSQL was down');
	assert.ok(clients.every((c) => countOf(c.last) !== v1), 'nothing could have announced the change yet');

	stack('start', 'pg');
	await until('/healthz 200 again', async () => (await healthz()) === 200, { timeout: 15000 });
	await waitCount(clients, v1, { timeout: 15000 });
	const m1 = await metrics();
	assert.ok(metric(m1, 'keycast_pg_reconnects_total') > metric(m0, 'keycast_pg_reconnects_total'),
		'keycast_pg_reconnects_total counts the new LISTEN');
	assert.equal(metric(m1, 'keycast_pg_connected'), 1);
	assertAllOpen(clients, 'across the PostgreSQL restart');

	// And LISTEN works again, for a click as for psql. (That every request
	// to keycast-fcgi works once PostgreSQL is back is pages.test.mjs's.)
	const v2 = await increment();
	await waitCount(clients, v2);
});

test('6. keycast-fcgi stopped then started: no client dropped, renders fail then resume', async (t) => {
	const clients = await connectAll([
		{ key: '/counter' }, { key: '/counter' },
		{ key: '/counter', port: httpPort, label: 'nginx /counter' },
	]);
	t.after(() => closeAll(clients));
	t.after(() => stack('start', 'fcgi'));
	await settle();
	const m0 = await metrics();

	// Fragments only: empty text frames are heartbeats.
	const fragments = () => clients.map((c) => c.messages.filter((m) => m.data !== '').length);
	const before = fragments();
	stack('stop', 'fcgi');
	const v1 = Number(psql("UPDATE counters SET value = value + 1 WHERE name = 'global' RETURNING value"));
	await until('a failed render', async () => metric(await metrics(), RENDERS_FAILED) > metric(m0, RENDERS_FAILED));
	assertAllOpen(clients, 'while keycast-fcgi is down');
	assert.deepEqual(fragments(), before, 'a failed render sends nothing (no error page)');

	stack('start', 'fcgi');
	// No new notify: pushd's own retry must bring the value.
	await waitCount(clients, v1, { timeout: 15000 });
	assertAllOpen(clients, 'across the keycast-fcgi restart');
	assert.ok(metric(await metrics(), RENDERS_OK) > metric(m0, RENDERS_OK));
	const v2 = await increment();
	await waitCount(clients, v2);
});

test('8. bad handshakes get their status or are cut; other clients are undisturbed', async (t) => {
	const bystanders = await connectAll([{ key: '/counter' }, { key: '/counter', port: httpPort }]);
	t.after(() => closeAll(bystanders));

	// A client sending one byte a second must be cut by the 10 s handshake
	// timeout; it runs while the other cases go on.
	const slowloris = new Promise((resolve) => {
		const sock = net.createConnection({ host: '127.0.0.1', port: PORT });
		const bytes = Buffer.from(upgradeRequest({ key: '/counter' }).text);
		const start = Date.now();
		let i = 0;
		let timer;
		let got = '';
		const tick = () => {
			if (i < bytes.length && !sock.destroyed) sock.write(bytes.subarray(i, ++i), () => {});
			timer = setTimeout(tick, 1000);
		};
		const hard = setTimeout(() => { sock.destroy(); resolve({ ms: Date.now() - start, cut: false }); }, 16000);
		sock.on('connect', tick);
		sock.on('data', (d) => { got += d.toString('latin1'); });
		sock.on('error', () => {});
		sock.on('close', () => {
			clearTimeout(timer);
			clearTimeout(hard);
			resolve({ ms: Date.now() - start, cut: true, sent: i, got });
		});
	});

	// A valid upgrade with a bad key, url or Origin is accepted and closed
	// with 4400/4403 instead: pushd-clients.test.mjs.
	const cases = [
		{ name: 'no Sec-WebSocket-Key', req: upgradeRequest({ headers: { 'Sec-WebSocket-Key': null } }), want: [400] },
		{ name: 'version 8', req: upgradeRequest({ headers: { 'Sec-WebSocket-Version': '8' } }), want: [426] },
		// pushd answers and then drains what the client still sends
		// (lingering close), so the 431 always arrives, never a reset.
		{ name: '9 KiB of headers', req: upgradeRequest({ headers: { 'X-Filler': 'a'.repeat(9 * 1024) } }), want: [431] },
		{ name: '64 KiB of headers', req: upgradeRequest({ headers: { 'X-Filler': 'a'.repeat(64 * 1024) } }), want: [431] },
	];
	const results = await Promise.all(cases.map((c) => rawExchange(c.req.text)));
	cases.forEach((c, i) => {
		const r = results[i];
		assert.ok(c.want.includes(r.status), `${c.name}: want ${c.want}, got ${r.status ?? 'no answer'} ${JSON.stringify(r.raw.toString('latin1').slice(0, 120))}`);
		assert.ok(r.closed || r.headers.connection?.toLowerCase() === 'close',
			`${c.name}: the connection ends after the refusal`);
		if (r.status === 426)
			assert.equal(r.headers['sec-websocket-version'], '13', 'a 426 names the version it speaks');
	});

	// The loop was not blocked by any of it.
	const v1 = await increment();
	await waitCount(bystanders, v1);

	const s = await slowloris;
	t.diagnostic(`byte-a-second client cut after ${s.ms} ms (${s.sent} bytes sent), answer ${JSON.stringify(s.got.split('\r\n')[0] ?? '')}; ` +
		`9 KiB of headers: ${results[2].status ?? 'cut'}`);
	assert.ok(s.cut, `the byte-a-second client was not cut within 16 s (${s.ms} ms)`);
	assert.ok(s.ms >= 8000 && s.ms <= 13000, `cut after ${s.ms} ms, want the 10 s handshake timeout`);
	assert.ok(!/^HTTP\/1\.1 101/.test(s.got), 'never upgraded');

	assertAllOpen(bystanders, 'by bad handshakes');
	const v2 = await increment();
	await waitCount(bystanders, v2);
});

test('9. bad frames close only that client with the RFC code', async (t) => {
	await clientsGauge(0);
	const bystanders = await connectAll([{ key: '/counter' }, { key: '/counter', port: httpPort }]);
	t.after(() => closeAll(bystanders));

	const big = Buffer.alloc(5000, 'a');
	const cases = [
		{ name: 'unmasked text frame', frames: [encodeFrame({ payload: 'hi', mask: false })], code: 1002 },
		// Clients may send only control frames: any data frame is 1003.
		{ name: 'text message over 4 KiB', frames: [encodeFrame({ payload: big })], code: 1003 },
		{ name: 'fragmented text over 4 KiB in all', code: 1003, frames: [
			encodeFrame({ payload: Buffer.alloc(3000, 'b'), fin: false }),
			encodeFrame({ opcode: OP.CONT, payload: Buffer.alloc(3000, 'c') })] },
		{ name: 'invalid UTF-8 text', frames: [encodeFrame({ payload: Buffer.from([0x68, 0xc3, 0x28]) })], code: 1003 },
		{ name: 'invalid UTF-8 close reason', frames: [encodeFrame({ opcode: OP.CLOSE, payload: Buffer.concat([closePayload(1000), Buffer.from([0xff])]) })], code: [1007, 1002] },
		{ name: 'close with the reserved code 1005', frames: [encodeFrame({ opcode: OP.CLOSE, payload: closePayload(1005) })], code: 1002 },
		{ name: 'reserved opcode 3', frames: [encodeFrame({ opcode: 3, payload: 'x' })], code: 1002 },
		{ name: 'reserved control opcode 0xB', frames: [encodeFrame({ opcode: 0xb })], code: 1002 },
		{ name: 'fragmented ping', frames: [encodeFrame({ opcode: OP.PING, payload: 'p', fin: false })], code: 1002 },
		{ name: 'ping over 125 bytes', frames: [encodeFrame({ opcode: OP.PING, payload: Buffer.alloc(126, 'p') })], code: 1002 },
		{ name: 'RSV1 without an extension', frames: [encodeFrame({ payload: 'x', rsv: 4 })], code: 1002 },
		{ name: 'continuation without a start', frames: [encodeFrame({ opcode: OP.CONT, payload: 'x' })], code: 1003 },
		{ name: 'close with code 1000 (clean close)', frames: [encodeFrame({ opcode: OP.CLOSE, payload: closePayload(1000, 'bye') })], code: 1000 },
	];
	const raws = await Promise.all(cases.map(() => rawConnect({ key: '/counter' })));
	t.after(() => raws.forEach((r) => r.destroy()));
	// Subscribed (first fragment in) before misbehaving.
	await Promise.all(raws.map((r) => r.waitFrame('the first fragment', (f) => f.opcode === OP.TEXT)));
	cases.forEach((c, i) => { for (const f of c.frames) raws[i].send(f); });
	const closes = await Promise.allSettled(raws.map((r) => r.waitClosed()));
	const failures = [];
	cases.forEach((c, i) => {
		if (closes[i].status === 'rejected') failures.push(`${c.name}: ${closes[i].reason.message}`);
		else if (![c.code].flat().includes(closes[i].value.code)) failures.push(`${c.name}: close ${closes[i].value.code}, want ${c.code}`);
		else if (raws[i].frames.some((f) => f.masked)) failures.push(`${c.name}: the server masked a frame`);
	});
	assert.deepEqual(failures, []);

	// A ping is answered with its payload and the connection stays.
	const pinger = await rawConnect({ key: '/counter' });
	t.after(() => pinger.destroy());
	await pinger.waitFrame('the first fragment', (f) => f.opcode === OP.TEXT);
	pinger.send(encodeFrame({ opcode: OP.PING, payload: 'are you there' }));
	const pong = await pinger.waitFrame('a pong', (f) => f.opcode === OP.PONG);
	assert.equal(pong.payload.toString(), 'are you there');

	assertAllOpen(bystanders, 'by bad frames');
	assert.ok(!pinger.ended && !pinger.closeFrame(), 'the pinging client is still open');
	const v1 = await increment();
	await waitCount(bystanders, v1);
	await pinger.waitFrame(`count ${v1}`, (f) => f.opcode === OP.TEXT && countOf(f.payload.toString()) === v1);
	await clientsGauge(bystanders.length + 1); // the closed ones left the hub
});

test('authorize answers: a url that does not belong to its key closes 4403, with the reason and no fragment', async (t) => {
	const cases = [
		['/chat/UPPER', undefined, 4403, 'url does not belong to key'],
		['/counter', '/no/such/page', 4403, 'url does not belong to key'],
		['/counter', '/counter?u=1', 4403, 'url does not belong to key'],
		['global', '/counter', 4403, 'url does not belong to key'],
	];
	const clients = await Promise.all(cases.map(([key, url]) => connect(key, { url })));
	t.after(() => closeAll(clients));
	for (const [i, c] of clients.entries()) {
		const [, , code, reason] = cases[i];
		const close = await c.waitClose();
		assert.equal(close.code, code, `${c.label}: ${close.code} ${close.reason}`);
		if (reason) assert.equal(close.reason, reason);
		assert.equal(c.messages.length, 0, `${c.label}: no fragment`);
	}
	// --max-urls-per-key (a made-up url is refused before it counts) is
	// covered against an app that allows any url: pushd-viewers.test.mjs.
});

test('10. a client that stops reading: memory stays bounded, others keep receiving on time', async (t) => {
	// On an instance of our own so ASan's quarantine (which keeps freed
	// memory resident) cannot pass for a leak, and so the stack's pushd and
	// ours never hold more FastCGI connections than keycast-fcgi has workers.
	stack('stop', 'pushd');
	t.after(() => stack('start', 'pushd'));
	const own = await startPushd({
		port: OWN_PORT,
		extraEnv: { ASAN_OPTIONS: `${process.env.ASAN_OPTIONS ? `${process.env.ASAN_OPTIONS}:` : ''}quarantine_size_mb=0` },
	});
	t.after(() => own.stop());

	// 49 messages whose text HTML-escapes to ~3 KB each make a ~150 KB
	// fragment; each update adds one and the page shows the last 50.
	const room = `it-slow-${run}`;
	const key = `/chat/${room}`;
	const filler = '"'.repeat(480);
	psql(`INSERT INTO messages (room, author, body) SELECT '${room}', 'seed', 'seed ' || i || ' ${filler}' FROM generate_series(1, 49) i`);
	// Slow clients, one per view class (anonymous, user, moderator): three
	// renders per update, and without conflation every update would pile
	// up 3 x 150 KB in pushd (~70 MB over the run).
	const user = await signUp('it-slow-u');
	const mod = await signUp('it-slow-m');
	psql(`UPDATE users SET role = 'moderator' WHERE id = ${mod.id}`);
	const slow = await Promise.all([undefined, as(user), as(mod)].map((headers) =>
		rawConnect({ key, url: key, port: OWN_PORT, headers })));
	t.after(() => slow.forEach((s) => s.destroy()));
	await Promise.all(slow.map((s) => s.waitFrame('the first fragment', (f) => f.opcode === OP.TEXT)));
	for (const s of slow) s.pause();
	const normal = await connect(key, { port: OWN_PORT, label: 'normal reader' });
	t.after(() => closeAll([normal]));
	await normal.waitMessage('the first fragment', () => true);
	assert.ok(normal.last.length > 100000, `fragment of ${normal.last.length} bytes`);

	const m0 = await metrics(OWN_PORT);
	const rss0 = rssKiB(own.pid);
	let rssMax = rss0;
	const sampler = setInterval(() => { try { rssMax = Math.max(rssMax, rssKiB(own.pid)); } catch {} }, 20);
	t.after(() => clearInterval(sampler));

	const N = 150;
	let worst = 0;
	for (let i = 1; i <= N; i++) {
		const mark = `@@${String(i).padStart(4, '0')}@@`;
		await chatPost(room, `${mark} ${filler}`);
		const posted = Date.now();
		const got = await normal.waitMessage(`update ${i}`, (d) => d.includes(mark), { timeout: 5000 });
		worst = Math.max(worst, got.t - posted);
	}
	clearInterval(sampler);
	rssMax = Math.max(rssMax, rssKiB(own.pid));
	const m1 = await metrics(OWN_PORT);
	const grewMiB = (rssMax - rss0) / 1024;
	const conflated = metric(m1, 'keycast_conflated_frames_total') - metric(m0, 'keycast_conflated_frames_total');
	t.diagnostic(`${N} updates of ${normal.last.length} B: worst delivery ${worst} ms after the POST, ` +
		`RSS ${rss0} -> max ${rssMax} KiB (+${grewMiB.toFixed(1)} MiB), conflated +${conflated}`);
	assert.ok(worst < 1000, `the normal reader waited ${worst} ms for an update`);
	// Unconflated, the stalled readers would pin 3 x N fragments (~68 MB),
	// of which the kernel's socket buffers can hold at most ~4 MB each.
	assert.ok(grewMiB < 25, `pushd grew by ${grewMiB.toFixed(1)} MiB with stalled readers`);
	assert.ok(conflated > 0, 'keycast_conflated_frames_total counts the replaced frames');
	assert.ok(slow.every((s) => !s.ended), 'the stalled clients are still connected (--send-timeout is 30 s)');

	// A stalled reader that resumes converges on the latest fragment.
	const lastMark = `@@${String(N).padStart(4, '0')}@@`;
	slow[0].resume();
	await slow[0].waitFrame('the latest fragment after resuming',
		(f) => f.opcode === OP.TEXT && f.payload.toString().includes(lastMark), { timeout: 10000 });
	await own.stop();
});

test('heartbeat and limits: --ping-interval pings and drops silent peers, --max-clients answers 503', async (t) => {
	stack('stop', 'pushd');
	t.after(() => stack('start', 'pushd'));
	const own = await startPushd({ port: OWN_PORT, flags: ['--ping-interval', '1', '--max-clients', '3'] });
	t.after(() => own.stop());

	const live = await connectAll([{ key: '/counter', port: OWN_PORT }, { key: '/counter', port: OWN_PORT }]);
	t.after(() => closeAll(live));
	const silent = await rawConnect({ key: '/counter', port: OWN_PORT });
	const silentSince = Date.now();
	t.after(() => silent.destroy());
	const full = await rawExchange(upgradeRequest({ key: '/counter', port: OWN_PORT }).text, { port: OWN_PORT });
	assert.equal(full.status, 503, `a 4th client past --max-clients 3: ${full.raw.toString('latin1').slice(0, 80)}`);

	await silent.waitFrame('a ping', (f) => f.opcode === OP.PING, { timeout: 3000 });
	// Never answered: closed after two intervals (allow scheduling slack).
	await until('the silent peer to be dropped', () => silent.ended, { timeout: 5000 });
	t.diagnostic(`silent peer dropped ${silent.ended - silentSince} ms after connecting (${silent.frames.filter((f) => f.opcode === OP.PING).length} pings, close ${silent.closeFrame()?.code ?? 'none'})`);
	const alive = Date.now();
	await until('3 ping intervals to pass for the answering clients', () => Date.now() - alive > 3000, { timeout: 5000 });
	assertAllOpen(live, 'while answering pings');
	await own.stop();
});

test('7. SIGTERM: every client gets close 1001 and pushd exits within 5 s', async (t) => {
	t.after(() => { stack('stop', 'pushd'); stack('start', 'pushd'); });
	const clients = await connectAll([
		{ key: '/counter' }, { key: '/counter' }, { key: '/chat/lobby' },
		{ key: '/counter', port: httpPort, label: 'nginx /counter' },
		{ key: '/counter', port: lighttpdPort, label: 'lighttpd /counter' },
	]);
	t.after(() => closeAll(clients));
	const pid = partPid('pushd');
	const t0 = Date.now();
	process.kill(pid, 'SIGTERM');
	await Promise.all(clients.map((c) => c.waitClose(6000)));
	await until('keycast-pushd to exit', () => !isAlive(pid), { timeout: 6000 });
	const ms = Date.now() - t0;
	t.diagnostic(`pushd exited ${ms} ms after SIGTERM; clients closed after ${clients.map((c) => c.close.t - t0).join(', ')} ms`);
	for (const c of clients) assert.equal(c.close.code, 1001, `${c.label}: close ${c.close.code}`);
	assert.ok(ms <= 5500, `exited ${ms} ms after SIGTERM`);

	stack('stop', 'pushd'); // drop the stale pid file
	stack('start', 'pushd');
	const again = await connectAll([{ key: '/counter' }]);
	closeAll(again);
});
