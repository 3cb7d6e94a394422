// Forms and fields under pushes (issue 8, keycast.js): a post in flight stays
// busy through a push that re-renders or replaces its form, so a second click
// sends nothing; a field the server changes takes the server's value unless
// the user is editing it, and then at the blur.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	launch, open, closeAll, room, dropRoom, postMessage, bumpAndSee, countOf, signUp, ownRoom,
	stillSamePage,
} from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const noMorph = (ctx) => ctx.route('**/static/vendor/**', (route) => route.abort());

// Holds the page's POSTs to urlGlob until release() and counts them.
async function holdPosts(page, urlGlob) {
	const posts = [];
	let release;
	const held = new Promise((res) => { release = res; });
	await page.route(urlGlob, async (route) => {
		if (route.request().method() !== 'POST')
			return route.continue();
		posts.push(route.request().postData());
		await held;
		await route.continue();
	});
	return { posts, release: () => release() };
}

// The second tries: a click (forced: a disabled button takes none), Enter
// in a field, and the form's requestSubmit(), each on what is there now.
async function tryAgain(page, form, field) {
	await page.click(`${form} button[type=submit]`, { force: true });
	if (field)
		await page.press(field, 'Enter');
	await page.evaluate((f) => document.querySelector(f).requestSubmit(), form);
}

const busyState = (page, form) => page.evaluate((f) => {
	const el = document.querySelector(f);
	return { busy: el.getAttribute('aria-busy'),
		disabled: el.querySelector('button[type=submit]').disabled };
}, form);

test('a push during a post keeps the form busy; a second click sends no second POST (morphing)', async () => {
	const p = await open(browser, '/counter');
	try {
		const form = 'form[action="/api/counter/increment"]';
		const hold = await holdPosts(p, '**/api/counter/increment');
		const v = await countOf(p);
		await p.click(`${form} button`);
		await p.waitForFunction((f) => document.querySelector(f).getAttribute('aria-busy') === 'true',
			form, { timeout: 2000, polling: 10 });
		const shown = await bumpAndSee(p);	// a push re-renders the form
		assert.equal(shown, v + 1);
		assert.deepEqual(await busyState(p, form), { busy: 'true', disabled: true });
		await tryAgain(p, form, null);
		hold.release();
		await p.waitForFunction((n) => Number(document.querySelector('#count').textContent) === n,
			v + 2, { timeout: 3000, polling: 10 });
		await p.waitForFunction((f) => !document.querySelector(f).hasAttribute('aria-busy'),
			form, { timeout: 2000, polling: 10 });
		assert.deepEqual(await busyState(p, form), { busy: null, disabled: false });
		assert.equal(hold.posts.length, 1, `POSTs: ${JSON.stringify(hold.posts)}`);
		assert.equal(await countOf(p), v + 2, 'one increment by the post, one by psql');
		assert.ok(await stillSamePage(p));
		assert.deepEqual(p.rec.errors, []);
	} finally {
		await closeAll([p]);
	}
});

test('a push that replaces the form during a post (no idiomorph): still busy, still one POST', async () => {
	const r = room('dup');
	const p = await open(browser, `/chat/${r}`, { setup: noMorph, user: await signUp('dup') });
	try {
		assert.equal(await p.evaluate(() => typeof window.Idiomorph), 'undefined');
		const form = '.compose';
		const hold = await holdPosts(p, `**/api/chat/${r}/messages`);
		await p.fill('#text', 'hello');
		await p.evaluate(() => { window.__form = document.querySelector('.compose'); });
		await p.press('#text', 'Enter');
		await p.waitForFunction((f) => document.querySelector(f).getAttribute('aria-busy') === 'true',
			form, { timeout: 2000, polling: 10 });
		await postMessage(r, 'Bob', 'meanwhile');
		await p.waitForFunction(() => document.querySelector('.messages').textContent.includes('meanwhile'),
			null, { timeout: 3000, polling: 10 });
		assert.equal(await p.evaluate(() => window.__form.isConnected), false, 'the form was replaced');
		const during = await busyState(p, form);
		assert.equal(await p.inputValue('#text'), 'hello', 'the typed text survived the swap');
		await tryAgain(p, form, '#text');
		hold.release();
		await p.waitForFunction(() => [...document.querySelectorAll('.messages .text')]
			.some((e) => e.textContent === 'hello'), null, { timeout: 3000, polling: 10 });
		await p.waitForFunction((f) => !document.querySelector(f).hasAttribute('aria-busy'),
			form, { timeout: 2000, polling: 10 });
		assert.equal(hold.posts.length, 1, `POSTs: ${JSON.stringify(hold.posts)}`);
		assert.deepEqual(during, { busy: 'true', disabled: true }, 'busy through the swap');
		assert.equal(await p.inputValue('#text'), '', 'the new form\'s text field was emptied');
		assert.deepEqual(await busyState(p, form), { busy: null, disabled: false });
		assert.equal(await p.locator('.messages .text', { hasText: 'hello' }).count(), 1);
		assert.deepEqual(p.rec.errors, []);
	} finally {
		await closeAll([p]);
		await dropRoom(r);
	}
});

