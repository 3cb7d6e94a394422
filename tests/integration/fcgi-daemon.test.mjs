// keycast-fcgi as a daemon under pressure from its peers and its operator:
// a second instance pointed at a live socket, a stale socket file, idle
// kept-alive FastCGI connections holding every worker, and restarts while
// requests arrive on a socket held across them (systemd socket activation).
// What must follow: the running instance keeps its socket (0660), a worker
// returns to accept after --idle-timeout, and no request that reached the
// socket is dropped by a restart: every POST answered and applied once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import {
	env, until, request, postForm, fcgiHttp, parseCgiResponse, stack, childPids, isAlive, psql, signUp, as,
} from './lib.mjs';
import {
	FCGI_BIN, fcgiArgs, startFcgi, socketActivated, acceptQueue, rawFcgi, getRecords, fcgiAnswer,
} from './fcgi-own.mjs';

const run = Date.now().toString(36);

// keycast-fcgi started by hand on sock; resolves {code, signal, output}
// when it exits or null if it still runs after ms (then it is killed).
async function runFcgi(t, sock, ms = 10000) {
	const child = spawn(FCGI_BIN, ['--listen', `unix:${sock}`, ...fcgiArgs({ appName: `fcgi-second-${run}` })],
		{ stdio: ['ignore', 'pipe', 'pipe'] });
	let output = '';
	child.stdout.on('data', (d) => { output += d; });
	child.stderr.on('data', (d) => { output += d; });
	const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
	t.after(() => { if (isAlive(child.pid)) child.kill('SIGKILL'); });
	const end = await Promise.race([exited, delay(ms).then(() => null)]);
	return end && { ...end, output };
}

// The stack's keycast-fcgi (its socket is nginx's upstream) is replaced
// for a test and put back after it, once whatever replaced it is gone
// (t.after hooks run in the order they were added).
function restoreStackFcgi() {
	stack('stop', 'fcgi');
	stack('start', 'fcgi');
}

test('--listen unix:PATH refuses a path where a live keycast-fcgi listens, which keeps serving on it', async (t) => {
	const first = await startFcgi(t, `fcgi-live-${run}`);
	const inode = statSync(first.sock).ino;
	const second = await runFcgi(t, first.sock);
	assert.ok(second, 'the second instance exits instead of taking the socket over');
	assert.equal(second.code, 1);
	assert.match(second.output, /another process listens there/);
	assert.equal(statSync(first.sock).ino, inode, 'the socket file is still the first instance\'s');
	assert.equal((await fcgiHttp('GET', '/counter', { socket: first.sock })).status, 200);
});

