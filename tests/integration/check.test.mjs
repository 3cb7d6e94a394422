// keycast-pushd --check URL [--via http://HOST:PORT]: against the working
// stack every link is ok and the exit status is 0; then each link is broken
// in turn (database, LISTEN/NOTIFY round trip, render, WebSocket through the
// web server) and that link must be FAILED, the ones depending on it
// skipped, and the exit status non-zero. With --via it also lists the
// page's realtime roots and what pushd's /debug/keys says of their keys
// (tests/integration/check-keys.test.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { env, stack } from './lib.mjs';
import { kc, healthz } from './ws.mjs';

const BIN = `${kc.KC_BIN}/keycast-pushd`;
const APP = `unix:${kc.KC_FCGI_SOCKET}`;
const LINKS = ['database', 'LISTEN/NOTIFY', 'render', 'websocket'];

// Runs --check; resolves {code, stdout, stderr, links: {name: {state, text}}}.
function check(url, flags = [], { db = kc.KC_CONNINFO, app = APP, listen = `127.0.0.1:${env.pushdPort}` } = {}) {
	const args = url === null ? flags : ['--check', url, '--db', db, '--app', app, '--listen', listen, ...flags];
	return new Promise((resolve) => {
		execFile(BIN, args, { timeout: 30000, encoding: 'utf8' }, (err, stdout, stderr) => {
			const links = {};
			for (const line of stdout.split('\n')) {
				const m = /^(ok|FAILED|skipped|note) +([^:]+): (.*)$/.exec(line);
				if (m) links[m[2]] = { state: m[1], text: m[3] };
			}
			resolve({ code: err ? err.code : 0, stdout, stderr, links });
		});
	});
}

// Asserts each link's state ({name: 'ok'|'FAILED'|'skipped'|undefined}),
// the text of FAILED links against a pattern, and the exit status.
function expectLinks(r, states, { code, failed } = {}) {
	const show = `--check printed:\n${r.stdout}${r.stderr}`;
	for (const name of LINKS)
		assert.equal(r.links[name]?.state, states[name], `${name}: ${show}`);
	for (const [name, re] of Object.entries(failed ?? {}))
		assert.match(r.links[name].text, re, `${name}: ${show}`);
	assert.equal(r.code, code ?? (Object.values(states).every((s) => s === 'ok' || s === undefined) ? 0 : 1), show);
	assert.equal(r.stdout.trim().split('\n').filter((l) => LINKS.includes(/^\S+ +([^:]+):/.exec(l)?.[1])).length,
		Object.values(states).filter(Boolean).length, `one line per link: ${show}`);
}

const allOk = { database: 'ok', 'LISTEN/NOTIFY': 'ok', render: 'ok', websocket: 'ok' };

// A loopback port nothing listens on.
async function deadPort() {
	const srv = net.createServer();
	await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
	const { port } = srv.address();
	await new Promise((resolve) => srv.close(resolve));
	return port;
}

// A TCP proxy in front of the stack's PostgreSQL socket that forwards every
// protocol message except, when drop is set, NotificationResponse ('A'):
// what a connection pooler in transaction mode does to LISTEN. Connections
// must not ask for SSL or GSS encryption (the server's first byte would not
// be a typed message).
async function pgProxy({ drop }) {
	const socks = new Set();
	const srv = net.createServer((client) => {
		const server = net.createConnection(`${kc.KC_PGDATA}/.s.PGSQL.${kc.KC_PGPORT}`);
		socks.add(client);
		socks.add(server);
		let pending = Buffer.alloc(0);
		client.pipe(server);
		server.on('data', (data) => {
			pending = Buffer.concat([pending, data]);
			while (pending.length >= 5) {
				const total = 1 + pending.readUInt32BE(1);
				if (pending.length < total) break;
				if (!(drop && pending[0] === 0x41)) client.write(pending.subarray(0, total));
				pending = pending.subarray(total);
			}
		});
		const end = () => { client.destroy(); server.destroy(); };
		client.on('error', end).on('close', end);
		server.on('error', end).on('close', end);
	});
	await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
	return {
		conninfo: `host=127.0.0.1 port=${srv.address().port} dbname=${kc.KC_PGDATABASE} ` +
			`user=${kc.KC_PGUSER} sslmode=disable gssencmode=disable`,
		close() {
			for (const s of socks) s.destroy();
			return new Promise((resolve) => srv.close(resolve));
		},
	};
}

