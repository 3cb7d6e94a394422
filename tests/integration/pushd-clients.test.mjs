// keycast-pushd against clients that misbehave on purpose (issue 8): data
// frames and frames that never end, readers that never read or read a byte
// at a time, more output than the cap, no file descriptors left, too many
// connections from one address (direct, through nginx and lighttpd), a
// unix socket already in use, handshakes a browser must be told about with
// a close code, and the heartbeat a page's script can see. What must follow
// each time: the offender is closed with the documented code and counted in
// /metrics, pushd's memory and CPU stay flat, and everyone else is served.
// Each test runs its own keycast-pushd (flags with short deadlines) on
// OWN_PORT with the stack's stopped, so the two never hold more FastCGI
// connections than keycast-fcgi has workers; waits poll with deadlines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { spawn, execFileSync } from 'node:child_process';
import { openSync, closeSync, readFileSync, statSync, existsSync, unlinkSync, readdirSync } from 'node:fs';
import WebSocket from 'ws';
import { env, until, postForm, stack, psql, signUp, as } from './lib.mjs';
import {
	kc, httpPort, lighttpdPort, connect, closeAll, countOf, OP, encodeFrame, upgradeRequest, rawExchange, acceptFor,
	rawConnect, metrics, metric, rssKiB, startPushd, delay,
} from './ws.mjs';

const run = crypto.randomBytes(3).toString('hex');
const PORT = env.pushdPort;
const OWN_PORT = PORT + 101;
// ASan's quarantine keeps freed memory resident: without it RSS shows
// what pushd holds, not what it held.
const NO_QUARANTINE = { ASAN_OPTIONS: `${process.env.ASAN_OPTIONS ? `${process.env.ASAN_OPTIONS}:` : ''}quarantine_size_mb=0` };

// Stops the stack's pushd for this test and starts one of our own (which
// is stopped first at the end: after hooks run in order).
async function ownPushd(t, flags, { port = OWN_PORT } = {}) {
	stack('stop', 'pushd');
	let own;
	try {
		own = await startPushd({ port, flags, extraEnv: NO_QUARANTINE });
	} finally {
		if (own) t.after(() => own.stop());
		t.after(() => stack('start', 'pushd'));
	}
	return own;
}

const delta = (m1, m0, name) => metric(m1, name) - metric(m0, name);

// A chat room whose fragment is ~150 KB: 49 messages that HTML-escape to
// ~3 KB each (the page shows the last 50). Each post re-renders its urls.
function bigRoom(name) {
	const room = `${name}-${run}`;
	psql(`INSERT INTO messages (room, author, body) SELECT '${room}', 'seed', 'seed ' || i || ' ${'"'.repeat(480)}' FROM generate_series(1, 49) i`);
	return { room, key: `/chat/${room}` };
}

// Posting needs a signed-in user: one account for the whole file.
let posterSignUp;
const poster = () => (posterSignUp ??= signUp('clients'));

async function post(room, text) {
	const res = await postForm(env.httpBase, `/api/chat/${room}/messages`, { text: `${text} ${'"'.repeat(480)}` },
		{ headers: as(await poster(), { 'X-Keycast': '1' }) });
	assert.equal(res.status, 204, `POST to ${room}: ${res.status}`);
}

// utime + stime of a process, in seconds.
function cpuSeconds(pid) {
	const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
	return (Number(f[11]) + Number(f[12])) / 100;
}

