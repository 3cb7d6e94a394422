// Pages update in place from pushes: between two windows (1), while the user
// types (2), with one socket however often the client is started (5), and
// after a change made in psql (6). Needs the stack tools/test starts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	launch, open, closeAll, countOf, stillSamePage, until, metric, psql,
	room, delay, postMessage, signUp, ownRoom,
	dropRoom, BASE, waitState, bumpAndSee, manualRoots,
} from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('1. + in one /counter page shows the new count in another within 1 s, without reloads', async () => {
	const a = await open(browser, '/counter');
	const b = await open(browser, '/counter');
	try {
		const v = await countOf(a);
		assert.equal(await countOf(b), v, 'both pages start at the same count');
		const t0 = Date.now();
		await a.click('button[aria-label=Increment]');
		await b.waitForFunction((n) => document.querySelector('#count').textContent.trim() === String(n),
			v + 1, { timeout: 1000, polling: 10 });
		const took = Date.now() - t0;
		assert.ok(took <= 1000, `B showed the new count after ${took} ms`);
		await a.waitForFunction((n) => document.querySelector('#count').textContent.trim() === String(n),
			v + 1, { timeout: 1000, polling: 10 });
		// And back down with −, which also updates both.
		await b.click('button[aria-label=Decrement]');
		await a.waitForFunction((n) => document.querySelector('#count').textContent.trim() === String(n),
			v, { timeout: 1000, polling: 10 });
		for (const p of [a, b]) {
			assert.ok(await stillSamePage(p), 'the page neither navigated nor reloaded');
			assert.equal(p.url().replace(/^https?:\/\/[^/]+/, ''), '/counter');
			assert.equal(p.rec.sockets.length, 1, 'one WebSocket per page');
			assert.deepEqual(p.rec.errors, []);
		}
	} finally {
		await closeAll([a, b]);
	}
});

test('2. a pushed chat message keeps focus, typed text and caret of the other reader', async () => {
	const r = room('caret');
	// Both have a name field (#member-name) next to #text: B owns the
	// room, A is a moderator.
	const [ua, ub] = [await signUp('caret-a'), await signUp('caret-b')];
	await psql(`UPDATE users SET role = 'moderator' WHERE id = ${ua.id}`);
	await ownRoom(ub, r);
	const a = await open(browser, `/chat/${r}`, { user: ua });
	const b = await open(browser, `/chat/${r}`, { user: ub });
	try {
		// B: a name typed but not submitted, half a sentence in the text
		// field, caret moved back into the middle of it.
		await b.fill('#member-name', 'Bea');
		await b.click('#text');
		await b.keyboard.type('The quick brown fox jumps');
		for (let i = 0; i < 9; i++)
			await b.keyboard.press('ArrowLeft');
		const before = await b.evaluate(() => {
			const t = document.querySelector('#text');
			return { value: t.value, start: t.selectionStart, end: t.selectionEnd };
		});
		assert.deepEqual(before, { value: 'The quick brown fox jumps', start: 16, end: 16 });

		// A posts through its own form.
		await a.fill('#member-name', 'Ann');
		await a.fill('#text', 'Hello from A');
		await a.press('#text', 'Enter');
		await b.waitForFunction(() => [...document.querySelectorAll('.messages .msg .text')]
			.some((e) => e.textContent === 'Hello from A'), null, { timeout: 2000, polling: 10 });

		const after1 = await b.evaluate(() => {
			const t = document.querySelector('#text');
			return {
				focused: document.activeElement?.id, value: t.value,
				start: t.selectionStart, end: t.selectionEnd,
				author: document.querySelector('#member-name').value,
			};
		});
		assert.deepEqual(after1, { focused: 'text', value: 'The quick brown fox jumps',
			start: 16, end: 16, author: 'Bea' });
		// B keeps typing where the caret was.
		await b.keyboard.type('red ');
		assert.equal(await b.inputValue('#text'), 'The quick brown red fox jumps');

		// A's form: the text was cleared after the post, the name kept.
		await until('A to show its own message', () => a.evaluate(() =>
			document.querySelector('.messages').textContent.includes('Hello from A')), 2000);
		assert.equal(await a.inputValue('#text'), '');
		assert.equal(await a.inputValue('#member-name'), 'Ann');

		// A selection (not just a caret) survives too, and so does focus in
		// the name field.
		await b.focus('#member-name');
		await b.evaluate(() => document.querySelector('#member-name').setSelectionRange(1, 3));
		await a.fill('#text', 'Second from A');
		await a.press('#text', 'Enter');
		await b.waitForFunction(() => document.querySelectorAll('.messages .msg').length === 2,
			null, { timeout: 2000, polling: 10 });
		const after2 = await b.evaluate(() => {
			const f = document.querySelector('#member-name');
			return { focused: document.activeElement?.id, start: f.selectionStart, end: f.selectionEnd,
				author: f.value, text: document.querySelector('#text').value };
		});
		assert.deepEqual(after2, { focused: 'member-name', start: 1, end: 3, author: 'Bea',
			text: 'The quick brown red fox jumps' });
		for (const p of [a, b]) {
			assert.ok(await stillSamePage(p));
			assert.deepEqual(p.rec.errors, []);
		}
	} finally {
		await closeAll([a, b]);
		await dropRoom(r);
	}
});

