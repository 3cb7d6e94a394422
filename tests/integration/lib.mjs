// Shared by the integration suites: the stack's settings (from the KC_*
// variables tools/test exports), HTTP and FastCGI clients, polling with a
// deadline, stack control through tools/stack, and PostgreSQL access.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';

const root = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
const stackTool = `${root}/tools/stack`;

// The explicit settings keep a stray run away from the demo's stack; the rest
// comes from tools/stack itself so the defaults never drift from lib.sh.
function loadEnv() {
	const required = ['KC_VAR', 'KC_HTTP_PORT', 'KC_LIGHTTPD_PORT', 'KC_PGPORT'];
	const missing = required.filter((k) => !process.env[k]);
	if (missing.length > 0)
		throw new Error(`${missing.join(', ')} not set: run the integration tests through tools/test`);
	const vars = {};
	for (const line of execFileSync(stackTool, ['env'], { encoding: 'utf8' }).split('\n')) {
		const m = /^(KC_\w+)='(.*)'$/.exec(line);
		if (m) vars[m[1]] = m[2];
	}
	const host = vars.KC_HTTP_HOST || '127.0.0.1';
	return {
		vars,
		root,
		var: vars.KC_VAR,
		httpBase: `http://${host}:${vars.KC_HTTP_PORT}`,
		lighttpdBase: `http://127.0.0.1:${vars.KC_LIGHTTPD_PORT}`,
		pushdPort: Number(vars.KC_PUSHD_PORT),
		fcgiSocket: vars.KC_FCGI_SOCKET,
		pg: {
			host: vars.KC_PGDATA,
			port: Number(vars.KC_PGPORT),
			user: vars.KC_PGUSER,
			database: vars.KC_PGDATABASE,
		},
	};
}

export const env = loadEnv();

// The web servers in front of keycast-fcgi; page tests run through each.
export const webServers = [
	{ name: 'nginx', base: env.httpBase },
	{ name: 'lighttpd', base: env.lighttpdBase },
];


