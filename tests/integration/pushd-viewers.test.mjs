// keycast-pushd's side of "Viewers" (issue 9), against a FastCGI responder we
// control (fcgi_app.mjs) that records every request's params and answers
// authorize requests as each test says. What breaks: the app's verdicts
// (200 with views and tags, 401/403/404, 500, malformed), revokes on
// keycast_revoke, a LISTEN connection killed under pushd, a storm of
// upgrades. What must follow: authorize carries only the forwarded cookies,
// renders never carry one and name the view, one render per view class,
// 44xx closes with the app's reason and no fragment, the view cap, revokes
// acted on within 100 ms, stale answers re-run, and never more requests at
// the app than --app-conns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync, statSync } from 'node:fs';
import { env, until, psql, pgConnect } from './lib.mjs';
import { kc, connect, closeAll, metrics, metric, startPushd, settle, delay } from './ws.mjs';
import { startApp } from './fcgi_app.mjs';

const BASE_PORT = env.pushdPort + 500; // render tests use +400
const AUTHZ = (r) => `keycast_authorizations_total{result="${r}"}`;

// The view and tags a cookie "kc_session=VIEW.TAG" asks the app for; a
// VIEW of 401/403/404/500 is that status; no cookie: view anon.
function byCookie(p) {
	const m = /kc_session=([^;.]+)(?:\.([^;]*))?/.exec(p.HTTP_COOKIE ?? '');
	if (!m) return { view: 'anon' };
	if (/^\d+$/.test(m[1])) return { status: Number(m[1]), body: `status ${m[1]} for you\nsecond line` };
	return { view: m[1], tags: m[2] ? m[2].split(',') : [] };
}

async function setup(t, port, { flags = [], appConns, delayMs = 0 } = {}) {
	const app = await startApp({ path: `${kc.KC_VAR}/run/viewers-app-${port}.sock`, delayMs });
	t.after(() => app.close());
	app.authorize = byCookie;
	const logPath = `${kc.KC_VAR}/log/pushd-${port}.log`;
	const start = existsSync(logPath) ? statSync(logPath).size : 0;
	const pushd = await startPushd({
		port, appConns,
		flags: ['--app', app.address, '--log-level', 'debug', ...flags],
	});
	t.after(() => pushd.stop());
	const clients = [];
	t.after(() => closeAll(clients));
	const open = async (key, cookie, opts = {}) => {
		const c = await connect(key, { port, ...opts, headers: cookie ? { Cookie: cookie, ...opts.headers } : opts.headers });
		clients.push(c);
		return c;
	};
	const log = () => readFileSync(logPath).subarray(start).toString('utf8');
	return { app, pushd, open, clients, log };
}

const notify = (key) => psql(`SELECT pg_notify('keycast', '${key}')`);
const revoke = (tag) => psql(`SELECT pg_notify('keycast_revoke', '${tag}')`);
const authorizesFor = (app, cookieTag) => app.requests.filter((p) => p.KEYCAST_AUTHORIZE !== undefined &&
	(p.HTTP_COOKIE ?? '').includes(cookieTag));

test('authorize carries only the forwarded cookies and Authorization; renders carry no cookie and name the view', async (t) => {
	const port = BASE_PORT;
	const { app, open, log } = await setup(t, port, { flags: ['--forward-cookie', 'kc_session', '--forward-cookie', 'lang'] });
	const c = await open('/room', 'a=secret-a; kc_session=member.user:7; lang=fr; z=secret-z', {
		url: '/room?x=1', headers: { Authorization: 'Bearer secret-token' },
	});
	await c.waitMessage('the member fragment', (d) => d.includes('data-view="member"'));
	const az = app.requests.filter((p) => p.KEYCAST_AUTHORIZE !== undefined);
	assert.equal(az.length, 1, 'one authorize request');
	const p = az[0];
	assert.equal(p.KEYCAST_AUTHORIZE, '/room');
	assert.equal(p.REQUEST_URI, '/room?x=1');
	assert.equal(p.REQUEST_METHOD, 'GET');
	assert.equal(p.SCRIPT_NAME, '');
	assert.equal(p.PATH_INFO, '/room');
	assert.equal(p.QUERY_STRING, 'x=1');
	assert.equal(p.HTTP_HOST, `127.0.0.1:${port}`);
	assert.equal(p.HTTP_ORIGIN, `http://127.0.0.1:${port}`);
	assert.equal(p.REMOTE_ADDR, '127.0.0.1');
	assert.equal(p.HTTP_COOKIE, 'kc_session=member.user:7; lang=fr', 'only the named cookies, in order');
	assert.equal(p.HTTP_AUTHORIZATION, 'Bearer secret-token');
	assert.equal(p.KEYCAST_RENDER, undefined, 'an authorize is no render');
	notify('/room');
	await c.waitMessage('a second render', (d) => d.includes('/room?x=1 2'), { timeout: 10000 });
	const renders = app.requests.filter((q) => q.KEYCAST_RENDER !== undefined);
	assert.ok(renders.length >= 2);
	for (const r of renders) {
		assert.equal(r.KEYCAST_VIEW, 'member', 'the render names the view');
		assert.ok(!Object.keys(r).some((k) => /COOKIE|AUTHORIZATION/.test(k)), `no credential in a render: ${Object.keys(r)}`);
	}
	const text = log();
	for (const secret of ['secret-a', 'secret-z', 'secret-token', 'member.user:7', 'rotated'])
		assert.ok(!text.includes(secret), `the log never shows ${secret}`);
});

