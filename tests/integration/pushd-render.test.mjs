// keycast-pushd's render and database side under faults (issue 8, section 2):
// answers no retry fixes, a slow app with hundreds of urls at once, a
// PostgreSQL restart, host names in --db and --app, and libpq's messages in
// the log. What breaks: the app (a small FastCGI responder, fcgi_app.mjs,
// answering what keycast-fcgi never would), PostgreSQL (stopped, its LISTEN
// backend terminated). What must follow: each url rendered as often as asked
// and no more, never more renders in flight than --app-conns, clients current
// soon after PostgreSQL returns, and one log line per event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync, statSync, existsSync } from 'node:fs';
import { env, until, stack, psql } from './lib.mjs';
import {
	kc, connect, connectAll, closeAll, countOf, metrics, metric, healthz, settle, startPushd,
	RENDERS_FAILED, delay,
} from './ws.mjs';
import { startApp } from './fcgi_app.mjs';

const BASE_PORT = env.pushdPort + 400; // pushd.test +100, scaleout +200, systemd +300
const LOG_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (error|warn|info|debug) keycast-pushd\[\d+\]: \S/;

// The lines pushd-PORT.log got since mark() (the file is appended to).
function logSince(port) {
	const path = `${kc.KC_VAR}/log/pushd-${port}.log`;
	const start = existsSync(path) ? statSync(path).size : 0;
	return () => readFileSync(path).subarray(start).toString('utf8').split('\n').filter((l) => l !== '');
}

test('a fragment over 1 MiB or malformed CGI output: one render, clients closed 1011, one warning each', async (t) => {
	const port = BASE_PORT;
	const app = await startApp({ path: `${kc.KC_VAR}/run/render-app-${port}.sock` });
	t.after(() => app.close());
	const log = logSince(port);
	const pushd = await startPushd({ port, flags: ['--app', app.address] });
	t.after(() => pushd.stop());

	const clients = await Promise.all([
		connect('/big', { port }), connect('/big', { port }),
		connect('/malformed', { port }), connect('/malformed', { port }),
	]);
	t.after(() => closeAll(clients));
	for (const c of clients) {
		const close = await c.waitClose(10000);
		assert.equal(close.code, 1011, `${c.label}: closed ${close.code} ${close.reason}`);
	}
	assert.ok(clients.every((c) => c.messages.length === 0), 'no frame reached them');
	await settle(port, 500);
	assert.equal(app.renders.get('/big'), 1, '/big rendered once, not retried');
	assert.equal(app.renders.get('/malformed'), 1, '/malformed rendered once, not retried');
	const m = await metrics(port);
	assert.equal(metric(m, 'keycast_renders_unusable_total'), 2, 'both counted as unusable');
	const warns = log().filter((l) => / warn /.test(l));
	assert.deepEqual(warns.filter((l) => l.includes('/big')).length, 1, `one warning names /big: ${warns.join('\n')}`);
	assert.deepEqual(warns.filter((l) => l.includes('/malformed')).length, 1, `one warning names /malformed: ${warns.join('\n')}`);
	assert.ok(!warns.some((l) => /app at .*:/.test(l)), `no "app down" warning: ${warns.join('\n')}`);
});

