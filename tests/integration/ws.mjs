// Helpers for the keycast-pushd integration tests (pushd.test.mjs): WebSocket
// clients that record what they receive, a raw-socket client for handshakes
// and frames no well-behaved library would send, RFC 6455 frame encoding and
// parsing, /metrics parsing, process memory, a private keycast-pushd
// instance with its own flags, and PostgreSQL on a side port.
// The stack's settings, polling and stack control come from lib.mjs.
import { execFileSync, spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import net from 'node:net';
import crypto from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocket from 'ws';
import { env, until, isAlive } from './lib.mjs';

// Every KC_* setting of the stack (KC_BIN, KC_CONNINFO, KC_APP_CONNS...),
// taken from tools/stack so the defaults never drift from tools/lib.sh.
export const kc = env.vars;

export const pushdBase = (port = env.pushdPort) => `http://127.0.0.1:${port}`;
export const httpPort = Number(kc.KC_HTTP_PORT);
export const lighttpdPort = Number(kc.KC_LIGHTTPD_PORT);

// ---------------------------------------------------------------------------
// WebSocket clients (npm ws)

export function realtimePath(key, url) {
	const q = new URLSearchParams({ key });
	if (url !== undefined) q.set('url', url);
	return `/__realtime?${q}`;
}

// A connected client that keeps every message with its arrival time and its
// close code. Options: port (pushd's by default; nginx's or lighttpd's to go
// through them), url, origin (default: matches the Host we connect to).
export class Client {
	constructor(ws, label) {
		this.ws = ws;
		this.label = label;
		this.messages = []; // { data: string, t: ms since epoch }
		this.close = null; // { code, reason, t }
		this.errors = [];
		ws.on('message', (data, isBinary) => {
			this.messages.push({ data: isBinary ? data : data.toString('utf8'), binary: isBinary, t: Date.now() });
		});
		ws.on('close', (code, reason) => {
			this.close = { code, reason: reason.toString(), t: Date.now() };
		});
		ws.on('error', (err) => this.errors.push(err));
	}

	get open() { return this.ws.readyState === WebSocket.OPEN; }
	get last() { return this.messages.length ? this.messages[this.messages.length - 1].data : undefined; }

	// Waits for a message (received after index `from`) satisfying pred;
	// resolves it ({data, t, index}).
	async waitMessage(what, pred, { from = 0, timeout = 5000 } = {}) {
		return until(`${this.label}: ${what}`, () => {
			if (this.close && !this.messages.slice(from).some((m) => pred(m.data)))
				throw new Error(`closed ${this.close.code} ${this.close.reason}`);
			for (let i = from; i < this.messages.length; i++)
				if (pred(this.messages[i].data)) return { ...this.messages[i], index: i };
			return null;
		}, { timeout, interval: 5 });
	}

	async waitClose(timeout = 5000) {
		return until(`${this.label}: close`, () => this.close, { timeout, interval: 5 });
	}

	terminate() { this.ws.terminate(); }
}

export function connect(key, { url, port = env.pushdPort, origin, label, timeout = 5000, headers } = {}) {
	const path = realtimePath(key, url);
	const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, {
		origin: origin === undefined ? `http://127.0.0.1:${port}` : origin || undefined,
		handshakeTimeout: timeout,
		headers,
		perMessageDeflate: false,
	});
	return opened(new Client(ws, label || `ws ${port}${path}`));
}

// Resolves with client once its socket is open; rejects with the
// handshake's status when the upgrade is refused.
export function opened(client) {
	const ws = client.ws;
	return new Promise((resolve, reject) => {
		ws.once('open', () => resolve(client));
		ws.once('unexpected-response', (req, res) => {
			reject(new Error(`${client.label}: handshake answered ${res.statusCode}`));
			ws.terminate();
		});
		ws.once('error', reject);
	});
}