test('a data frame closes the client 1003 at once; FIN=0 and endless continuations cannot grow the heap', async (t) => {
	const own = await ownPushd(t, []);
	const N = 50;
	const raws = await Promise.all(Array.from({ length: N }, () => rawConnect({ port: OWN_PORT })));
	t.after(() => raws.forEach((r) => r.destroy()));
	await Promise.all(raws.map((r) => r.waitFrame('the first fragment', (f) => f.opcode === OP.TEXT)));
	const m0 = await metrics(OWN_PORT);
	const rss0 = rssKiB(own.pid);

	// Before issue 8, wslay kept each 1-byte continuation as its own
	// allocation (~384 KB of heap per client for 28 KB on the wire).
	const conts = [];
	for (let i = 0; i < 2000; i++) {
		conts.push(encodeFrame({ opcode: OP.CONT, payload: 'x', fin: false }));
		if (i % 100 === 0) conts.push(encodeFrame({ opcode: OP.PING, payload: 'p' }));
	}
	const burst = Buffer.concat([encodeFrame({ payload: 'h', fin: false }), ...conts]);
	for (const r of raws) r.send(burst);
	const closes = await Promise.all(raws.map((r) => r.waitClosed({ timeout: 10000 })));
	const rss1 = rssKiB(own.pid);
	const m1 = await metrics(OWN_PORT);
	t.diagnostic(`${N} clients sent FIN=0 text + 2000 continuations each: RSS ${rss0} -> ${rss1} KiB`);
	for (const c of closes) assert.equal(c.code, 1003, `close ${c.code} ${c.reason}`);
	assert.ok(closes.every((c) => c.reason.length > 0), 'the close says why');
	assert.ok(raws.every((r) => !r.frames.some((f) => f.opcode === OP.PONG)),
		'nothing after the data frame was read: no pong for the pings behind it');
	assert.equal(delta(m1, m0, 'keycast_data_frame_closes_total'), N, 'keycast_data_frame_closes_total counts them');
	assert.ok(rss1 - rss0 < 4096, `pushd grew by ${rss1 - rss0} KiB`);

	// A complete text frame too, and a bystander is not disturbed.
	const bystander = await connect('/counter', { port: OWN_PORT });
	t.after(() => closeAll([bystander]));
	const talker = await rawConnect({ port: OWN_PORT });
	t.after(() => talker.destroy());
	await talker.waitFrame('the first fragment', (f) => f.opcode === OP.TEXT);
	talker.send(encodeFrame({ payload: 'hello' }));
	assert.equal((await talker.waitClosed()).code, 1003);
	assert.ok(bystander.open);
});

test('one byte of a frame header holds ~no parser memory; an unfinished frame is closed 1008 after --frame-timeout', async (t) => {
	const own = await ownPushd(t, ['--frame-timeout', '3']);
	const N = 1000;
	const raws = [];
	for (let i = 0; i < N; i += 100)
		raws.push(...await Promise.all(Array.from({ length: 100 }, () => rawConnect({ key: '/counter', port: OWN_PORT }))));
	t.after(() => raws.forEach((r) => r.destroy()));
	await Promise.all(raws.map((r) => r.waitFrame('the first fragment', (f) => f.opcode === OP.TEXT, { timeout: 20000 })));
	const m0 = await metrics(OWN_PORT);
	const rss0 = rssKiB(own.pid);
	const sent = Date.now();
	for (const r of raws) r.send(Buffer.from([0x89])); // FIN + ping, nothing more
	// Sampled until the deadline fires: the most the half frames held.
	let rssMax = rss0;
	await until('every unfinished frame to be closed', async () => {
		rssMax = Math.max(rssMax, rssKiB(own.pid));
		return delta(await metrics(OWN_PORT), m0, 'keycast_frame_timeout_closes_total') === N;
	}, { timeout: 20000, interval: 100 });
	const ms = Date.now() - sent;
	const perClient = ((rssMax - rss0) * 1024) / N;
	t.diagnostic(`${N} clients holding 1 byte of a header: RSS ${rss0} -> max ${rssMax} KiB (${perClient.toFixed(0)} B per client, ASan build); closed after ${ms} ms`);
	// wslay's context alone is ~8.7 KB (more with ASan's redzones).
	assert.ok(perClient < 2048, `${perClient.toFixed(0)} bytes per client holding one header byte`);
	assert.ok(ms >= 2500, `closed after ${ms} ms, before --frame-timeout 3`);
	const sample = raws.slice(0, 20);
	const closes = await Promise.all(sample.map((r) => r.waitClosed({ timeout: 10000 })));
	for (const c of closes) assert.equal(c.code, 1008, `close ${c.code} ${c.reason}`);

	// A frame split over reads but finished in time is answered.
	const pinger = await rawConnect({ key: '/counter', port: OWN_PORT });
	t.after(() => pinger.destroy());
	await pinger.waitFrame('the first fragment', (f) => f.opcode === OP.TEXT);
	const ping = encodeFrame({ opcode: OP.PING, payload: 'split' });
	pinger.send(ping.subarray(0, 3));
	await delay(300);
	pinger.send(ping.subarray(3));
	assert.equal((await pinger.waitFrame('a pong', (f) => f.opcode === OP.PONG)).payload.toString(), 'split');
	assert.ok(!pinger.closeFrame());
});

