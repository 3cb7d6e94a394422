// keycast-pushd's authorize request, driven straight at keycast-fcgi over
// FastCGI as pushd sends it (KEYCAST_AUTHORIZE=K, never an HTTP_ name): a
// url belongs to one key and carries no query (no squatting on made-up
// groups); the answer names the view class and the tags a revoke may name;
// a private room is refused to non-members (403) and anonymous viewers
// (401); a cookie naming no session is "signed out" (401).
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { env, fcgiHttp, postForm, psql, signUp, as } from './lib.mjs';

const run = Date.now().toString(36);

// The authorize request as pushd builds it (docs/protocol.md, section 4).
function authorize(key, url, { cookie, params = {} } = {}) {
	const headers = { Origin: 'http://127.0.0.1' };
	if (cookie) headers.Cookie = cookie;
	return fcgiHttp('GET', url, {
		headers,
		params: { KEYCAST_AUTHORIZE: key, REMOTE_ADDR: '127.0.0.1', ...params },
	});
}

const tags = (res) => (res.headers['keycast-tags'] || '').split(' ').filter(Boolean).sort();

let alice, bob, mod, privRoom, privId;
before(async () => {
	alice = await signUp('az-alice');
	bob = await signUp('az-bob');
	mod = await signUp('az-mod');
	psql(`UPDATE users SET role = 'moderator' WHERE id = ${mod.id}`);
	privRoom = `az-priv-${run}`;
	const res = await postForm(env.httpBase, '/api/rooms', { room: privRoom, private: '1' }, { headers: as(alice) });
	assert.equal(res.status, 303);
	privId = Number(psql(`SELECT id FROM rooms WHERE name = '${privRoom}'`));
});

describe('a url must belong to its key', () => {
	for (const [key, url] of [['global', '/'], ['/counter', '/counter'], ['/chat/lobby', '/chat/lobby']]) {
		test(`key ${key} with url ${url}: 200`, async () => {
			const res = await authorize(key, url);
			assert.equal(res.status, 200, res.body);
		});
	}
	for (const [key, url] of [['global', '/?x=1'], ['global', '/counter'], ['/counter', '/'],
		['/chat/lobby', '/chat/help'], ['/chat/lobby', '/chat/lobby?x=2'], ['/signin', '/signin'],
		['/chat/UPPER', '/chat/UPPER'], ['/counter', '/counter?'], ['/nope', '/nope'],
		['/counter', '/no/such/page'], ['global', '/chat/']]) {
		test(`key ${key} with url ${url}: 403 "url does not belong to key"`, async () => {
			const res = await authorize(key, url);
			assert.equal(res.status, 403);
			assert.equal(res.body.split('\n')[0], 'url does not belong to key');
			assert.equal(res.headers['keycast-view'], undefined);
		});
	}
});

describe('a url that is no page', () => {
	test('a route for other methods only (an API route): 405 (pushd closes 1011)', async () => {
		const res = await authorize('/counter', '/api/counter/increment');
		assert.equal(res.status, 405);
		assert.equal(res.headers['keycast-view'], undefined);
	});
});

describe('views and tags', () => {
	test('/ and /counter: view public for anyone; no tags when anonymous', async () => {
		for (const [key, url] of [['global', '/'], ['/counter', '/counter']]) {
			const anon = await authorize(key, url);
			assert.equal(anon.headers['keycast-view'], 'public');
			assert.deepEqual(tags(anon), []);
			const signed = await authorize(key, url, { cookie: alice.cookie });
			assert.equal(signed.headers['keycast-view'], 'public');
			assert.deepEqual(tags(signed), [`session:${alice.hash}`, `user:${alice.id}`].sort());
		}
	});

	test('a public room: anon, user, moderator (role), moderator (owner)', async () => {
		const room = `az-pub-${run}`;
		assert.equal((await postForm(env.httpBase, '/api/rooms', { room }, { headers: as(bob) })).status, 303);
		const id = psql(`SELECT id FROM rooms WHERE name = '${room}'`);
		const key = `/chat/${room}`;
		const anon = await authorize(key, key);
		assert.equal(anon.status, 200);
		assert.equal(anon.headers['keycast-view'], 'anon');
		const user = await authorize(key, key, { cookie: alice.cookie });
		assert.equal(user.headers['keycast-view'], 'user');
		assert.deepEqual(tags(user), [`session:${alice.hash}`, `user:${alice.id}`, `room:${id}`].sort());
		assert.equal((await authorize(key, key, { cookie: mod.cookie })).headers['keycast-view'], 'moderator');
		assert.equal((await authorize(key, key, { cookie: bob.cookie })).headers['keycast-view'], 'moderator');
	});

	test('an unknown room is a public room: 200, view user, no room tag', async () => {
		const key = `/chat/az-none-${run}`;
		const res = await authorize(key, key, { cookie: alice.cookie });
		assert.equal(res.status, 200);
		assert.equal(res.headers['keycast-view'], 'user');
		assert.ok(!tags(res).some((t) => t.startsWith('room:')), tags(res).join(' '));
	});

	test('every view class and tag is printable, without spaces, within the contract\'s sizes', async () => {
		const res = await authorize('/chat/lobby', '/chat/lobby', { cookie: alice.cookie });
		assert.match(res.headers['keycast-view'], /^[\x21-\x7e]{1,64}$/);
		for (const t of tags(res)) assert.match(t, /^[\x21-\x7e]{1,128}$/);
	});
});