test('a foreign Origin, or Origin: null, with a valid cookie is refused 4403 and never reaches authorize', async (t) => {
	const port = BASE_PORT + 11;
	const { app, open } = await setup(t, port);
	for (const origin of ['http://evil.example', 'null']) {
		const c = await open('/k', 'kc_session=user.user:1', { origin });
		const close = await c.waitClose(10000);
		assert.equal(close.code, 4403, `${origin}: ${close.code} ${close.reason}`);
		assert.equal(c.messages.length, 0);
	}
	assert.equal(app.authorizes, 0, 'no authorize request');
});

test('without --forward-cookie only kc_session goes, and no Cookie param when it is absent', async (t) => {
	const port = BASE_PORT + 1;
	const { app, open } = await setup(t, port);
	const a = await open('/k', 'lang=fr; kc_session=user');
	const b = await open('/k', 'lang=fr');
	await a.waitMessage('user fragment', (d) => d.includes('data-view="user"'));
	await b.waitMessage('anon fragment', (d) => d.includes('data-view="anon"'));
	const az = app.requests.filter((p) => p.KEYCAST_AUTHORIZE !== undefined);
	assert.deepEqual(az.map((p) => p.HTTP_COOKIE).sort(), ['kc_session=user', undefined].sort());
});

test('a notify renders each view class once, whatever the number of clients in it', async (t) => {
	const port = BASE_PORT + 2;
	const { app, open } = await setup(t, port);
	const views = ['anon', 'user', 'moderator'];
	const cs = [];
	for (const v of views)
		for (let i = 0; i < 3; i++)
			cs.push({ v, c: await open('/chat/x', v === 'anon' ? undefined : `kc_session=${v}`) });
	for (const { v, c } of cs)
		await c.waitMessage(`${v} fragment`, (d) => d.includes(`data-view="${v}"`));
	await settle(port, 300);
	const before = new Map(app.viewRenders);
	let m = await metrics(port);
	assert.equal(metric(m, 'keycast_views'), 3, 'three groups');
	const from = cs.map(({ c }) => c.messages.length);
	notify('/chat/x');
	for (const [i, { v, c }] of cs.entries())
		await c.waitMessage(`${v} update`, (d) => d.includes(`data-view="${v}"`), { from: from[i], timeout: 10000 });
	await settle(port, 300);
	for (const v of views)
		assert.equal(app.viewRenders.get(`/chat/x ${v}`) - before.get(`/chat/x ${v}`), 1, `one render for ${v}`);
	m = await metrics(port);
	assert.equal(metric(m, AUTHZ('ok')), 9, 'nine authorizations');
});

test('401, 403, 404 close 4401, 4403, 4404 with the body\'s first line and no fragment; 500 and malformed close 1011', async (t) => {
	const port = BASE_PORT + 3;
	const { app, open } = await setup(t, port);
	const base = app.authorize;
	app.authorize = (p) => (/kc_session=bad/.test(p.HTTP_COOKIE ?? '') ? { raw: 'Status: 200\r\nno header line\r\n\r\n' } : base(p));
	for (const [cookie, code] of [['401', 4401], ['403', 4403], ['404', 4404], ['500', 1011], ['bad', 1011]]) {
		const c = await open('/private', `kc_session=${cookie}`);
		const close = await c.waitClose(10000);
		assert.equal(close.code, code, `${cookie}: closed ${close.code} ${close.reason}`);
		if (code !== 1011)
			assert.equal(close.reason, `status ${cookie} for you`);
		assert.equal(c.messages.length, 0, `${cookie}: no fragment`);
	}
	assert.ok(!app.requests.some((p) => p.KEYCAST_RENDER !== undefined), 'nothing was rendered');
	const m = await metrics(port);
	for (const [r, n] of [['401', 1], ['403', 1], ['404', 1], ['error', 2], ['ok', 0]])
		assert.equal(metric(m, AUTHZ(r)) ?? 0, n, `authorizations ${r}`);
});