// Opens clients and waits until each one has its first fragment.
export async function connectAll(specs, { timeout = 5000 } = {}) {
	const clients = await Promise.all(specs.map((s) => connect(s.key, s)));
	await Promise.all(clients.map((c) => c.waitMessage('the initial fragment', () => true, { timeout })));
	return clients;
}

export function closeAll(clients) {
	for (const c of clients) if (c && !c.close) c.terminate();
}

// ---------------------------------------------------------------------------
// Fragments

// The counter fragment's value, or undefined if the text has none.
export function countOf(html) {
	const m = /<output id="count"[^>]*>(-?\d+)<\/output>/.exec(html ?? '');
	return m ? Number(m[1]) : undefined;
}

// The index page's counter value (key global, url /).
export function indexCountOf(html) {
	const m = /id="index-counter">(-?\d+)</.exec(html ?? '');
	return m ? Number(m[1]) : undefined;
}

// ---------------------------------------------------------------------------
// RFC 6455 frames

export const OP = { CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 };

// One frame as a client would send it (masked unless mask: false).
export function encodeFrame({ opcode = OP.TEXT, payload = Buffer.alloc(0), fin = true, rsv = 0, mask = true }) {
	payload = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
	const n = payload.length;
	const lenBytes = n < 126 ? 0 : n < 65536 ? 2 : 8;
	const head = Buffer.alloc(2 + lenBytes + (mask ? 4 : 0));
	head[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
	head[1] = (mask ? 0x80 : 0) | (n < 126 ? n : n < 65536 ? 126 : 127);
	if (lenBytes === 2) head.writeUInt16BE(n, 2);
	else if (lenBytes === 8) head.writeBigUInt64BE(BigInt(n), 2);
	if (!mask) return Buffer.concat([head, payload]);
	const key = crypto.randomBytes(4);
	key.copy(head, 2 + lenBytes);
	const body = Buffer.alloc(n);
	for (let i = 0; i < n; i++) body[i] = payload[i] ^ key[i & 3];
	return Buffer.concat([head, body]);
}

export function closePayload(code, reason = '') {
	const b = Buffer.alloc(2);
	b.writeUInt16BE(code);
	return Buffer.concat([b, Buffer.from(reason)]);
}

// Incremental parser of server frames; push() returns the complete frames
// ({fin, rsv, opcode, masked, payload, code?, reason?}).
export class FrameParser {
	constructor() { this.buf = Buffer.alloc(0); }
	push(data) {
		this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
		const out = [];
		for (;;) {
			const b = this.buf;
			if (b.length < 2) break;
			let n = b[1] & 0x7f;
			let off = 2;
			if (n === 126) {
				if (b.length < 4) break;
				n = b.readUInt16BE(2);
				off = 4;
			} else if (n === 127) {
				if (b.length < 10) break;
				n = Number(b.readBigUInt64BE(2));
				off = 10;
			}
			const masked = (b[1] & 0x80) !== 0;
			if (masked) off += 4;
			if (b.length < off + n) break;
			const f = {
				fin: (b[0] & 0x80) !== 0, rsv: (b[0] >> 4) & 7, opcode: b[0] & 0x0f, masked,
				payload: Buffer.from(b.subarray(off, off + n)),
			};
			if (f.opcode === OP.CLOSE) {
				f.code = n >= 2 ? f.payload.readUInt16BE(0) : 1005;
				f.reason = f.payload.subarray(2).toString('utf8');
			}
			out.push(f);
			this.buf = b.subarray(off + n);
		}
		return out;
	}
}

// ---------------------------------------------------------------------------
// Raw sockets

// An HTTP/1.1 upgrade request head for /__realtime with sane defaults;
// headers given as null are left out.
export function upgradeRequest({ key = '/counter', url, path, port = env.pushdPort, headers = {} } = {}) {
	const h = {
		Host: `127.0.0.1:${port}`,
		Upgrade: 'websocket',
		Connection: 'Upgrade',
		'Sec-WebSocket-Key': crypto.randomBytes(16).toString('base64'),
		'Sec-WebSocket-Version': '13',
		Origin: `http://127.0.0.1:${port}`,
		...headers,
	};
	let text = `GET ${path ?? realtimePath(key, url)} HTTP/1.1\r\n`;
	for (const [name, value] of Object.entries(h))
		if (value !== null && value !== undefined) text += `${name}: ${value}\r\n`;
	return { text: `${text}\r\n`, wsKey: h['Sec-WebSocket-Key'] };
}

export function acceptFor(wsKey) {
	return crypto.createHash('sha1').update(`${wsKey}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
}

function parseHead(buf) {
	const end = buf.indexOf('\r\n\r\n');
	if (end < 0) return null;
	const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
	const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
	const headers = {};
	for (const line of lines.slice(1)) {
		const i = line.indexOf(':');
		if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
	}
	return { status: m ? Number(m[1]) : NaN, statusLine: lines[0], headers, rest: buf.subarray(end + 4) };
}

// Sends bytes and collects the answer until the server closes, the answer
// (head + Content-Length body) is complete, or timeout. Resolves
// {status, headers, body, closed, error, ms}; status is undefined when the
// server cut the connection without answering.
export function rawExchange(data, { port = env.pushdPort, timeout = 5000 } = {}) {
	return new Promise((resolve) => {
		const start = Date.now();
		const sock = net.createConnection({ host: '127.0.0.1', port });
		let buf = Buffer.alloc(0);
		let done = false;
		let error;
		const finish = (closed) => {
			if (done) return;
			done = true;
			clearTimeout(timer);
			sock.destroy();
			const head = parseHead(buf);
			resolve({
				status: head?.status, headers: head?.headers ?? {}, body: head?.rest.toString('utf8') ?? '',
				raw: buf, closed, error, ms: Date.now() - start,
			});
		};
		const timer = setTimeout(() => finish(false), timeout);
		sock.on('connect', () => sock.write(data));
		sock.on('data', (d) => {
			buf = Buffer.concat([buf, d]);
			const head = parseHead(buf);
			if (head && head.headers['content-length'] !== undefined &&
			    head.rest.length >= Number(head.headers['content-length']))
				finish(false);
		});
		sock.on('error', (err) => { error = err.code || err.message; });
		sock.on('close', () => finish(true));
	});
}

// A raw WebSocket connection after a successful handshake. Frames are parsed
// as they arrive unless paused (then the socket is not read at all, beyond
// what the kernel and a small stream buffer hold).
export class RawClient {
	constructor(sock, label) {
		this.sock = sock;
		this.label = label;
		this.parser = new FrameParser();
		this.frames = []; // parsed server frames with arrival time t
		this.ended = null; // time the server ended the TCP connection
		this.error = null;
		this.head = null;
	}

	_feed(data) {
		for (const f of this.parser.push(data)) this.frames.push({ ...f, t: Date.now() });
	}

	send(buf) {
		if (!this.sock.destroyed) this.sock.write(buf, () => {});
	}

	texts() { return this.frames.filter((f) => f.opcode === OP.TEXT).map((f) => f.payload.toString('utf8')); }
	closeFrame() { return this.frames.find((f) => f.opcode === OP.CLOSE); }

	async waitFrame(what, pred, { timeout = 5000 } = {}) {
		return until(`${this.label}: ${what}`, () => {
			const f = this.frames.find(pred);
			if (f) return f;
			if (this.ended) throw new Error(`connection ended (${this.error || 'closed'}) after frames ${this.describe()}`);
			return null;
		}, { timeout, interval: 5 });
	}

	// Waits for the server's close frame, then for the server to end TCP.
	async waitClosed({ timeout = 5000 } = {}) {
		const f = await until(`${this.label}: a close frame`, () => {
			const c = this.closeFrame();
			if (c) return c;
			if (this.ended) throw new Error(`ended without a close frame (${this.error || 'closed'}); frames ${this.describe()}`);
			return null;
		}, { timeout, interval: 5 });
		await until(`${this.label}: the server ending TCP after close`, () => this.ended, { timeout, interval: 5 });
		return f;
	}

	describe() {
		return JSON.stringify(this.frames.map((f) => f.opcode === OP.CLOSE ? `close ${f.code}` : `op${f.opcode}:${f.payload.length}B`));
	}

	pause() { this.sock.pause(); }
	resume() { this.sock.resume(); }
	destroy() { this.sock.destroy(); }
}

// Opens a raw WebSocket: sends the upgrade request and waits for the 101
// (rejects on any other answer). highWaterMark bounds what Node buffers
// while the client is paused.
export function rawConnect({ key = '/counter', url, path, port = env.pushdPort, headers, timeout = 5000, highWaterMark = 16384 } = {}) {
	const { text, wsKey } = upgradeRequest({ key, url, path, port, headers });
	return new Promise((resolve, reject) => {
		const sock = new net.Socket({ readableHighWaterMark: highWaterMark });
		const client = new RawClient(sock, `raw ${port}${path ?? realtimePath(key, url)}`);
		let buf = Buffer.alloc(0);
		const timer = setTimeout(() => { sock.destroy(); reject(new Error(`${client.label}: no 101 in ${timeout} ms`)); }, timeout);
		sock.on('data', (d) => {
			if (client.head) return client._feed(d);
			buf = Buffer.concat([buf, d]);
			const head = parseHead(buf);
			if (!head) return;
			clearTimeout(timer);
			if (head.status !== 101) {
				sock.destroy();
				return reject(new Error(`${client.label}: answered ${head.statusLine}`));
			}
			if (head.headers['sec-websocket-accept'] !== acceptFor(wsKey)) {
				sock.destroy();
				return reject(new Error(`${client.label}: wrong Sec-WebSocket-Accept ${head.headers['sec-websocket-accept']}`));
			}
			client.head = head;
			resolve(client);
			if (head.rest.length) client._feed(head.rest);
		});
		sock.on('error', (err) => { client.error = err.code || err.message; });
		sock.on('close', () => {
			client.ended = Date.now();
			clearTimeout(timer);
			if (!client.head) reject(new Error(`${client.label}: closed before 101 (${client.error || 'eof'})`));
		});
		sock.connect({ host: '127.0.0.1', port }, () => sock.write(text));
	});
}

// ---------------------------------------------------------------------------
// /metrics and /healthz

// Parses the Prometheus text format into a Map of 'name{labels}' -> number.
export function parseMetrics(text) {
	const m = new Map();
	for (const line of text.split('\n')) {
		if (!line || line.startsWith('#')) continue;
		const i = line.lastIndexOf(' ');
		m.set(line.slice(0, i), Number(line.slice(i + 1)));
	}
	return m;
}

export async function metrics(port = env.pushdPort) {
	const res = await fetch(`${pushdBase(port)}/metrics`, { signal: AbortSignal.timeout(3000) });
	if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
	return parseMetrics(await res.text());
}

// A metric's value; throws when pushd does not export it.
export function metric(m, name) {
	if (!m.has(name)) throw new Error(`/metrics has no ${name}`);
	return m.get(name);
}

export const RENDERS_OK = 'keycast_renders_total{result="ok"}';
export const RENDERS_FAILED = 'keycast_renders_total{result="failed"}';
export const RENDERS_COALESCED = 'keycast_renders_total{result="coalesced"}';

export async function healthz(port = env.pushdPort) {
	try {
		const res = await fetch(`${pushdBase(port)}/healthz`, { signal: AbortSignal.timeout(2000) });
		await res.arrayBuffer();
		return res.status;
	} catch {
		return 0;
	}
}

// Waits until every render pushd started has finished: the render counters
// stop moving for `quietMs` (used before asserting an absence or a bound).
export async function settle(port = env.pushdPort, quietMs = 300, timeout = 10000) {
	const sum = (m) => (m.get(RENDERS_OK) ?? 0) + (m.get(RENDERS_FAILED) ?? 0) + (m.get(RENDERS_COALESCED) ?? 0) +
		(m.get('keycast_frames_sent_total') ?? 0);
	let last = sum(await metrics(port));
	let since = Date.now();
	await until('pushd to settle', async () => {
		const now = sum(await metrics(port));
		if (now !== last) {
			last = now;
			since = Date.now();
		}
		return Date.now() - since >= quietMs;
	}, { timeout, interval: 50 });
}

// ---------------------------------------------------------------------------
// Processes

export function rssKiB(pid) {
	const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
	return Number(m[1]);
}

// A keycast-pushd of our own (on its own port, with extra flags), logging to
// $KC_VAR/log/pushd-PORT.log. extraEnv is merged into the environment (e.g.
// ASAN_OPTIONS). Resolves once /healthz answers 200.
export async function startPushd({ port, flags = [], extraEnv = {}, appConns = kc.KC_APP_CONNS }) {
	const log = openSync(`${kc.KC_VAR}/log/pushd-${port}.log`, 'a');
	const child = spawn(`${kc.KC_BIN}/keycast-pushd`, [
		'--listen', `127.0.0.1:${port}`, '--app', `unix:${kc.KC_FCGI_SOCKET}`, '--db', kc.KC_CONNINFO,
		'--app-conns', String(appConns), ...flags,
	], { stdio: ['ignore', log, log], env: { ...process.env, ...extraEnv }, detached: true });
	closeSync(log);
	const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
	const inst = {
		pid: child.pid, port, exited,
		async stop(signal = 'SIGTERM', timeout = 10000) {
			if (!isAlive(child.pid)) return exited;
			child.kill(signal);
			const r = await Promise.race([exited, delay(timeout).then(() => null)]);
			if (r) return r;
			child.kill('SIGKILL');
			return exited;
		},
	};
	try {
		await until(`own keycast-pushd on ${port} to be healthy`, async () => {
			if (child.exitCode !== null || child.signalCode !== null)
				throw new Error(`exited early; see ${kc.KC_VAR}/log/pushd-${port}.log`);
			return (await healthz(port)) === 200;
		}, { timeout: 10000 });
	} catch (err) {
		await inst.stop('SIGKILL');
		throw err;
	}
	return inst;
}

// Runs a PostgreSQL command-line tool as the cluster's owner.
function asPg(cmd, args) {
	const bin = `/usr/lib/postgresql/15/bin/${cmd}`;
	if (process.getuid() === 0)
		return execFileSync('runuser', ['-u', 'postgres', '--', bin, ...args], { encoding: 'utf8', timeout: 60000 });
	return execFileSync(bin, args, { encoding: 'utf8', timeout: 60000 });
}

// Starts the stack's (stopped) PostgreSQL cluster on another port, runs sql
// through psql there, stops it again and returns psql's output. Nothing that
// uses the stack's port (keycast-pushd's LISTEN) can reach it meanwhile.
export function psqlOnSidePort(sql, sidePort = Number(kc.KC_PGPORT) + 1000) {
	const pgdata = kc.KC_PGDATA;
	asPg('pg_ctl', ['-D', pgdata, '-l', `${kc.KC_VAR}/log/postgresql.log`, '-o', `-p ${sidePort}`, '-w', '-t', '60', 'start']);
	try {
		return execFileSync('psql', ['-X', '-Atq', '-v', 'ON_ERROR_STOP=1', '-h', pgdata, '-p', String(sidePort),
			'-U', kc.KC_PGUSER, '-d', kc.KC_PGDATABASE, '-c', sql], { encoding: 'utf8', timeout: 30000 }).trim();
	} finally {
		asPg('pg_ctl', ['-D', pgdata, '-m', 'fast', '-w', '-t', '30', 'stop']);
	}
}

export { delay };
