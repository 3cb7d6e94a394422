// The live poll in Chromium on the suite's stack: what a screen reader is
// told (a "Vote for …" button and a meter per option, named by the option),
// and a vote with JavaScript off (the form posts, 303 back to the poll).
// The two-window update is tests/browser/tutorial.test.mjs's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, open, closeAll, psql } from './helpers.mjs';

let browser, poll;
before(async () => {
	browser = await launch();
	const run = Date.now().toString(36);
	const id = (await psql(`INSERT INTO poll (question) VALUES ('Browser poll ${run}') RETURNING id`)).trim();
	await psql(`INSERT INTO poll_option (poll_id, label) VALUES (${id}, 'Red'), (${id}, 'Blue')`);
	await psql(`INSERT INTO vote (poll_id, option_id) SELECT poll_id, id FROM poll_option WHERE poll_id = ${id} AND label = 'Red'`);
	poll = Number(id);
});
after(async () => { await browser?.close(); });

test('each option has a "Vote for" button and a meter named by the option, valued by its share', async () => {
	const p = await open(browser, `/poll/${poll}`);
	try {
		for (const label of ['Red', 'Blue'])
			assert.equal(await p.getByRole('button', { name: `Vote for ${label}`, exact: true }).count(), 1, label);
		const red = p.getByRole('meter', { name: 'Red', exact: true });
		assert.equal(await red.getAttribute('aria-valuenow'), '100');
		assert.equal(await red.getAttribute('aria-valuetext'), '1 of 1 votes, 100%');
		assert.equal(await p.getByRole('meter', { name: 'Blue', exact: true }).getAttribute('aria-valuenow'), '0');
		assert.deepEqual(p.rec.errors, []);
	} finally {
		await closeAll([p]);
	}
});

test('with JavaScript off, a vote posts the form and comes back to the poll with the new bars', async () => {
	const p = await open(browser, `/poll/${poll}`, { js: false });
	try {
		const answers = [];
		p.on('response', (r) => answers.push(r.status()));
		await Promise.all([p.waitForNavigation(), p.getByRole('button', { name: 'Vote for Blue' }).click()]);
		assert.deepEqual(answers.slice(0, 2), [303, 200]);
		assert.equal(new URL(p.url()).pathname, `/poll/${poll}`);
		assert.equal(await p.getByRole('meter', { name: 'Blue', exact: true }).getAttribute('aria-valuenow'), '50');
		assert.equal(await p.locator('#poll-total').textContent(), '2');
	} finally {
		await closeAll([p]);
	}
});
