// The index feature (fcgi/pages/index.c): GET / under key global, the
// counter's value and each listed room's message count, and its fragment.
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { env, webServers, until, request, fcgiHttp, psql } from './lib.mjs';
import { rtKey, dbCounter } from './page-helpers.mjs';

before(async () => {
	for (const { name, base } of webServers)
		await until(`${name} to serve /`, async () => (await request(base, '/')).status === 200);
});

for (const { name, base } of webServers) {
	describe(`the index through ${name}`, () => {
		test('/ links to the counter and the rooms and shows the count and each room\'s messages', async () => {
			const res = await request(base, '/');
			assert.equal(res.status, 200);
			assert.match(res.headers.get('content-type'), /^text\/html/);
			assert.equal(rtKey(res.body), 'global');
			assert.ok(res.body.includes('href="/counter"'), 'no link to /counter');
			assert.ok(res.body.includes('href="/chat/lobby"'), 'no link to /chat/lobby');
			assert.equal(Number(/id="index-counter">(-?\d+)</.exec(res.body)?.[1]), dbCounter());
			const inDb = new Map(psql('SELECT room, count(*) FROM messages GROUP BY room')
				.split('\n').filter(Boolean).map((l) => l.split('|')));
			const shown = [...res.body.matchAll(/data-room="([^"]+)">(\d+)/g)];
			assert.ok(shown.some((m) => m[1] === 'lobby'), 'no message count for lobby');
			for (const [, room, count] of shown) {
				assert.ok(res.body.includes(`href="/chat/${room}"`), `no link to room ${room}`);
				assert.equal(count, inDb.get(room) ?? '0', `message count of ${room}`);
			}
		});
	});
}

describe('the index fragment', () => {
	test('a render request for / (key global) gets the fragment alone, the one the page wraps', async () => {
		const page = await fcgiHttp('GET', '/');
		const frag = await fcgiHttp('GET', '/', { params: { KEYCAST_RENDER: 'global' } });
		assert.equal(frag.status, 200);
		assert.doesNotMatch(frag.body, /<html|<!doctype|data-rt-root/i);
		assert.ok(page.body.includes(`<div data-rt-root data-rt-key="global">${frag.body}</div>`));
		assert.equal(Number(/id="index-counter">(-?\d+)</.exec(frag.body)?.[1]), dbCounter());
	});
});
