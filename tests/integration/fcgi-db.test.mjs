// keycast-fcgi's PostgreSQL sessions under an operator's hands: a schema
// change that invalidates the workers' prepared statements, a migration
// holding a lock, a server turning read-only under a live session (as
// after a failover), and a terminated session. Each must cost at most one
// retry or a quick 503, never a restart, a hang or a 500 on every worker;
// and each event is one formatted log line, with its reason named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { env, until, request, fcgiHttp, fcgiRequest, psql, pgConnect, signUp } from './lib.mjs';
import { startFcgi, LOG_LINE } from './fcgi-own.mjs';

const run = Date.now().toString(36);

// Backend pids of the sessions a private keycast-fcgi opened.
function sessions(appName) {
	const out = psql(`SELECT pid FROM pg_stat_activity WHERE application_name = '${appName}' ORDER BY pid`);
	return out === '' ? [] : out.split('\n').map(Number);
}

const chat = (app, room = 'lobby') => fcgiHttp('GET', `/chat/${room}`, { socket: app.sock });

test('ALTER TABLE messages ALTER COLUMN author TYPE varchar(32): /chat answers 200 on every worker, each re-preparing once', async (t) => {
	const name = `fcgi-alter-${run}`;
	const app = await startFcgi(t, name, { workers: 2 });
	// Both workers hold a session with chat_recent prepared.
	await until('both workers to have a session', async () => {
		const answers = await Promise.all([chat(app), chat(app)]);
		assert.deepEqual(answers.map((a) => a.status), [200, 200]);
		return sessions(name).length === 2;
	});
	const before = sessions(name);
	const type = psql("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'messages'::regclass AND attname = 'author'");
	t.after(() => psql(`ALTER TABLE messages ALTER COLUMN author TYPE ${type}`));
	psql('ALTER TABLE messages ALTER COLUMN author TYPE varchar(32)');

	// Every answer 200, until each worker has replaced its session.
	let served = 0;
	await until('every worker to run on a new session', async () => {
		const answers = await Promise.all([chat(app), chat(app)]);
		served += answers.length;
		for (const a of answers)
			assert.equal(a.status, 200, `after the ALTER: ${a.status} ${a.body.slice(0, 200)}`);
		const now = sessions(name);
		return now.length === 2 && now.every((pid) => !before.includes(pid));
	});
	t.diagnostic(`${served} requests answered 200 until both workers re-prepared`);
	const retries = app.log().split('\n').filter((l) => /reconnecting and retrying once/.test(l));
	assert.equal(retries.length, 2, `one retry per worker:\n${retries.join('\n')}`);
	assert.match(retries[0], /cached plan must not change result type/);
});

test('a migration holding a lock: /chat answers 503 through nginx within lock_timeout (default 3 s), not at the web server timeout', async (t) => {
	const locker = await pgConnect();
	t.after(() => locker.end());
	// Every nginx-side worker has a session (and the plan) before the lock.
	for (let i = 0; i < 4; i++)
		assert.equal((await request(env.httpBase, '/chat/lobby')).status, 200);
	await locker.query('BEGIN');
	await locker.query('LOCK TABLE messages IN ACCESS EXCLUSIVE MODE');
	t.after(() => locker.query('ROLLBACK').catch(() => {}));

	const t0 = Date.now();
	const res = await request(env.httpBase, '/chat/lobby', { timeout: 15000 });
	const ms = Date.now() - t0;
	t.diagnostic(`answered ${res.status} after ${ms} ms with the table locked`);
	assert.equal(res.status, 503);
	assert.equal(res.headers.get('retry-after'), '1');
	assert.match(res.body, /database is busy/);
	assert.ok(ms >= 2500 && ms < 10000, `within the 3 s lock_timeout (and well before nginx's 30 s): ${ms} ms`);

	await locker.query('ROLLBACK');
	assert.equal((await request(env.httpBase, '/chat/lobby')).status, 200, 'served again once the lock is gone');
});