// A client with a 2 KB receive buffer, in Python (Node can neither size
// its socket buffer nor read less than its stream buffer): "trickle" reads
// one byte every 50 ms, "stall" never reads. The kernel then holds almost
// nothing for it: what it does not read stays queued in pushd.
const SLOW_READER = `
import socket, sys, time
port, head, mode = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
s.connect(("127.0.0.1", port))
s.sendall(head)
print("connected", flush=True)
while mode == "stall":
    time.sleep(1)
n = 0
while True:
    b = s.recv(1)
    if not b:
        break
    n += 1
    time.sleep(0.05)
print("ended", n, flush=True)
`;

function slowReader(t, mode, port, key, url) {
	const child = spawn('python3', ['-c', SLOW_READER, String(port), upgradeRequest({ key, url, port }).text, mode],
		{ stdio: ['ignore', 'pipe', 'inherit'] });
	const state = { out: '', child };
	child.stdout.on('data', (d) => { state.out += d.toString(); });
	t.after(() => child.kill());
	return state;
}

test('a client that never reads, and one that reads a byte at a time, are closed 1008 after --send-timeout', async (t) => {
	await ownPushd(t, ['--send-timeout', '2']);
	const { room, key } = bigRoom('it-never');
	const normal = await connect(key, { port: OWN_PORT, label: 'normal reader' });
	t.after(() => closeAll([normal]));
	await normal.waitMessage('the first fragment', () => true);
	assert.ok(normal.last.length > 100000, `fragment of ${normal.last.length} bytes`);

	// Never reads: its socket fills with the first fragments.
	const stalled = await rawConnect({ key, url: key, port: OWN_PORT });
	t.after(() => stalled.destroy());
	await stalled.waitFrame('the first fragment', (f) => f.opcode === OP.TEXT);
	stalled.pause();
	let m0 = await metrics(OWN_PORT);
	const t0 = Date.now();
	let i = 0;
	await until('the stalled reader to be closed', async () => {
		await post(room, `never ${++i}`);
		await normal.waitMessage(`post ${i}`, (d) => d.includes(`never ${i} `));
		return delta(await metrics(OWN_PORT), m0, 'keycast_slow_client_closes_total') === 1;
	}, { timeout: 30000, interval: 200 });
	t.diagnostic(`never-reading client closed ${Date.now() - t0} ms after the first post (${i} posts)`);
	// Reading again now, it finds the close behind the frame it was on.
	stalled.resume();
	assert.equal((await stalled.waitClosed({ timeout: 10000 })).code, 1008);

	// Reads a byte every 50 ms: progress, but no frame ever finishes in
	// time. The old rule (no progress for 30 s) never closed it.
	const trickle = slowReader(t, 'trickle', OWN_PORT, key, key);
	await until('the trickle reader to connect', () => trickle.out.includes('connected'));
	m0 = await metrics(OWN_PORT);
	const t1 = Date.now();
	await until('the trickle reader to be closed', async () => {
		await post(room, `trickle ${++i}`);
		await normal.waitMessage(`post ${i}`, (d) => d.includes(`trickle ${i} `));
		return delta(await metrics(OWN_PORT), m0, 'keycast_slow_client_closes_total') === 1;
	}, { timeout: 30000, interval: 200 });
	t.diagnostic(`byte-a-tick reader closed ${Date.now() - t1} ms after it connected`);
	// It left the hub: only the normal reader remains.
	await until('keycast_clients == 1', async () => metric(await metrics(OWN_PORT), 'keycast_clients') === 1);
	assert.ok(normal.open);
});

