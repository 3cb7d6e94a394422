// The chat feature (fcgi/pages/chat.c): rooms with identity (who may post,
// create rooms, manage members and delete messages, with the answers the
// routes promise: keycast.js gets 204/401, a plain form 303 or 303 to
// /signin; not allowed 403; 404 where a private room's existence is
// hidden), what the index may list, the chat pages through both web
// servers, and the count of messages posted today (key global, url
// /live/today) that the layout's header shows as a second realtime root.
// Changes revoke (keycast_revoke) and notify (keycast) inside their own
// transaction.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	env, webServers, request, postForm, psql, listen, signUp, as, fcgiHttp,
} from './lib.mjs';
import {
	rtKey, postFormBody, chatMessages, dbNewest, assertRedirect,
} from './page-helpers.mjs';
import { connect, closeAll } from './ws.mjs';

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

// Moved from pages.test.mjs: the chat pages through both web servers.
let me;
const ME = (extra = {}) => as(me, extra);
before(async () => { me = await signUp('chat'); });

for (const { name, base } of webServers) {
	describe(`chat pages through ${name}`, () => {
		test('/chat/lobby has a form posting text to /api/chat/lobby/messages for a signed-in user, none for others', async () => {
			const res = await request(base, '/chat/lobby', { headers: ME() });
			assert.equal(res.status, 200);
			assert.equal(rtKey(res.body), '/chat/lobby');
			const form = postFormBody(res.body, '/api/chat/lobby/messages');
			assert.notEqual(form, undefined, 'no form posting to /api/chat/lobby/messages');
			assert.doesNotMatch(form, /name="author"/, 'the author is the user, not a field');
			assert.match(form, /name="text"/);
			const anon = await request(base, '/chat/lobby');
			assert.equal(anon.status, 200);
			assert.equal(postFormBody(anon.body, '/api/chat/lobby/messages'), undefined, 'anonymous got a post form');
			assert.match(anon.body, /href="\/signin"/);
		});

		test('a chat page shows the last 50 messages, oldest first', async () => {
			const room = `order-${name}-${run}`;
			psql('INSERT INTO messages (room, author, body) SELECT ' +
				`'${room}', 'it', 'm' || lpad(i::text, 2, '0') FROM generate_series(1, 55) i`);
			const res = await request(base, `/chat/${room}`);
			assert.equal(res.status, 200);
			const expected = Array.from({ length: 50 }, (_, i) => `m${String(i + 6).padStart(2, '0')}`);
			assert.deepEqual(chatMessages(res.body).map((m) => m.text), expected);
		});

		test('a chat post is stored, answers 303 to the room and appears last on its page', async () => {
			const text = `hello from ${name} ${run}`;
			assertRedirect(await postForm(base, '/api/chat/lobby/messages', { text }, { headers: ME() }),
				base, '/chat/lobby');
			assert.equal(dbNewest('lobby'), `${me.name}|${text}`);
			const shown = chatMessages((await request(base, '/chat/lobby')).body);
			assert.deepEqual(shown.at(-1), { author: me.name, text });
		});

		test('a chat text <script>alert(1)</script> comes back escaped, and an author (stored in psql) too', async () => {
			const room = `esc-${name}-${run}`;
			psql(`INSERT INTO messages (room, author, body) VALUES ('${room}', '<b>x</b>', 'first')`);
			const text = '<script>alert(1)</script>';
			assert.equal((await postForm(base, `/api/chat/${room}/messages`, { text }, { headers: ME() })).status, 303);
			const page = (await request(base, `/chat/${room}`)).body;
			assert.ok(!page.includes(text), 'the script tag came back unescaped');
			assert.ok(!page.includes('<b>x</b>'), 'the author came back unescaped');
			assert.deepEqual(chatMessages(page), [{ author: '<b>x</b>', text: 'first' }, { author: me.name, text }]);
		});

		test('SQL in a chat post is stored literally and counters still exists', async () => {
			const text = "x'); DELETE FROM messages; DROP TABLE counters; --";
			assert.equal((await postForm(base, '/api/chat/lobby/messages', { text }, { headers: ME() })).status, 303);
			assert.equal(dbNewest('lobby'), `${me.name}|${text}`);
			assert.equal(psql("SELECT to_regclass('counters')"), 'counters');
			assert.deepEqual(chatMessages((await request(base, '/chat/lobby')).body).at(-1), { author: me.name, text });
			assert.equal((await request(base, '/counter')).status, 200);
		});
	});
}

describe('a chat post notifies', () => {
	let listener;
	before(async () => { listener = await listen('keycast'); });
	after(() => listener?.close());

	test('a chat post notifies /chat/<room> and global', async () => {
		await listener.sync();
		const res = await postForm(env.httpBase, '/api/chat/lobby/messages',
			{ text: `notify ${run}` }, { headers: ME(JS) });
		assert.equal(res.status, 204);
		const got = await listener.sync();
		assert.ok(got.includes('/chat/lobby') && got.includes('global'), `received ${JSON.stringify(got)}`);
	});
});

// ---------------------------------------------------------------------------
// Messages today: key global, url /live/today (sql/006_chat.sql keeps the
// per-day counts; its trigger notifies global).

const TODAY_ROOT = '<div data-rt-root data-rt-key="global" data-rt-url="/live/today" ';
const dbToday = () => Number(psql('SELECT count(*) FROM messages WHERE ' +
	"(created_at AT TIME ZONE 'UTC')::date = (now() AT TIME ZONE 'UTC')::date"));
