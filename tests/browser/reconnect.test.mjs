// Surviving disconnects (3): pushd stops and starts again while pages are
// open. Also: retry at once on "online" and on the tab becoming visible, and
// no retry after the app refuses the url (4403, a url not of its key).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	launch, open, closeAll, stillSamePage, until, stack, room, rtState,
	waitState, screenshot, delay,
	dropRoom, statusText,
	signUp,
} from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => {
	await browser?.close();
	// Whatever happened above, leave pushd running for the next tests.
	await stack('start', 'pushd');
});

const badge = statusText;

test('3. pushd restarted: pages show "reconnecting", come back live and show what was posted meanwhile', async () => {
	const r = room('restart');
	const a = await open(browser, `/chat/${r}`, { user: await signUp('restart-a') });
	const b = await open(browser, `/chat/${r}`, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true,
		user: await signUp('restart-b') });
	try {
		assert.equal(await badge(a), '', 'no badge while live');
		await stack('stop', 'pushd');
		for (const p of [a, b]) {
			await until('the page to leave the live state', async () => (await rtState(p)) !== 'live', 5000);
			// It shows after a moment (no flash on every page load).
			await until('the badge', async () => /reconnecting/.test(await badge(p)), 3000);
			await until('the badge to be visible', () => p.evaluate(() => {
				const el = document.querySelector('.rt-status');
				return getComputedStyle(el).opacity === '1' && el.getBoundingClientRect().width > 0;
			}), 3000);
		}
		await screenshot(a, 'chat-reconnecting-desktop');
		await screenshot(b, 'chat-reconnecting-phone');

		// The app still takes posts while pushd is away.
		await a.fill('#text', 'posted while pushd was down');
		await a.press('#text', 'Enter');
		await until('A\'s post to succeed', async () => (await a.inputValue('#text')) === '', 5000);
		assert.equal(await a.$('.form-error'), null, 'no error shown for the post');
		// A fetched its page after the post (nothing could be pushed); B
		// cannot know until pushd is back.
		await a.waitForFunction(() => document.querySelector('.messages').textContent
			.includes('posted while pushd was down'), null, { timeout: 3000, polling: 10 });
		assert.ok(!(await b.textContent('.messages')).includes('posted while pushd was down'),
			'nothing can be pushed while pushd is down');

		const socketsBefore = a.rec.sockets.length;
		await stack('start', 'pushd');
		for (const p of [a, b]) {
			// Backoff is capped at 10 s: allow one full window plus margin.
			await waitState(p, 'live', 15000);
			await p.waitForFunction(() => document.querySelector('.messages').textContent
				.includes('posted while pushd was down'), null, { timeout: 3000, polling: 10 });
			assert.equal(await badge(p), '');
			assert.ok(await stillSamePage(p), 'no reload');
			assert.deepEqual(p.rec.errors, []);
		}
		// Backoff, not hammering: a handful of attempts during the outage.
		const attempts = a.rec.sockets.length - 1;
		assert.ok(attempts >= 1 && attempts <= 15, `A tried ${attempts} times`);
		assert.ok(a.rec.sockets.length > socketsBefore, 'A went live on a socket opened after pushd came back');
		// Live again for real: a new message arrives by push.
		await b.fill('#text', 'and after the restart');
		await b.press('#text', 'Enter');
		await a.waitForFunction(() => document.querySelector('.messages').textContent
			.includes('and after the restart'), null, { timeout: 2000, polling: 10 });
	} finally {
		await stack('start', 'pushd');
		await closeAll([a, b]);
		await dropRoom(r);
	}
});

test('the "online" event and the tab becoming visible retry at once, skipping the backoff wait', async () => {
	const a = await open(browser, '/counter');
	const b = await open(browser, '/counter');
	try {
		await stack('stop', 'pushd');
		await until('both pages offline', async () =>
			(await rtState(a)) !== 'live' && (await rtState(b)) !== 'live', 5000);
		// Let the backoff grow (attempts about 250, 500, 1000, 2000, 4000 ms
		// windows) so that the next retry is likely seconds away.
		await delay(5000);
		await stack('start', 'pushd');
		const t0 = Date.now();
		await a.evaluate(() => window.dispatchEvent(new Event('online')));
		await b.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
		await waitState(a, 'live', 1500);
		await waitState(b, 'live', 1500);
		const took = Date.now() - t0;
		assert.ok(took < 1500, `back live ${took} ms after the events`);
	} finally {
		await stack('start', 'pushd');
		await closeAll([a, b]);
	}
});

test('a url the app refuses (not its key\'s: 4403) closes and the client does not retry', async () => {
	const page = await open(browser, '/counter');
	try {
		// Stop the page's own client, then wire one by hand to a url that is
		// no page of key /counter (the app's authorize answer: 403).
		const n = await page.evaluate(() => {
			window.initRealtimeClient().close();
			window.initRealtimeClient({ key: '/counter', url: '/no/such/page' });
			return document.querySelectorAll('main [data-rt-root]').length;
		});
		assert.equal(n, 1, 'the hand-wired client made no root of its own');
		await page.waitForFunction(() =>
			document.querySelector('main [data-rt-root]').getAttribute('data-rt-closed') === '4403',
		null, { timeout: 5000, polling: 20 });
		assert.equal(await rtState(page), 'offline');
		// The first socket, the hand-wired root's, and the header's root
		// (key global) going on alone.
		const refused = () => page.rec.sockets.filter((s) => /[?&]url=%2Fno%2Fsuch%2Fpage(&|$)/.test(s.url())).length;
		await until('the header\'s socket', () => page.rec.sockets.length === 3);
		assert.equal(refused(), 1, 'one socket for the hand-wired root');
		assert.match(page.rec.sockets[2].url(), /\?v=2&key=global&url=%2Flive%2Ftoday$/);
		// Nudges do not revive it either.
		await page.evaluate(() => {
			window.dispatchEvent(new Event('online'));
			document.dispatchEvent(new Event('visibilitychange'));
		});
		await delay(1000);
		assert.equal(page.rec.sockets.length, 3, 'no further attempt');
		assert.match(await badge(page), /live updates off/);
		assert.deepEqual(page.rec.errors, []);
	} finally {
		await closeAll([page]);
	}
});