test('--listen unix:PATH replaces a stale socket, creates it 0660, and refuses a path that is not a socket', async (t) => {
	const name = `fcgi-stale-${run}`;
	const sock = `${env.var}/run/${name}.sock`;
	// A socket file nobody listens on, as a killed instance leaves it.
	execFileSync('python3', ['-c', 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', sock]);
	assert.ok(statSync(sock).isSocket());
	const app = await startFcgi(t, name);
	assert.equal((statSync(app.sock).mode & 0o777).toString(8), '660', 'owner and group only: the web server reaches it through the group');
	assert.match(app.log(), /replacing the stale socket/);

	const file = `${env.var}/run/fcgi-file-${run}.sock`;
	writeFileSync(file, 'not a socket');
	t.after(() => rmSync(file, { force: true }));
	const refused = await runFcgi(t, file);
	assert.equal(refused?.code, 1);
	assert.match(refused.output, /exists and is not a socket/);
	assert.equal(readFileSync(file, 'utf8'), 'not a socket', 'the file is left alone');
});

test('two idle kept-alive FastCGI connections on a 2-worker app: a GET through nginx is answered once --idle-timeout (5 s) frees a worker', async (t) => {
	stack('stop', 'fcgi');
	t.after(restoreStackFcgi);
	execFileSync(`${env.root}/tools/stack`, ['start', 'fcgi'], { env: { ...process.env, KC_FCGI_WORKERS: '2' }, stdio: 'ignore' });
	const sock = env.fcgiSocket;
	await until('the 2-worker app to answer', async () => (await fcgiHttp('GET', '/counter', { socket: sock })).status === 200);

	// One completed request with FCGI_KEEP_CONN, then silence.
	const kept = rawFcgi(sock);
	t.after(() => kept.destroy());
	await kept.ready;
	const whole = getRecords('/counter', { keepConn: true });
	kept.write(Buffer.concat([whole.head, whole.rest]));
	await until('the kept-alive request to be answered', () => fcgiAnswer(kept.received()) !== null);
	// One BEGIN_REQUEST and half of its params, then silence.
	const stalled = rawFcgi(sock);
	t.after(() => stalled.destroy());
	await stalled.ready;
	stalled.write(getRecords('/counter').head);
	await until('both connections to be accepted', () => acceptQueue(sock) === 0);

	const t0 = Date.now();
	const res = await request(env.httpBase, '/counter', { timeout: 15000 });
	const ms = Date.now() - t0;
	t.diagnostic(`GET through nginx answered ${res.status} after ${ms} ms with both workers held`);
	assert.equal(res.status, 200);
	assert.ok(ms < 9000, `within the 5 s idle timeout (+ libfcgi's 2 s lingering close): ${ms} ms`);
	await until('the app to close both idle connections', async () => {
		await Promise.all([kept.closed, stalled.closed]);
		return true;
	}, { timeout: 15000 });
});

test('a stop never drops a connection a worker has accepted: a request half-sent before SIGTERM is answered, then the next instance serves', async (t) => {
	const sock = `${env.var}/run/fcgi-sa-${run}.sock`;
	const sa = await socketActivated(t, { sock, name: `fcgi-sa-${run}`, workers: 2 });
	await until('the socket-activated app to answer', async () => (await fcgiHttp('GET', '/counter', { socket: sock })).status === 200);

	const raw = rawFcgi(sock);
	t.after(() => raw.destroy());
	await raw.ready;
	const req = getRecords('/counter');
	raw.write(req.head);
	await until('a worker to accept the connection', () => acceptQueue(sock) === 0);

	const parent = sa.pid();
	const restarted = sa.restart();
	// The idle worker exits at once: the stop has reached the workers.
	await until('the idle worker to exit', () => !isAlive(parent) || childPids(parent).length <= 1);
	raw.write(req.rest);
	const answer = await until('the answer to the half-sent request', () => {
		const a = fcgiAnswer(raw.received());
		if (a === null && raw.conn.destroyed) throw new Error('the connection was closed unanswered');
		return a;
	});
	assert.equal(parseCgiResponse(Buffer.from(answer)).status, 200);
	await restarted;
	assert.deepEqual(sa.exits(), [0], 'the old instance exited 0');
	assert.equal((await fcgiHttp('GET', '/counter', { socket: sock })).status, 200, 'the new instance serves');
});

test('restarting a socket-activated keycast-fcgi during a stream of POSTs through nginx: every POST answered 303 and applied once', async (t) => {
	stack('stop', 'fcgi');
	const name = `fcgi-restarts-${run}`;
	const sa = await socketActivated(t, { sock: env.fcgiSocket, name, workers: 4 });
	t.after(restoreStackFcgi);
	await until('nginx to reach the socket-activated app', async () => (await request(env.httpBase, '/counter')).status === 200);

	const room = `restart-${run}`;
	const user = await signUp('restarts');
	const streams = 4;
	const restarts = 10;
	const statuses = [];
	let stop = false;
	const posting = Promise.all(Array.from({ length: streams }, async (_, s) => {
		for (let k = 0; !stop; k++) {
			const res = await postForm(env.httpBase, `/api/chat/${room}/messages`, { text: `s${s}-${k}` }, { timeout: 60000, headers: as(user) });
			statuses.push(res.status);
		}
	}));
	// Each restart once some POSTs went through since the last one.
	for (let r = 0; r <= restarts; r++) {
		const target = statuses.length + 10;
		await until(`${target} POSTs answered`, () => statuses.length >= target, { timeout: 60000 });
		if (r < restarts)
			await sa.restart();
	}
	stop = true;
	await posting;
	const counts = statuses.reduce((m, st) => ({ ...m, [st]: (m[st] ?? 0) + 1 }), {});
	t.diagnostic(`${statuses.length} POSTs across ${restarts} restarts: ${JSON.stringify(counts)}`);
	assert.deepEqual(counts, { 303: statuses.length }, 'every POST answered 303');
	assert.equal(psql(`SELECT count(*) || ' ' || count(DISTINCT body) FROM messages WHERE room = '${room}'`),
		`${statuses.length} ${statuses.length}`, 'each POST applied exactly once');
	assert.equal(sa.exits().length, restarts);
	assert.ok(sa.exits().every((c) => c === 0), `every stopped instance exited 0: ${sa.exits()}`);
});

test('SIGHUP reopens --log-file in the parent and in every worker, idle or not (logrotate)', async (t) => {
	const name = `fcgi-hup-${run}`;
	const file = `${env.var}/log/${name}-file.log`;
	const app = await startFcgi(t, name, { workers: 2, flags: ['--log-file', file] });
	renameSync(file, `${file}.1`);
	t.after(() => rmSync(`${file}.1`, { force: true }));
	app.child.kill('SIGHUP');
	// Each worker reopens in its next wait; every request after that is
	// logged in the new file, whichever worker serves it.
	await until('the new log file', () => existsSync(file));
	await until('both workers to log there', async () => {
		await Promise.all([fcgiHttp('GET', '/counter', { socket: app.sock }), fcgiHttp('GET', '/counter', { socket: app.sock })]);
		const pids = new Set([...readFileSync(file, 'utf8').matchAll(/keycast-fcgi\[(\d+)\]: GET \/counter 200/g)].map((m) => m[1]));
		return pids.size === 2;
	});
});

test('keycast-fcgi(8) documents exactly the flags of --help, with the same defaults', () => {
	const help = execFileSync(FCGI_BIN, ['--help'], { encoding: 'utf8' });
	// Each option of --help with its description (continuation lines).
	const helpOpts = new Map();
	let cur = null;
	for (const line of help.split('\n')) {
		const m = /^ {2}(--[a-z-]+)/.exec(line);
		if (m) {
			cur = m[1];
			helpOpts.set(cur, line);
		} else if (cur && /^ {10,}\S/.test(line)) {
			helpOpts.set(cur, `${helpOpts.get(cur)} ${line.trim()}`);
		} else {
			cur = null;
		}
	}
	const man = readFileSync(`${env.root}/man/keycast-fcgi.8`, 'utf8');
	const text = (roff) => roff.replace(/\\f[BIRP]/g, '').replace(/\\-/g, '-').replace(/\\\(lq|\\\(rq/g, '"')
		.split('\n').map((l) => l.replace(/^\.(B|I|BR|BI|IR|RB|RI)\s+/, '').replace(/"/g, '')).join(' ')
		.replace(/\s+/g, ' ');
	const options = /\n\.SH OPTIONS\n([\s\S]*?)\n\.SH /.exec(man)[1];
	const manOpts = new Map();
	for (const entry of options.split(/^\.TP\n/m).slice(1)) {
		const [first, ...rest] = entry.split('\n');
		const m = /^\.BI?R?\s+\\-\\-([a-z\\-]+)/.exec(first);
		assert.ok(m, `an OPTIONS entry starting ${JSON.stringify(first)} names a flag`);
		manOpts.set(`--${m[1].replace(/\\-/g, '-')}`, text(rest.join('\n')));
	}
	assert.deepEqual([...manOpts.keys()].sort(), [...helpOpts.keys()].sort(), 'the same flags');
	const synopsis = text(/\.SH SYNOPSIS\n([\s\S]*?)\n\.SH /.exec(man)[1]);
	for (const flag of helpOpts.keys())
		assert.ok(synopsis.includes(flag), `${flag} in the synopsis`);

	const defaults = (s) => [...s.matchAll(/\(default:? ([^)]*)\)|(\S+) \(default\)/g)].map((m) => (m[1] ?? m[2]).replace(/\s+/g, ' '));
	for (const [flag, desc] of helpOpts) {
		if (flag === '--templates') continue; // --help shows this build's prefix, the man page /usr
		assert.deepEqual(defaults(manOpts.get(flag)), defaults(desc), `${flag}: the same default in the man page`);
	}
});
