// keycast.js's side of protocol v2 (docs/protocol.md), against a stand-in
// for pushd (fake-pushd.mjs) that can send what a correct pushd never does:
// several roots on one socket, frames routed by (key, url), diffs applied to
// the text held and checked by version, a forged diff answered by one
// resync "r", a 44xx naming one root, and keycast.mjs's initRealtimeClient.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, until, delay } from './helpers.mjs';
import { fakePushd, full, diff, diffOps, fnv1a } from './fake-pushd.mjs';

const HEAD = '<div data-rt-root data-rt-key="global" data-rt-url="/live/today">…</div>';

function page({ manual = false, scripts = '<script src="/static/keycast.js" defer></script>' } = {}) {
	const m = manual ? ' data-rt-manual' : '';
	return `<!doctype html><html><head><meta charset="utf-8"><title>t</title>${scripts}</head>
<body><header>${HEAD.replace('data-rt-root', `data-rt-root${m}`)}</header>
<main><div data-rt-root${m} data-rt-key="/board" id="main">loading</div></main></body></html>`;
}

const BOARD = (items) => '<form method="post" action="/x"><input id="text" name="text" value=""></form>\n' +
	'<ul id="list">\n' + items.map((i) => `<li>${i}</li>\n`).join('') + '</ul>\n';
const TODAY = (n) => `<p id="today">${n} today</p>`;

// The classic script (auto-start) and the module, as a page that follows
// the guide's "import initRealtimeClient" beside the layout's script would.
const BOTH = '<script src="/static/keycast.js" defer></script>' +
	'<script type="module">import { initRealtimeClient } from "/static/keycast.mjs"; window.kcInit = initRealtimeClient;</script>';

let browser, fake;
before(async () => {
	browser = await launch();
	fake = await fakePushd({
		'/board': page(),
		'/manual': page({ manual: true }),
		'/both': page({ manual: true, scripts: BOTH }),
		'/both-auto': page({ scripts: BOTH }),
	});
});
after(async () => {
	await browser?.close();
	await fake?.close();
});

// A page at fake's path; rec.errors: page errors; rec.warnings.
async function open(urlPath) {
	const context = await browser.newContext();
	const p = await context.newPage();
	p.rec = { errors: [], warnings: [] };
	p.on('pageerror', (e) => p.rec.errors.push(e.message));
	p.on('console', (m) => { if (m.type() === 'warning') p.rec.warnings.push(m.text()); });
	// Every socket the page makes, and how many others were still
	// connecting or open when it was made.
	await context.addInitScript(() => {
		const Native = window.WebSocket;
		window.__kcSockets = [];
		window.__kcOverlap = 0;
		window.WebSocket = class extends Native {
			constructor(...args) {
				const busy = window.__kcSockets.filter((s) => s.readyState <= 1).length;
				window.__kcOverlap = Math.max(window.__kcOverlap, busy);
				super(...args);
				window.__kcSockets.push(this);
			}
		};
	});
	await p.goto(fake.base + urlPath);
	return p;
}

const fresh = () => fake.sockets.length;
const html = (p, sel) => p.$eval(sel, (e) => e.innerHTML);
const attr = (p, sel, a) => p.$eval(sel, (e, a) => e.getAttribute(a), a);
const HDR = '[data-rt-key=global]';

// Records keycast:update and keycast:state events of every root.
const recordEvents = (p) => p.evaluate(() => {
	window.__kcEvents = [];
	for (const r of document.querySelectorAll('[data-rt-root]'))
		for (const t of ['keycast:update', 'keycast:state'])
			r.addEventListener(t, (e) => window.__kcEvents.push(
				{ root: r.getAttribute('data-rt-key'), type: t, detail: e.detail }));
});
const events = (p) => p.evaluate(() => window.__kcEvents);