test('600 urls joined at once with a 50 ms app: each rendered once, --app-conns connections, no timeout; a LISTEN reconnect re-renders them the same way', async (t) => {
	const port = BASE_PORT + 1;
	const conns = 4;
	const n = 600;
	const app = await startApp({ path: `${kc.KC_VAR}/run/render-app-${port}.sock`, delayMs: 50 });
	t.after(() => app.close());
	const log = logSince(port);
	const appName = `kc-render-pace-${port}`;
	const pushd = await startPushd({
		port, appConns: conns,
		flags: ['--app', app.address, '--db', `${kc.KC_CONNINFO} application_name=${appName}`],
	});
	t.after(() => pushd.stop());

	const urls = Array.from({ length: n }, (_, i) => `/pace/${i}`);
	// Each upgrade is answered once the app authorizes it; authorizations
	// share the app's connections with the renders: give the 101 time.
	const clients = await connectAll(urls.map((u) => ({ key: u, port, timeout: 60000 })), { timeout: 60000 });
	t.after(() => closeAll(clients));
	await settle(port, 500, 30000);
	let m = await metrics(port);
	t.diagnostic(`join: ${app.total()} renders for ${n} urls, ${app.connections} connections, ` +
		`${m.get(RENDERS_FAILED)} failed`);
	assert.equal(app.total(), n, 'renders == urls');
	assert.equal(app.connections, conns, 'connections the app saw == --app-conns');
	assert.equal(metric(m, 'keycast_app_connects_total'), conns, 'keycast_app_connects_total == --app-conns');
	assert.equal(metric(m, RENDERS_FAILED), 0, 'no render failed');

	// Notifies may have been lost: every url renders again, paced.
	psql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '${appName}'`);
	await until('LISTEN back', async () => metric(await metrics(port), 'keycast_pg_reconnects_total') === 1, { timeout: 15000 });
	await until('every url rendered again', () => app.total() >= 2 * n, { timeout: 60000 });
	await settle(port, 500, 30000);
	m = await metrics(port);
	t.diagnostic(`resync: ${app.total() - n} renders for ${n} urls, ${app.connections} connections`);
	assert.equal(app.total(), 2 * n, 'the resync rendered each url once more');
	assert.equal(app.connections, conns, 'still --app-conns connections');
	assert.equal(metric(m, RENDERS_FAILED), 0, 'no render failed');
	assert.ok(clients.every((c) => c.messages.length === 2 && c.open), 'every client got both frames');
	const noise = log().filter((l) => /no answer|no connection|app at/.test(l));
	assert.deepEqual(noise, [], 'no timeout warning');
});

test('an app slower than --render-timeout: renders fail, but its connection is kept for the late answer', async (t) => {
	const port = BASE_PORT + 4;
	const app = await startApp({ path: `${kc.KC_VAR}/run/render-app-${port}.sock`, delayMs: 450 });
	t.after(() => app.close());
	const pushd = await startPushd({ port, appConns: 1, flags: ['--app', app.address, '--render-timeout', '300'] });
	t.after(() => pushd.stop());
	const c = await connect('/slow', { port });
	t.after(() => closeAll([c]));
	await until('four renders asked', () => app.total() >= 4, { timeout: 20000 });
	const m = await metrics(port);
	assert.ok(metric(m, RENDERS_FAILED) >= 3, 'the slow renders failed');
	assert.equal(app.connections, 1, 'one connection: late answers drained, not torn down');
	assert.equal(c.messages.length, 0, 'no frame from a failed render');
	app.delayMs = 0;
	await c.waitMessage('a frame once the app is fast', (d) => d.startsWith('<p>/slow '), { timeout: 10000 });
	assert.equal(app.connections, 1, 'still the same connection');
	assert.equal(metric(await metrics(port), 'keycast_app_connects_total'), 1);
});

// Two causes made this slow: LISTEN's backoff grew to 5 s while the server
// was down, and a url whose renders failed during the outage (a client
// joined it then) waited out its render backoff, into which fresh notifies
// folded. PostgreSQL comes back right after such a failed render, when that
// backoff has seconds left.
test('PostgreSQL restarted twice: every /counter client current within 1.5 s of the first commit', async (t) => {
	const clients = await connectAll(Array.from({ length: 20 }, () => ({ key: '/counter' })));
	t.after(() => closeAll(clients));
	t.after(() => stack('start', 'pg'));
	await settle();

	for (let round = 1; round <= 2; round++) {
		stack('stop', 'pg');
		await until('/healthz 503', async () => (await healthz()) === 503, { timeout: 15000 });
		// A url belongs to one key now (no made-up /counter?x): the
		// joiner's url is /counter, whose frame the outage outdated.
		const joined = await connect('/counter');
		clients.push(joined);
		// An outage of some seconds, as a real restart takes: long
		// enough for doubling backoffs to grow past 3 s.
		await delay(7000);
		const failed = metric(await metrics(), RENDERS_FAILED);
		await until('a render failing', async () => metric(await metrics(), RENDERS_FAILED) > failed,
			{ timeout: 10000, interval: 20 });
		const tStart = Date.now();
		stack('start', 'pg');
		const tUp = Date.now();
		const v = Number(psql("UPDATE counters SET value = value + 1 WHERE name = 'global' RETURNING value"));
		const tCommit = Date.now();
		const seen = await Promise.all(clients.map((c) =>
			c.waitMessage(`count ${v}`, (d) => countOf(d) === v, { timeout: 15000 })));
		const last = Math.max(...seen.map((s) => s.t));
		const fromCommit = last - tCommit;
		t.diagnostic(`round ${round}: pg start took ${tUp - tStart} ms; last client current ${fromCommit} ms ` +
			`after the commit, ${last - tUp} ms after pg start returned`);
		assert.ok(fromCommit < 1500, `round ${round}: last client current ${fromCommit} ms after the commit`);
	}
});

test('host names: --db host=localhost (via a TCP port) and --app localhost:PORT, the app restarted', async (t) => {
	const port = BASE_PORT + 2;
	// PostgreSQL listens on its unix socket only: a TCP forwarder gives
	// libpq a host name to connect to.
	const pgSock = `${kc.KC_PGDATA}/.s.PGSQL.${kc.KC_PGPORT}`;
	const fwd = net.createServer((a) => {
		const b = net.connect(pgSock);
		a.pipe(b).pipe(a);
		a.on('error', () => b.destroy());
		b.on('error', () => a.destroy());
	});
	await new Promise((resolve) => fwd.listen(0, '127.0.0.1', resolve));
	t.after(() => fwd.close());
	let app = await startApp({ host: '127.0.0.1' });
	const appPort = app.port;
	t.after(() => app.close());
	const log = logSince(port);
	const db = `host=localhost port=${fwd.address().port} dbname=${kc.KC_PGDATABASE} user=${kc.KC_PGUSER}`;
	const pushd = await startPushd({ port, flags: ['--app', `localhost:${appPort}`, '--db', db, '--log-level', 'debug'] });
	t.after(() => pushd.stop());

	const c = await connect('/dns', { port });
	t.after(() => closeAll([c]));
	await c.waitMessage('first render', (d) => d === '<p>/dns 1</p>');
	await app.close();
	app = await startApp({ host: '127.0.0.1', port: appPort });
	psql("SELECT pg_notify('keycast', '/dns')");
	await c.waitMessage('a render from the restarted app', (d) => d === '<p>/dns 1</p>', { from: 1, timeout: 10000 });
	assert.ok(c.open, 'the client stays');
	assert.ok(log().some((l) => /LISTEN keycast active/.test(l)), 'LISTEN came up through localhost');
	assert.ok(log().some((l) => /LISTEN keycast: localhost is 127\.0\.0\.1/.test(l)),
		'pushd looked the name up itself (off the loop), not libpq');
});

test('the LISTEN backend terminated: every line of the log is one event with time and level', async (t) => {
	const port = BASE_PORT + 3;
	const appName = `kc-render-log-${port}`;
	const log = logSince(port);
	const pushd = await startPushd({ port, flags: ['--db', `${kc.KC_CONNINFO} application_name=${appName}`] });
	t.after(() => pushd.stop());
	psql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '${appName}'`);
	await until('LISTEN back', async () => metric(await metrics(port), 'keycast_pg_reconnects_total') === 1, { timeout: 15000 });
	await pushd.stop();
	const lines = log();
	assert.ok(lines.some((l) => /terminating connection due to administrator command/.test(l)),
		`PostgreSQL's reason is logged: ${lines.join('\n')}`);
	const bad = lines.filter((l) => !LOG_LINE.test(l));
	assert.deepEqual(bad, [], 'lines without the log prefix');
});
