// A pitfall of docs/design.md: kept-alive FastCGI connections (nginx's upstream
// keepalive, pushd's render pool) pin keycast-fcgi workers. With the stack's
// sizing, a burst of page requests and mutations (each causing renders)
// together must never stall: every request completes and every subscribed
// client converges on the final value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { env, until, request, postForm, psql } from './lib.mjs';
import { connectAll, closeAll, countOf, indexCountOf } from './ws.mjs';

test('a burst of page GETs and mutations with renders in flight never stalls', async (t) => {
	// Two groups a counter change renders: /counter and the index (a url
	// belongs to one key, so a made-up /counter?x is refused).
	const clients = await connectAll(Array.from({ length: 6 }, (_, i) => (i % 2
		? { key: '/counter', url: '/counter', label: `burst ${i}` }
		: { key: 'global', url: '/', label: `burst ${i}` })));
	const valueOf = (c, i) => (i % 2 ? countOf(c.last) : indexCountOf(c.last));
	t.after(() => closeAll(clients));
	const started = Date.now();
	const gets = Array.from({ length: 60 }, () => request(env.httpBase, '/counter', { timeout: 10000 }));
	const posts = Array.from({ length: 30 }, () => postForm(env.httpBase, '/api/counter/increment', '',
		{ headers: { 'X-Keycast': '1' }, timeout: 10000 }));
	const results = await Promise.all([...gets, ...posts]);
	const elapsed = Date.now() - started;
	assert.deepEqual(results.map((r) => r.status).filter((s) => s !== 200 && s !== 204), [],
		'every request answered 200 or 204');
	assert.ok(elapsed < 10000, `the burst completed in ${elapsed} ms`);
	const final = Number(psql("SELECT value FROM counters WHERE name = 'global'"));
	await until('every client shows the final value', () => clients.every((c, i) => valueOf(c, i) === final),
		{ timeout: 5000 });
});
