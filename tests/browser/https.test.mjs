// The stack over TLS (tools/lib.sh: nginx on KC_HTTPS_PORT with a
// self-signed certificate): a browser signs in over https, gets a Secure
// session cookie (and over plain http none), and its page is live over wss:
// through nginx, pushd's origin check (X-Forwarded-Proto https) and the
// authorize request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, room, waitState, BASE } from './helpers.mjs';
import { HTTPS_BASE, userName, signUp, apiOk, signInForm } from './viewers-lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('https: sign in, a Secure cookie, live updates over wss:', async () => {
	const name = userName('h');
	await signUp(name);
	const other = await signUp(userName('w'));
	const r = room('tls');
	const context = await browser.newContext({ ignoreHTTPSErrors: true });
	try {
		const page = await context.newPage();
		const errors = [];
		page.on('pageerror', (e) => errors.push(e.message));
		const sockets = [];
		page.on('websocket', (ws) => sockets.push(ws.url()));

		await signInForm(page, name, HTTPS_BASE);
		const [cookie] = (await context.cookies(HTTPS_BASE)).filter((c) => c.name === 'kc_session');
		assert.ok(cookie, 'a kc_session cookie over https');
		assert.equal(cookie.secure, true, 'Secure over https');
		assert.equal(cookie.httpOnly, true);
		assert.equal(cookie.sameSite, 'Lax');
		assert.equal(cookie.path, '/');

		await waitState(page, 'live', 10000);
		// v2: the page's root and the header's (key global, /live/today)
		const header = '&key=global&url=%2Flive%2Ftoday';
		assert.deepEqual(sockets, [`${HTTPS_BASE.replace(/^https/, 'wss')}/__realtime?v=2&key=global&url=%2F${header}`],
			'the page after sign-in (/) is live over wss: too');
		sockets.length = 0;
		await page.goto(`${HTTPS_BASE}/chat/${r}`);
		await waitState(page, 'live', 10000);
		assert.deepEqual(sockets, [`${HTTPS_BASE.replace(/^https/, 'wss')}/__realtime?v=2&key=${encodeURIComponent(`/chat/${r}`)}&url=${encodeURIComponent(`/chat/${r}`)}${header}`]);
		assert.ok(await page.evaluate(() => document.body.hasAttribute('data-viewer')), 'signed in on the page');

		// Someone else posts (over http): the https page shows it live.
		await apiOk(`/api/chat/${r}/messages`, { text: 'pushed over wss' }, other);
		await page.waitForFunction(() => document.querySelector('main [data-rt-root]').textContent.includes('pushed over wss'),
			null, { timeout: 10000, polling: 10 });
		// And its own post, through keycast.js's fetch over https.
		await page.fill('[data-rt-root] input[name=text]', 'posted over https');
		await page.press('[data-rt-root] input[name=text]', 'Enter');
		await page.waitForFunction(() => document.querySelector('main [data-rt-root]').textContent.includes('posted over https'),
			null, { timeout: 10000, polling: 10 });
		assert.equal(sockets.length, 1, 'one socket');
		assert.deepEqual(errors, []);
	} finally {
		await context.close();
	}

	// The same sign-in over plain http: no Secure flag (the check above can fail).
	const plain = await browser.newContext();
	try {
		await signInForm(await plain.newPage(), name, BASE);
		const [cookie] = (await plain.cookies(BASE)).filter((c) => c.name === 'kc_session');
		assert.equal(cookie?.secure, false, 'not Secure over http');
	} finally {
		await plain.close();
	}
});
