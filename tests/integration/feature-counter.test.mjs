// The counter feature (fcgi/pages/counter.c): GET /counter under key
// /counter, the two mutations (303 for a form, 204 for keycast.js), its
// fragment, and the NOTIFYs its trigger sends.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { env, webServers, until, request, postForm, fcgiHttp, listen } from './lib.mjs';
import {
	JS, rtKey, shownCount, postFormBody, dbCounter, assertRedirect,
} from './page-helpers.mjs';

before(async () => {
	for (const { name, base } of webServers)
		await until(`${name} to serve /counter`, async () => (await request(base, '/counter')).status === 200);
});

for (const { name, base } of webServers) {
	describe(`the counter through ${name}`, () => {
		test('/counter shows the title, the value in <output id="count"> and − and + forms', async () => {
			const res = await request(base, '/counter');
			assert.equal(res.status, 200);
			assert.match(res.body, /<title>Shared Real-Time Counter\b/);
			assert.equal(rtKey(res.body), '/counter');
			assert.equal(shownCount(res.body), dbCounter());
			assert.notEqual(postFormBody(res.body, '/api/counter/decrement'), undefined, 'no decrement form');
			assert.notEqual(postFormBody(res.body, '/api/counter/increment'), undefined, 'no increment form');
		});

		test('increment and decrement form posts change the count and answer 303 to /counter', async () => {
			const v0 = dbCounter();
			assertRedirect(await postForm(base, '/api/counter/increment'), base, '/counter');
			assert.equal(dbCounter(), v0 + 1);
			assert.equal(shownCount((await request(base, '/counter')).body), v0 + 1);
			assertRedirect(await postForm(base, '/api/counter/decrement'), base, '/counter');
			assertRedirect(await postForm(base, '/api/counter/decrement'), base, '/counter');
			assert.equal(dbCounter(), v0 - 1);
			assert.equal(shownCount((await request(base, '/counter')).body), v0 - 1);
		});

		test('with X-Keycast: 1 a mutation answers 204 with no body', async () => {
			const v0 = dbCounter();
			const res = await postForm(base, '/api/counter/increment', '', { headers: JS });
			assert.equal(res.status, 204);
			assert.equal(res.body, '');
			assert.equal(dbCounter(), v0 + 1);
		});
	});
}

describe('the counter fragment', () => {
	test('the counter fragment carries the current value', async () => {
		const frag = await fcgiHttp('GET', '/counter', { params: { KEYCAST_RENDER: '/counter' } });
		assert.equal(shownCount(frag.body), dbCounter());
	});
});

describe('the counter notifies', () => {
	let listener;
	before(async () => { listener = await listen('keycast'); });
	after(() => listener?.close());

	test('an increment notifies /counter and global', async () => {
		await listener.sync();
		assert.equal((await postForm(env.httpBase, '/api/counter/increment', '', { headers: JS })).status, 204);
		const got = await listener.sync();
		assert.ok(got.includes('/counter') && got.includes('global'), `received ${JSON.stringify(got)}`);
	});
});
