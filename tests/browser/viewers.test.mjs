// Who is watching (issue 9), against the real stack: signed-in users and an
// anonymous reader share a public room live, each seeing its view class
// (post form, delete buttons) and each notify costs one render per class
// present; a private room keeps non-members out (404, 4403 with no fragment)
// and removing a member in psql closes their socket; signing out in one tab
// closes the session's other tabs with 4401 (keycast.js then says "signed
// out" and resumes once signed in again) while the user's other session
// stays live; a foreign Origin with a valid cookie never reaches authorize;
// squatting sockets on url=/?x=N are refused and a real visitor stays live.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import pg from 'pg';
import {
	launch, until, psql, metric, room, delay, BASE, waitState, statusText,
} from './helpers.mjs';
import {
	userName, signUp, signIn, api, apiOk, idOf, contextAs, signInForm, upgrade,
	waitFrame, waitClose, renders, authorizations, percentile,
} from './viewers-lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

// Keeps the close (code and Date.now()) of every socket carrying the page's
// main root (its url: the page's path+query) in window.__vcCloses and counts
// those sockets, from the first script on. (The header's root, key global,
// shares them; after a 44xx naming the main root it goes on alone.)
const recordSockets = (context) => context.addInitScript(() => {
	const Native = window.WebSocket;
	window.__vcSockets = 0;
	window.__vcCloses = [];
	window.WebSocket = class extends Native {
		constructor(...args) {
			super(...args);
			const main = `url=${encodeURIComponent(location.pathname + location.search)}`;
			if (!new URL(args[0]).search.split('&').some((p) => p === main || p === `?${main}`))
				return;
			window.__vcSockets++;
			this.addEventListener('close', (e) =>
				window.__vcCloses.push({ code: e.code, reason: e.reason, t: Date.now() }));
		}
	};
});

// A tab of context at path, live.
async function tab(context, path, { live = true } = {}) {
	const page = await context.newPage();
	page.errors = [];
	page.on('pageerror', (e) => page.errors.push(e.message));
	const res = await page.goto(BASE + path);
	assert.equal(res.status(), 200, `GET ${path}`);
	if (live)
		await waitState(page, 'live', 10000);
	return page;
}

async function browserAs(token) {
	const context = await contextAs(browser, token);
	await recordSockets(context);
	return context;
}

const rootHas = (page, text) => page.waitForFunction(
	(t) => document.querySelector('main [data-rt-root]').textContent.includes(t),
	text, { timeout: 10000, polling: 10 });

const rootCount = (page, sel) => page.evaluate(
	(s) => document.querySelector('main [data-rt-root]').querySelectorAll(s).length, sel);

// Delete buttons the viewer can see (the app may send them hidden and show
// the viewer's own ones by CSS outside the root).
const visibleDeletes = (page) => page.evaluate(() =>
	[...document.querySelectorAll('[data-rt-root] form[action$="/delete"]')]
		.filter((f) => [...f.querySelectorAll('button, input[type=submit]')]
			.some((b) => b.checkVisibility({ visibilityProperty: true, opacityProperty: true })))
		.length);

// Clicks the page header's sign-out button (a plain form post).
async function signOut(page) {
	await Promise.all([
		page.waitForResponse((res) => new URL(res.url()).pathname === '/signout' &&
			res.request().method() === 'POST', { timeout: 10000 }),
		page.click('form[action="/signout"] :is(button, input[type=submit])'),
	]);
	await page.waitForLoadState();
}

const closes = (page) => page.evaluate(() => window.__vcCloses);
const socketsMade = (page) => page.evaluate(() => window.__vcSockets);
const closedAttr = (page) => page.evaluate(() =>
	document.querySelector('main [data-rt-root]').getAttribute('data-rt-closed'));

// Renders counted until the pages show text: pushd renders before it
// sends, so once every page has it, the count of this notify is complete.
async function rendersFor(post, text, pages) {
	const r0 = await renders();
	await post();
	for (const p of pages)
		await rootHas(p, text);
	// A late extra render for the same notify would still show up here.
	await delay(300);
	return (await renders()) - r0;
}

