// Several live regions on one socket, through the real stack (nginx,
// keycast-pushd with protocol v2, keycast-fcgi, PostgreSQL): a /counter page
// given a second root (a chat room) subscribes both over one WebSocket; a
// notify of one key leaves the other root untouched; chat updates arrive as
// diffs (D) that keep the typed text and caret; keycast.mjs's
// initRealtimeClient resolves on the first fragment and rejects on 44xx;
// another key re-subscribes the root over one socket at a time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	launch, open, closeAll, room, dropRoom, postMessage, bumpAndSee, signUp, until, delay,
	manualRoot, BASE,
} from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

// open()'s setup: puts a second root (key and url /chat/ROOM) right after
// the page's root before the deferred keycast.js runs, and records the
// text frames the page's sockets receive and send.
function withChatRoot(roomName) {
	return async (context) => {
		await context.addInitScript((r) => {
			new MutationObserver((_, mo) => {
				const main = document.querySelector('main [data-rt-root]');
				if (main && main.parentNode) {
					const el = document.createElement('div');
					el.setAttribute('data-rt-root', '');
					el.setAttribute('data-rt-key', `/chat/${r}`);
					el.setAttribute('data-rt-url', `/chat/${r}`);
					el.id = 'second';
					main.after(el);
					mo.disconnect();
				}
			}).observe(document, { childList: true, subtree: true });
		}, roomName);
		context.frames = { in: [], out: [] };
		context.on('page', (p) => p.on('websocket', (ws) => {
			ws.on('framereceived', (f) => context.frames.in.push(String(f.payload)));
			ws.on('framesent', (f) => context.frames.out.push(String(f.payload)));
		}));
	};
}

const MAIN = '[data-rt-root]:not(#second)';
const state = (p, sel) => p.$eval(sel, (e) => e.getAttribute('data-rt-state'));

test('two roots on one socket: each updates alone, a notify of one leaves the other untouched, diffs keep the caret', async () => {
	const r = room('roots');
	const user = await signUp('roots');
	const p = await open(browser, '/counter', { live: false, user, setup: withChatRoot(r) });
	const frames = p.context().frames;
	try {
		await until('both roots live with their fragments', async () =>
			(await state(p, MAIN)) === 'live' && (await state(p, '#second')) === 'live' &&
			(await p.$('#second .messages')) !== null, 10000);
		assert.equal(p.rec.sockets.length, 1, 'one WebSocket for both roots');
		const q = new URL(p.rec.sockets[0].url()).searchParams;
		assert.equal(q.get('v'), '2');
		// The page's own root first, then the others in document order:
		// the layout's header root (key global), then the chat's.
		assert.deepEqual([q.getAll('key'), q.getAll('url')],
			[['/counter', 'global', `/chat/${r}`], ['/counter', '/live/today', `/chat/${r}`]]);
		assert.ok(frames.in.some((f) => f.startsWith(`F `) && f.split('\n')[0].endsWith(` /chat/${r} /chat/${r}`)),
			'a full frame named the chat root');

		// Count every change of each root from now on.
		await p.evaluate(() => {
			window.__kcMut = { main: 0, second: 0 };
			for (const [name, el] of [['main', document.querySelector('main [data-rt-root]:not(#second)')],
				['second', document.getElementById('second')]])
				new MutationObserver((l) => { window.__kcMut[name] += l.length; })
					.observe(el, { subtree: true, childList: true, attributes: true, characterData: true });
		});
		const mut = () => p.evaluate(() => ({ ...window.__kcMut }));

		// The counter's key: the chat root stays as it was.
		await bumpAndSee(p);
		await delay(300);	// a wrong frame for the chat root would land now
		assert.equal((await mut()).second, 0, 'a notify of /counter left the chat root untouched');
		assert.ok((await mut()).main > 0);

		// The chat's key: the counter root stays as it was. Half a
		// sentence typed in the chat root, caret in its middle.
		await p.click('#second #text');
		await p.keyboard.type('The quick brown fox');
		for (let i = 0; i < 4; i++)
			await p.keyboard.press('ArrowLeft');
		const mainBefore = (await mut()).main;
		await postMessage(r, 'Rootsa', 'first message');
		await p.waitForFunction(() => document.querySelector('#second .messages').textContent.includes('first message'),
			null, { timeout: 5000, polling: 10 });
		await postMessage(r, 'Rootsb', 'second message');
		await p.waitForFunction(() => document.querySelector('#second .messages').textContent.includes('second message'),
			null, { timeout: 5000, polling: 10 });
		await delay(300);
		assert.equal((await mut()).main, mainBefore, 'a notify of the chat left the counter root untouched');
		const f = await p.evaluate(() => {
			const t = document.querySelector('#second #text');
			return { focused: document.activeElement === t, value: t.value, start: t.selectionStart, end: t.selectionEnd };
		});
		assert.deepEqual(f, { focused: true, value: 'The quick brown fox', start: 15, end: 15 });
		assert.ok(frames.in.some((x) => x.startsWith('D ') && x.split('\n')[0].endsWith(` /chat/${r} /chat/${r}`)),
			`the chat's update came as a diff: ${frames.in.map((x) => x.split('\n')[0]).join(' | ')}`);
		assert.deepEqual(frames.out, [], 'every diff applied: no resync');
		assert.equal(p.rec.sockets.length, 1, 'still one WebSocket');
		assert.deepEqual(p.rec.errors, []);
	} finally {
		await closeAll([p]);
		await dropRoom(r);
	}
});

test('keycast.mjs through nginx: initRealtimeClient resolves on the first fragment, rejects on 44xx with its code', async () => {
	const p = await open(browser, '/counter', { live: false, setup: manualRoot });
	try {
		await p.waitForFunction(() => typeof window.initRealtimeClient === 'function');
		const ok = await p.evaluate(() => import('/static/keycast.mjs')
			.then((m) => m.initRealtimeClient({ key: '/counter' }))
			.then((c) => ({ key: c.key, url: c.url, count: document.querySelector('#count') !== null,
				state: c.root.getAttribute('data-rt-state') })));
		assert.deepEqual(ok, { key: '/counter', url: '/counter', count: true, state: 'live' });
		await bumpAndSee(p);
		// Another key on the same root: one socket at a time, and pushd
		// refuses it (the app's authorize: 403; fake-pushd's tests
		// cover 4404).
		const err = await p.evaluate(() => import('/static/keycast.mjs')
			.then((m) => m.initRealtimeClient({ key: '/no-such-page', url: '/no-such-page' }))
			.then(() => null, (e) => ({ code: e.code, reason: e.reason })));
		assert.deepEqual(err, { code: 4403, reason: '/no-such-page: url does not belong to key' });
		assert.equal(await p.$eval('main [data-rt-root]', (e) => e.getAttribute('data-rt-closed')), '4403');
		assert.equal(await p.evaluate(() => window.__kcSockets.length), 2);
		assert.equal(await p.evaluate(() => window.__kcSockets[0].readyState), 3, 'the first socket closed');
		assert.deepEqual(p.rec.errors, []);
	} finally {
		await closeAll([p]);
	}
});

test('keycast.mjs loads as a module through lighttpd too', async () => {
	const lighttpd = BASE.replace(/:\d+$/, `:${process.env.KC_LIGHTTPD_PORT || 18082}`);
	const res = await fetch(`${lighttpd}/static/keycast.mjs`);
	assert.equal(res.status, 200);
	assert.match(res.headers.get('content-type'), /^text\/javascript/);
	const nginx = await fetch(`${BASE}/static/keycast.mjs`);
	assert.match(nginx.headers.get('content-type'), /^text\/javascript/);
});