test('past --max-output the clients blocked longest are shed, counted, and the others still served', async (t) => {
	await ownPushd(t, ['--max-output', '1', '--send-timeout', '600']);
	// Eight rooms, so eight distinct frames (a url belongs to one key: no
	// made-up urls): each stalled reader pins its own (cur + pending = 2 x
	// 150 KB), 2.4 MB against a 1 MiB cap. The normal reader is in room 0.
	const rooms = Array.from({ length: 8 }, (_, k) => bigRoom(`it-cap${k}`));
	const { key } = rooms[0];
	const postAll = (text) => Promise.all(rooms.map((r) => post(r.room, text)));
	const normal = await connect(key, { port: OWN_PORT, label: 'normal reader' });
	t.after(() => closeAll([normal]));
	await normal.waitMessage('the first fragment', () => true);
	const m0 = await metrics(OWN_PORT);
	const stalled = rooms.map((r) => slowReader(t, 'stall', OWN_PORT, r.key, r.key));
	await until('the stalled readers to connect', () => stalled.every((s) => s.out.includes('connected')));
	// The kernel takes the first MB or so of each (loopback's send buffer
	// is large); after that frames queue in pushd until the cap sheds.
	let maxOut = 0;
	let i = 0;
	const outNow = async () => {
		const m = await metrics(OWN_PORT);
		maxOut = Math.max(maxOut, metric(m, 'keycast_output_bytes'));
		return m;
	};
	await until('the cap to shed a client', async () => {
		await postAll(`cap ${++i}`);
		await normal.waitMessage(`post ${i}`, (d) => d.includes(`cap ${i} `), { timeout: 10000 });
		return delta(await outNow(), m0, 'keycast_output_cap_closes_total') > 0;
	}, { timeout: 90000, interval: 100 });
	for (let j = 0; j < 5; j++) {
		await postAll(`cap ${++i}`);
		await normal.waitMessage(`post ${i}`, (d) => d.includes(`cap ${i} `), { timeout: 10000 });
		await outNow();
	}
	const m1 = await outNow();
	const shed = delta(m1, m0, 'keycast_output_cap_closes_total');
	t.diagnostic(`8 stalled readers of 8 rooms, ${i} posts: shed ${shed}, keycast_output_bytes max ${maxOut}, now ${metric(m1, 'keycast_output_bytes')}`);
	assert.ok(shed > 0, 'keycast_output_cap_closes_total counts the shed clients');
	assert.ok(metric(m1, 'keycast_output_bytes') <= 1 << 20, 'back under the cap');
	assert.ok(metric(m1, 'keycast_clients') < 9, 'the shed clients left');
	assert.ok(maxOut <= (1 << 20) + 600000, `keycast_output_bytes peaked at ${maxOut}: the cap plus a few frames at most`);
	assert.ok(normal.open, 'the normal reader was served throughout');
});

