// The live connection when things go wrong (issue 8, keycast.js): a refused
// handshake, a url the app cannot render (1011), pushd down since the page
// loaded, a frozen pushd (connect timeout and heartbeat), a post while the
// socket is down, and the status after close().
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
	launch, open, closeAll, until, stack, psql, rtState, waitState, delay,
	bumpAndSee, countOf, stillSamePage, statusText, manualRoot, countSockets,
	socketsMade, pushdPid, BASE,
} from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => {
	await browser?.close();
	// Whatever happened above, leave pushd running for the next tests.
	try {
		process.kill(pushdPid(), 'SIGCONT');
	} catch { /* not running */ }
	await stack('start', 'pushd');
});

const closedCode = (page) => page.evaluate(() =>
	document.querySelector('main [data-rt-root]').getAttribute('data-rt-closed'));

// Starts the page's client by hand with the root's settings set first.
function start(page, { key = '/counter', url = '/counter', ...attrs } = {}) {
	return page.evaluate(({ key, url, attrs }) => {
		const root = document.querySelector('main [data-rt-root]');
		for (const [k, v] of Object.entries(attrs))
			root.setAttribute(k, v);
		window.initRealtimeClient({ key, url, root });
	}, { key, url, attrs });
}

// What pushd answers to a browser's upgrade with an invalid key: 101 and a
// close 4400 (what a browser can read), or a bare HTTP 400 (seen as 1006).
function upgradeStatus(key) {
	return new Promise((resolve, reject) => {
		const u = new URL(`${BASE}/__realtime?key=${encodeURIComponent(key)}&url=%2Fcounter`);
		const rq = http.request(u, {
			headers: {
				Connection: 'Upgrade', Upgrade: 'websocket', Origin: BASE,
				'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
			},
		});
		rq.on('upgrade', (res, sock) => { sock.destroy(); resolve(101); });
		rq.on('response', (res) => { res.resume(); resolve(res.statusCode); });
		rq.on('error', reject);
		rq.end();
	});
}

// Nothing more: the count of sockets stays put for a while after the stop.
async function noMoreAttempts(page, ms) {
	const n = await socketsMade(page);
	await delay(ms);
	assert.equal(await socketsMade(page), n, 'no attempt after giving up');
	return n;
}

test('an invalid key ends in the closed state ("live updates off") and the client stops trying', async () => {
	const bad = 'not a key';	// spaces: pushd refuses it
	const status = await upgradeStatus(bad);
	assert.ok(status === 101 || status === 400, `pushd answered ${status}`);
	// 4400 when pushd accepts and closes; a bare 400 reaches the page as 1006.
	const want = status === 101 ? '4400' : '1006';
	const p = await open(browser, '/counter', { live: false, setup: manualRoot });
	try {
		await p.waitForFunction(() => typeof window.initRealtimeClient === 'function');
		await start(p, { key: bad, 'data-rt-give-up': '3' });
		await p.waitForFunction(() => document.querySelector('main [data-rt-root]')
			.hasAttribute('data-rt-closed'), null, { timeout: 15000, polling: 20 });
		assert.equal(await closedCode(p), want);
		assert.equal(await rtState(p), 'offline');
		const n = await noMoreAttempts(p, 2000);
		assert.equal(n, want === '4400' ? 1 : 3, `${n} attempts`);
		assert.equal(await statusText(p), 'live updates off');
		assert.deepEqual(p.rec.errors, []);
	} finally {
		await closeAll([p]);
	}
});

test('a url the app cannot render (close 1011) is retried a bounded number of times, then "live updates off"', async () => {
	const p = await open(browser, '/counter', { live: false, setup: manualRoot });
	try {
		await p.waitForFunction(() => typeof window.initRealtimeClient === 'function');
		// GET /api/counter/increment is 405: pushd closes with 1011.
		await start(p, { url: '/api/counter/increment', 'data-rt-give-up': '3',
			'data-rt-long-retry': '0.5' });
		await p.waitForFunction(() => document.querySelector('main [data-rt-root]')
			.hasAttribute('data-rt-closed'), null, { timeout: 15000, polling: 20 });
		assert.equal(await closedCode(p), '1011');
		assert.deepEqual(await p.evaluate(() => window.__kcCloses), [1011, 1011, 1011]);
		assert.equal(await noMoreAttempts(p, 2000), 3);
		assert.equal(await statusText(p), 'live updates off');
		assert.ok(p.rec.warnings.some((w) => /1011/.test(w)), 'a console warning names 1011');
		assert.deepEqual(p.rec.errors, []);
	} finally {
		await closeAll([p]);
	}
});

test('pushd down since the page loaded: attempts back off and stop; "online" starts over', async () => {
	let p;
	try {
		await stack('stop', 'pushd');
		p = await open(browser, '/counter', { live: false, setup: manualRoot });
		await p.waitForFunction(() => typeof window.initRealtimeClient === 'function');
		await start(p, { 'data-rt-give-up': '4' });
		await p.waitForFunction(() => document.querySelector('main [data-rt-root]')
			.hasAttribute('data-rt-closed'), null, { timeout: 20000, polling: 20 });
		assert.equal(await closedCode(p), '1006');
		assert.equal(await noMoreAttempts(p, 2000), 4);
		assert.equal(await statusText(p), 'live updates off');
		// Not final: the browser coming back online tries again.
		await stack('start', 'pushd');
		await p.evaluate(() => window.dispatchEvent(new Event('online')));
		await waitState(p, 'live', 5000);
		assert.equal(await closedCode(p), null);
		assert.equal(await statusText(p), '');
		await bumpAndSee(p);
		assert.deepEqual(p.rec.errors, []);
	} finally {
		await stack('start', 'pushd');
		await closeAll([p]);
	}
});

