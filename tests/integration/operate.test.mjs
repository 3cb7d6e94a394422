// What the README promises an operator of keycast-pushd, checked on private
// instances: SIGHUP reopens the log file (logrotate moves the file, then
// signals), so lines after the signal land in the new file and none in the
// moved one. (keycast-fcgi's is in fcgi-daemon.test.mjs.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { env, until } from './lib.mjs';
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
