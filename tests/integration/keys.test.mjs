// keycast-pushd's key diagnostics (issue 10, "No realtime updates?"): a
// page subscribed to /counter while the mutation notifies /counter/ is the
// guide's most common failure. pushd sees both sides: GET /debug/keys lists
// the key with clients and no notify and the notified key no client holds,
// /metrics counts them, and after --quiet-key-warn one notice line names
// both. A matching key shows as notified. /debug/keys is for loopback
// clients only, --expose-metrics or not. Each test runs its own pushd
// against a small FastCGI responder (fcgi_app.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, existsSync } from 'node:fs';
import { env, until, request, psql } from './lib.mjs';
import { kc, connect, closeAll, metrics, metric, startPushd, delay } from './ws.mjs';
import { startApp } from './fcgi_app.mjs';

const BASE_PORT = env.pushdPort + 740; // render +400, viewers +500

// The lines pushd-PORT.log got from now on (the file is appended to).
function logSince(port) {
	const path = `${kc.KC_VAR}/log/pushd-${port}.log`;
	const start = existsSync(path) ? statSync(path).size : 0;
	return () => readFileSync(path).subarray(start).toString('utf8').split('\n').filter((l) => l !== '');
}

async function debugKeys(port, headers = {}) {
	const res = await request(`http://127.0.0.1:${port}`, '/debug/keys', { headers });
	return { ...res, json: res.status === 200 ? JSON.parse(res.body) : undefined };
}

