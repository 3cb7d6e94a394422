// keycast under systemd, without a running systemd: the installed units
// pass `systemd-analyze verify`, and keycast-pushd speaks the notify
// protocol to a NOTIFY_SOCKET this test reads: READY=1 only once LISTEN is
// up, STATUS= lines, WATCHDOG=1 pings at half of WATCHDOG_USEC, STOPPING=1
// on SIGTERM. Also: keycast-pushd(8) names exactly the flags of --help,
// with the same defaults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { env, until, isAlive } from './lib.mjs';
import { kc, connect, closeAll, healthz, delay } from './ws.mjs';
import { helpAndMan, defaultsOf } from './manpage.mjs';

const BIN = `${kc.KC_BIN}/keycast-pushd`;
const OWN_PORT = env.pushdPort + 300; // pushd.test.mjs uses +100

function have(cmd) {
	return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

// The value of a make variable in the build directory's Makefile.
function makeVar(name) {
	const m = new RegExp(`^${name} = (.*)$`, 'm').exec(readFileSync(`${kc.KC_BUILD}/Makefile`, 'utf8'));
	return m[1].trim();
}

test('systemd-analyze verify passes on the units make install puts in place', { skip: !have('systemd-analyze') && 'systemd-analyze is not installed (Debian package systemd)' }, (t) => {
	const root = mkdtempSync(path.join(tmpdir(), 'kc-units-'));
	t.after(() => rmSync(root, { recursive: true, force: true }));
	execFileSync('make', ['-s', 'install', `DESTDIR=${root}`], { cwd: kc.KC_BUILD, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120000 });
	const prefix = makeVar('prefix');
	const unitDir = `${prefix}/lib/systemd/system`;
	const units = ['keycast-pushd.service', 'keycast-fcgi.socket', 'keycast-fcgi.service'];
	for (const u of units) assert.ok(existsSync(`${root}${unitDir}/${u}`), `make install put ${unitDir}/${u} in place`);

	const pushd = readFileSync(`${root}${unitDir}/keycast-pushd.service`, 'utf8');
	assert.doesNotMatch(pushd, /@\w+@/, 'every @placeholder@ substituted');
	assert.match(pushd, /^Type=notify$/m);
	assert.match(pushd, /^WatchdogSec=/m);
	assert.match(pushd, new RegExp(`^ExecStart=${prefix}/bin/keycast-pushd .*--app unix:/run/keycast/fcgi\\.sock`, 'm'));
	assert.match(pushd, new RegExp(`^EnvironmentFile=-${makeVar('sysconfdir').replace('${prefix}', prefix)}/keycast/keycast\\.env$`, 'm'));
	const socket = readFileSync(`${root}${unitDir}/keycast-fcgi.socket`, 'utf8');
	assert.match(socket, /^ListenStream=\/run\/keycast\/fcgi\.sock$/m, 'pushd renders through the socket keycast-fcgi.socket creates');

	// verify --root resolves ExecStart= and the default dependencies
	// (sysinit.target, ...) inside the root: give it the host's targets.
	const targetDir = `${root}/usr/lib/systemd/system`;
	mkdirSync(targetDir, { recursive: true });
	for (const target of ['sysinit', 'basic', 'shutdown', 'multi-user', 'network', 'sockets'])
		for (const dir of ['/usr/lib/systemd/system', '/lib/systemd/system'])
			if (existsSync(`${dir}/${target}.target`)) {
				copyFileSync(`${dir}/${target}.target`, `${targetDir}/${target}.target`);
				break;
			}
	// Documentation=man:keycast-pushd(8) is looked up in the installed pages.
	const args = ['verify', `--root=${root}`, ...(have('man') ? [] : ['--man=no']), ...units.map((u) => `${unitDir}/${u}`)];
	const r = spawnSync('systemd-analyze', args, {
		encoding: 'utf8', timeout: 60000, env: { ...process.env, MANPATH: `${root}${prefix}/share/man` },
	});
	const out = `${r.stdout}${r.stderr}`;
	t.diagnostic(`systemd-analyze ${args.join(' ')}: exit ${r.status}${out ? `\n${out}` : ''}`);
	assert.equal(r.status, 0, out);
	// It only warns (exit 0) about unknown keys and bad values: none allowed.
	assert.equal(out.trim(), '', 'systemd-analyze verify has nothing to say');
});

// Receives the datagrams of the notify protocol on a unix socket (node's
// dgram has no unix sockets): python3 prints each as a JSON line.
const RECEIVER = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps({"bound": True}), flush=True)
while True:
    print(json.dumps({"msg": s.recv(65536).decode("utf-8", "replace")}), flush=True)