test('2b. the scrolled chat list keeps its position; at the bottom it follows new messages', async () => {
	const r = room('scroll');
	for (let i = 1; i <= 40; i++)
		await postMessage(r, 'Seed', `message number ${i}`);
	const b = await open(browser, `/chat/${r}`, { viewport: { width: 900, height: 600 } });
	try {
		const list = '.messages';
		const dims = await b.$eval(list, (e) => ({ top: e.scrollTop, h: e.scrollHeight, c: e.clientHeight }));
		assert.ok(dims.h > dims.c, 'the list scrolls');
		assert.ok(dims.h - dims.top - dims.c < 8, 'the list starts at its newest message');

		// Reader at the bottom: a new message keeps the list at the bottom.
		await postMessage(r, 'Seed', 'message number 41');
		await b.waitForFunction(() => document.querySelector('.messages').textContent.includes('number 41'),
			null, { timeout: 2000, polling: 10 });
		const atEnd = await b.$eval(list, (e) => e.scrollHeight - e.scrollTop - e.clientHeight);
		assert.ok(atEnd < 8, `followed the new message (distance to end ${atEnd})`);

		// Reader scrolled up: the position stays put.
		await b.$eval(list, (e) => { e.scrollTop = 100; });
		await until('the scroll event', () => b.$eval(list, (e) => e.scrollTop === 100));
		await postMessage(r, 'Seed', 'message number 42');
		await b.waitForFunction(() => document.querySelector('.messages').textContent.includes('number 42'),
			null, { timeout: 2000, polling: 10 });
		assert.equal(await b.$eval(list, (e) => e.scrollTop), 100);
		assert.ok(await stillSamePage(b));
	} finally {
		await closeAll([b]);
		await dropRoom(r);
	}
});

test('5. initRealtimeClient called again returns the running client: still one WebSocket', async () => {
	const p = await open(browser, '/counter');
	try {
		await until('pushd to count this client', async () => (await metric('keycast_clients')) >= 1);
		const clientsBefore = await metric('keycast_clients');
		const r = await p.evaluate(() => {
			const first = window.initRealtimeClient({ key: '/counter' });
			// The same key and url (another key re-subscribes the root:
			// tests/browser/roots.test.mjs).
			const second = window.initRealtimeClient({ key: '/counter', url: '/counter' });
			return { same: first === second, key: first.key, url: first.url, state: first.state };
		});
		assert.deepEqual(r, { same: true, key: '/counter', url: '/counter', state: 'live' });
		await until('the warning', () => p.rec.warnings.length >= 1, 2000);
		assert.equal(p.rec.warnings.filter((w) => /initRealtimeClient/.test(w)).length, 1,
			`warned once: ${JSON.stringify(p.rec.warnings)}`);
		// Give a wrongly opened socket time to show up, then count.
		await delay(500);
		assert.equal(p.rec.sockets.length, 1, 'the page opened exactly one WebSocket');
		assert.equal(await metric('keycast_clients'), clientsBefore, 'pushd has no extra client');
		// It still works.
		await bumpAndSee(p);
		assert.deepEqual(p.rec.errors, []);
	} finally {
		await closeAll([p]);
	}
});