test('--lock-timeout and --statement-timeout bound the wait for a lock, each on its own', async (t) => {
	const lockApp = await startFcgi(t, `fcgi-lock-${run}`, { flags: ['--lock-timeout', '300', '--statement-timeout', '0'] });
	const stmtApp = await startFcgi(t, `fcgi-stmt-${run}`, { flags: ['--lock-timeout', '0', '--statement-timeout', '300'] });
	const locker = await pgConnect();
	t.after(() => locker.end());
	await locker.query('BEGIN');
	await locker.query('LOCK TABLE messages IN ACCESS EXCLUSIVE MODE');
	t.after(() => locker.query('ROLLBACK').catch(() => {}));
	for (const [app, cause] of [[lockApp, /lock timeout/], [stmtApp, /statement timeout/]]) {
		const t0 = Date.now();
		const res = await chat(app);
		const ms = Date.now() - t0;
		assert.equal(res.status, 503, res.body);
		assert.ok(ms < 3000, `300 ms timeout: answered after ${ms} ms`);
		assert.ok(app.log().split('\n').some((l) => LOG_LINE.test(l) && cause.test(l)), `the log names the ${cause.source}`);
	}
	await locker.query('ROLLBACK');
	assert.equal((await chat(lockApp)).status, 200);
});

test('a session turned read-only under the worker (25006, as after a failover) is replaced and the POST applied once', async (t) => {
	const name = `fcgi-ro-${run}`;
	const room = `ro-${run}`;
	const poster = await signUp('ro');
	const app = await startFcgi(t, name);
	const old = await pgConnect(); // a session from before, like the worker's
	t.after(() => old.end());
	assert.equal(sessions(name).length, 1);

	// Sessions that exist turn read-only (the file setting, reloaded); new
	// ones are writable (the database's setting outranks the file's).
	psql('ALTER DATABASE keycast SET default_transaction_read_only = off');
	psql('ALTER SYSTEM SET default_transaction_read_only = on');
	t.after(() => {
		psql('ALTER SYSTEM RESET default_transaction_read_only');
		psql('SELECT pg_reload_conf()');
		psql('ALTER DATABASE keycast RESET default_transaction_read_only');
	});
	psql('SELECT pg_reload_conf()');
	await until('existing sessions to be read-only', async () =>
		(await old.query('SHOW default_transaction_read_only')).rows[0].default_transaction_read_only === 'on');

	const body = 'text=after-failover';
	const res = await fcgiRequest({
		REQUEST_METHOD: 'POST', REQUEST_URI: `/api/chat/${room}/messages`, SCRIPT_NAME: '',
		PATH_INFO: `/api/chat/${room}/messages`, QUERY_STRING: '', HTTP_HOST: '127.0.0.1',
		CONTENT_TYPE: 'application/x-www-form-urlencoded', CONTENT_LENGTH: body.length,
		HTTP_COOKIE: poster.cookie,
	}, { socket: app.sock, stdin: body });
	assert.equal(res.status, 303, res.body.slice(0, 300));
	assert.equal(psql(`SELECT count(*) FROM messages WHERE room = '${room}'`), '1', 'applied exactly once');
	assert.match(app.log(), /read-only transaction; reconnecting and retrying once/);
});

test('a terminated session: one formatted "connection lost" line naming the server\'s FATAL, and the next request is served', async (t) => {
	const name = `fcgi-logs-${run}`;
	const app = await startFcgi(t, name);
	for (let i = 0; i < 3; i++) {
		const [pid] = sessions(name);
		assert.ok(pid, 'the worker has a session');
		psql(`SELECT pg_terminate_backend(${pid})`);
		await until('the session to end', () => !sessions(name).includes(pid));
		assert.equal((await fcgiHttp('GET', '/counter', { socket: app.sock })).status, 200);
	}
	const lines = app.log().split('\n').filter(Boolean);
	const bare = lines.filter((l) => !LOG_LINE.test(l));
	assert.deepEqual(bare, [], 'every line is "TIME LEVEL keycast-fcgi[PID]: message"');
	const lost = lines.filter((l) => /connection lost/.test(l));
	assert.equal(lost.length, 3, lines.join('\n'));
	for (const l of lost)
		assert.match(l, /connection lost: \S[^;]*; reconnecting$/, 'the reason is named');
	// The server says why it closed before it closes; whether libpq read
	// it first depends on timing, but on an idle session it has arrived.
	assert.ok(lost.some((l) => /connection lost: FATAL: +terminating connection due to administrator command; reconnecting$/.test(l)),
		`the server's FATAL is the reason:\n${lost.join('\n')}`);
});