// The count in a /live/today fragment (or in a page's header root).
function todayOf(html) {
	const m = /<span class="today" id="today-count">(\d+) messages? today<\/span>/.exec(html ?? '');
	return m ? Number(m[1]) : undefined;
}
// The header's root: its opening tag and content.
function headerRoot(html) {
	const i = html.indexOf(TODAY_ROOT);
	return i < 0 ? undefined : html.slice(i, html.indexOf('</div>', i));
}

describe('messages today (key global, url /live/today)', () => {
	let poster;
	before(async () => { poster = await signUp('today'); });

	test('GET /live/today: the full page for a browser, the fragment alone for a render; the count is today\'s', async () => {
		const page = await request(base, '/live/today');
		assert.equal(page.status, 200);
		assert.match(page.body, /^<!doctype html>/i);
		assert.equal(rtKey(page.body), 'global', 'the page\'s main root');
		const frag = await fcgiHttp('GET', '/live/today', { params: { KEYCAST_RENDER: 'global' } });
		assert.equal(frag.status, 200);
		assert.doesNotMatch(frag.body, /<html|<!doctype|data-rt-root/i);
		assert.equal(todayOf(frag.body), dbToday());
		assert.ok(page.body.includes(`<div data-rt-root data-rt-key="global">${frag.body}</div>`),
			'the page wraps exactly the fragment');
	});

	test('every realtime page holds the header root besides its main root, with today\'s count; other pages have none', async () => {
		const user = await signUp('hdr');
		for (const path of ['/', '/counter', '/chat/lobby', '/live/today']) {
			const res = await request(base, path, { headers: as(user) });
			assert.equal(res.status, 200, path);
			const root = headerRoot(res.body);
			assert.ok(root, `${path}: no header root`);
			assert.equal(todayOf(root), dbToday(), `${path}: the header's count`);
			// keycast.js takes the root without data-rt-url as the page's own.
			const own = [...res.body.matchAll(/<div data-rt-root[^>]*>/g)].filter((m) => !m[0].includes('data-rt-url'));
			assert.equal(own.length, 1, `${path}: one main root`);
		}
		// A page with no root of its own shows no live count either: its
		// only root would be the header's.
		const signin = await request(base, '/signin');
		assert.equal(signin.status, 200);
		assert.equal(headerRoot(signin.body), undefined, '/signin has a live root');
		const missing = await request(base, '/nope');
		assert.equal(missing.status, 404);
		assert.equal(headerRoot(missing.body), undefined, 'an error page has no live root');
	});

	test('a chat post notifies global in its transaction and moves the count; a delete moves it back', async () => {
		const listener = await listen('keycast');
		try {
			await listener.sync();
			const before = todayOf((await fcgiHttp('GET', '/live/today', { params: { KEYCAST_RENDER: 'global' } })).body);
			const room = `today-${run}`;
			assert.equal((await post(`/api/chat/${room}/messages`, { text: 'counted' }, poster, JS)).status, 204);
			const got = await listener.sync();
			assert.ok(got.includes('global'), `received ${JSON.stringify(got)}`);
			const after = todayOf((await fcgiHttp('GET', '/live/today', { params: { KEYCAST_RENDER: 'global' } })).body);
			assert.equal(after, before + 1);
			assert.equal(after, dbToday());
			psql(`DELETE FROM messages WHERE room = '${room}'`);
			assert.ok((await listener.sync()).includes('global'), 'a delete in psql notifies global');
			assert.equal(todayOf((await fcgiHttp('GET', '/live/today', { params: { KEYCAST_RENDER: 'global' } })).body), before);
			// A message of another day moves nothing today.
			psql(`INSERT INTO messages (room, author, body, created_at) VALUES ('${room}', 'old', 'x', now() - interval '3 days')`);
			assert.equal(todayOf((await fcgiHttp('GET', '/live/today', { params: { KEYCAST_RENDER: 'global' } })).body), before);
			psql(`DELETE FROM messages WHERE room = '${room}'`);
		} finally {
			listener.close();
		}
	});

	test('a subscriber of (global, /live/today) gets the new count pushed after a post in any room', async () => {
		const c = await connect('global', { url: '/live/today', label: 'today' });
		try {
			const first = await c.waitMessage('the initial fragment', (d) => todayOf(d) !== undefined);
			const n = todayOf(first.data);
			assert.equal((await post('/api/chat/lobby/messages', { text: `pushed ${run}` }, poster, JS)).status, 204);
			await c.waitMessage('the count + 1', (d) => todayOf(d) === n + 1, { from: first.index + 1, timeout: 10000 });
		} finally {
			closeAll([c]);
		}
	});

	test('authorize: global is open to everyone at /live/today; other urls of global, or /live/today under another key, are refused', async () => {
		const ok = await fcgiHttp('GET', '/live/today', { params: { KEYCAST_AUTHORIZE: 'global' } });
		assert.equal(ok.status, 200);
		assert.equal(ok.headers['keycast-view'], 'public');
		for (const [key, url] of [['global', '/counter'], ['/live/today', '/live/today'], ['global', '/live/today/x']])
			assert.equal((await fcgiHttp('GET', url, { params: { KEYCAST_AUTHORIZE: key } })).status, 403, `${key} ${url}`);
	});
});