test('data-rt-manual: no auto-start; initRealtimeClient({ key, url, root }) wires the page by hand', async () => {
	const p = await open(browser, '/counter', {
		live: false,
		// Mark the roots before the deferred keycast.js runs.
		setup: (ctx) => ctx.addInitScript(manualRoots),
	});
	try {
		await p.waitForFunction(() => typeof window.initRealtimeClient === 'function', null, { timeout: 5000 });
		assert.equal(await p.evaluate(() =>
			document.querySelector('main [data-rt-root]').hasAttribute('data-rt-state')), false);
		assert.equal(p.rec.sockets.length, 0, 'no socket before the call');
		const c = await p.evaluate(() => {
			const cl = window.initRealtimeClient({ key: '/counter', url: '/counter',
				root: document.querySelector('main [data-rt-root]') });
			return { key: cl.key, url: cl.url };
		});
		assert.deepEqual(c, { key: '/counter', url: '/counter' });
		await waitState(p, 'live');
		assert.equal(p.rec.sockets.length, 1);
		assert.match(p.rec.sockets[0].url(), /\/__realtime\?v=2&key=%2Fcounter&url=%2Fcounter$/);
		await bumpAndSee(p);
		assert.deepEqual(p.rec.errors, []);
	} finally {
		await closeAll([p]);
	}
});

test('6. an UPDATE made in psql appears in open pages', async () => {
	const c = await open(browser, '/counter');
	const idx = await open(browser, '/');
	try {
		const v = await countOf(c);
		assert.equal(Number(await idx.textContent('#index-counter')), v);
		await psql("UPDATE counters SET value = value + 1 WHERE name = 'global'");
		await c.waitForFunction((n) => Number(document.querySelector('#count').textContent) === n,
			v + 1, { timeout: 2000, polling: 10 });
		await idx.waitForFunction((n) => Number(document.querySelector('#index-counter').textContent) === n,
			v + 1, { timeout: 2000, polling: 10 });
		await psql("UPDATE counters SET value = value + 41 WHERE name = 'global'");
		await c.waitForFunction((n) => Number(document.querySelector('#count').textContent) === n,
			v + 42, { timeout: 2000, polling: 10 });
		for (const p of [c, idx]) {
			assert.ok(await stillSamePage(p));
			assert.deepEqual(p.rec.errors, []);
		}
	} finally {
		await closeAll([c, idx]);
	}
});

test('idiomorph is served from /static/vendor by the build; without it pages still update', async () => {
	const res = await fetch(`${BASE}/static/vendor/idiomorph.min.js`);
	assert.equal(res.status, 200, 'make copied node_modules/idiomorph into static/vendor');
	assert.match(await res.text(), /Idiomorph/);

	const r = room('nomorph');
	const a = await open(browser, `/chat/${r}`);
	const blocked = [];
	// B owns the room: its view has a name field (#member-name).
	const ub = await signUp('nomorph');
	await ownRoom(ub, r);
	const b = await open(browser, `/chat/${r}`, {
		user: ub,
		setup: (ctx) => ctx.route('**/static/vendor/**', (route) => {
			blocked.push(route.request().url());
			return route.abort();
		}),
	});
	try {
		assert.equal(await a.evaluate(() => typeof window.Idiomorph?.morph), 'function');
		assert.equal(await b.evaluate(() => typeof window.Idiomorph), 'undefined');
		assert.equal(blocked.length, 1);
		// B: a name typed, focus and caret in the text field.
		await b.fill('#member-name', 'Bea');
		await b.click('#text');
		await b.keyboard.type('typing along');
		await b.keyboard.press('ArrowLeft');
		await postMessage(r, 'Ann', 'pushed without morphing');
		await b.waitForFunction(() => document.querySelector('.messages').textContent
			.includes('pushed without morphing'), null, { timeout: 2000, polling: 10 });
		const st = await b.evaluate(() => {
			const t = document.querySelector('#text');
			return { focused: document.activeElement?.id, value: t.value, caret: t.selectionStart,
				author: document.querySelector('#member-name').value };
		});
		assert.deepEqual(st, { focused: 'text', value: 'typing along', caret: 11, author: 'Bea' });
		assert.ok(await stillSamePage(b));
		assert.deepEqual(b.rec.errors, []);
	} finally {
		await closeAll([a, b]);
		await dropRoom(r);
	}
});