test('a public room: two users and an anonymous reader live, each its view, one render per view class', async () => {
	const mod = userName('m'), alice = userName('a');
	const tMod = await signUp(mod), tAlice = await signUp(alice);
	await psql(`UPDATE users SET role = 'moderator' WHERE name = '${mod}'`);
	const r = room('v');
	await apiOk(`/api/chat/${r}/messages`, { text: 'first, by alice' }, tAlice);
	await apiOk(`/api/chat/${r}/messages`, { text: 'second, by the moderator' }, tMod);

	const contexts = [await browserAs(tMod), await browserAs(tAlice), await browserAs(null)];
	try {
		const pages = [];
		for (const c of contexts)
			pages.push(await tab(c, `/chat/${r}`));
		// Alice's second tab: four sockets in three view classes.
		pages.push(await tab(contexts[1], `/chat/${r}`));
		const [pMod, pAlice, pAnon, pAlice2] = pages;

		assert.equal(await rootCount(pAnon, `form[action$="/messages"]`), 0, 'the anonymous reader has no post form');
		assert.equal(await rootCount(pAlice, `form[action$="/messages"]`), 1, 'a user has the post form');
		assert.equal(await rootCount(pMod, `form[action$="/messages"]`), 1, 'the moderator has the post form');
		assert.equal(await visibleDeletes(pMod), 2, 'the moderator sees a delete button on every message');
		assert.equal(await visibleDeletes(pAlice), 1, 'a user sees one on her own message only');
		assert.equal(await visibleDeletes(pAnon), 0, 'the anonymous reader sees none');

		const three = await rendersFor(() => apiOk(`/api/chat/${r}/messages`, { text: 'live for all three' }, tAlice),
			'live for all three', pages);
		// (and the header's /live/today, key global, which a post notifies)
		assert.equal(three, 3 + 1, 'four sockets in anon, user and moderator: three renders for one notify');
		assert.equal(await visibleDeletes(pMod), 3, 'the moderator sees the new message\'s delete button');
		assert.equal(await visibleDeletes(pAlice), 2, 'alice sees hers');
		assert.equal(await visibleDeletes(pAlice2), 2, 'in both tabs');
		assert.equal(await visibleDeletes(pAnon), 0);

		// Views with no viewer left cost nothing (once pushd has seen the
		// anonymous reader's socket close, its view is gone).
		const views = await metric('keycast_views');
		await contexts[2].close();
		await until('the anon view gone', async () => (await metric('keycast_views')) <= views - 1, 10000);
		const two = await rendersFor(() => apiOk(`/api/chat/${r}/messages`, { text: 'now only two classes' }, tMod),
			'now only two classes', [pMod, pAlice, pAlice2]);
		assert.equal(two, 2 + 1, 'user and moderator: two renders (and /live/today)');
		for (const p of [pMod, pAlice, pAlice2]) {
			assert.equal(await socketsMade(p), 1, 'one socket per page throughout');
			assert.deepEqual(p.errors, []);
		}
	} finally {
		for (const c of contexts)
			await c.close().catch(() => {});
	}
});