test('out of file descriptors: upgrades get 503; with none to spare, accepting pauses instead of spinning', async (t) => {
	const own = await ownPushd(t, []);
	const live = await connect('/counter', { port: OWN_PORT });
	t.after(() => closeAll([live]));
	await live.waitMessage('the first fragment', () => true);
	// Only the soft limit: the hard one cannot be raised again.
	const hard = /^Max open files\s+\S+\s+(\S+)/m.exec(readFileSync(`/proc/${own.pid}/limits`, 'utf8'))[1];
	const limit = (n) => execFileSync('prlimit', ['--pid', String(own.pid), `--nofile=${n}:${hard}`]);
	// The limit below which exactly `free` descriptor numbers are unused
	// (a new descriptor takes the lowest free number, and must be below).
	const limitWithFree = (free) => {
		const used = new Set(readdirSync(`/proc/${own.pid}/fd`).map(Number));
		let n = 0;
		for (let holes = 0; ; n++) {
			if (used.has(n)) continue;
			if (holes === free) return n;
			holes++;
		}
	};

	// Room for two more connections: then the spare descriptor answers 503.
	limit(limitWithFree(2));
	const socks = [];
	t.after(() => socks.forEach((s) => s.destroy()));
	const answers = [];
	for (let i = 0; i < 4; i++) {
		const r = await rawConnect({ port: OWN_PORT }).then((c) => { socks.push(c.sock); return 101; }, (err) => {
			const m = /answered HTTP\/1\.1 (\d+)/.exec(err.message);
			return m ? Number(m[1]) : err.message;
		});
		answers.push(r);
	}
	t.diagnostic(`upgrades near the open-files limit: ${answers.join(', ')}`);
	assert.deepEqual(answers, [101, 101, 503, 503]);

	// Below every descriptor pushd has: not even the spare's can be used
	// again. A connection waits in the backlog; pushd must not spin on it.
	limit(3);
	const waiting = net.createConnection({ host: '127.0.0.1', port: OWN_PORT });
	t.after(() => waiting.destroy());
	let got = '';
	waiting.on('data', (d) => { got += d.toString('latin1'); });
	waiting.on('error', () => {});
	await new Promise((resolve) => waiting.once('connect', resolve));
	waiting.write(upgradeRequest({ port: OWN_PORT }).text);
	const cpu0 = cpuSeconds(own.pid);
	const w0 = Date.now();
	await until('3 s to pass', () => Date.now() - w0 >= 3000, { timeout: 5000 });
	const cpu = cpuSeconds(own.pid) - cpu0;
	t.diagnostic(`with a connection pending and no descriptor: ${cpu.toFixed(2)} s CPU in ${Date.now() - w0} ms`);
	assert.ok(cpu < 0.6, `pushd used ${cpu.toFixed(2)} s of CPU in 3 s (a busy loop)`);
	// Still serving its clients meanwhile.
	const v = Number(psql("UPDATE counters SET value = value + 1 WHERE name = 'global' RETURNING value"));
	await live.waitMessage(`count ${v}`, (d) => countOf(d) === v, { timeout: 10000 });

	limit(hard);
	await until('the waiting connection to be served', () => /^HTTP\/1\.1 101/.test(got), { timeout: 5000 });
	const m = await metrics(OWN_PORT);
	assert.ok(metric(m, 'keycast_accept_pauses_total') > 0, 'keycast_accept_pauses_total counts the pauses');
});

// A raw upgrade whose answer is 101 or an HTTP status (a number).
const tryUpgrade = (opts) => rawConnect(opts).then((c) => c, (err) => {
	const m = /answered HTTP\/1\.1 (\d+)/.exec(err.message);
	if (!m) throw err;
	return Number(m[1]);
});

test('--max-conns-per-addr counts the client address: the peer, or what a --trust-proxy forwarded', async (t) => {
	const own = await ownPushd(t, ['--max-conns-per-addr', '3']);
	const clients = [];
	t.after(() => clients.forEach((c) => c.destroy?.()));
	const as = (ip) => ({ port: OWN_PORT, headers: { 'X-Forwarded-For': `10.9.9.9, ${ip}` } });
	for (let i = 0; i < 3; i++) clients.push(await tryUpgrade(as('192.0.2.1')));
	assert.ok(clients.every((c) => typeof c === 'object'), 'three clients of 192.0.2.1');
	const m0 = await metrics(OWN_PORT);
	const fourth = await rawExchange(upgradeRequest({ port: OWN_PORT, headers: as('192.0.2.1').headers }).text, { port: OWN_PORT });
	assert.equal(fourth.status, 503, 'a fourth client of 192.0.2.1');
	assert.match(fourth.body, /too many connections from your address/);
	assert.equal(delta(await metrics(OWN_PORT), m0, 'keycast_per_addr_refusals_total'), 1);
	const other = await tryUpgrade(as('192.0.2.2'));
	clients.push(other);
	assert.equal(typeof other, 'object', 'another address has its own count');
	// Loopback is trusted by default: without a header it is the proxy's
	// own connection (a health check, a tool), not limited.
	for (let i = 0; i < 5; i++) {
		const c = await tryUpgrade({ port: OWN_PORT });
		clients.push(c);
		assert.equal(typeof c, 'object', `direct loopback client ${i + 1}`);
	}
	// A client that leaves makes room.
	clients[0].destroy();
	await until('room for 192.0.2.1 again', async () => {
		const c = await tryUpgrade(as('192.0.2.1'));
		if (typeof c === 'object') clients.push(c);
		return typeof c === 'object';
	}, { timeout: 5000, interval: 100 });
	await own.stop();

	// An untrusted peer's headers are ignored: all of these are 127.0.0.1.
	const strict = await startPushd({ port: OWN_PORT, flags: ['--max-conns-per-addr', '3', '--trust-proxy', '192.0.2.200'] });
	t.after(() => strict.stop());
	const got = [];
	for (let i = 0; i < 4; i++) {
		const c = await tryUpgrade({ port: OWN_PORT, headers: { 'X-Forwarded-For': `198.51.100.${i}`, 'X-Real-IP': `198.51.100.${i}` } });
		got.push(typeof c === 'object' ? 101 : c);
		if (typeof c === 'object') clients.push(c);
	}
	assert.deepEqual(got, [101, 101, 101, 503], 'spoofed headers from an untrusted peer change nothing');
});