test('two roots, one v2 socket: frames route by (key, url); a frame for one leaves the other untouched', async () => {
	const n0 = fresh();
	const p = await open('/board?x=1');
	try {
		await recordEvents(p);
		const s = await fake.socket(n0 + 1);
		assert.equal(s.v, '2');
		assert.deepEqual(s.pairs, [['/board', '/board?x=1'], ['global', '/live/today']], 'the page\'s own root first');
		assert.match(s.extensions, /permessage-deflate/, 'the browser offered permessage-deflate');
		await until('both roots live', async () => (await attr(p, '#main', 'data-rt-state')) === 'live' &&
			(await attr(p, HDR, 'data-rt-state')) === 'live');
		s.ws.send(full('/board', '/board?x=1', BOARD(['one', 'two'])));
		s.ws.send(full('global', '/live/today', TODAY(3)));
		await until('both fragments', async () => (await html(p, '#main')) === BOARD(['one', 'two']) &&
			(await html(p, HDR)) === TODAY(3));
		// Watch the main root, then update the header only (a big frame:
		// compressed by the stand-in).
		await p.evaluate(() => {
			window.__kcMutations = 0;
			new MutationObserver((l) => { window.__kcMutations += l.length; })
				.observe(document.getElementById('main'), { subtree: true, childList: true, attributes: true, characterData: true });
		});
		const big = TODAY(4) + '<!--' + 'x'.repeat(2000) + '-->';
		s.ws.send(full('global', '/live/today', big));
		await until('the header', async () => (await html(p, HDR)) === big);
		s.ws.send(diff('global', '/live/today', big, TODAY(5)));
		await until('the header diff', async () => (await html(p, HDR)) === TODAY(5));
		assert.equal(await p.evaluate(() => window.__kcMutations), 0, 'the main root was not touched');
		assert.equal(await html(p, '#main'), BOARD(['one', 'two']));
		const ev = await events(p);
		assert.deepEqual(ev.filter((e) => e.type === 'keycast:update'), [
			{ root: '/board', type: 'keycast:update', detail: { key: '/board', url: '/board?x=1' } },
			{ root: 'global', type: 'keycast:update', detail: { key: 'global', url: '/live/today' } },
			{ root: 'global', type: 'keycast:update', detail: { key: 'global', url: '/live/today' } },
			{ root: 'global', type: 'keycast:update', detail: { key: 'global', url: '/live/today' } },
		]);
		assert.equal(await p.evaluate(() => window.__kcSockets.length), 1, 'exactly one WebSocket');
		assert.deepEqual(s.received, [], 'no resync');
		assert.deepEqual(p.rec.errors, []);
	} finally {
		await p.context().close();
	}
});

test('a diff applies to the text held: typed text and caret survive the morph', async () => {
	const n0 = fresh();
	const p = await open('/board');
	try {
		const s = await fake.socket(n0 + 1);
		const a = BOARD(['one', 'two']), b = BOARD(['two', 'three']);
		s.ws.send(full('/board', '/board', a));
		await until('the fragment', async () => (await html(p, '#main')) === a);
		await p.click('#text');
		await p.keyboard.type('half a sentence');
		await p.evaluate(() => document.getElementById('text').setSelectionRange(4, 6));
		await recordEvents(p);
		s.ws.send(diff('/board', '/board', a, b));
		await until('the diff applied', async () => (await p.$$eval('#list li', (l) => l.map((e) => e.textContent).join())) === 'two,three');
		const f = await p.evaluate(() => {
			const t = document.getElementById('text');
			return { focused: document.activeElement === t, value: t.value, start: t.selectionStart, end: t.selectionEnd };
		});
		assert.deepEqual(f, { focused: true, value: 'half a sentence', start: 4, end: 6 });
		assert.deepEqual((await events(p)).filter((e) => e.root === '/board').map((e) => e.type), ['keycast:update']);
		assert.deepEqual(s.received, [], 'no resync');
		assert.deepEqual(p.rec.errors, []);
	} finally {
		await p.context().close();
	}
});

// A diff the client must refuse: no morph, one "r", then F puts it right.
const FORGED = [
	['a wrong base', (a, b) => diff('/board', '/board', a, b, undefined, 'deadbeef')],
	['malformed ops (cursor not at the end)', (a, b) => diff('/board', '/board', a, b, '[1,"<li>x</li>\\n"]')],
	['ops that are not an array', (a, b) => diff('/board', '/board', a, b, '{"copy":1}')],
	['a result with another version', (a, b) => `D ${fnv1a(a)} ${fnv1a(b + ' ')} /board /board\n${diffOps(a, b)}`],
];
for (const [what, forge] of FORGED) {
	test(`a forged diff (${what}) is not applied: the client sends "r" once and takes the next F`, async () => {
		const n0 = fresh();
		const p = await open('/board');
		try {
			const s = await fake.socket(n0 + 1);
			const a = BOARD(['one', 'two']), b = BOARD(['one', 'two', 'three']), c = BOARD(['four']);
			s.ws.send(full('/board', '/board', a));
			s.ws.send(full('global', '/live/today', TODAY(1)));
			await until('the fragments', async () => (await html(p, '#main')) === a && (await html(p, HDR)) === TODAY(1));
			await recordEvents(p);
			s.ws.send(forge(a, b));
			await until('the resync', () => s.received.length >= 1);
			// Diffs on the way before pushd saw "r" are dropped, with no
			// second "r".
			s.ws.send(diff('/board', '/board', a, b));
			s.ws.send(forge(a, b));
			s.ws.send(full('global', '/live/today', TODAY(2)));
			await until('the header', async () => (await html(p, HDR)) === TODAY(2));
			assert.equal(await html(p, '#main'), a, 'the page was not changed by the forged diff');
			assert.deepEqual(s.received, ['r']);
			// pushd's answer to "r": every root's full fragment.
			s.ws.send(full('/board', '/board', c));
			await until('the full fragment', async () => (await html(p, '#main')) === c);
			// And diffs apply again.
			s.ws.send(diff('/board', '/board', c, a));
			await until('the next diff', async () => (await html(p, '#main')) === a);
			assert.deepEqual(s.received, ['r'], 'one resync');
			assert.deepEqual((await events(p)).filter((e) => e.root === '/board' && e.type === 'keycast:update').length, 2);
			assert.equal(await attr(p, '#main', 'data-rt-state'), 'live');
			assert.ok(p.rec.warnings.some((w) => /does not apply/.test(w)), 'a warning says why');
			assert.deepEqual(p.rec.errors, []);
		} finally {
			await p.context().close();
		}
	});
}

