// 200 rapid updates in Chromium through nginx, with keycast-pushd's defaults
// (diffs and permessage-deflate on), issue 11: the socket negotiates
// permessage-deflate, updates arrive as diffs (D frames) that keycast.js
// applies without ever asking for a resync, and at the end each page shows
// exactly what the database holds: the counter's value on two pages, the
// last 50 messages of a chat room whose sliding window dropped one message
// per post. The text typed in the chat's message field, its caret and its
// focus survive the burst.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	launch, open, closeAll, room, dropRoom, postMessage, signUp, until, psql, metric, countOf,
	stillSamePage, BASE,
} from './helpers.mjs';

const UPDATES = 200;
const AT_ONCE = 4;	// requests in flight at a time

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

// open()'s setup: keeps the header line of every non-empty text frame the
// page's sockets receive, every frame they send, and each socket's
// negotiated extensions (the handshake response's Sec-WebSocket-Extensions
// as the browser took it).
async function watch(context) {
	await context.addInitScript(() => {
		const Native = window.WebSocket;
		window.__kcExtensions = [];
		window.WebSocket = class extends Native {
			constructor(...args) {
				super(...args);
				this.addEventListener('open', () => window.__kcExtensions.push(this.extensions));
			}
		};
	});
	context.frames = { in: [], out: [] };
	context.on('page', (p) => p.on('websocket', (ws) => {
		// Chromium reports payloads after inflating them.
		ws.on('framereceived', (f) => {
			const s = String(f.payload);
			if (s !== '')
				context.frames.in.push(s.slice(0, s.indexOf('\n')));
		});
		ws.on('framesent', (f) => context.frames.out.push(String(f.payload)));
	}));
}

// Runs job(0..n-1), AT_ONCE at a time; resolves their results in order.
async function burst(n, job) {
	const results = new Array(n);
	let next = 0;
	const worker = async () => {
		while (next < n) {
			const i = next++;
			results[i] = await job(i);
		}
	};
	await Promise.all(Array.from({ length: AT_ONCE }, worker));
	return results;
}

// The page's realtime socket: one, opened once, permessage-deflate with no
// context takeover either way.
async function assertDeflateSocket(p) {
	assert.equal(p.rec.sockets.length, 1, 'one WebSocket, never reconnected');
	const ext = await p.evaluate(() => window.__kcExtensions);
	assert.equal(ext.length, 1);
	assert.match(ext[0], /^permessage-deflate(;|$)/, `negotiated extensions: "${ext[0]}"`);
	assert.match(ext[0], /server_no_context_takeover/);
	assert.match(ext[0], /client_no_context_takeover/);
}

// Header lines of the D frames received for (key, url).
const diffsFor = (frames, key, url) =>
	frames.in.filter((h) => h.startsWith('D ') && h.endsWith(` ${key} ${url}`));

const counterValue = async () => Number(await psql("SELECT value FROM counters WHERE name = 'global'"));

test(`the counter on two pages shows the database's value after ${UPDATES} rapid increments (diffs, deflate)`, { timeout: 90000 }, async () => {
	const pages = [];
	try {
		pages.push(await open(browser, '/counter', { setup: watch }));
		pages.push(await open(browser, '/counter', { setup: watch }));
		const v0 = await counterValue();
		const sentDiff0 = await metric('keycast_frames_sent_diff_total');
		const started = Date.now();
		const statuses = await burst(UPDATES, async () => (await fetch(`${BASE}/api/counter/increment`, {
			method: 'POST',
			headers: { 'X-Keycast': '1', Origin: BASE,
				'Content-Type': 'application/x-www-form-urlencoded' },
			body: '',
			signal: AbortSignal.timeout(20000),
		})).status);
		assert.deepEqual(statuses.filter((s) => s !== 204), [], 'every increment answered 204');
		const final = await counterValue();
		assert.equal(final, v0 + UPDATES, 'the database counted every increment');
		await until(`both pages show ${final}`, async () =>
			(await countOf(pages[0])) === final && (await countOf(pages[1])) === final, 30000);
		console.log(`counter: ${UPDATES} increments and both pages at ${final} in ${Date.now() - started} ms`);

		for (const [i, p] of pages.entries()) {
			const frames = p.context().frames;
			await assertDeflateSocket(p);
			const d = diffsFor(frames, '/counter', '/counter').length;
			console.log(`counter page ${i}: ${d} D frames of ${frames.in.length} received`);
			assert.ok(d > 0, `page ${i}: counter updates came as D frames: ` +
				frames.in.slice(-5).join(' | '));
			assert.deepEqual(frames.out, [], `page ${i}: every diff applied, no resync sent`);
			assert.ok(await stillSamePage(p));
			assert.deepEqual(p.rec.errors, []);
			assert.deepEqual(p.rec.warnings, [], 'keycast.js warned of nothing (a diff that did not apply warns)');
		}
		assert.ok(await metric('keycast_frames_sent_diff_total') > sentDiff0, 'pushd handed out diff frames');
	} finally {
		await closeAll(pages);
	}
});

