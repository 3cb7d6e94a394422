// Chat with identity: who may post, create rooms, manage members and
// delete messages, with the answers the routes promise (keycast.js gets
// 204/401, a plain form 303 or 303 to /signin; not allowed 403; 404 where
// a private room's existence is hidden), and what the index may list.
// Changes revoke (keycast_revoke) and notify (keycast) inside their own
// transaction.
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { env, request, postForm, psql, listen, signUp, as } from './lib.mjs';

const run = Date.now().toString(36);
const JS = { 'X-Keycast': '1' };
const base = env.httpBase;

const post = (path, form, user, extra = {}) =>
	postForm(base, path, form, { headers: user ? as(user, extra) : extra });

function assertSignin(res) {
	assert.equal(res.status, 303, res.body.slice(0, 200));
	assert.equal(res.headers.get('location'), '/signin');
}

const count = (room) => Number(psql(`SELECT count(*) FROM messages WHERE room = '${room}'`));
const newestId = (room) => psql(`SELECT max(id) FROM messages WHERE room = '${room}'`);

let alice, bob, carol, mod;
before(async () => {
	[alice, bob, carol, mod] = await Promise.all(['r-alice', 'r-bob', 'r-carol', 'r-mod'].map((n) => signUp(n)));
	psql(`UPDATE users SET role = 'moderator' WHERE id = ${mod.id}`);
});

describe('posting needs a signed-in user', () => {
	test('anonymous: 401 for keycast.js, 303 to /signin for a plain form, nothing stored', async () => {
		const room = `r-anon-${run}`;
		assert.equal((await post(`/api/chat/${room}/messages`, { text: 'x' }, null, JS)).status, 401);
		assertSignin(await post(`/api/chat/${room}/messages`, { text: 'x' }));
		assert.equal(count(room), 0);
	});

	test('signed in: 204 / 303, the author is the user (an author field is ignored)', async () => {
		const room = `r-post-${run}`;
		assert.equal((await post(`/api/chat/${room}/messages`, { text: 'one', author: 'mallory' }, alice, JS)).status, 204);
		const plain = await post(`/api/chat/${room}/messages`, { text: 'two' }, alice);
		assert.equal(plain.status, 303);
		assert.equal(plain.headers.get('location'), `/chat/${room}`);
		assert.equal(psql(`SELECT string_agg(author || ':' || user_id || ':' || body, ',' ORDER BY id) FROM messages WHERE room = '${room}'`),
			`${alice.name}:${alice.id}:one,${alice.name}:${alice.id}:two`);
	});
});

describe('rooms', () => {
	test('POST /api/rooms: anonymous 401/303-to-signin; created 204/303; taken 403', async () => {
		const room = `r-new-${run}`;
		assert.equal((await post('/api/rooms', { room }, null, JS)).status, 401);
		assertSignin(await post('/api/rooms', { room }));
		const made = await post('/api/rooms', { room }, alice);
		assert.equal(made.status, 303);
		assert.equal(made.headers.get('location'), `/chat/${room}`);
		assert.equal(psql(`SELECT owner_id, private FROM rooms WHERE name = '${room}'`), `${alice.id}|f`);
		assert.equal((await post('/api/rooms', { room }, bob, JS)).status, 403);
		assert.equal((await post('/api/rooms', { room: 'lobby' }, bob, JS)).status, 403);
		assert.equal((await post('/api/rooms', { room: 'Bad Name' }, bob, JS)).status, 422);
		assert.equal((await post('/api/rooms', { room: `r-js-${run}`, private: '1' }, bob, JS)).status, 204);
	});

	test('the index lists public rooms and never a private one, even with messages', async () => {
		const pub = `r-listed-${run}`, priv = `r-hidden-${run}`;
		await post('/api/rooms', { room: pub }, alice);
		await post('/api/rooms', { room: priv, private: '1' }, alice);
		await post(`/api/chat/${pub}/messages`, { text: 'hi' }, alice, JS);
		assert.equal((await post(`/api/chat/${priv}/messages`, { text: 'secret' }, alice, JS)).status, 204);
		for (const user of [null, alice, bob]) {
			const res = await request(base, '/', { headers: user ? as(user) : {} });
			assert.ok(res.body.includes(`href="/chat/${pub}"`), 'public room not listed');
			assert.ok(!res.body.includes(priv), 'a private room is on the index');
		}
	});
});