test('keycast.mjs: initRealtimeClient resolves after the first fragment, rejects on 4404 with code and reason', async () => {
	const n0 = fresh();
	const p = await open('/manual');
	try {
		await p.evaluate(() => {
			window.__kcResult = null;
			import('/static/keycast.mjs').then((m) => m.initRealtimeClient({ key: '/board', root: '#main' }))
				.then((c) => { window.__kcResult = { ok: c.key, html: document.getElementById('main').innerHTML }; },
					(e) => { window.__kcResult = { err: e.code }; });
		});
		const s = await fake.socket(n0 + 1);
		assert.deepEqual(s.pairs, [['/board', '/manual']], 'the main root: key /board, url path+query');
		await delay(200);
		assert.equal(await p.evaluate(() => window.__kcResult), null, 'not before the first fragment');
		s.ws.send(full('/board', '/manual', BOARD(['x'])));
		assert.deepEqual(await until('the Promise', () => p.evaluate(() => window.__kcResult)),
			{ ok: '/board', html: BOARD(['x']) });

		// The header root, refused.
		await recordEvents(p);
		await p.evaluate(() => {
			window.__kcResult = null;
			import('/static/keycast.mjs').then((m) => m.initRealtimeClient({ root: '[data-rt-key=global]' }))
				.then(() => { window.__kcResult = { ok: true }; },
					(e) => { window.__kcResult = { code: e.code, reason: e.reason, msg: e.message }; });
		});
		const s2 = await fake.socket(n0 + 2);
		assert.deepEqual(s2.pairs, [['/board', '/manual'], ['global', '/live/today']]);
		s2.ws.close(4404, 'global: no such page');
		const r = await until('the rejection', () => p.evaluate(() => window.__kcResult));
		assert.equal(r.code, 4404);
		assert.equal(r.reason, 'global: no such page');
		assert.match(r.msg, /4404/);
		assert.equal(await attr(p, HDR, 'data-rt-closed'), '4404');
		assert.equal(await attr(p, HDR, 'data-rt-state'), 'offline');
		const st = (await events(p)).filter((e) => e.type === 'keycast:state' && e.root === 'global');
		assert.deepEqual(st.at(-1).detail, { state: 'offline', code: 4404 });
		// The other root goes on, on a socket without the refused pair.
		const s3 = await fake.socket(n0 + 3);
		assert.deepEqual(s3.pairs, [['/board', '/manual']]);
		s3.ws.send(full('/board', '/manual', BOARD(['y'])));
		await until('the main root live again', async () => (await attr(p, '#main', 'data-rt-state')) === 'live' &&
			(await html(p, '#main')) === BOARD(['y']));
		assert.equal(await p.evaluate(() => document.getElementById('main').hasAttribute('data-rt-closed')), false);
		await delay(300);
		assert.equal(fresh(), n0 + 3, 'no attempt for the refused root');
		assert.deepEqual(p.rec.errors, []);
	} finally {
		await p.context().close();
	}
});

for (const [code, reason, what] of [[4400, 'too many roots (max 1)', 'a 44xx without a key in its reason'],
	[4401, 'global: sign in again', '4401 (the session is the page\'s), whatever key it names']]) {
	test(`${what} stops every root`, async () => {
		const n0 = fresh();
		const p = await open('/board');
		try {
			const s = await fake.socket(n0 + 1);
			await until('live', async () => (await attr(p, '#main', 'data-rt-state')) === 'live');
			s.ws.close(code, reason);
			await until('both stopped', async () => (await attr(p, '#main', 'data-rt-closed')) === String(code) &&
				(await attr(p, HDR, 'data-rt-closed')) === String(code));
			await delay(500);
			assert.equal(fresh(), n0 + 1, 'no reconnect');
			assert.equal(await p.evaluate(() => document.querySelectorAll('[data-rt-status]').length), 1,
				'one live region, the main root\'s');
			assert.deepEqual(p.rec.errors, []);
		} finally {
			await p.context().close();
		}
	});
}

