// Forms: with JavaScript off they are plain posts answered 303 (4); with it
// on keycast.js posts them with fetch, disables the button in flight, shows
// a 422's message or a network error next to the form, clears the text field.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	launch, open, closeAll, stillSamePage, countOf, room, BASE, screenshot,
	postMessage, signUp, ownRoom,
	dropRoom, bumpAndSee,
} from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

function statuses(page) {
	const seen = [];
	page.on('response', (r) => {
		const u = new URL(r.url());
		if (!u.pathname.startsWith('/static/'))
			seen.push(`${r.request().method()} ${u.pathname} ${r.status()}`);
	});
	return seen;
}

test('4. JavaScript disabled: + is a plain POST answered 303, and the page shows the new count', async () => {
	const r = room('nojs');
	const p = await open(browser, '/counter', { js: false, user: await signUp('nojs') });
	try {
		const seen = statuses(p);
		const v = await countOf(p);
		await Promise.all([
			p.waitForNavigation({ url: `${BASE}/counter` }),
			p.click('button[aria-label=Increment]'),
		]);
		assert.deepEqual(seen, ['POST /api/counter/increment 303', 'GET /counter 200']);
		assert.equal(await countOf(p), v + 1);
		assert.equal(p.rec.sockets.length, 0, 'no WebSocket without JavaScript');

		// The chat form too.
		await p.goto(`${BASE}/chat/${r}`);
		seen.length = 0;
		await p.fill('#text', 'sent without JavaScript');
		await Promise.all([
			p.waitForNavigation({ url: `${BASE}/chat/${r}` }),
			p.click('.compose button[type=submit]'),
		]);
		assert.deepEqual(seen, [`POST /api/chat/${r}/messages 303`, `GET /chat/${r} 200`]);
		assert.match(await p.textContent('.messages'), /sent without JavaScript/);
	} finally {
		await closeAll([p]);
		await dropRoom(r);
	}
});

test('with JavaScript the post is a fetch with X-Keycast: 1, answered 204; no navigation', async () => {
	const p = await open(browser, '/counter');
	try {
		const posts = [];
		p.on('request', (rq) => {
			if (rq.method() === 'POST')
				posts.push({ type: rq.resourceType(), xk: rq.headers()['x-keycast'],
					ct: rq.headers()['content-type'] });
		});
		const seen = statuses(p);
		const v = await countOf(p);
		await p.click('button[aria-label=Increment]');
		await p.waitForFunction((n) => Number(document.querySelector('#count').textContent) === n,
			v + 1, { timeout: 2000, polling: 10 });
		assert.deepEqual(seen, ['POST /api/counter/increment 204']);
		assert.deepEqual(posts, [{ type: 'fetch', xk: '1',
			ct: 'application/x-www-form-urlencoded;charset=UTF-8' }]);
		assert.ok(await stillSamePage(p));
		assert.deepEqual(p.rec.errors, []);
	} finally {
		await closeAll([p]);
	}
});

test('a 422 shows its message next to the form; a later good post clears it and the text field', async () => {
	const r = room('err');
	// The owner's view: a second field (#member-name) besides #text.
	const owner = await signUp('err');
	await ownRoom(owner, r);
	const p = await open(browser, `/chat/${r}`, { user: owner });
	const tooLong = 'a message to keep '.repeat(30).slice(0, 501);
	try {
		await p.fill('#member-name', 'Kim');
		// 501 characters: the browser's maxlength passes pasted-in text
		// through fill, the server counts and refuses.
		await p.evaluate((t) => { document.querySelector('#text').value = t; }, tooLong);
		await p.press('#text', 'Enter');
		const err = await p.waitForSelector('.compose .form-error', { timeout: 2000 });
		assert.equal(await err.textContent(), 'A message must be 1 to 500 characters.');
		assert.equal(await err.getAttribute('role'), 'alert');
		assert.equal(await p.inputValue('#text'), tooLong, 'nothing lost on a 422');
		assert.equal(await p.isEnabled('.compose button[type=submit]'), true);
		await screenshot(p, 'chat-form-error-desktop');

		// The error survives a push that re-renders the form.
		await postMessage(r, 'Other', 'someone else talks');
		await p.waitForFunction(() => document.querySelector('.messages').textContent
			.includes('someone else talks'), null, { timeout: 2000, polling: 10 });
		assert.equal(await p.textContent('.compose .form-error'), 'A message must be 1 to 500 characters.');

		await p.fill('#text', 'a message to keep');
		await p.press('#text', 'Enter');
		await p.waitForFunction(() => document.querySelector('.messages').textContent
			.includes('a message to keep'), null, { timeout: 2000, polling: 10 });
		assert.equal(await p.$('.form-error'), null, 'the error is gone');
		assert.equal(await p.inputValue('#text'), '', 'the text field was cleared');
		assert.equal(await p.inputValue('#member-name'), 'Kim', 'the name stays');
		assert.deepEqual(p.rec.errors, []);
	} finally {
		await closeAll([p]);
		await dropRoom(r);
	}
});

test('the button is disabled while the post is in flight; a network error says so', async () => {
	const p = await open(browser, '/counter');
	try {
		const plus = 'button[aria-label=Increment]';
		let release;
		const held = new Promise((res) => { release = res; });
		await p.route('**/api/counter/increment', async (route) => {
			await held;
			await route.abort('internetdisconnected');
		});
		await p.click(plus);
		await p.waitForFunction((s) => document.querySelector(s).disabled, plus,
			{ timeout: 2000, polling: 10 });
		// A push while in flight does not re-enable it.
		const shown = await bumpAndSee(p);
		assert.equal(await p.isDisabled(plus), true);
		release();
		const err = await p.waitForSelector('.counter .form-error', { timeout: 3000 });
		assert.match(await err.textContent(), /network error|offline/i);
		assert.equal(await p.isEnabled(plus), true);
		await screenshot(p, 'counter-network-error-desktop');

		// Next try goes through and clears the message.
		await p.unroute('**/api/counter/increment');
		await p.click(plus);
		await p.waitForFunction((n) => Number(document.querySelector('#count').textContent) === n,
			shown + 1, { timeout: 2000, polling: 10 });
		assert.equal(await p.$('.form-error'), null);
		assert.ok(await stillSamePage(p));
		assert.deepEqual(p.rec.errors, []);
	} finally {
		await closeAll([p]);
	}
});
