// The demo's and tests' nginx (tools/lib.sh around deploy/nginx/keycast.conf)
// must hold 10,000 WebSocket clients: its per-worker limits come from the
// open-files limit, not a fixed 4096 (which dropped frames of a 10,000-client
// fan-out), and 10,000 idle WebSockets through it all get their fragment and
// stay open. Each client uses its own loopback source address, so per-address
// limits in front of pushd do not count here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { env, until } from './lib.mjs';
import { httpPort, metrics, metric } from './ws.mjs';

const CLIENTS = 10000;

// The numbers of an nginx.conf as generated for a stack in dir.
function generated(dir) {
	execFileSync('bash', ['-c', '. tools/lib.sh && kc_nginx_conf'], {
		cwd: env.root, env: { ...process.env, KC_VAR: dir }, stdio: ['ignore', 'pipe', 'pipe'],
	});
	const conf = readFileSync(`${dir}/nginx/nginx.conf`, 'utf8');
	const site = readFileSync(`${dir}/nginx/site.conf`, 'utf8');
	const num = (re) => Number(re.exec(conf)?.[1]);
	return {
		workers: num(/^worker_processes (\d+);/m),
		nofile: num(/^worker_rlimit_nofile (\d+);/m),
		connections: num(/worker_connections (\d+);/),
		reuseport: /^\s*listen \S+ reuseport;/m.test(site),
	};
}

test('the generated nginx.conf sizes its workers from the open-files limit for 10,000 WebSockets', () => {
	const dir = mkdtempSync(`${tmpdir()}/kc-nginx-`);
	try {
		const g = generated(dir);
		const hard = Number(execFileSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim());
		assert.equal(g.nofile, hard, 'worker_rlimit_nofile is the hard limit');
		assert.ok(g.connections < g.nofile && g.connections >= g.nofile - 1024,
			`worker_connections ${g.connections} leaves a small reserve below ${g.nofile}`);
		assert.ok(g.reuseport, 'listen ... reuseport spreads clients over the workers');
		// Two connections per proxied WebSocket, with half the room spare
		// for an uneven spread.
		assert.ok(g.workers * g.connections >= 2 * CLIENTS * 1.5,
			`${g.workers} workers x ${g.connections} connections for ${CLIENTS} clients`);
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
});

// Opens one upgrade from source address src; resolves the socket once the
// 101 and the first text frame (the fragment) have arrived.
function openClient(i) {
	const src = `127.1.${i >> 8}.${i & 255}`;
	return new Promise((resolve, reject) => {
		const sock = net.createConnection({ host: '127.0.0.1', port: httpPort, localAddress: src });
		let buf = Buffer.alloc(0);
		const timer = setTimeout(() => { sock.destroy(); reject(new Error(`client ${i}: no fragment in 60 s`)); }, 60000);
		sock.on('connect', () => sock.write(
			`GET /__realtime?key=/counter HTTP/1.1\r\nHost: 127.0.0.1:${httpPort}\r\n` +
			'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' +
			`Sec-WebSocket-Key: ${Buffer.from(`keycast-${String(i).padStart(8, '0')}`).toString('base64')}\r\n\r\n`));
		const onData = (d) => {
			buf = Buffer.concat([buf, d]);
			const end = buf.indexOf('\r\n\r\n');
			if (end < 0) return;
			if (!buf.subarray(0, 12).toString('latin1').startsWith('HTTP/1.1 101')) {
				clearTimeout(timer);
				sock.destroy();
				return reject(new Error(`client ${i}: ${buf.subarray(0, buf.indexOf('\r\n')).toString('latin1')}`));
			}
			if (buf.length > end + 4 && buf[end + 4] === 0x81) { // FIN + text
				clearTimeout(timer);
				sock.off('data', onData);
				sock.resume();
				resolve(sock);
			}
		};
		sock.on('data', onData);
		sock.on('error', (err) => { clearTimeout(timer); reject(new Error(`client ${i}: ${err.code || err.message}`)); });
	});
}

test(`${CLIENTS} idle WebSockets through nginx all get their fragment and stay open`, { timeout: 600000 }, async (t) => {
	const socks = [];
	const closed = [];
	const errorLog = `${env.var}/log/nginx-error.log`;
	const logFrom = statSync(errorLog).size;
	const t0 = Date.now();
	const m0 = metric(await metrics(), 'keycast_clients');
	try {
		// A few hundred handshakes in flight at a time: the listen backlog
		// is not what is measured.
		let next = 0;
		await Promise.all(Array.from({ length: 200 }, async () => {
			while (next < CLIENTS) {
				const s = await openClient(next++);
				s.on('close', () => closed.push(s));
				socks.push(s);
			}
		}));
		const openMs = Date.now() - t0;
		await until(`${CLIENTS} clients at pushd`, async () =>
			metric(await metrics(), 'keycast_clients') - m0 >= CLIENTS, { timeout: 30000, interval: 200 });
		t.diagnostic(`${CLIENTS} WebSockets through nginx open with their fragment in ${openMs} ms`);
		assert.equal(closed.length, 0, `${closed.length} connections closed while idle`);
		const log = readFileSync(errorLog).subarray(logFrom).toString('utf8');
		assert.doesNotMatch(log, /worker_connections are not enough|Too many open files/);
	} finally {
		for (const s of socks) s.destroy();
	}
	await until('pushd back to its clients before the test', async () =>
		metric(await metrics(), 'keycast_clients') <= m0, { timeout: 60000, interval: 200 });
});