// A WebSocket through a web server from a given local address (any
// 127.x.y.z reaches the loopback listener).
function wsFrom(localAddress, port, key = '/counter') {
	return new Promise((resolve) => {
		const ws = new WebSocket(`ws://127.0.0.1:${port}/__realtime?key=${encodeURIComponent(key)}`,
			{ origin: `http://127.0.0.1:${port}`, localAddress, perMessageDeflate: false, handshakeTimeout: 5000,
				headers: { 'X-Forwarded-For': '203.0.113.77', 'X-Real-IP': '203.0.113.77' } });
		ws.once('open', () => resolve({ status: 101, ws }));
		ws.once('unexpected-response', (req, res) => { resolve({ status: res.statusCode }); ws.terminate(); });
		ws.once('error', (err) => resolve({ status: err.message }));
	});
}

test('through nginx and lighttpd: pushd limits the address the web server forwards, not the spoofed one', async (t) => {
	// Our pushd on the stack's port, where both web servers proxy to.
	const own = await ownPushd(t, ['--max-conns-per-addr', '3'], { port: PORT });
	const socks = [];
	t.after(() => socks.forEach((s) => s.terminate()));
	for (const [name, port] of [['nginx', httpPort], ['lighttpd', lighttpdPort]]) {
		const local = name === 'nginx' ? '127.0.0.2' : '127.0.0.3';
		const got = [];
		for (let i = 0; i < 4; i++) {
			const r = await wsFrom(local, port);
			got.push(r.status);
			if (r.ws) socks.push(r.ws);
		}
		assert.deepEqual(got, [101, 101, 101, 503], `${name}: the fourth client of ${local} (sending X-Forwarded-For and X-Real-IP of its own)`);
	}
	// Direct loopback clients are not limited.
	const direct = await Promise.all([1, 2, 3, 4].map(() => connect('/counter', { port: PORT })));
	t.after(() => closeAll(direct));
	assert.equal(direct.length, 4);
	assert.ok(metric(await metrics(PORT), 'keycast_per_addr_refusals_total') >= 2);
	await own.stop();
});

