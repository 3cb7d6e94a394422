// One render per view class, never per user: a chat render names its view
// in KEYCAST_VIEW (anon: no post form, no delete; user: the form and a
// delete form on every message, hidden by CSS unless it is the viewer's;
// moderator: delete shown on all) and never looks at a cookie; a render
// carrying one is refused with 500 and a log line. The page GET computes
// the same view from the cookie, so its root equals the push; what is
// personal (data-viewer, the <style>) lies outside the root.
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { env, request, postForm, fcgiHttp, until, signUp, as } from './lib.mjs';
import { startFcgi } from './fcgi-own.mjs';

const run = Date.now().toString(36);
const JS = { 'X-Keycast': '1' };

const render = (key, view, params = {}, socket = undefined) => fcgiHttp('GET', key, {
	params: { KEYCAST_RENDER: key, ...(view ? { KEYCAST_VIEW: view } : {}), ...params },
	...(socket ? { socket } : {}),
});
const rootOf = (html) => /<div data-rt-root data-rt-key="[^"]*">([\s\S]*?)<\/div>\n<\/main>/.exec(html)?.[1];
const deletes = (html) => [...html.matchAll(/<form method="post" action="\/api\/chat\/[^/]+\/messages\/(\d+)\/delete" class="msg-del">/g)].map((m) => m[1]);
const hasCompose = (html, room) => html.includes(`<form method="post" action="/api/chat/${room}/messages" class="compose">`);

let alice, bob, room, key;
before(async () => {
	alice = await signUp('v-alice');
	bob = await signUp('v-bob');
	room = `v-room-${run}`;
	key = `/chat/${room}`;
	for (const [user, text] of [[alice, 'from alice'], [bob, 'from bob']])
		assert.equal((await postForm(env.httpBase, `/api/chat/${room}/messages`, { text }, { headers: as(user, JS) })).status, 204);
});

describe('chat renders per view class', () => {
	test('anon: the messages, no post form, no delete forms, a sign-in link', async () => {
		for (const view of ['anon', undefined]) {
			const res = await render(key, view);
			assert.equal(res.status, 200);
			assert.match(res.body, /from alice[\s\S]*from bob/);
			assert.ok(!hasCompose(res.body, room), 'anon got a post form');
			assert.deepEqual(deletes(res.body), []);
			assert.match(res.body, /<a href="\/signin">Sign in<\/a>/);
			assert.match(res.body, /data-view="anon"/);
		}
	});

	test('user: the post form and a delete form on every message, marked data-view="user" for the CSS', async () => {
		const res = await render(key, 'user');
		assert.equal(res.status, 200);
		assert.ok(hasCompose(res.body, room));
		assert.equal(deletes(res.body).length, 2);
		assert.match(res.body, /<ol class="messages" id="messages" data-view="user"/);
		assert.ok(res.body.includes(`data-author="${alice.id}"`) && res.body.includes(`data-author="${bob.id}"`));
		assert.doesNotMatch(res.body, /<style|data-viewer/, 'a per-user detail inside the fragment');
		const css = readFileSync(`${env.root}/static/keycast.css`, 'utf8');
		assert.match(css, /\.messages\[data-view="user"\] \.msg-del \{ display: none; \}/);
	});

	test('moderator: delete on every message, and the member form', async () => {
		const res = await render(key, 'moderator');
		assert.equal(deletes(res.body).length, 2);
		assert.match(res.body, /data-view="moderator"/);
		assert.match(res.body, /action="\/api\/chat\/[^"]+\/members"/);
		const user = await render(key, 'user');
		assert.notEqual(user.body, res.body);
	});

	test('an unknown view class: 400', async () => {
		assert.equal((await render(key, 'admin')).status, 400);
	});

	// On a keycast-fcgi of its own: tools/test fails the run on this line
	// in the stack's log, where only pushd's renders must arrive.
	test('a render carrying a cookie: 500 and the log line "render request carries a cookie"', async (t) => {
		const app = await startFcgi(t, `views-cookie-${run}`);
		const res = await render(key, 'user', { HTTP_COOKIE: alice.cookie }, app.sock);
		assert.equal(res.status, 500);
		assert.ok(!res.body.includes('from alice'));
		const counter = await render('/counter', undefined, { HTTP_COOKIE: 'x=1' }, app.sock);
		assert.equal(counter.status, 500);
		await until('the error line in its log', () =>
			/ error keycast-fcgi\[\d+\]: render request carries a cookie$/m.test(app.log()));
	});
});

describe('the page computes the same view as the push', () => {
	test('anonymous, signed in, owner: the root equals the render of its view', async () => {
		const own = `v-own-${run}`;
		await postForm(env.httpBase, '/api/rooms', { room: own }, { headers: as(bob) });
		await postForm(env.httpBase, `/api/chat/${own}/messages`, { text: 'hello' }, { headers: as(alice, JS) });
		for (const [user, view] of [[null, 'anon'], [alice, 'user'], [bob, 'moderator']]) {
			const page = await request(env.httpBase, `/chat/${own}`, { headers: user ? as(user) : {} });
			assert.equal(page.status, 200);
			assert.equal(rootOf(page.body), (await render(`/chat/${own}`, view)).body, `view ${view}`);
		}
	});

	test('signed in: <body data-viewer>, and a <style> in <head> showing delete on the viewer\'s own messages', async () => {
		const page = await request(env.httpBase, key, { headers: as(alice) });
		const head = page.body.slice(0, page.body.indexOf('</head>'));
		assert.match(page.body, new RegExp(`<body data-viewer="${alice.id}">`));
		assert.ok(head.includes(`.messages[data-view] .msg[data-author="${alice.id}"] .msg-del{display:inline-block}`), head);
		assert.ok(!head.includes(`data-author="${bob.id}"`));
		const anon = await request(env.httpBase, key);
		assert.doesNotMatch(anon.body.slice(0, anon.body.indexOf('</head>')), /<style/);
	});
});
