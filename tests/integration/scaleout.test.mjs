// Scale-out (issue 5): two keycast-fcgi pools and two keycast-pushd behind
// one nginx whose /__realtime upstream is balanced with
// `hash $arg_key consistent`, the configuration README "Scaling out"
// describes, derived here from deploy/nginx/keycast.conf. Clients spread
// over both pushd all get updates; killing one pushd moves its clients to
// the other, which resyncs them, and nothing committed is lost.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import { env, until, postForm, psql, isAlive, signUp, as } from './lib.mjs';
import { kc, connect, metrics, metric, startPushd, closeAll } from './ws.mjs';

const nginxPort = Number(kc.KC_HTTP_PORT) + 200;
const pushdB = Number(kc.KC_PUSHD_PORT) + 200;
const dir = `${kc.KC_VAR}/scaleout`;
const fcgiB = `${dir}/fcgi-b.sock`;
const base = `http://127.0.0.1:${nginxPort}`;
const rooms = Array.from({ length: 16 }, (_, i) => `scale-${i}`);
const procs = [];
let pushdInstB;

// The production site with both pools in each upstream.
function nginxConfig() {
	execFileSync('bash', ['-c', '. tools/lib.sh && kc_nginx_conf'], {
		cwd: env.root,
		env: { ...process.env, KC_VAR: dir, KC_HTTP_PORT: String(nginxPort) },
	});
	const site = `${dir}/nginx/site.conf`;
	let conf = readFileSync(site, 'utf8');
	conf = conf.replace(/upstream keycast_fcgi \{[^}]*\}/,
		`upstream keycast_fcgi {\n\tserver unix:${kc.KC_FCGI_SOCKET};\n\tserver unix:${fcgiB};\n\tkeepalive 2;\n}`);
	conf = conf.replace(/upstream keycast_pushd \{[^}]*\}/,
		`upstream keycast_pushd {\n\thash $arg_key consistent;\n` +
		`\tserver 127.0.0.1:${kc.KC_PUSHD_PORT};\n\tserver 127.0.0.1:${pushdB};\n}`);
	assert.match(conf, /hash \$arg_key consistent/, 'the site file has the upstream blocks to rewrite');
	writeFileSync(site, conf);
	return `${dir}/nginx/nginx.conf`;
}

function spawnLogged(name, cmd, args) {
	const log = openSync(`${kc.KC_VAR}/log/scaleout-${name}.log`, 'a');
	const child = spawn(cmd, args, { stdio: ['ignore', log, log], detached: true });
	closeSync(log);
	procs.push(child);
	return child;
}

async function clientsOn(port) {
	return metric(await metrics(port), 'keycast_clients');
}

// A client through the shared nginx that reconnects like keycast.js does.
async function resilientClient(room) {
	const c = { room, conns: [], get messages() { return this.conns.flatMap((x) => x.messages.map((m) => m.data)); } };
	const open = async () => {
		const ws = await connect(`/chat/${room}`, { port: nginxPort, label: `scale ${room}` });
		c.conns.push(ws);
		c.current = ws;
		ws.ws.on('close', () => {
			if (!c.stopped)
				c.reopening = until(`reconnect ${room}`, () => open().then(() => true, () => false),
					{ timeout: 10000, interval: 100 });
		});
	};
	await open();
	return c;
}

function has(c, text) {
	return c.messages.some((m) => m.includes(text));
}

before(async () => {
	mkdirSync(dir, { recursive: true });
	const fcgi = spawnLogged('fcgi-b', `${kc.KC_BIN}/keycast-fcgi`, ['--listen', `unix:${fcgiB}`,
		// Sized like pool A: nginx's cached connections (2 per nginx
		// worker) plus pushd B's render connections must stay below it.
		'--workers', kc.KC_FCGI_WORKERS, '--db', kc.KC_CONNINFO, '--templates', `${env.root}/templates`]);
	await until('second keycast-fcgi pool', () => {
		try { return statSync(fcgiB).isSocket(); } catch { return false; }
	});
	assert.ok(isAlive(fcgi.pid));
	pushdInstB = await startPushd({ port: pushdB, flags: ['--app', `unix:${fcgiB}`] });
	procs.push(pushdInstB);
	const conf = nginxConfig();
	spawnLogged('nginx', 'nginx', ['-c', conf, '-p', `${dir}/nginx`, '-g', 'daemon off;']);
	await until('scale-out nginx', async () => {
		try { return (await fetch(`${base}/static/keycast.css`)).status === 200; } catch { return false; }
	});
	psql(`DELETE FROM messages WHERE room LIKE 'scale-%'`);
});

after(() => {
	for (const p of procs) {
		try { process.kill(p.pid, 'SIGTERM'); } catch { /* already gone */ }
	}
	psql(`DELETE FROM messages WHERE room LIKE 'scale-%'`);
});

// Unique per room ("scale-1" is a prefix of "scale-10").
const mark = (tag, room) => `${tag}:${room}:end`;

// Posting needs a signed-in user: one account for the whole file.
let posterSignUp;
const poster = () => (posterSignUp ??= signUp('scale'));

async function postAll(tag) {
	const user = await poster();
	for (const room of rooms) {
		const r = await postForm(base, `/api/chat/${room}/messages`,
			`text=${mark(tag, room)}`, { headers: as(user, { 'X-Keycast': '1' }) });
		assert.equal(r.status, 204, `post to ${room}`);
	}
}

test('clients spread over two pushd behind one nginx all receive their updates; killing one pushd moves its clients to the other without losing a commit', async (t) => {
	const beforeA = await clientsOn(kc.KC_PUSHD_PORT);
	const clients = await Promise.all(rooms.map(resilientClient));
	t.after(() => {
		for (const c of clients) c.stopped = true;
		closeAll(clients.flatMap((c) => c.conns));
	});
	await until('every client has its first fragment', () => clients.every((c) => c.messages.length > 0));
	const onA = (await clientsOn(kc.KC_PUSHD_PORT)) - beforeA;
	const onB = await clientsOn(pushdB);
	assert.equal(onA + onB, rooms.length, 'every client is on one of the two pushd');
	assert.ok(onA > 0 && onB > 0, `keys spread over both pushd (A ${onA}, B ${onB})`);

	await postAll('first');
	await until('every client got its room\'s first message', () => clients.every((c) => has(c, mark('first', c.room))));
	for (const c of clients)
		assert.ok(!c.messages.some((m) => rooms.some((r) => r !== c.room && m.includes(mark('first', r)))),
			'no client sees another room');

	process.kill(pushdInstB.pid, 'SIGKILL');
	// Committed while B's clients are cut off: their resync must bring it.
	await postAll('during');
	await until('B\'s clients reconnected through nginx', async () =>
		(await clientsOn(kc.KC_PUSHD_PORT)) - beforeA === rooms.length, { timeout: 15000 });
	await until('every client shows the message committed during the failover',
		() => clients.every((c) => has(c, mark('during', c.room))), { timeout: 10000 });

	await postAll('after');
	const served = readFileSync(`${kc.KC_VAR}/log/scaleout-fcgi-b.log`, 'utf8');
	assert.match(served, /POST \/api\/chat\/scale-\d+\/messages 204/, 'the second fcgi pool served mutations');
	assert.match(served, /GET \/chat\/scale-\d+ 200 [\d.]+ms render/, 'the second fcgi pool rendered for its pushd');
	await until('updates reach every client after the failover', () => clients.every((c) => has(c, mark('after', c.room))));
	assert.equal(clients.filter((c) => c.conns.length > 1).length, onB, 'exactly B\'s clients reconnected');
});