// Calls fn until it returns a truthy value (returned) or timeout ms pass
// (throws, naming what was awaited and the last result or error).
export async function until(what, fn, { timeout = 10000, interval = 50 } = {}) {
	const deadline = Date.now() + timeout;
	for (;;) {
		let last;
		try {
			const v = await fn();
			if (v) return v;
			last = JSON.stringify(v);
		} catch (err) {
			last = err.message;
		}
		if (Date.now() >= deadline)
			throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${last})`);
		await delay(interval);
	}
}


// One request, redirects not followed; resolves {status, headers, body}.
export async function request(base, path, { method = 'GET', headers = {}, body, timeout = 5000 } = {}) {
	const res = await fetch(base + path, {
		method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeout),
	});
	return { status: res.status, headers: res.headers, body: await res.text() };
}

// A form POST; form is an object or an already encoded string ('' for none:
// lighttpd answers 411 to a POST without a body).
export function postForm(base, path, form = '', { headers = {}, ...opts } = {}) {
	const body = typeof form === 'string' ? form : new URLSearchParams(form).toString();
	return request(base, path, {
		...opts,
		method: 'POST',
		body,
		headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
	});
}


export const FCGI_BEGIN_REQUEST = 1;
const FCGI_END_REQUEST = 3;
export const FCGI_PARAMS = 4;
export const FCGI_STDIN = 5;
const FCGI_STDOUT = 6;
const FCGI_STDERR = 7;
const FCGI_RESPONDER = 1;

export function fcgiRecord(type, content = Buffer.alloc(0)) {
	const pad = (8 - (content.length % 8)) % 8;
	const header = Buffer.alloc(8);
	header[0] = 1; // version
	header[1] = type;
	header.writeUInt16BE(1, 2); // request id
	header.writeUInt16BE(content.length, 4);
	header[6] = pad;
	return Buffer.concat([header, content, Buffer.alloc(pad)]);
}

// A stream's records, ended by an empty one.
export function fcgiStream(type, data) {
	const records = [];
	for (let i = 0; i < data.length; i += 65535)
		records.push(fcgiRecord(type, data.subarray(i, i + 65535)));
	records.push(fcgiRecord(type));
	return records;
}

function nvLength(n) {
	if (n < 128) return Buffer.from([n]);
	const b = Buffer.alloc(4);
	b.writeUInt32BE((n | 0x80000000) >>> 0);
	return b;
}

export function fcgiParams(params) {
	return Buffer.concat(Object.entries(params).flatMap(([name, value]) => {
		const n = Buffer.from(name);
		const v = Buffer.from(String(value));
		return [nvLength(n.length), nvLength(v.length), n, v];
	}));
}

// Splits a CGI response into {status, headers (lower-case names), body}.
export function parseCgiResponse(buf) {
	const text = buf.toString('utf8');
	const end = text.indexOf('\r\n\r\n');
	if (end < 0) throw new Error(`no end of headers in FastCGI output: ${JSON.stringify(text.slice(0, 200))}`);
	const headers = {};
	for (const line of text.slice(0, end).split('\r\n')) {
		const colon = line.indexOf(':');
		headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
	}
	const status = headers.status ? parseInt(headers.status, 10) : 200;
	return { status, headers, body: text.slice(end + 4) };
}

// One FastCGI RESPONDER request on a new connection: BEGIN_REQUEST, PARAMS,
// STDIN; reads STDOUT/STDERR until END_REQUEST. Resolves the parsed response
// plus appStatus, protocolStatus and stderr.
export function fcgiRequest(params, { stdin = '', socket = env.fcgiSocket, timeout = 5000 } = {}) {
	return new Promise((resolve, reject) => {
		const conn = net.createConnection(socket);
		const stdout = [];
		const stderr = [];
		let pending = Buffer.alloc(0);
		let settled = false;
		const fail = (err) => {
			if (settled) return;
			settled = true;
			conn.destroy();
			reject(err);
		};
		conn.setTimeout(timeout, () => fail(new Error(`FastCGI request timed out after ${timeout} ms`)));
		conn.on('error', fail);
		conn.on('close', () => fail(new Error('FastCGI connection closed before END_REQUEST')));
		conn.on('data', (data) => {
			pending = Buffer.concat([pending, data]);
			while (pending.length >= 8) {
				const type = pending[1];
				const len = pending.readUInt16BE(4);
				const total = 8 + len + pending[6];
				if (pending.length < total) break;
				const content = pending.subarray(8, 8 + len);
				pending = pending.subarray(total);
				if (type === FCGI_STDOUT) stdout.push(content);
				else if (type === FCGI_STDERR) stderr.push(content);
				else if (type === FCGI_END_REQUEST && !settled) {
					settled = true;
					conn.end();
					try {
						resolve({
							...parseCgiResponse(Buffer.concat(stdout)),
							appStatus: content.readUInt32BE(0),
							protocolStatus: content[4],
							stderr: Buffer.concat(stderr).toString('utf8'),
						});
					} catch (err) {
						reject(err);
					}
				}
			}
		});
		const begin = Buffer.alloc(8);
		begin.writeUInt16BE(FCGI_RESPONDER, 0); // flags 0: the app closes after
		conn.write(Buffer.concat([
			fcgiRecord(FCGI_BEGIN_REQUEST, begin),
			...fcgiStream(FCGI_PARAMS, fcgiParams(params)),
			...fcgiStream(FCGI_STDIN, Buffer.from(stdin)),
		]));
	});
}

// An HTTP-like request over FastCGI with the CGI variables a web server
// sends; headers become HTTP_* variables (X-Keycast -> HTTP_X_KEYCAST),
// params are added as they are (KEYCAST_RENDER, HTTPS).
export function fcgiHttp(method, uri, { headers = {}, params: extra = {}, ...opts } = {}) {
	const q = uri.indexOf('?');
	const params = {
		GATEWAY_INTERFACE: 'CGI/1.1',
		SERVER_PROTOCOL: 'HTTP/1.1',
		REQUEST_METHOD: method,
		REQUEST_URI: uri,
		SCRIPT_NAME: '',
		PATH_INFO: q < 0 ? uri : uri.slice(0, q),
		QUERY_STRING: q < 0 ? '' : uri.slice(q + 1),
		HTTP_HOST: '127.0.0.1',
	};
	for (const [name, value] of Object.entries(headers))
		params[`HTTP_${name.toUpperCase().replaceAll('-', '_')}`] = value;
	return fcgiRequest({ ...params, ...extra }, opts);
}


// Runs tools/stack with the suite's environment, e.g. stack('stop', 'pg').
export function stack(...args) {
	return execFileSync(stackTool, args, { encoding: 'utf8', timeout: 120000, stdio: ['ignore', 'pipe', 'pipe'] });
}

// The pid recorded for a stack part (fcgi, pushd, nginx, lighttpd).
export function partPid(part) {
	return Number(readFileSync(`${env.var}/run/${part}.pid`, 'utf8').trim());
}

export function childPids(pid) {
	try {
		return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
			.split('\n').filter(Boolean).map(Number);
	} catch {
		return []; // pgrep exits 1 when there is none
	}
}

export function isAlive(pid) {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
}


// psql on the stack's database; returns unaligned, tuples-only output.
export function psql(sql) {
	return stack('psql', '-Atq', '-v', 'ON_ERROR_STOP=1', '-c', sql).trim();
}

export async function pgConnect() {
	const client = new pg.Client(env.pg);
	await client.connect();
	return client;
}

// A connection LISTENing on channel. sync() returns the payloads received
// since the previous sync(): it NOTIFYs a private channel and waits for its
// own token, so everything committed before the call has arrived by then.
export async function listen(channel = 'keycast') {
	const client = await pgConnect();
	const syncChannel = `kc_test_sync_${process.pid}`;
	let received = [];
	let tokens = 0;
	client.on('notification', (n) => {
		if (n.channel === channel || n.channel === syncChannel) received.push(n);
	});
	await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
	await client.query(`LISTEN ${client.escapeIdentifier(syncChannel)}`);
	return {
		async sync() {
			const token = String(++tokens);
			await client.query('SELECT pg_notify($1, $2)', [syncChannel, token]);
			await until(`sync notification ${token}`, () =>
				received.some((n) => n.channel === syncChannel && n.payload === token));
			const payloads = received.filter((n) => n.channel === channel).map((n) => n.payload);
			received = [];
			return payloads;
		},
		close: () => client.end(),
	};
}


// Accounts. Every run makes new names (a stack outlives one test file).
const accountRun = `${Date.now().toString(36)}${process.pid.toString(36)}`;
let accountSeq = 0;
export const PASSWORD = 'correct horse 42';

// The kc_session cookie ("kc_session=...") of a Set-Cookie header.
export function sessionCookie(res) {
	const set = res.headers.get ? res.headers.get('set-cookie') : res.headers['set-cookie'];
	const m = /(?:^|,\s*)(kc_session=[^;]*)/.exec(set || '');
	return m ? m[1] : undefined;
}

// SHA-256 hex of the token in a kc_session cookie: the session:<hash> tag
// and sessions.token_hash.
export function sessionHash(cookie) {
	const token = cookie.replace(/^kc_session=/, '');
	return createHash('sha256').update(Buffer.from(token, 'base64url')).digest('hex');
}

// Signs up a new user named prefix-<run>-<n> through the web server;
// resolves { name, cookie ('kc_session=...'), hash, id }.
export async function signUp(prefix = 'u', { base = env.httpBase, password = PASSWORD } = {}) {
	const name = `${prefix.slice(0, 12)}-${accountRun}-${++accountSeq}`.slice(0, 32);
	const res = await postForm(base, '/signup', { name, password });
	if (res.status !== 303)
		throw new Error(`sign-up of ${name}: ${res.status} ${res.body.slice(0, 200)}`);
	const cookie = sessionCookie(res);
	if (!cookie) throw new Error(`sign-up of ${name}: no kc_session cookie`);
	const id = Number(psql(`SELECT id FROM users WHERE name = '${name}'`));
	return { name, cookie, hash: sessionHash(cookie), id };
}

// Headers of a request made as user (from signUp), plus extra ones.
export const as = (user, extra = {}) => ({ Cookie: user.cookie, ...extra });