test('--max-views-per-url: one view class more closes 4400 and is counted', async (t) => {
	const port = BASE_PORT + 4;
	const { open } = await setup(t, port, { flags: ['--max-views-per-url', '2'] });
	const a = await open('/k', 'kc_session=v1');
	const b = await open('/k', 'kc_session=v2');
	await a.waitMessage('v1', () => true);
	await b.waitMessage('v2', () => true);
	const c = await open('/k', 'kc_session=v3');
	const close = await c.waitClose(10000);
	assert.equal(close.code, 4400);
	assert.match(close.reason, /view/);
	const d = await open('/k', 'kc_session=v1');
	await d.waitMessage('an existing view still joins', () => true);
	const e = await open('/other', 'kc_session=v3');
	await e.waitMessage('the cap is per url', () => true);
	const m = await metrics(port);
	assert.equal(metric(m, 'keycast_view_limit_closes_total'), 1);
});

test('--max-urls-per-key: with an app that allows any url, a 33rd url of a key closes 4400', async (t) => {
	const port = BASE_PORT + 9;
	const { open } = await setup(t, port);
	const many = [];
	for (let i = 0; i < 32; i++)
		many.push(await open('/k', undefined, { url: `/k?u=${i}` }));
	await Promise.all(many.map((c) => c.waitMessage('first', () => true)));
	const extra = await open('/k', undefined, { url: '/k?u=32' });
	const close = await extra.waitClose(10000);
	assert.equal(close.code, 4400);
	assert.match(close.reason, /too many urls/);
	const again = await open('/k', undefined, { url: '/k?u=0' });
	await again.waitMessage('an existing url still joins', () => true);
	assert.ok(many.every((c) => c.open));
});