test('nginx limits /__realtime per address itself: limit_conn 64 (503) and limit_req (429)', async (t) => {
	// pushd's own limit out of the way, so what refuses is nginx.
	const own = await ownPushd(t, ['--max-conns-per-addr', '1000'], { port: PORT });
	const socks = [];
	t.after(() => socks.forEach((s) => s.terminate()));
	const statuses = [];
	// Paced under the rate (10/s after a burst of 50).
	for (let i = 0; i < 65; i++) {
		const r = await wsFrom('127.0.0.4', httpPort);
		statuses.push(r.status);
		if (r.ws) socks.push(r.ws);
		if (i >= 45) await delay(120);
	}
	assert.deepEqual(statuses.slice(0, 64).filter((s) => s !== 101), [], 'the first 64 connect');
	assert.equal(statuses[64], 503, 'the 65th WebSocket of one address: limit_conn');
	// Loopback peers are not limited by nginx.
	const local = await wsFrom('127.0.0.1', httpPort);
	assert.equal(local.status, 101);
	socks.push(local.ws);
	// 80 requests at once from a fresh address: past the burst, 429.
	const answers = await Promise.all(Array.from({ length: 80 }, () => new Promise((resolve) => {
		const req = http.get({ host: '127.0.0.1', port: httpPort, localAddress: '127.0.0.5', path: '/__realtime?key=/counter' },
			(res) => { res.resume(); resolve(res.statusCode); });
		req.on('error', (err) => resolve(err.message));
	})));
	const limited = answers.filter((s) => s === 429).length;
	t.diagnostic(`80 requests at once: ${limited} got 429; others ${[...new Set(answers.filter((s) => s !== 429))].join(',')}`);
	assert.ok(limited >= 5, `${limited} of 80 requests got 429 (limit_req: 10/s, burst 50)`);
	await own.stop();
});

// keycast-pushd on a unix socket; resolves once /healthz answers there.
function startUnix(path, t) {
	const logPath = `${kc.KC_VAR}/log/pushd-unix.log`;
	const log = openSync(logPath, 'a');
	const child = spawn(`${kc.KC_BIN}/keycast-pushd`, ['--listen', `unix:${path}`, '--app', `unix:${kc.KC_FCGI_SOCKET}`,
		'--db', kc.KC_CONNINFO, '--app-conns', '1'], { stdio: ['ignore', log, log], detached: true });
	closeSync(log);
	const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
	t.after(() => { try { child.kill('SIGKILL'); } catch {} });
	return { child, exited, logPath };
}

function healthzUnix(path) {
	return new Promise((resolve) => {
		const req = http.get({ socketPath: path, path: '/healthz' }, (res) => { res.resume(); resolve(res.statusCode); });
		req.on('error', () => resolve(0));
		req.setTimeout(2000, () => { req.destroy(); resolve(0); });
	});
}

test('--listen unix: refuses a path where a live socket listens, replaces a stale one, mode 0660', async (t) => {
	const path = `${kc.KC_VAR}/run/pushd-${run}.sock`;
	t.after(() => { if (existsSync(path)) unlinkSync(path); });
	const first = startUnix(path, t);
	await until('the first pushd on the unix socket', async () => (await healthzUnix(path)) === 200);
	assert.equal(statSync(path).mode & 0o777, 0o660, 'socket mode');

	const second = startUnix(path, t);
	const r = await Promise.race([second.exited, delay(10000).then(() => null)]);
	assert.ok(r, 'a second pushd on the same path exits');
	assert.equal(r.code, 1, 'with status 1');
	assert.match(readFileSync(second.logPath, 'utf8'), /is in use/);
	assert.equal(await healthzUnix(path), 200, 'the first still answers on its socket');
	assert.equal(first.child.exitCode, null, 'the first still runs');

	first.child.kill('SIGKILL');
	await first.exited;
	assert.ok(statSync(path).isSocket(), 'a stale socket is left behind');
	const third = startUnix(path, t);
	await until('a new pushd on the stale path', async () => (await healthzUnix(path)) === 200);
	assert.equal(statSync(path).mode & 0o777, 0o660);
	third.child.kill('SIGTERM');
	await third.exited;
});