test('--check: every link ok against the working stack, through nginx, lighttpd or pushd itself', async () => {
	let r = await check('/counter', ['--via', env.httpBase]);
	expectLinks(r, allOk);
	assert.match(r.links.websocket.text, /first frame is the rendered fragment/);
	assert.match(r.links.render.text, /rendered \/counter \(key \/counter\) as a \d+-byte fragment/);

	r = await check('/chat/lobby', ['--via', env.lighttpdBase]);
	expectLinks(r, allOk);

	// A url under another key: both travel percent-encoded.
	r = await check('/', ['--key', 'global', '--via', `http://127.0.0.1:${env.pushdPort}/`]);
	expectLinks(r, allOk);
	assert.match(r.links.render.text, /rendered \/ \(key global\)/);
	// A url the app does not let its key have: the websocket link says why.
	r = await check('/chat/lobby?check=1&x=%2F', ['--key', '/chat/lobby', '--via', `http://127.0.0.1:${env.pushdPort}/`]);
	assert.equal(r.links.websocket?.state, 'FAILED');
	assert.match(r.links.websocket.text, /closed it with 4403 .*: url does not belong to key$/);
	// Through nginx too, which ends the connection right after the close.
	r = await check('/chat/lobby?check=1&x=%2F', ['--key', '/chat/lobby', '--via', env.httpBase]);
	assert.equal(r.links.websocket?.state, 'FAILED');
	assert.match(r.links.websocket.text, /closed it with 4403 .*: url does not belong to key$/);

	r = await check('/counter');
	expectLinks(r, { ...allOk, websocket: undefined });
});

test('--check: an unreachable database FAILs the database, skips LISTEN/NOTIFY, still tries the rest', async () => {
	const r = await check('/counter', ['--via', env.httpBase], { db: `host=${kc.KC_VAR}/no-such-dir dbname=keycast` });
	expectLinks(r, { database: 'FAILED', 'LISTEN/NOTIFY': 'skipped', render: 'ok', websocket: 'ok' },
		{ failed: { database: /no-such-dir.*No such file or directory/ } });
	assert.match(r.links['LISTEN/NOTIFY'].text, /needs the database/);
});

test('--check: notifications lost between LISTEN and PostgreSQL FAIL the round trip', async (t) => {
	// Control: the same proxy passing everything through is transparent.
	const clear = await pgProxy({ drop: false });
	t.after(() => clear.close());
	expectLinks(await check('/counter', [], { db: clear.conninfo }), { ...allOk, websocket: undefined });

	const lossy = await pgProxy({ drop: true });
	t.after(() => lossy.close());
	const t0 = Date.now();
	const r = await check('/counter', [], { db: lossy.conninfo });
	expectLinks(r, { database: 'ok', 'LISTEN/NOTIFY': 'FAILED', render: 'ok' },
		{ failed: { 'LISTEN/NOTIFY': /LISTEN keycast and NOTIFY were accepted but no notification within 5 s/ } });
	const ms = Date.now() - t0;
	assert.ok(ms >= 4500 && ms < 15000, `the round trip gave up after ${ms} ms (deadline 5 s)`);
});

test('--check: the render FAILs for a dead --app, a stopped keycast-fcgi and a url the app 404s', async (t) => {
	let r = await check('/counter', ['--via', env.httpBase], { app: `unix:${kc.KC_VAR}/run/no-such.sock` });
	expectLinks(r, { database: 'ok', 'LISTEN/NOTIFY': 'ok', render: 'FAILED', websocket: 'skipped' },
		{ failed: { render: /no-such\.sock: cannot connect: No such file or directory/ } });

	r = await check('/no-such-page', ['--via', env.httpBase]);
	expectLinks(r, { database: 'ok', 'LISTEN/NOTIFY': 'ok', render: 'FAILED', websocket: 'skipped' },
		{ failed: { render: /answered 404 for \/no-such-page.*4404/ } });

	t.after(() => stack('start', 'fcgi'));
	stack('stop', 'fcgi');
	r = await check('/counter', ['--via', env.httpBase]);
	expectLinks(r, { database: 'ok', 'LISTEN/NOTIFY': 'ok', render: 'FAILED', websocket: 'skipped' },
		{ failed: { render: /cannot connect|closed the connection/ } });
	stack('start', 'fcgi');
	expectLinks(await check('/counter'), { ...allOk, websocket: undefined });
});

test('--check: the websocket FAILs with no server at --via, and through nginx with keycast-pushd stopped', async (t) => {
	const port = await deadPort();
	let r = await check('/counter', ['--via', `http://127.0.0.1:${port}`]);
	expectLinks(r, { ...allOk, websocket: 'FAILED' },
		{ failed: { websocket: new RegExp(`127\\.0\\.0\\.1:${port}: cannot connect: Connection refused`) } });

	t.after(async () => {
		stack('start', 'pushd');
	});
	stack('stop', 'pushd');
	r = await check('/counter', ['--via', env.httpBase]);
	expectLinks(r, { ...allOk, websocket: 'FAILED' },
		{ failed: { websocket: /answered 502 to the upgrade of \/__realtime: the web server cannot reach keycast-pushd/ } });
	stack('start', 'pushd');
	assert.equal(await healthz(), 200);
	expectLinks(await check('/counter', ['--via', env.httpBase]), allOk);
});

test('--check: wrong options exit 2 without checking anything', async () => {
	for (const [args, re] of [
		[['--check', '/counter', '--via', 'ftp://127.0.0.1'], /--via ftp:\/\/127\.0\.0\.1: expected http:\/\/HOST\[:PORT\]/],
		[['--check', 'counter'], /the url must be a path starting with \//],
		[['--check', '/counter', '--key', 'a key'], /--key must be/],
		[['--via', env.httpBase], /--via and --key go with --check URL/],
	]) {
		const r = await check(null, args);
		assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
		assert.equal(r.stdout, '');
		assert.match(r.stderr, re);
	}
});
