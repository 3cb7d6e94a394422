// The framework end to end (fcgi/app.c, through the features' routes):
// answers through nginx and lighttpd (404, 405, HEAD, 413, 422, 403
// cross-site, 204 for keycast.js), render requests straight to
// keycast-fcgi, NOTIFY on commit only, and the failure behaviour (a killed
// worker, PostgreSQL stopped and started again). Each feature's own pages
// are tested in feature-<name>.test.mjs.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	env, webServers, until, request, postForm, fcgiHttp, stack, partPid,
	childPids, isAlive, psql, pgConnect, listen, signUp, as,
} from './lib.mjs';
import {
	JS, rtKey, shownCount, dbCounter, dbNewest, assertRedirect,
} from './page-helpers.mjs';

const run = Date.now().toString(36); // tells this run's chat messages apart
const BODY_MAX = 64 * 1024;

const dbSnapshot = () => psql("SELECT (SELECT value FROM counters WHERE name = 'global'), " +
	'count(*), coalesce(max(id), 0) FROM messages');

// Runs a request that must be refused and checks the database did not change.
async function refused(status, send) {
	const before = dbSnapshot();
	const res = await send();
	assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.body.slice(0, 200)}`);
	assert.equal(dbSnapshot(), before, 'a refused request changed the database');
	return res;
}

async function statuses(base, path, n) {
	const out = [];
	for (let i = 0; i < n; i++) out.push((await request(base, path)).status);
	return out;
}

// Posting needs a signed-in user: this file posts as `me`.
let me;
const ME = (extra = {}) => as(me, extra);

before(async () => {
	me = await signUp('pages');
	for (const { name, base } of webServers)
		await until(`${name} to serve /counter`, async () => (await request(base, '/counter')).status === 200);
});

for (const { name, base } of webServers) {
	describe(`pages and mutations through ${name}`, () => {
		test('mutations with X-Keycast: 1 answer 204 with no body', async () => {
			const v0 = dbCounter();
			const inc = await postForm(base, '/api/counter/increment', '', { headers: JS });
			assert.equal(inc.status, 204);
			assert.equal(inc.body, '');
			assert.equal(dbCounter(), v0 + 1);
			const text = `via js ${name} ${run}`;
			const chat = await postForm(base, '/api/chat/lobby/messages', { text }, { headers: ME(JS) });
			assert.equal(chat.status, 204);
			assert.equal(dbNewest('lobby'), `${me.name}|${text}`);
		});

		test('unknown paths and invalid rooms answer 404', async () => {
			for (const path of ['/nope', '/counter/x', '/chat/UPPER', `/chat/${'a'.repeat(33)}`, '/chat/a_b'])
				assert.equal((await request(base, path)).status, 404, path);
			assert.equal((await request(base, `/chat/${'a'.repeat(32)}`)).status, 200, 'a 32-character room');
			await refused(404, () => postForm(base, '/api/chat/UPPER/messages', { text: 'b' }, { headers: ME() }));
		});

		test('a wrong method answers 405 with Allow', async () => {
			const get = await refused(405, () => request(base, '/api/counter/increment'));
			assert.deepEqual(get.headers.get('allow')?.split(/,\s*/), ['POST']);
			const post = await refused(405, () => postForm(base, '/counter'));
			assert.ok(post.headers.get('allow')?.split(/,\s*/).includes('GET'),
				`Allow: ${post.headers.get('allow')}`);
		});

		test('HEAD works on every GET route', async () => {
			for (const path of ['/', '/counter', '/chat/lobby']) {
				const res = await request(base, path, { method: 'HEAD' });
				assert.equal(res.status, 200, path);
				assert.match(res.headers.get('content-type'), /^text\/html/, path);
			}
		});

		test('a body over 64 KiB answers 413 and changes nothing; exactly 64 KiB is read', async () => {
			const chat = (size) => 'text=' + 'x'.repeat(size - 'text='.length);
			await refused(413, () => postForm(base, '/api/chat/lobby/messages', chat(BODY_MAX + 1), { headers: ME() }));
			await refused(413, () => postForm(base, '/api/counter/increment', 'x='.padEnd(BODY_MAX + 1, 'x')));
			// At the limit the body is read, and its 65531-character text is too long.
			await refused(422, () => postForm(base, '/api/chat/lobby/messages', chat(BODY_MAX), { headers: ME() }));
		});

		test('an empty, blank or too long text, or invalid UTF-8 in any field, answers 422 and stores nothing', async () => {
			const bad = [
				{ text: '' },
				{ text: '   ' },
				{ text: 'b'.repeat(501) },
				'text=%ff',
				'author=%ff&text=hi',
				'text=%c3%28',
			];
			for (const form of bad) {
				const res = await refused(422, () => postForm(base, '/api/chat/lobby/messages', form, { headers: ME() }));
				assert.ok(res.body.trim().length > 0, `no message for ${JSON.stringify(form)}`);
			}
		});

		test('a text of 500 characters is accepted (characters, not bytes)', async () => {
			const text = 'ü'.repeat(500);
			assert.equal((await postForm(base, '/api/chat/lobby/messages', { text }, { headers: ME() })).status, 303);
			assert.equal(dbNewest('lobby'), `${me.name}|${text}`);
		});

		test('a cross-site post answers 403 and changes nothing; a same-origin one works', async () => {
			for (const headers of [
				{ Origin: 'http://evil.example' },
				{ Origin: 'null' },
				{ Origin: `${base}.evil.example` },
				{ 'Sec-Fetch-Site': 'cross-site' },
				{ 'Sec-Fetch-Site': 'cross-site', Origin: base },
			]) {
				await refused(403, () => postForm(base, '/api/counter/increment', '', { headers }));
				await refused(403, () => postForm(base, '/api/chat/lobby/messages',
					{ text: 'b' }, { headers: ME(headers) }));
			}
			const v0 = dbCounter();
			const res = await postForm(base, '/api/counter/increment', '',
				{ headers: { Origin: base, 'Sec-Fetch-Site': 'same-origin' } });
			assertRedirect(res, base, '/counter');
			assert.equal(dbCounter(), v0 + 1);
		});

		test('an X-Keycast-Render header from a client is cleared: the full page comes back', async () => {
			const res = await request(base, '/counter', { headers: { 'X-Keycast-Render': '/counter' } });
			assert.equal(res.status, 200);
			assert.match(res.body, /^<!doctype html>/i);
			assert.equal(rtKey(res.body), '/counter');
		});

		test('40 concurrent page loads and 10 concurrent posts all complete', async () => {
			const v0 = dbCounter();
			const opts = { timeout: 15000 };
			const [gets, posts] = await Promise.all([
				Promise.all(Array.from({ length: 40 }, () => request(base, '/counter', opts))),
				Promise.all(Array.from({ length: 10 }, () =>
					postForm(base, '/api/counter/increment', '', { ...opts, headers: JS }))),
			]);
			assert.deepEqual(gets.map((r) => r.status), Array(40).fill(200));
			assert.deepEqual(posts.map((r) => r.status), Array(10).fill(204));
			assert.equal(dbCounter(), v0 + 10);
		});

		test('refused bodies (413) mixed with small posts never break a kept-alive connection', async () => {
			const v0 = dbCounter();
			const big = `text=${'x'.repeat(70 * 1024)}`;
			const opts = { timeout: 15000, headers: ME(JS) };
			const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2
				? postForm(base, '/api/counter/increment', '', opts)
				: postForm(base, '/api/chat/lobby/messages', big, opts))));
			const statuses = results.map((r) => r.status);
			assert.deepEqual(statuses, Array.from({ length: 40 }, (_, i) => (i % 2 ? 204 : 413)));
			assert.equal(dbCounter(), v0 + 20);
		});
	});
}

describe('requests straight to the FastCGI socket', () => {
	for (const [url, key] of [['/', 'global'], ['/counter', '/counter'], ['/chat/lobby', '/chat/lobby']]) {
		test(`a render request for ${url} gets the fragment alone, the one the page wraps`, async () => {
			const page = await fcgiHttp('GET', url);
			const frag = await fcgiHttp('GET', url, { params: { KEYCAST_RENDER: key } });
			assert.equal(page.status, 200);
			assert.equal(frag.status, 200);
			assert.ok(frag.body.length > 0, 'empty fragment');
			assert.doesNotMatch(frag.body, /<html|<!doctype|data-rt-root/i);
			assert.ok(page.body.includes(`<div data-rt-root data-rt-key="${key}">${frag.body}</div>`),
				'the page does not wrap exactly the fragment');
		});
	}

	test('HEAD answers with the headers of GET and no body', async () => {
		const get = await fcgiHttp('GET', '/counter');
		const head = await fcgiHttp('HEAD', '/counter');
		assert.equal(head.status, 200);
		assert.equal(head.body, '');
		assert.equal(head.headers['content-type'], get.headers['content-type']);
		assert.equal(Number(head.headers['content-length']), Buffer.byteLength(get.body));
	});
});

describe('NOTIFY on channel keycast', () => {
	let listener;
	before(async () => { listener = await listen('keycast'); });
	after(() => listener?.close());

	test('a change is notified only when its transaction commits', async () => {
		const tx = await pgConnect();
		try {
			await listener.sync();
			await tx.query('BEGIN');
			await tx.query("UPDATE counters SET value = value + 1 WHERE name = 'global'");
			assert.deepEqual(await listener.sync(), [], 'notified before COMMIT');
			await tx.query('COMMIT');
			const got = await listener.sync();
			assert.ok(got.includes('/counter') && got.includes('global'), `received ${JSON.stringify(got)}`);
			await tx.query('BEGIN');
			await tx.query("UPDATE counters SET value = value + 1 WHERE name = 'global'");
			await tx.query('ROLLBACK');
			assert.deepEqual(await listener.sync(), [], 'notified for a rolled-back change');
		} finally {
			await tx.end();
		}
	});

	test('refused mutations (422, 403, 413) notify nothing', async () => {
		await listener.sync();
		const chat = '/api/chat/lobby/messages';
		await refused(422, () => postForm(env.httpBase, chat, { text: '' }, { headers: ME(JS) }));
		await refused(422, () => postForm(env.httpBase, chat, 'text=%ff', { headers: ME(JS) }));
		await refused(403, () => postForm(env.httpBase, '/api/counter/increment', '',
			{ headers: { ...JS, Origin: 'http://evil.example' } }));
		await refused(403, () => postForm(env.httpBase, chat, { text: 'b' },
			{ headers: ME({ ...JS, 'Sec-Fetch-Site': 'cross-site' }) }));
		await refused(413, () => postForm(env.httpBase, '/api/counter/increment', 'x='.padEnd(BODY_MAX + 1, 'x')));
		assert.deepEqual(await listener.sync(), []);
	});
});

describe('failures', () => {
	test('a worker killed with SIGKILL is replaced and requests keep succeeding', async () => {
		const parent = partPid('fcgi');
		const workers = childPids(parent);
		assert.ok(workers.length > 0, 'keycast-fcgi has no worker processes');
		const victim = workers[0];
		let replaced = false;
		try {
			process.kill(victim, 'SIGKILL');
			await until('a replacement worker', () => {
				const now = childPids(parent);
				return !now.includes(victim) && now.length === workers.length;
			});
			replaced = true;
			for (const { name, base } of webServers)
				assert.deepEqual(await statuses(base, '/counter', 50), Array(50).fill(200), name);
			assert.equal(partPid('fcgi'), parent, 'keycast-fcgi was restarted');
			assert.ok(isAlive(parent), 'the keycast-fcgi parent is gone');
		} finally {
			if (!replaced) {
				stack('stop', 'fcgi');
				stack('start', 'fcgi');
			}
		}
	});

	test('with PostgreSQL stopped pages answer 503 within 1 s; started again, they work without restarting keycast-fcgi', async () => {
		const parent = partPid('fcgi');
		stack('stop', 'pg');
		try {
			for (const { name, base } of webServers) {
				for (const send of [
					() => request(base, '/'),
					() => request(base, '/counter'),
					() => request(base, '/chat/lobby'),
					() => postForm(base, '/api/counter/increment', '', { headers: JS }),
				]) {
					const t0 = Date.now();
					const res = await send();
					const ms = Date.now() - t0;
					assert.equal(res.status, 503, `${name}: ${res.body.slice(0, 200)}`);
					assert.ok(ms < 1000, `${name}: the 503 took ${ms} ms`);
				}
			}
		} finally {
			stack('start', 'pg');
		}
		let recovered = false;
		try {
			// Workers connect on demand, so once PostgreSQL takes connections
			// every request must work, also on workers that sat idle while it
			// was away. Each new FastCGI connection goes to the next idle
			// worker, so these reach all of them.
			await until('PostgreSQL to accept connections', () => psql('SELECT 1') === '1', { timeout: 15000 });
			const direct = [];
			for (let i = 0; i < 3 * childPids(parent).length; i++)
				direct.push((await fcgiHttp('GET', '/counter')).status);
			assert.deepEqual(direct, Array(direct.length).fill(200),
				'FastCGI: some requests failed after PostgreSQL came back');
			for (const { name, base } of webServers)
				assert.deepEqual(await statuses(base, '/counter', 30), Array(30).fill(200),
					`${name}: some requests failed after PostgreSQL came back`);
			assert.equal(partPid('fcgi'), parent, 'keycast-fcgi was restarted');
			assert.ok(isAlive(parent), 'the keycast-fcgi parent is gone');
			recovered = true;
		} finally {
			// Later suites need workers that work.
			if (!recovered) {
				stack('stop', 'fcgi');
				stack('start', 'fcgi');
			}
		}
	});
});
