// What the README promises an operator of keycast-pushd, checked on private
// instances: SIGHUP reopens the log file (logrotate moves the file, then
// signals), so lines after the signal land in the new file and none in the
// moved one (keycast-fcgi's is in fcgi-daemon.test.mjs); /metrics is served
// to local clients only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { env, until, request } from './lib.mjs';
import { kc, startPushd, healthz } from './ws.mjs';

const OWN_PORT = env.pushdPort + 50;
const read = (f) => (existsSync(f) ? readFileSync(f, 'utf8') : '');

test('keycast-pushd: SIGHUP reopens --log-file after the file was moved', async (t) => {
	const log = `${kc.KC_VAR}/log/pushd-hup.log`;
	rmSync(log, { force: true });
	rmSync(`${log}.1`, { force: true });
	const own = await startPushd({ port: OWN_PORT, flags: ['--log-file', log] });
	t.after(() => own.stop());
	await until('the start-up lines in the log file', () => /listening/.test(read(log)));

	renameSync(log, `${log}.1`);
	process.kill(own.pid, 'SIGHUP');
	await until('a new log file with the reopen line', () => /SIGHUP: log reopened/.test(read(log)));
	assert.equal(await healthz(OWN_PORT), 200, 'still serving after SIGHUP');
	assert.doesNotMatch(read(`${log}.1`), /SIGHUP: log reopened/, 'nothing after the signal went to the moved file');

	await own.stop();
	await until('the shutdown lines in the new file', () => /closing \d+ clients with 1001/.test(read(log)));
	assert.doesNotMatch(read(`${log}.1`), /closing \d+ clients/);
});

// /healthz and /metrics answer loopback and unix-socket peers only, unless
// --expose-metrics. A trusted proxy on loopback (nginx) is local itself, but
// a request it forwards for a remote client is that client's: a site that
// proxied more than /__realtime must not publish the metrics.
test('/metrics: loopback only, forwarded remote clients refused, --expose-metrics opens it', async (t) => {
	const get = (port, headers = {}) => request(`http://127.0.0.1:${port}`, '/metrics', { headers });
	const remote = { 'X-Forwarded-For': '198.51.100.7' };

	const direct = await get(env.pushdPort);
	assert.equal(direct.status, 200);
	assert.match(direct.body, /^keycast_clients /m, 'Prometheus text');
	const forwarded = await get(env.pushdPort, remote);
	assert.equal(forwarded.status, 404, 'a remote client behind the trusted proxy');
	assert.doesNotMatch(forwarded.body, /keycast_/);
	assert.equal((await get(env.pushdPort, { 'X-Forwarded-For': '127.0.0.1' })).status, 200,
		'a forwarded loopback client is local');
	// The shipped site does not route /metrics to pushd at all.
	const viaNginx = await request(env.httpBase, '/metrics');
	assert.doesNotMatch(viaNginx.body, /keycast_clients/);

	const own = await startPushd({ port: OWN_PORT + 1, flags: ['--expose-metrics'] });
	t.after(() => own.stop());
	const exposed = await get(OWN_PORT + 1, remote);
	assert.equal(exposed.status, 200, '--expose-metrics serves anyone');
	assert.match(exposed.body, /^keycast_clients /m);
});