`;

async function notifySocket(t, dir) {
	const sock = `${dir}/notify.sock`;
	const child = spawn('python3', ['-c', RECEIVER, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
	t.after(() => child.kill('SIGKILL'));
	const msgs = []; // { t, fields: Map, text }
	let bound = false;
	readline.createInterface({ input: child.stdout }).on('line', (line) => {
		const m = JSON.parse(line);
		if (m.bound) {
			bound = true;
			return;
		}
		const fields = new Map(m.msg.split('\n').filter(Boolean).map((kv) => {
			const i = kv.indexOf('=');
			return [kv.slice(0, i), kv.slice(i + 1)];
		}));
		msgs.push({ t: Date.now(), fields, text: m.msg });
	});
	await until('the notify socket to be bound', () => bound || child.exitCode !== null);
	assert.ok(bound, 'python3 bound the notify socket');
	return {
		path: sock,
		msgs,
		with: (name) => msgs.filter((m) => m.fields.has(name)),
		describe: () => JSON.stringify(msgs.map((m) => m.text)),
	};
}

// process.env with extra variables; undefined ones are removed.
function childEnv(extra) {
	const e = { ...process.env, ...extra };
	for (const [k, v] of Object.entries(e)) if (v === undefined) delete e[k];
	return e;
}

// keycast-pushd on its own port with extra environment, logging to
// $KC_VAR/log/pushd-PORT.log; resolves once its listener answers.
async function spawnPushd(t, { db, extraEnv }) {
	const log = openSync(`${kc.KC_VAR}/log/pushd-${OWN_PORT}.log`, 'a');
	const child = spawn(BIN, [
		'--listen', `127.0.0.1:${OWN_PORT}`, '--app', `unix:${kc.KC_FCGI_SOCKET}`, '--db', db, '--app-conns', '1',
	], { stdio: ['ignore', log, log], env: childEnv(extraEnv), detached: true });
	closeSync(log);
	const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
	t.after(() => { if (isAlive(child.pid)) child.kill('SIGKILL'); });
	await until(`keycast-pushd on ${OWN_PORT} to listen`, async () => {
		if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}; see ${kc.KC_VAR}/log/pushd-${OWN_PORT}.log`);
		return (await healthz(OWN_PORT)) !== 0;
	});
	return { child, exited };
}