test('a private room: 404 and 4403 (no fragment) for a non-member, live for a member, 4403 when removed in psql', async () => {
	const owner = userName('o'), member = userName('a'), other = userName('b');
	const tOwner = await signUp(owner), tMember = await signUp(member), tOther = await signUp(other);
	const r = room('p');
	await apiOk('/api/rooms', { room: r, private: '1' }, tOwner);
	await apiOk(`/api/chat/${r}/members`, { name: member }, tOwner);
	await apiOk(`/api/chat/${r}/messages`, { text: 'members only' }, tOwner);

	for (const [who, token] of [['a non-member', tOther], ['an anonymous visitor', null]]) {
		const res = await fetch(`${BASE}/chat/${r}`, { headers: token ? { Cookie: `kc_session=${token}` } : {} });
		assert.equal(res.status, 404, `${who}: GET /chat/${r}`);
		assert.ok(!(await res.text()).includes('members only'), `${who} sees no message`);
	}
	const spy = upgrade(`/chat/${r}`, `/chat/${r}`, { token: tOther, label: 'non-member' });
	const c = await waitClose(spy);
	assert.equal(c.code, 4403, `the non-member's socket is closed 4403 (${c.reason})`);
	assert.deepEqual(spy.frames, [], 'and receives no fragment');
	const anon = upgrade(`/chat/${r}`, `/chat/${r}`, { label: 'anonymous' });
	assert.equal((await waitClose(anon)).code, 4401, 'an anonymous socket is closed 4401');
	assert.deepEqual(anon.frames, []);

	// psql's edits on a connection of our own, so the time measured is
	// the DELETE's and pushd's, not a psql process starting.
	const db = new pg.Client({ host: process.env.KC_PGDATA, port: Number(process.env.KC_PGPORT),
		user: process.env.KC_PGUSER, database: process.env.KC_PGDATABASE || 'keycast' });
	await db.connect();
	const id = await idOf(member);
	const context = await browserAs(tMember);
	try {
		const page = await tab(context, `/chat/${r}`);
		await rootHas(page, 'members only');
		await apiOk(`/api/chat/${r}/messages`, { text: 'a live one' }, tOwner);
		await rootHas(page, 'a live one');

		const t0 = Date.now();
		await db.query('DELETE FROM room_members WHERE user_id = $1', [id]);
		await page.waitForFunction(() => window.__vcCloses.length > 0, null, { timeout: 5000, polling: 5 });
		const [cl] = await closes(page);
		assert.equal(cl.code, 4403, `closed 4403 (${cl.reason})`);
		assert.ok(cl.t - t0 < 1000, `closed ${cl.t - t0} ms after the DELETE was sent`);
		await until('data-rt-closed=4403', async () => (await closedAttr(page)) === '4403');
		await delay(500);
		assert.equal(await socketsMade(page), 1, 'no reconnect after 4403');
	} catch (e) {
		await db.end();
		throw e;
	} finally {
		await context.close();
	}

	// Revocation latency: from sending the DELETE to the close frame at
	// the client, 20 times.
	const took = [];
	try {
		for (let i = 0; i < 20; i++) {
			await apiOk(`/api/chat/${r}/members`, { name: member }, tOwner);
			const ws = upgrade(`/chat/${r}`, `/chat/${r}`, { token: tMember, label: `member ${i}` });
			await waitFrame(ws);
			const t0 = performance.now();
			await db.query('DELETE FROM room_members WHERE user_id = $1', [id]);
			const cl = await waitClose(ws, 5000);
			assert.equal(cl.code, 4403, `try ${i}: closed 4403 (${cl.reason})`);
			took.push(cl.t - t0);
		}
	} finally {
		await db.end();
	}
	const p50 = percentile(took, 50), p99 = percentile(took, 99);
	console.log(`revocation (member removed in psql -> close 4403 at the client), 20 tries: ` +
		`p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...took).toFixed(1)} ms`);
	assert.ok(p99 < 1000, `p99 ${p99} ms`);
});