test('a frozen pushd: the client leaves "live" after two missed heartbeats, times out stuck handshakes, and is live again when pushd resumes', async () => {
	const p = await open(browser, '/counter', { setup: countSockets });
	const pid = pushdPid();
	let frozen = false;
	try {
		// A 1 s heartbeat (pushd's own is 25 s): silence for 3 s means dead.
		await p.evaluate(() => {
			const root = document.querySelector('main [data-rt-root]');
			root.setAttribute('data-rt-heartbeat', '1');
			root.setAttribute('data-rt-connect-timeout', '2');
		});
		await bumpAndSee(p);	// a frame: the wait is re-armed with 1 s
		const before = await socketsMade(p);
		process.kill(pid, 'SIGSTOP');
		frozen = true;
		await until('the page to leave "live"', async () => (await rtState(p)) !== 'live', 10000);
		// Each new handshake hangs (pushd does not answer): the connect
		// timeout drops it and tries again.
		await until('two more attempts', async () => (await socketsMade(p)) >= before + 3, 20000);
		assert.notEqual(await rtState(p), 'live');
		assert.match(await statusText(p), /reconnecting/);
		process.kill(pid, 'SIGCONT');
		frozen = false;
		await p.evaluate(() => document.querySelector('main [data-rt-root]')
			.removeAttribute('data-rt-heartbeat'));
		await waitState(p, 'live', 20000);
		await bumpAndSee(p);
		await bumpAndSee(p);
		assert.ok(await stillSamePage(p));
		assert.deepEqual(p.rec.errors, []);
	} finally {
		if (frozen)
			process.kill(pid, 'SIGCONT');
		await closeAll([p]);
	}
});

test('every frame counts as a sign of life; an empty frame (the heartbeat) changes nothing', async () => {
	const p = await open(browser, '/counter', { setup: countSockets });
	try {
		await p.evaluate(() => document.querySelector('main [data-rt-root]')
			.setAttribute('data-rt-heartbeat', '2'));
		await bumpAndSee(p);	// re-armed: 6 s of silence would be too much
		// Frames every ~0.5 s for 9 s: no silence, no reconnect.
		const end = Date.now() + 9000;
		while (Date.now() < end) {
			await bumpAndSee(p);
			await delay(500);
		}
		assert.equal(await socketsMade(p), 1, 'the same socket all along');
		assert.equal(await rtState(p), 'live');
		await p.evaluate(() => document.querySelector('main [data-rt-root]')
			.removeAttribute('data-rt-heartbeat'));
		await bumpAndSee(p);
		// pushd's heartbeat is an empty text frame, delivered through the
		// client's own socket handler.
		const r = await p.evaluate(() => {
			const root = document.querySelector('main [data-rt-root]');
			const html = root.innerHTML;
			let updates = 0;
			root.addEventListener('keycast:update', () => updates++);
			window.initRealtimeClient().ws.dispatchEvent(new MessageEvent('message', { data: '' }));
			return { same: root.innerHTML === html, updates,
				state: root.getAttribute('data-rt-state') };
		});
		assert.deepEqual(r, { same: true, updates: 0, state: 'live' });
		await bumpAndSee(p);
		assert.deepEqual(p.rec.errors, []);
	} finally {
		await closeAll([p]);
	}
});

test('a post while the socket is down shows its result (the client fetches the page)', async () => {
	const p = await open(browser, '/counter');
	try {
		const seen = [];
		p.on('response', (r) => {
			const u = new URL(r.url());
			if (!u.pathname.startsWith('/static/'))
				seen.push(`${r.request().method()} ${u.pathname} ${r.status()}`);
		});
		await stack('stop', 'pushd');
		await until('the page to leave "live"', async () => (await rtState(p)) !== 'live', 5000);
		const v = await countOf(p);
		await p.click('button[aria-label=Increment]');
		await p.waitForFunction((n) => Number(document.querySelector('#count').textContent) === n,
			v + 1, { timeout: 5000, polling: 10 });
		assert.deepEqual(seen.slice(0, 2), ['POST /api/counter/increment 204', 'GET /counter 200']);
		assert.ok(await stillSamePage(p), 'fetched, not reloaded');
		assert.equal(Number(await psql("SELECT value FROM counters WHERE name = 'global'")), v + 1);
		assert.deepEqual(p.rec.errors, []);
	} finally {
		await stack('start', 'pushd');
		await closeAll([p]);
	}
});

test('after close() the status says "live updates off", not "reconnecting…", and stays so', async () => {
	const p = await open(browser, '/counter', { setup: countSockets });
	try {
		assert.equal(await statusText(p), '');
		await p.evaluate(() => window.initRealtimeClient().close());
		assert.equal(await statusText(p), 'live updates off');
		assert.equal(await rtState(p), 'offline');
		await delay(1500);	// longer than the status's "reconnecting…" delay
		assert.equal(await statusText(p), 'live updates off');
		// The header's root (key global) goes on alone on a new socket;
		// the closed root is never subscribed again.
		assert.deepEqual(await p.evaluate(() => window.__kcSockets.map((s) =>
			new URL(s.url).searchParams.getAll('key').join())), ['/counter,global', 'global']);
		assert.deepEqual(p.rec.errors, []);
	} finally {
		await closeAll([p]);
	}
});
