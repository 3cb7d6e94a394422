// Accessibility (issue 8): the chat log is a live log, the chat inputs have
// labels, and the connection state is real text in a live region (not CSS).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	launch, open, closeAll, room, dropRoom, stack, until, rtState, statusText,
	waitState, signUp, ownRoom,
} from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => {
	await browser?.close();
	await stack('start', 'pushd');
});

test('chat: the message list is role="log" with aria-live, and every input has a label', async () => {
	const r = room('a11y');
	// The owner's view has both forms: the message and the member name.
	const owner = await signUp('a11y');
	await ownRoom(owner, r);
	const p = await open(browser, `/chat/${r}`, { user: owner });
	try {
		const log = p.getByRole('log');
		assert.equal(await log.count(), 1);
		assert.equal(await log.getAttribute('id'), 'messages');
		assert.equal(await log.getAttribute('aria-live'), 'polite');
		assert.match(await log.getAttribute('aria-label'), new RegExp(`#${r}`));
		assert.equal(await p.getByLabel('Member (room owner only)').getAttribute('id'), 'member-name');
		assert.equal(await p.getByLabel('Message', { exact: true }).getAttribute('id'), 'text');
		// The labels are for screen readers: the layout is unchanged.
		for (const l of await p.locator('.compose label').all())
			assert.ok((await l.boundingBox()).width <= 1);
		assert.deepEqual(p.rec.errors, []);
	} finally {
		await closeAll([p]);
		await dropRoom(r);
	}
});

test('the connection state is text in a role="status" live region: empty while live, "reconnecting…" while not', async () => {
	const p = await open(browser, '/counter');
	try {
		// (#count, an <output>, is a status too: pick keycast.js's own)
		const region = p.getByRole('status').and(p.locator('[data-rt-status]'));
		assert.equal(await region.count(), 1);
		assert.equal(await region.getAttribute('aria-live'), 'polite');
		assert.equal(await statusText(p), '');
		await stack('stop', 'pushd');
		await until('the page to leave "live"', async () => (await rtState(p)) !== 'live', 5000);
		await until('the status text', async () => (await region.textContent()) === 'reconnecting…', 3000);
		await stack('start', 'pushd');
		await waitState(p, 'live', 15000);
		assert.equal(await region.textContent(), '');
		assert.deepEqual(p.rec.errors, []);
	} finally {
		await stack('start', 'pushd');
		await closeAll([p]);
	}
});