test(`a chat page matches the database's last 50 messages after ${UPDATES} rapid posts; typed text, caret and focus survive`, { timeout: 90000 }, async () => {
	const r = room('rapid');
	// Long enough that each diff (one message in, one out) is deflated
	// too (pushd's --deflate-min defaults to 256 bytes).
	const filler = 'the quick brown fox jumps over the lazy dog, '.repeat(4);
	let p;
	try {
		// More than 50 messages before the page opens: every post in the
		// burst slides the window, one message in and the oldest out.
		for (let i = 0; i < 60; i++)
			await postMessage(r, 'Rapidseed', `seed ${i}`);
		p = await open(browser, `/chat/${r}`, { user: await signUp('rapidw'), setup: watch });
		const frames = p.context().frames;
		assert.equal(await p.locator('.messages .text').count(), 50);
		assert.notEqual(await p.evaluate(() => typeof window.Idiomorph), 'undefined',
			'keycast.js morphs (idiomorph loaded), as pages do');

		const typed = 'Half a sentence, caret in the middle';
		await p.click('#text');
		await p.keyboard.type(typed);
		for (let i = 0; i < 10; i++)
			await p.keyboard.press('ArrowLeft');
		const field = () => p.evaluate(() => {
			const t = document.getElementById('text');
			return { focused: document.activeElement === t, value: t.value,
				start: t.selectionStart, end: t.selectionEnd };
		});
		const before = await field();
		assert.deepEqual(before, { focused: true, value: typed, start: typed.length - 10, end: typed.length - 10 });

		const deflate0 = await metric('keycast_deflate_frames_total');
		const sentDiff0 = await metric('keycast_frames_sent_diff_total');
		const started = Date.now();
		await burst(UPDATES, (i) => postMessage(r, 'Rapid', `rapid ${i}: ${filler}`));
		const last50 = (await psql(`SELECT body FROM (SELECT id, body FROM messages WHERE room = '${r}' ` +
			'ORDER BY id DESC LIMIT 50) m ORDER BY id')).trim().split('\n');
		assert.equal(last50.length, 50);
		assert.ok(last50.every((b) => b.startsWith('rapid ')), 'the window slid past every seed message');
		const shown = () => p.$$eval('.messages .text', (els) => els.map((e) => e.textContent));
		await until('the page shows the last 50 messages of the database', async () =>
			JSON.stringify(await shown()) === JSON.stringify(last50), 30000);
		console.log(`chat: ${UPDATES} posts and the page at the database's last 50 in ${Date.now() - started} ms`);
		assert.deepEqual(await shown(), last50);

		assert.deepEqual(await field(), before, 'typed text, caret and focus unchanged');
		await assertDeflateSocket(p);
		const d = diffsFor(frames, `/chat/${r}`, `/chat/${r}`).length;
		console.log(`chat page: ${d} D frames of ${frames.in.length} received`);
		assert.ok(d > 0, `the chat's updates came as D frames: ${frames.in.slice(-5).join(' | ')}`);
		assert.deepEqual(frames.out, [], 'every diff applied, no resync sent');
		assert.ok(await metric('keycast_frames_sent_diff_total') > sentDiff0, 'pushd handed out diff frames');
		assert.ok(await metric('keycast_deflate_frames_total') > deflate0, 'pushd compressed frames during the burst');
		assert.ok(await stillSamePage(p));
		assert.deepEqual(p.rec.errors, []);
		assert.deepEqual(p.rec.warnings, [], 'keycast.js warned of nothing (a diff that did not apply warns)');
	} finally {
		await closeAll([p]);
		await dropRoom(r);
	}
});
