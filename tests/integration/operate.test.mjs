// What the README promises an operator, each checked on private daemons:
// SIGHUP reopens the log file of keycast-pushd and of keycast-fcgi (logrotate
// moves the file, then signals), so lines after the signal land in the new
// file and none in the moved one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync, openSync, closeSync } from 'node:fs';
import { env, until, fcgiHttp, isAlive } from './lib.mjs';
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

test('keycast-fcgi: SIGHUP reopens --log-file in the parent and in every worker', async (t) => {
	const log = `${kc.KC_VAR}/log/fcgi-hup.log`;
	const sock = `${kc.KC_VAR}/run/fcgi-hup.sock`;
	rmSync(log, { force: true });
	rmSync(`${log}.1`, { force: true });
	rmSync(sock, { force: true });
	const out = openSync(`${kc.KC_VAR}/log/fcgi-hup.stderr`, 'a');
	const child = spawn(`${kc.KC_BIN}/keycast-fcgi`, ['--listen', `unix:${sock}`, '--workers', '2',
		'--db', kc.KC_CONNINFO, '--templates', `${kc.KC_ROOT}/templates`, '--log-file', log],
	{ stdio: ['ignore', out, out], detached: true });
	closeSync(out);
	t.after(async () => {
		if (isAlive(child.pid)) child.kill('SIGTERM');
		await until('keycast-fcgi to exit', () => !isAlive(child.pid), { timeout: 10000 }).catch(() => child.kill('SIGKILL'));
	});
	await until('keycast-fcgi to listen', () => existsSync(sock) && /listening/.test(read(log)));
	// One request per worker before the move: each has the old file open.
	for (let i = 0; i < 4; i++)
		assert.equal((await fcgiHttp('GET', `/counter?before=${i}`, { socket: sock })).status, 200);
	await until('the requests logged', () => (read(log).match(/GET \/counter\?before=/g) || []).length === 4);

	renameSync(log, `${log}.1`);
	process.kill(child.pid, 'SIGHUP');
	await until('the parent to reopen (a new file appears)', () => existsSync(log));
	// New FastCGI connections spread over both workers; each must write to
	// the new file.
	for (let i = 0; i < 6; i++)
		assert.equal((await fcgiHttp('GET', `/counter?after=${i}`, { socket: sock })).status, 200);
	await until('every request after the signal in the new file',
		() => (read(log).match(/GET \/counter\?after=/g) || []).length === 6);
	assert.doesNotMatch(read(`${log}.1`), /after=/, 'a worker kept writing to the moved file');
});