test('a mismatched key (page /counter, NOTIFY /counter/): /debug/keys, /metrics and one notice name both', async (t) => {
	const port = BASE_PORT;
	const app = await startApp({ path: `${kc.KC_VAR}/run/keys-app-${port}.sock` });
	t.after(() => app.close());
	const log = logSince(port);
	const pushd = await startPushd({ port, flags: ['--app', app.address, '--quiet-key-warn', '1'] });
	t.after(() => pushd.stop());

	const page = await connect('/counter', { port });
	const other = await connect('/match', { port });
	t.after(() => closeAll([page, other]));
	await page.waitMessage('the first fragment', (d) => d === '<p>/counter 1</p>');
	await other.waitMessage('the first fragment', (d) => d === '<p>/match 1</p>');
	psql("SELECT pg_notify('keycast', '/counter/')");
	psql("SELECT pg_notify('keycast', '/match')");
	await other.waitMessage('the matching key re-rendered', (d) => d === '<p>/match 2</p>', { timeout: 10000 });

	const dk = await until('/counter/ unheld in /debug/keys', async () => {
		const r = await debugKeys(port);
		return r.json?.unheld.some((u) => u.key === '/counter/') ? r : null;
	}, { timeout: 10000 });
	assert.equal(dk.status, 200);
	assert.match(dk.headers.get('content-type'), /^application\/json/);
	const j = dk.json;
	assert.deepEqual(Object.keys(j), ['now_ms', 'quiet_key_warn_s', 'keys', 'unheld']);
	assert.equal(typeof j.now_ms, 'number');
	assert.equal(j.quiet_key_warn_s, 1);
	const counter = j.keys.find((k) => k.key === '/counter');
	assert.ok(counter, `/counter listed: ${dk.body}`);
	assert.deepEqual(Object.keys(counter), ['key', 'clients', 'since_ms_ago', 'notifies', 'last_notify_ms_ago', 'urls']);
	assert.equal(counter.clients, 1);
	assert.equal(counter.notifies, 0, 'never notified');
	assert.equal(counter.last_notify_ms_ago, null);
	assert.ok(counter.since_ms_ago >= 0);
	assert.equal(counter.urls.length, 1);
	const cu = counter.urls[0];
	assert.deepEqual(Object.keys(cu), ['url', 'view', 'clients', 'renders', 'render_failures',
		'last_render_status', 'last_render_ms_ago']);
	assert.deepEqual([cu.url, cu.view, cu.clients, cu.renders, cu.render_failures, cu.last_render_status],
		['/counter', 'public', 1, 1, 0, 200]);
	assert.ok(cu.last_render_ms_ago >= 0);
	assert.equal(j.keys[0].key, '/counter', 'the never-notified key comes first');

	const match = j.keys.find((k) => k.key === '/match');
	assert.equal(match.notifies, 1, 'the matching key shows as notified');
	assert.equal(typeof match.last_notify_ms_ago, 'number');
	assert.ok(match.last_notify_ms_ago >= 0);
	assert.equal(match.urls[0].renders, 2);
	assert.ok(!j.unheld.some((u) => u.key === '/match'), 'a held key is not unheld');
	const unheld = j.unheld.find((u) => u.key === '/counter/');
	assert.deepEqual(Object.keys(unheld), ['key', 'notifies', 'last_notify_ms_ago']);
	assert.equal(unheld.notifies, 1);
	assert.ok(unheld.last_notify_ms_ago >= 0);

	let m = await metrics(port);
	assert.equal(metric(m, 'keycast_keys_never_notified'), 1, 'only /counter');
	assert.equal(metric(m, 'keycast_keys_unheld'), 1, '/counter/');

	await until('the quiet-key notice', async () => metric(await metrics(port), 'keycast_quiet_key_warnings_total') === 1,
		{ timeout: 15000 });
	const notices = await until('the notice in the log', () => {
		const l = log().filter((x) => / notice keycast-pushd\[\d+\]: /.test(x));
		return l.length > 0 ? l : null;
	});
	assert.equal(notices.length, 1, notices.join('\n'));
	assert.match(notices[0], /key \/counter has had clients .* similar key \/counter\/[ ,]/);
	// Once per key: the scan runs four times a second at --quiet-key-warn
	// 1, so a second gives it several chances to repeat itself.
	await delay(1000);
	m = await metrics(port);
	assert.equal(metric(m, 'keycast_quiet_key_warnings_total'), 1, 'once per key');
	assert.equal(log().filter((x) => / notice /.test(x)).length, 1);

	// Fixed: the page's key notified, nothing is never-notified any more.
	psql("SELECT pg_notify('keycast', '/counter')");
	await page.waitMessage('the page re-rendered', (d) => d === '<p>/counter 2</p>', { timeout: 10000 });
	await until('no never-notified key', async () => metric(await metrics(port), 'keycast_keys_never_notified') === 0);
	const fixed = (await debugKeys(port)).json.keys.find((k) => k.key === '/counter');
	assert.equal(fixed.notifies, 1);
	assert.equal(typeof fixed.last_notify_ms_ago, 'number');
});

test('/debug/keys: loopback clients only, even with --expose-metrics', async (t) => {
	const port = BASE_PORT + 1;
	const remote = { 'X-Forwarded-For': '198.51.100.7' };
	const pushd = await startPushd({ port, flags: ['--expose-metrics', '--quiet-key-warn', '0'] });
	t.after(() => pushd.stop());

	const local = await debugKeys(port);
	assert.equal(local.status, 200);
	assert.equal(local.json.quiet_key_warn_s, 0);
	assert.equal((await debugKeys(port, { 'X-Forwarded-For': '127.0.0.1' })).status, 200,
		'a forwarded loopback client is local');
	const forwarded = await debugKeys(port, remote);
	assert.equal(forwarded.status, 404, 'a remote client behind the trusted proxy');
	assert.doesNotMatch(forwarded.body, /now_ms|unheld/);
	const m = await request(`http://127.0.0.1:${port}`, '/metrics', { headers: remote });
	assert.equal(m.status, 200, '--expose-metrics opened /metrics to it, not /debug/keys');
	// The shipped sites do not route /debug/keys to pushd.
	const viaNginx = await request(env.httpBase, '/debug/keys');
	assert.doesNotMatch(viaNginx.body, /now_ms/);
});