test('sd_notify: READY=1 only once LISTEN is up, STATUS lines, WATCHDOG=1 at half of WATCHDOG_USEC, STOPPING=1 on SIGTERM', async (t) => {
	const dir = mkdtempSync(path.join(tmpdir(), 'kc-notify-'));
	t.after(() => rmSync(dir, { recursive: true, force: true }));
	const ns = await notifySocket(t, dir);
	// The database's socket directory is empty at first: PostgreSQL is
	// unreachable until the socket is linked in.
	mkdirSync(`${dir}/pg`);
	const db = `host=${dir}/pg port=${kc.KC_PGPORT} dbname=${kc.KC_PGDATABASE} user=${kc.KC_PGUSER}`;
	const { child, exited } = await spawnPushd(t, {
		db, extraEnv: { NOTIFY_SOCKET: ns.path, WATCHDOG_USEC: '1000000' },
	});

	// Listening, LISTEN down: STATUS and pings, but no READY.
	const down = Date.now();
	await until('2 s with the database unreachable', () => Date.now() - down >= 2000, { timeout: 3000 });
	assert.equal(await healthz(OWN_PORT), 503, '/healthz says LISTEN is down');
	assert.equal(ns.with('READY').length, 0, `no READY=1 while LISTEN is down: ${ns.describe()}`);
	assert.ok(ns.msgs.some((m) => /LISTEN (connecting|down)/.test(m.fields.get('STATUS') ?? '')),
		`STATUS says LISTEN is not up: ${ns.describe()}`);
	assert.ok(ns.with('WATCHDOG').length >= 2, `the loop pings the watchdog meanwhile: ${ns.describe()}`);

	symlinkSync(`${kc.KC_PGDATA}/.s.PGSQL.${kc.KC_PGPORT}`, `${dir}/pg/.s.PGSQL.${kc.KC_PGPORT}`);
	const ready = await until('READY=1', () => ns.with('READY')[0], { timeout: 10000, interval: 10 });
	assert.equal(await healthz(OWN_PORT), 200, 'LISTEN is up when READY=1 arrives');
	assert.equal(ready.fields.get('READY'), '1');
	assert.match(ready.fields.get('STATUS'), /^0 clients, LISTEN up$/);
	t.diagnostic(`READY=1 ${ready.t - down} ms after start-up with the database unreachable at first`);

	// The STATUS line follows the clients; pings keep their pace.
	const client = await connect('/counter', { port: OWN_PORT });
	t.after(() => closeAll([client]));
	await until('STATUS with 1 client', () => ns.msgs.some((m) => m.fields.get('STATUS') === '1 client, LISTEN up'),
		{ timeout: 3000 });
	const from = Date.now();
	await delay(2000);
	const pings = ns.with('WATCHDOG').filter((m) => m.t >= from);
	const gaps = pings.slice(1).map((m, i) => m.t - pings[i].t);
	t.diagnostic(`WATCHDOG=1 pings in 2 s: ${pings.length}, gaps ${gaps.join(', ')} ms`);
	assert.ok(pings.length >= 3 && pings.length <= 5, `about one ping per 500 ms: ${pings.length} in 2 s`);
	assert.ok(gaps.every((g) => g < 900), `no gap near WATCHDOG_USEC: ${gaps.join(', ')}`);

	child.kill('SIGTERM');
	const stopping = await until('STOPPING=1', () => ns.with('STOPPING')[0], { timeout: 5000, interval: 10 });
	assert.match(stopping.fields.get('STATUS'), /^stopping: closing 1 clients$/);
	const end = await Promise.race([exited, delay(6000).then(() => null)]);
	assert.deepEqual(end, { code: 0, signal: null }, 'exits 0 after the drain');
	assert.equal(ns.with('READY').length, 1, `READY=1 exactly once: ${ns.describe()}`);
	assert.equal((await client.waitClose()).code, 1001);
});

test('sd_notify: no WATCHDOG=1 without WATCHDOG_USEC, and nothing at all without NOTIFY_SOCKET', async (t) => {
	const dir = mkdtempSync(path.join(tmpdir(), 'kc-notify-'));
	t.after(() => rmSync(dir, { recursive: true, force: true }));
	const ns = await notifySocket(t, dir);
	const { child, exited } = await spawnPushd(t, { db: kc.KC_CONNINFO, extraEnv: { NOTIFY_SOCKET: ns.path } });
	await until('READY=1', () => ns.with('READY')[0], { timeout: 10000, interval: 10 });
	await delay(1500);
	assert.equal(ns.with('WATCHDOG').length, 0, `no pings unless the watchdog is on: ${ns.describe()}`);
	child.kill('SIGTERM');
	await exited;
	// The datagram may reach us after the exit: wait for it, then count.
	await until('STOPPING=1', () => ns.with('STOPPING')[0], { timeout: 5000, interval: 10 });
	assert.equal(ns.with('STOPPING').length, 1);

	// Started by hand: the same binary runs as before, sending nothing.
	const before = ns.msgs.length;
	const again = await spawnPushd(t, { db: kc.KC_CONNINFO, extraEnv: { NOTIFY_SOCKET: undefined } });
	await until('own pushd healthy', async () => (await healthz(OWN_PORT)) === 200);
	again.child.kill('SIGTERM');
	assert.deepEqual(await again.exited, { code: 0, signal: null });
	assert.equal(ns.msgs.length, before, 'nothing sent without NOTIFY_SOCKET');
});

test('keycast-pushd(8) documents exactly the flags of --help, with the same defaults', () => {
	const { help, man, synopsis } = helpAndMan(BIN, `${env.root}/man/keycast-pushd.8`);
	assert.deepEqual([...man.keys()].sort(), [...help.keys()].sort(), 'the same flags');
	for (const [flag, desc] of help)
		assert.deepEqual(defaultsOf(man.get(flag)), defaultsOf(desc), `${flag}: the same default in the man page`);
	// The synopsis forms of --help are in the man page's too.
	for (const flag of ['--check', '--via', '--key'])
		assert.match(synopsis, new RegExp(flag));
});