test('a browser-looking upgrade with a bad key, url or Origin is accepted, then closed 4400/4403 with a reason and no fragment', async (t) => {
	const cases = [
		{ name: 'no key', opts: { path: '/__realtime?url=/counter' }, code: 4400 },
		{ name: 'key with a space', opts: { path: '/__realtime?key=a%20b' }, code: 4400 },
		{ name: 'url with a scheme and host', opts: { key: '/counter', url: 'http://evil.example/counter' }, code: 4400 },
		{ name: 'url past 1 KiB', opts: { key: '/counter', url: `/counter?${'x'.repeat(1100)}` }, code: 4400 },
		{ name: 'foreign Origin', opts: { headers: { Origin: 'http://evil.example' } }, code: 4403 },
		{ name: 'Origin with another port', opts: { headers: { Origin: 'http://127.0.0.1:1' } }, code: 4403 },
	];
	// Each waits for pushd to end the connection (its close grace).
	const results = await Promise.all(cases.map(async (c) => {
		const { text, wsKey } = upgradeRequest(c.opts);
		return { c, wsKey, r: await rawExchange(text, { timeout: 8000 }) };
	}));
	for (const { c, wsKey, r } of results) {
		assert.equal(r.status, 101, `${c.name}: upgraded (${r.raw.toString('latin1').slice(0, 60)})`);
		assert.equal(r.headers['sec-websocket-accept'], acceptFor(wsKey));
		const rest = r.raw.subarray(r.raw.indexOf('\r\n\r\n') + 4);
		assert.equal(rest[0], 0x88, `${c.name}: the first frame is the close, no fragment`);
		const code = rest.readUInt16BE(2);
		const reason = rest.subarray(4, 2 + rest[1]).toString();
		assert.equal(code, c.code, `${c.name}: close ${code} ${reason}`);
		assert.ok(reason.length > 0, `${c.name}: a reason`);
		assert.equal(rest.length, 2 + rest[1], `${c.name}: nothing after the close`);
	}
	// A browser through nginx reads the code.
	const evil = new WebSocket(`ws://127.0.0.1:${httpPort}/__realtime?key=/counter`, { origin: 'http://evil.example', perMessageDeflate: false });
	const closed = await new Promise((resolve, reject) => {
		evil.once('unexpected-response', (req, res) => reject(new Error(`answered ${res.statusCode}`)));
		evil.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
		evil.once('error', () => {});
	});
	assert.equal(closed.code, 4403, `through nginx: ${closed.code} ${closed.reason}`);
	// What is not a valid upgrade keeps its HTTP answer.
	const plain = await rawExchange(`GET /__realtime?key=a%20b HTTP/1.1\r\nHost: 127.0.0.1:${PORT}\r\n\r\n`);
	assert.equal(plain.status, 426, 'a plain GET of /__realtime');
	const noKey = await rawExchange(upgradeRequest({ headers: { 'Sec-WebSocket-Key': null } }).text);
	assert.equal(noKey.status, 400, 'an upgrade without Sec-WebSocket-Key');
	const malformed = await rawExchange('GET /__realtime?key=/counter HTTP/1.1\r\nBad Header: x\r\n\r\n');
	assert.equal(malformed.status, 400, 'a malformed head');
});

test('heartbeat: an empty text frame (and a ping) every --ping-interval, not counted as a fragment', async (t) => {
	await ownPushd(t, ['--ping-interval', '1']);
	const raw = await rawConnect({ port: OWN_PORT });
	t.after(() => raw.destroy());
	await raw.waitFrame('the first fragment', (f) => f.opcode === OP.TEXT && f.payload.length > 0);
	const m0 = await metrics(OWN_PORT);
	// Anything the client sends counts as an answer to the pings.
	const pong = setInterval(() => raw.send(encodeFrame({ opcode: OP.PONG })), 300);
	t.after(() => clearInterval(pong));
	const beats = () => raw.frames.filter((f) => f.opcode === OP.TEXT && f.payload.length === 0 && f.fin);
	await until('two empty text frames', () => beats().length >= 2, { timeout: 5000 });
	clearInterval(pong);
	assert.ok(raw.frames.some((f) => f.opcode === OP.PING), 'pings too, for the browser to answer');
	const gap = beats()[1].t - beats()[0].t;
	t.diagnostic(`empty text frames ${gap} ms apart with --ping-interval 1`);
	assert.ok(gap >= 700 && gap <= 3000, `beats ${gap} ms apart`);
	assert.equal(delta(await metrics(OWN_PORT), m0, 'keycast_frames_sent_total'), 0, 'beats are not fragments');
});