describe('a private room', () => {
	test('its owner: 200, view moderator, with the room tag', async () => {
		const res = await authorize(`/chat/${privRoom}`, `/chat/${privRoom}`, { cookie: alice.cookie });
		assert.equal(res.status, 200);
		assert.equal(res.headers['keycast-view'], 'moderator');
		assert.ok(tags(res).includes(`room:${privId}`));
	});

	test('a signed-in non-member (even a site moderator): 403 "not a member"', async () => {
		for (const user of [bob, mod]) {
			const res = await authorize(`/chat/${privRoom}`, `/chat/${privRoom}`, { cookie: user.cookie });
			assert.equal(res.status, 403);
			assert.equal(res.body.split('\n')[0], 'not a member');
		}
	});

	test('anonymous: 401 "sign in to see this room"', async () => {
		const res = await authorize(`/chat/${privRoom}`, `/chat/${privRoom}`);
		assert.equal(res.status, 401);
		assert.equal(res.body.split('\n')[0], 'sign in to see this room');
	});

	test('a member: 200, view user, tags session, user and room', async () => {
		const carol = await signUp('az-carol');
		assert.equal((await postForm(env.httpBase, `/api/chat/${privRoom}/members`, { name: carol.name },
			{ headers: as(alice) })).status, 303);
		const res = await authorize(`/chat/${privRoom}`, `/chat/${privRoom}`, { cookie: carol.cookie });
		assert.equal(res.status, 200);
		assert.equal(res.headers['keycast-view'], 'user');
		assert.deepEqual(tags(res), [`session:${carol.hash}`, `user:${carol.id}`, `room:${privId}`].sort());
	});
});

describe('sessions', () => {
	test('a kc_session cookie that names no session (signed out): 401 on every key', async () => {
		const gone = await signUp('az-gone');
		psql(`DELETE FROM sessions WHERE token_hash = '${gone.hash}'`);
		for (const [key, url] of [['global', '/'], ['/counter', '/counter'], ['/chat/lobby', '/chat/lobby']]) {
			const res = await authorize(key, url, { cookie: gone.cookie });
			assert.equal(res.status, 401, `${key}: ${res.status}`);
			assert.match(res.body.split('\n')[0], /^signed out/);
		}
		const garbage = await authorize('global', '/', { cookie: 'kc_session=not-a-token' });
		assert.equal(garbage.status, 401);
	});

	test('other cookies are ignored; the answer never sets a cookie', async () => {
		const res = await authorize('/chat/lobby', '/chat/lobby', { cookie: `theme=dark; ${alice.cookie}; x=1` });
		assert.equal(res.status, 200);
		assert.equal(res.headers['keycast-view'], 'user');
		assert.equal(res.headers['set-cookie'], undefined);
	});

	test('KEYCAST_AUTHORIZE only as a FastCGI param: an HTTP_KEYCAST_AUTHORIZE is no authorize request', async () => {
		const res = await fcgiHttp('GET', '/counter', { headers: { 'Keycast-Authorize': '/counter' } });
		assert.equal(res.status, 200);
		assert.equal(res.headers['keycast-view'], undefined);
		assert.match(res.body, /<!doctype html>/i);
	});
});