describe('a private room', () => {
	let room;
	before(async () => {
		room = `r-priv-${run}`;
		assert.equal((await post('/api/rooms', { room, private: '1' }, alice)).status, 303);
		assert.equal((await post(`/api/chat/${room}/messages`, { text: 'inside' }, alice, JS)).status, 204);
	});

	test('non-members get 404 for its page and its API; anonymous too (303 to /signin for forms)', async () => {
		for (const user of [bob, mod, null]) {
			const page = await request(base, `/chat/${room}`, { headers: user ? as(user) : {} });
			assert.equal(page.status, 404);
			assert.ok(!page.body.includes('inside'), 'a message leaked');
		}
		for (const user of [bob, mod]) {
			assert.equal((await post(`/api/chat/${room}/messages`, { text: 'x' }, user, JS)).status, 404);
			assert.equal((await post(`/api/chat/${room}/members`, { name: user.name }, user, JS)).status, 404);
			assert.equal((await post(`/api/chat/${room}/messages/${newestId(room)}/delete`, '', user, JS)).status, 404);
		}
		assert.equal((await post(`/api/chat/${room}/messages`, { text: 'x' }, null, JS)).status, 401);
		assert.equal(count(room), 1);
	});

	test('the owner adds a member by name: they see the page and post; others may not manage members', async () => {
		assert.equal((await post(`/api/chat/${room}/members`, { name: carol.name.toUpperCase() }, alice, JS)).status, 204);
		const page = await request(base, `/chat/${room}`, { headers: as(carol) });
		assert.equal(page.status, 200);
		assert.ok(page.body.includes('inside'));
		assert.equal((await post(`/api/chat/${room}/messages`, { text: 'from carol' }, carol, JS)).status, 204);
		assert.equal((await post(`/api/chat/${room}/members`, { name: bob.name }, carol, JS)).status, 403);
		assert.equal((await post(`/api/chat/${room}/members/remove`, { name: carol.name }, carol, JS)).status, 403);
		assert.equal((await post(`/api/chat/${room}/members`, { name: `nobody-${run}` }, alice, JS)).status, 422);
		assert.equal((await post(`/api/chat/${room}/members`, { name: bob.name }, null, JS)).status, 401);
		assertSignin(await post(`/api/chat/${room}/members`, { name: bob.name }));
	});

	test('removing a member: 204/303, user:<id> on keycast_revoke, their page is 404 again', async () => {
		const dave = await signUp('r-dave');
		await post(`/api/chat/${room}/members`, { name: dave.name }, alice, JS);
		assert.equal((await request(base, `/chat/${room}`, { headers: as(dave) })).status, 200);
		const revokes = await listen('keycast_revoke');
		try {
			await revokes.sync();
			const res = await post(`/api/chat/${room}/members/remove`, { name: dave.name }, alice);
			assert.equal(res.status, 303);
			assert.equal(res.headers.get('location'), `/chat/${room}`);
			assert.deepEqual(await revokes.sync(), [`user:${dave.id}`]);
		} finally {
			await revokes.close();
		}
		assert.equal((await request(base, `/chat/${room}`, { headers: as(dave) })).status, 404);
	});

	test('members of a public room: the owner only (403 for others)', async () => {
		const pub = `r-pubm-${run}`;
		await post('/api/rooms', { room: pub }, alice);
		assert.equal((await post(`/api/chat/${pub}/members`, { name: carol.name }, bob, JS)).status, 403);
		assert.equal((await post('/api/chat/lobby/members', { name: carol.name }, bob, JS)).status, 403);
		assert.equal((await post(`/api/chat/${pub}/members`, { name: carol.name }, alice, JS)).status, 204);
	});
});

describe('deleting a message', () => {
	test('author, room owner and moderator may (204/303); another user 403; unknown 404; a delete notifies', async () => {
		const room = `r-del-${run}`;
		await post('/api/rooms', { room }, alice);
		const byBob = async (text) => {
			await post(`/api/chat/${room}/messages`, { text }, bob, JS);
			return newestId(room);
		};
		let id = await byBob('one');
		assert.equal((await post(`/api/chat/${room}/messages/${id}/delete`, '', carol, JS)).status, 403);
		assertSignin(await post(`/api/chat/${room}/messages/${id}/delete`, ''));
		assert.equal((await post(`/api/chat/${room}/messages/${id}/delete`, '', null, JS)).status, 401);
		const notes = await listen('keycast');
		try {
			await notes.sync();
			const res = await post(`/api/chat/${room}/messages/${id}/delete`, '', bob);
			assert.equal(res.status, 303);
			assert.equal(res.headers.get('location'), `/chat/${room}`);
			assert.ok((await notes.sync()).includes(`/chat/${room}`), 'no notify for the room');
		} finally {
			await notes.close();
		}
		id = await byBob('two');
		assert.equal((await post(`/api/chat/${room}/messages/${id}/delete`, '', alice, JS)).status, 204);
		id = await byBob('three');
		assert.equal((await post(`/api/chat/${room}/messages/${id}/delete`, '', mod, JS)).status, 204);
		assert.equal(count(room), 0);
		assert.equal((await post(`/api/chat/${room}/messages/${id}/delete`, '', mod, JS)).status, 404);
		assert.equal((await post(`/api/chat/${room}/messages/abc/delete`, '', mod, JS)).status, 404);
		id = await byBob('four');
		assert.equal((await post(`/api/chat/lobby/messages/${id}/delete`, '', bob, JS)).status, 404, 'a message of another room');
	});
});

describe('revocation triggers (psql changes revoke too)', () => {
	test('role changed -> user:<id>; room made private or deleted -> room:<id>', async () => {
		const erin = await signUp('r-erin');
		const room = `r-rev-${run}`;
		await post('/api/rooms', { room }, erin);
		const id = psql(`SELECT id FROM rooms WHERE name = '${room}'`);
		const revokes = await listen('keycast_revoke');
		try {
			await revokes.sync();
			psql(`UPDATE users SET role = 'moderator' WHERE id = ${erin.id}`);
			assert.deepEqual(await revokes.sync(), [`user:${erin.id}`]);
			psql(`UPDATE users SET role = 'moderator' WHERE id = ${erin.id}`);
			assert.deepEqual(await revokes.sync(), [], 'an unchanged role revoked');
			psql(`UPDATE rooms SET private = true WHERE id = ${id}`);
			assert.deepEqual(await revokes.sync(), [`room:${id}`]);
			psql(`DELETE FROM rooms WHERE id = ${id}`);
			assert.deepEqual(await revokes.sync(), [`room:${id}`]);
		} finally {
			await revokes.close();
		}
	});
});