test('a second initRealtimeClient: same key, the same Promise and no socket; another key re-subscribes the root, one socket at a time', async () => {
	const n0 = fresh();
	const p = await open('/both');
	try {
		await p.waitForFunction(() => typeof window.kcInit === 'function');
		const r = await p.evaluate(() => {
			const a = window.kcInit({ key: '/board' });
			const b = window.kcInit({ key: '/board', url: '/both' });
			const c = window.kcInit({ key: '/board', root: document.getElementById('main') });
			return { same: a === b && b === c, classic: window.initRealtimeClient({ key: '/board' }).ready === a };
		});
		assert.deepEqual(r, { same: true, classic: true });
		const s = await fake.socket(n0 + 1);
		assert.deepEqual(s.pairs, [['/board', '/both']]);
		s.ws.send(full('/board', '/both', BOARD(['a'])));
		await until('the fragment', async () => (await html(p, '#main')) === BOARD(['a']));
		await delay(300);
		assert.equal(await p.evaluate(() => window.__kcSockets.length), 1, 'one WebSocket, two scripts, three calls');
		assert.equal(p.rec.warnings.filter((w) => /initRealtimeClient/.test(w)).length, 1, 'warned once');

		// Another key on the same root.
		await p.evaluate(() => {
			window.__kcOther = null;
			window.kcInit({ key: '/other', url: '/other' }).then((c) => { window.__kcOther = c.key; });
		});
		const s2 = await fake.socket(n0 + 2);
		assert.deepEqual(s2.pairs, [['/other', '/other']]);
		await until('the first socket closed', () => !s.open);
		s2.ws.send(full('/other', '/other', '<p>other</p>'));
		assert.equal(await until('resolved', () => p.evaluate(() => window.__kcOther)), '/other');
		assert.equal(await html(p, '#main'), '<p>other</p>');
		assert.equal(await p.evaluate(() => window.__kcOverlap), 0, 'never two sockets at once');
		assert.equal(await attr(p, '#main', 'data-rt-state'), 'live');
		assert.equal(await p.evaluate(() => document.querySelectorAll('[data-rt-status]').length), 1,
			'one status badge for the root');
		assert.deepEqual(p.rec.errors, []);
	} finally {
		await p.context().close();
	}
});

test('keycast.js and keycast.mjs on one page: one client, one socket (the guide\'s first pitfall)', async () => {
	const n0 = fresh();
	const p = await open('/both-auto');
	try {
		await p.waitForFunction(() => typeof window.kcInit === 'function');
		const s = await fake.socket(n0 + 1);
		assert.deepEqual(s.pairs, [['/board', '/both-auto'], ['global', '/live/today']]);
		s.ws.send(full('/board', '/both-auto', BOARD(['b'])));
		await delay(300);
		assert.equal(await p.evaluate(() => window.__kcSockets.length), 1, 'one WebSocket');
		const same = await p.evaluate(() => window.kcInit({ key: '/board' }).then((c) =>
			c === window.initRealtimeClient({ root: '#main' }) && c.root.id === 'main'));
		assert.equal(same, true, 'the module\'s call gets the auto-started root');
		const err = await p.evaluate(() => window.kcInit({ root: '#nowhere' }).then(() => null, (e) => e.message));
		assert.match(err, /no realtime root/);
		await delay(300);
		assert.equal(await p.evaluate(() => window.__kcSockets.length), 1, 'one WebSocket');
		assert.equal(fresh(), n0 + 1);
		assert.deepEqual(p.rec.errors, []);
	} finally {
		await p.context().close();
	}
});

test('a pushd from before v2 (bare fragments, the first pair only): the first root takes them, no resync', async () => {
	const n0 = fresh();
	const p = await open('/board');
	try {
		const s = await fake.socket(n0 + 1);
		await until('live', async () => (await attr(p, '#main', 'data-rt-state')) === 'live');
		// What pushd 1 sends for the first pair: the page's own (/board).
		s.ws.send('<p>board 7</p>');
		s.ws.send('<p>board 8</p>');
		await until('the page\'s root', async () => (await html(p, '#main')) === '<p>board 8</p>');
		assert.notEqual(await html(p, HDR), '<p>board 8</p>', 'the header root waits');
		assert.deepEqual(s.received, []);
		assert.deepEqual(p.rec.warnings.filter((w) => /keycast/.test(w)), []);
		assert.deepEqual(p.rec.errors, []);
	} finally {
		await p.context().close();
	}
});