test('sign-out in tab A closes tab B of the session with 4401; the same user\'s other session stays live', async () => {
	const carol = userName('c');
	const t1 = await signUp(carol), t2 = await signIn(carol);
	assert.notEqual(t1, t2, 'two sessions');
	const r = room('s');
	const one = await browserAs(t1), two = await browserAs(t2);
	try {
		const a = await tab(one, `/chat/${r}`);
		const b = await tab(one, `/chat/${r}`);
		const c = await tab(two, `/chat/${r}`);
		await apiOk(`/api/chat/${r}/messages`, { text: 'before sign-out' }, t2);
		for (const p of [a, b, c])
			await rootHas(p, 'before sign-out');

		let sent = 0;
		a.on('request', (rq) => {
			if (new URL(rq.url()).pathname === '/signout')
				sent = Date.now();
		});
		await signOut(a);
		await b.waitForFunction(() => window.__vcCloses.length > 0, null, { timeout: 5000, polling: 5 });
		const [cl] = await closes(b);
		assert.equal(cl.code, 4401, `tab B closed 4401 (${cl.reason})`);
		console.log(`sign-out (POST /signout sent by tab A -> close 4401 in tab B): ${cl.t - sent} ms`);
		assert.ok(sent > 0 && cl.t - sent < 1000, `tab B closed ${cl.t - sent} ms after the POST`);
		await delay(500);
		assert.equal(await socketsMade(b), 1, 'tab B does not reconnect');

		// The same user's other session: same socket, still live.
		await apiOk(`/api/chat/${r}/messages`, { text: 'after sign-out' }, t2);
		await rootHas(c, 'after sign-out');
		assert.equal(await socketsMade(c), 1);
		assert.deepEqual(await closes(c), []);
		assert.equal((await api(`/api/chat/${r}/messages`, { text: 'x' }, t1)).status, 401,
			'the signed-out session posts nothing');
	} finally {
		await one.close();
		await two.close();
	}

	// Revocation latency of a session: from sending DELETE FROM sessions
	// (what sign-out does) to the close frame at the client, 20 times.
	const db = new pg.Client({ host: process.env.KC_PGDATA, port: Number(process.env.KC_PGPORT),
		user: process.env.KC_PGUSER, database: process.env.KC_PGDATABASE || 'keycast' });
	await db.connect();
	const took = [];
	try {
		for (let i = 0; i < 20; i++) {
			const token = await signIn(carol);
			const hash = createHash('sha256').update(Buffer.from(token, 'base64url')).digest('hex');
			const ws = upgrade(`/chat/${r}`, `/chat/${r}`, { token, label: `session ${i}` });
			await waitFrame(ws);
			const t0 = performance.now();
			const del = await db.query('DELETE FROM sessions WHERE token_hash = $1', [hash]);
			assert.equal(del.rowCount, 1, 'the session row');
			const cl = await waitClose(ws, 5000);
			assert.equal(cl.code, 4401, `try ${i}: closed 4401 (${cl.reason})`);
			took.push(cl.t - t0);
		}
	} finally {
		await db.end();
	}
	const p50 = percentile(took, 50), p99 = percentile(took, 99);
	console.log(`revocation (session deleted in psql -> close 4401 at the client), 20 tries: ` +
		`p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...took).toFixed(1)} ms`);
	assert.ok(p99 < 1000, `p99 ${p99} ms`);
});

