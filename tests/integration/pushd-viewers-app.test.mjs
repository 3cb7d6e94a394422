// keycast-pushd against the real app (keycast-fcgi's authorize answers and
// revoke triggers, sql/005_accounts.sql): sign-out closes that session's
// sockets with 4401 and no other; a member removed in psql is closed 4403
// within 100 ms; non-members and anonymous viewers of a private room never
// get a fragment; a url that does not belong to its key is refused (no
// squatting); no render request ever carries a cookie.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { env, psql, pgConnect, postForm, signUp, sessionCookie, as, PASSWORD } from './lib.mjs';
import { kc, connect, closeAll, delay } from './ws.mjs';

const run = Date.now().toString(36);
let owner, member, stranger, room, roomId;

before(async () => {
	owner = await signUp('pv-owner');
	member = await signUp('pv-member');
	stranger = await signUp('pv-stranger');
	room = `pv-${run}`;
	const res = await postForm(env.httpBase, '/api/rooms', { room, private: '1' }, { headers: as(owner) });
	assert.equal(res.status, 303, res.body);
	roomId = Number(psql(`SELECT id FROM rooms WHERE name = '${room}'`));
});

const open = (key, cookie, url) => connect(key, { url, headers: cookie ? { Cookie: cookie } : undefined });

function pct(xs, p) {
	const s = [...xs].sort((x, y) => x - y);
	return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

test('sign-out closes that session\'s socket with 4401; the same user\'s other session stays', async (t) => {
	const user = await signUp('pv-out');
	const again = await postForm(env.httpBase, '/signin', { name: user.name, password: PASSWORD });
	assert.equal(again.status, 303);
	const second = sessionCookie(again);
	const a = await open('/chat/lobby', user.cookie);
	const b = await open('/chat/lobby', second);
	t.after(() => closeAll([a, b]));
	await a.waitMessage('the lobby', () => true);
	await b.waitMessage('the lobby', () => true);
	const t0 = Date.now();
	const res = await postForm(env.httpBase, '/signout', {}, { headers: as(user) });
	assert.equal(res.status, 303);
	const close = await a.waitClose(5000);
	t.diagnostic(`sign-out -> 4401 in ${close.t - t0} ms (from the POST)`);
	assert.equal(close.code, 4401, `${close.code} ${close.reason}`);
	await delay(200);
	assert.ok(b.open, 'the other session stays live');
});

test('a private room: a non-member is closed 4403 and an anonymous viewer 4401, with no fragment', async () => {
	const s = await open(`/chat/${room}`, stranger.cookie);
	const sc = await s.waitClose(5000);
	assert.equal(sc.code, 4403, `${sc.code} ${sc.reason}`);
	assert.equal(s.messages.length, 0);
	const a = await open(`/chat/${room}`);
	const ac = await a.waitClose(5000);
	assert.equal(ac.code, 4401, `${ac.code} ${ac.reason}`);
	assert.equal(a.messages.length, 0);
});

test('a member removed in psql is closed 4403 within 100 ms (20 tries)', async (t) => {
	const db = await pgConnect();
	t.after(() => db.end());
	const lat = [];
	for (let i = 0; i < 20; i++) {
		await db.query('INSERT INTO room_members (room_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [roomId, member.id]);
		const c = await open(`/chat/${room}`, member.cookie);
		await c.waitMessage('the room', () => true);
		const t0 = Date.now();
		await db.query('DELETE FROM room_members WHERE room_id = $1 AND user_id = $2', [roomId, member.id]);
		const close = await c.waitClose(5000);
		assert.equal(close.code, 4403, `${close.code} ${close.reason}`);
		lat.push(close.t - t0);
	}
	t.diagnostic(`member removal -> 4403: p50 ${pct(lat, 50)} ms, p99 ${pct(lat, 99)} ms (${lat.join(' ')})`);
	assert.ok(pct(lat, 50) <= 100, `p50 ${pct(lat, 50)} ms`);
});

test('squatting: a url that does not belong to its key is refused 4403; a visitor of / stays live', async (t) => {
	const real = await open('global', undefined, '/');
	t.after(() => closeAll([real]));
	await real.waitMessage('the index', () => true);
	const squatters = await Promise.all(Array.from({ length: 32 }, (_, i) => open('global', undefined, `/?x=${i}`)));
	for (const s of squatters) {
		const c = await s.waitClose(5000);
		assert.equal(c.code, 4403);
		assert.equal(s.messages.length, 0);
	}
	assert.ok(real.open);
});

test('no render request carried a cookie (keycast-fcgi\'s log)', () => {
	const log = readFileSync(`${kc.KC_VAR}/log/fcgi.log`, 'utf8');
	assert.ok(!log.includes('render request carries a cookie'));
});