// Delivers a fragment like the current one with #member-name's value
// attribute set to value through the client's own socket handler (the
// demo's pages have no field whose value the server sets).
function pushNameValue(page, value) {
	return page.evaluate((v) => {
		const client = window.initRealtimeClient();
		const tpl = document.createElement('template');
		tpl.innerHTML = client.lastHTML;	// what pushd sent last
		tpl.content.querySelector('#member-name').setAttribute('value', v);
		const html = tpl.innerHTML;
		// A v2 socket's frames name their root (a root holding a
		// version had them); a pushd before v2 sends the bare fragment.
		const data = client.version === null ? html :
			`F ${window.keycast.fnv1a(html)} ${client.key} ${client.url}\n${html}`;
		client.ws.dispatchEvent(new MessageEvent('message', { data }));
	}, value);
}

for (const [mode, setup] of [['morphing', undefined], ['no idiomorph', noMorph]]) {
	test(`a field the server changes: kept while being edited, the server's value after the blur (${mode})`, async () => {
		const r = room('field');
		// The room's owner has a second field (#member-name) next to #text.
		const owner = await signUp('field');
		await ownRoom(owner, r);
		const p = await open(browser, `/chat/${r}`, { setup, user: owner });
		const nameValue = () => p.inputValue('#member-name');
		try {
			// Focused and edited: the user's text stays while focused...
			await p.click('#member-name');
			await p.keyboard.type('Bea');
			await pushNameValue(p, 'Server One');
			assert.equal(await nameValue(), 'Bea');
			assert.equal(await p.evaluate(() => document.activeElement.id), 'member-name');
			await p.keyboard.type('!');
			assert.equal(await nameValue(), 'Bea!');
			// ...and the server's value wins once the user leaves the field.
			await p.click('#text');
			assert.equal(await nameValue(), 'Server One');

			// Edited once, not focused now: the server's change applies.
			await p.fill('#member-name', 'Kim');
			await p.click('#text');
			await pushNameValue(p, 'Server Two');
			assert.equal(await nameValue(), 'Server Two');

			// Merely focused (not edited): it follows the server, and
			// still shows the server's value after the blur.
			await p.click('#member-name');
			await pushNameValue(p, 'Server Three');
			await p.click('#text');
			assert.equal(await nameValue(), 'Server Three');

			// What the server did not change keeps what the user typed.
			await p.fill('#member-name', 'Lou');
			await p.click('#text');
			await postMessage(r, 'Other', 'a real push');
			await p.waitForFunction(() => document.querySelector('.messages').textContent
				.includes('a real push'), null, { timeout: 3000, polling: 10 });
			assert.equal(await nameValue(), '', 'the real push has no value: a server change');
			await p.fill('#member-name', 'Lou');
			await postMessage(r, 'Other', 'another push');
			await p.waitForFunction(() => document.querySelector('.messages').textContent
				.includes('another push'), null, { timeout: 3000, polling: 10 });
			assert.equal(await nameValue(), 'Lou');
			assert.deepEqual(p.rec.errors, []);
		} finally {
			await closeAll([p]);
			await dropRoom(r);
		}
	});
}