test('keycast.js after 4401: "signed out — sign in again" with a link, no reconnect, resumes once signed in again', async () => {
	const erin = userName('e');
	const t1 = await signUp(erin);
	const r = room('k');
	const one = await browserAs(t1);
	try {
		const a = await tab(one, `/chat/${r}`);
		const b = await tab(one, `/chat/${r}`);
		await signOut(a);
		await until('data-rt-closed=4401', async () => (await closedAttr(b)) === '4401');
		assert.equal(await statusText(b), 'signed out — sign in again');
		assert.equal(await b.getAttribute('.rt-status a', 'href'), '/signin');
		assert.equal(await b.textContent('.rt-status a'), 'sign in again');
		assert.equal(await b.getAttribute('.rt-status', 'role'), 'status');
		// Coming back into view checks the session: still signed out.
		await b.evaluate(() => window.dispatchEvent(new Event('focus')));
		await delay(1000);
		assert.equal(await socketsMade(b), 1, 'no reconnect while signed out');
		assert.equal(await closedAttr(b), '4401');

		// Signing in again in tab A: the signed-in page tells tab B.
		await signInForm(a, erin);
		await waitState(b, 'live', 10000);
		assert.equal(await closedAttr(b), null);
		assert.equal(await statusText(b), '');
		assert.equal(await socketsMade(b), 2, 'one new socket');
		const t2 = await signIn(erin);
		await apiOk(`/api/chat/${r}/messages`, { text: 'after signing in again' }, t2);
		await rootHas(b, 'after signing in again');
		assert.equal(await b.evaluate(() => document.body.getAttribute('data-viewer')),
			String(await idOf(erin)));

		// Out again, and in from elsewhere (no page of this browser loads):
		// tab B finds the session when it gets focus.
		await signOut(a);
		await until('B closed 4401 again', async () => (await closedAttr(b)) === '4401', 5000);
		await one.addCookies([{ name: 'kc_session', value: await signIn(erin), url: BASE, httpOnly: true, sameSite: 'Lax' }]);
		await b.evaluate(() => window.dispatchEvent(new Event('focus')));
		await waitState(b, 'live', 10000);
		assert.equal(await socketsMade(b), 3, 'one new socket');
		assert.deepEqual(b.errors, []);

		// Signed in as someone else: tab B's header and "your messages"
		// style were erin's, so it reloads as frank's page.
		const frank = userName('f');
		await signUp(frank);
		await a.reload();
		await signOut(a);
		await until('B closed 4401 once more', async () => (await closedAttr(b)) === '4401', 5000);
		await Promise.all([
			b.waitForEvent('load', { timeout: 10000 }),
			signInForm(a, frank),
		]);
		assert.equal(await b.evaluate(() => document.body.getAttribute('data-viewer')),
			String(await idOf(frank)));
		assert.equal(await b.textContent('#viewer-name'), frank);
		await waitState(b, 'live', 10000);
	} finally {
		await one.close();
	}
});

test('cross-site WebSocket hijacking: a valid cookie with a foreign Origin (or null) is refused before authorize', async () => {
	const dave = userName('d');
	const token = await signUp(dave);
	const r = room('x');
	for (const origin of ['https://evil.example', 'null', 'http://127.0.0.1.evil.example']) {
		const before = await authorizations();
		const c = upgrade(`/chat/${r}`, `/chat/${r}`, { token, origin, label: `Origin ${origin}` });
		const cl = await waitClose(c);
		assert.ok(cl.code === 4403 || c.refused === 403, `Origin ${origin}: refused (${cl.code} ${cl.reason})`);
		assert.deepEqual(c.frames, [], `Origin ${origin}: no fragment`);
		assert.equal(await authorizations(), before, `Origin ${origin}: no authorize request`);
	}
	// The page's own origin reaches authorize (the counter above can move).
	const before = await authorizations();
	const ok = upgrade(`/chat/${r}`, `/chat/${r}`, { token, label: 'own origin' });
	await waitFrame(ok);
	assert.equal(await authorizations(), before + 1, 'one authorize request');
	ok.ws.close();
});

test('squatting: 32 sockets on key=global&url=/?x=N are refused, cost no render, and a visitor of / stays live', async () => {
	const squatters = [];
	for (let i = 0; i < 32; i++)
		squatters.push(upgrade('global', `/?x=${i}`, { label: `squatter ${i}` }));
	for (const s of squatters) {
		const cl = await waitClose(s);
		assert.equal(cl.code, 4403, `${s.label}: closed 4403 (${cl.reason})`);
		assert.deepEqual(s.frames, [], `${s.label}: no fragment`);
	}
	const context = await browserAs(null);
	try {
		const page = await tab(context, '/');
		const value = async () => Number(await page.textContent('#index-counter'));
		const v = await value();
		const r0 = await renders();
		await psql("UPDATE counters SET value = value + 1 WHERE name = 'global'");
		await page.waitForFunction((n) => Number(document.querySelector('#index-counter').textContent) === n,
			v + 1, { timeout: 5000, polling: 10 });
		await delay(300);
		assert.equal((await renders()) - r0, 2, 'one render for the one real view of /, one for the header\'s /live/today');
		assert.equal(await socketsMade(page), 1);
		assert.deepEqual(await closes(page), []);
	} finally {
		await context.close();
	}
});