function pct(xs, p) {
	const s = [...xs].sort((x, y) => x - y);
	return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

test('revoke: the tag\'s clients are authorized again and stay, move to another view at once, or close 4403 within 100 ms', async (t) => {
	const port = BASE_PORT + 5;
	const { app, open } = await setup(t, port);
	const verdict = new Map(); // tag -> answer override
	app.authorize = (p) => {
		const a = byCookie(p);
		for (const tag of a.tags ?? [])
			if (verdict.has(tag)) return verdict.get(tag);
		return a;
	};
	const stay = await open('/r', 'kc_session=user.user:1');
	const other = await open('/r', 'kc_session=user.user:2');
	await stay.waitMessage('first', () => true);
	await other.waitMessage('first', () => true);
	const n0 = authorizesFor(app, 'user:1').length;
	revoke('user:1');
	await until('user:1 authorized again', () => authorizesFor(app, 'user:1').length === n0 + 1);
	await settle(port, 200);
	assert.ok(stay.open && other.open, 'same answer: both stay');
	assert.equal(authorizesFor(app, 'user:2').length, 1, 'a revoke of user:1 never re-authorizes user:2');

	verdict.set('user:1', { view: 'moderator', tags: ['user:1'] });
	const from = stay.messages.length;
	revoke('user:1');
	await stay.waitMessage('the moderator fragment at once', (d) => d.includes('data-view="moderator"'), { from });
	assert.ok(stay.open);

	// 20 closes, commit -> close frame.
	const db = await pgConnect();
	t.after(() => db.end());
	const lat = [];
	for (let i = 0; i < 20; i++) {
		const tag = `user:${100 + i}`;
		const c = await open('/r', `kc_session=user.${tag}`);
		await c.waitMessage('first', () => true);
		verdict.set(tag, { status: 403, body: 'not a member' });
		const t0 = Date.now();
		await db.query('SELECT pg_notify($1, $2)', ['keycast_revoke', tag]);
		const close = await c.waitClose(5000);
		lat.push(close.t - t0);
		assert.equal(close.code, 4403);
		assert.equal(close.reason, 'not a member');
	}
	t.diagnostic(`revoke -> 4403 close: p50 ${pct(lat, 50)} ms, p99 ${pct(lat, 99)} ms (${lat.join(' ')})`);
	assert.ok(pct(lat, 50) <= 100, `p50 ${pct(lat, 50)} ms within 100 ms`);
	const m = await metrics(port);
	assert.equal(metric(m, 'keycast_revokes_total'), 22);
	assert.equal(metric(m, 'keycast_revoke_closes_total'), 20);
	assert.ok(other.open, 'the untouched client stays');
});

test('an authorize answer in flight when a revoke of its tag came is discarded and asked again', async (t) => {
	const port = BASE_PORT + 6;
	const { app, open } = await setup(t, port);
	let phase = 'ok';
	app.authorize = (p) => {
		const a = byCookie(p);
		if (phase === 'slow-ok') return { ...a, delayMs: 600 };
		if (phase === 'deny') return { status: 403, body: 'removed' };
		return a;
	};
	const c = await open('/r', 'kc_session=user.user:9');
	await c.waitMessage('first', () => true);
	phase = 'slow-ok';
	revoke('user:9');
	await until('the slow re-authorization is out', () => authorizesFor(app, 'user:9').length === 2);
	phase = 'deny';
	revoke('user:9');
	const close = await c.waitClose(10000);
	assert.equal(close.code, 4403, 'the stale "ok" did not keep it');
	assert.equal(authorizesFor(app, 'user:9').length, 3, 'asked a third time');
});

test('after a LISTEN reconnect every client is authorized again; a refusal then closes it', async (t) => {
	const port = BASE_PORT + 7;
	const appName = `kc-viewers-${port}`;
	const { app, open } = await setup(t, port, { flags: ['--db', `${kc.KC_CONNINFO} application_name=${appName}`] });
	let deny = false;
	app.authorize = (p) => (deny && /kc_session=user\b/.test(p.HTTP_COOKIE ?? '') ? { status: 401, body: 'signed out' } : byCookie(p));
	const u = await open('/k', 'kc_session=user.session:1');
	const a = await open('/k');
	await u.waitMessage('first', () => true);
	await a.waitMessage('first', () => true);
	const n0 = app.authorizes;
	deny = true;
	psql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '${appName}'`);
	const close = await u.waitClose(15000);
	assert.equal(close.code, 4401);
	assert.equal(close.reason, 'signed out');
	await until('the anonymous client was asked again too', () => app.authorizes >= n0 + 2);
	assert.ok(a.open, 'the anonymous client stays');
});

test('a renewal the app does not answer keeps the client and is retried; once the app answers 500 it closes 1011', async (t) => {
	const port = BASE_PORT + 10;
	const { app, open } = await setup(t, port);
	const c = await open('/r', 'kc_session=user.user:5');
	await c.waitMessage('first', () => true);
	await app.close();
	revoke('user:5');
	await until('two unanswered renewals (a retry)', async () =>
		(metric(await metrics(port), AUTHZ('error')) ?? 0) >= 2, { timeout: 10000 });
	assert.ok(c.open, 'the app being unreachable says nothing about the viewer');
	const back = await startApp({ path: `${kc.KC_VAR}/run/viewers-app-${port}.sock` });
	t.after(() => back.close());
	back.authorize = () => ({ status: 500, body: 'oops' });
	const close = await c.waitClose(10000);
	assert.equal(close.code, 1011, 'any other failure closes');
});

test('--reauth-interval: every client is authorized again without any revoke; a refusal then closes it', async (t) => {
	const port = BASE_PORT + 12;
	const { app, open } = await setup(t, port, { flags: ['--reauth-interval', '1'] });
	let deny = false;
	app.authorize = (p) => (deny ? { status: 403, body: 'membership expired' } : byCookie(p));
	const c = await open('/k', 'kc_session=user.user:3');
	await c.waitMessage('first', () => true);
	await until('a renewal within 1.1 s or so', () => authorizesFor(app, 'user:3').length >= 2, { timeout: 5000 });
	assert.ok(c.open);
	deny = true;
	const close = await c.waitClose(5000);
	assert.equal(close.code, 4403);
	assert.equal(close.reason, 'membership expired');
	const m = await metrics(port);
	assert.equal(metric(m, 'keycast_revoke_closes_total') ?? 0, 0, 'not counted as a revoke');
});

test('a storm of 2000 upgrades queues: never more requests at the app than --app-conns, all live', async (t) => {
	const port = BASE_PORT + 8;
	const conns = 4;
	const { app, open, clients } = await setup(t, port, {
		appConns: conns, flags: ['--max-conns-per-addr', '5000', '--log-level', 'info'],
	});
	app.authorize = (p) => ({ ...byCookie(p), delayMs: 1 });
	const n = 2000;
	const t0 = Date.now();
	await Promise.all(Array.from({ length: n }, (_, i) => open(`/s/${i % 50}`, `kc_session=v${i % 3}`, { timeout: 60000 })));
	await Promise.all(clients.map((c) => c.waitMessage('fragment', () => true, { timeout: 60000 })));
	const ms = Date.now() - t0;
	t.diagnostic(`${n} clients authorized and live in ${ms} ms; app peak concurrency ${app.peak} (--app-conns ${conns})`);
	assert.equal(app.authorizes, n);
	assert.ok(app.peak <= conns, `peak ${app.peak} <= ${conns}`);
	const m = await metrics(port);
	assert.equal(metric(m, 'keycast_clients'), n);
	assert.equal(metric(m, 'keycast_views'), 150);
});
