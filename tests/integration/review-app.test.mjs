// A hostile second look at the FastCGI app and its features: each test
// names a defect it caught (see the commit that added it).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from './ws.mjs';
import { env, request, postForm, fcgiHttp, psql, listen, signUp, as } from './lib.mjs';
import { makePoll as makeAPoll } from './page-helpers.mjs';

const run = Date.now().toString(36);

const makePoll = (question, labels) => makeAPoll(`${question} ${run}`, labels);

describe('sql/007_poll.sql notifies every change the poll page shows', () => {
	let listener;
	before(async () => { listener = await listen('keycast'); });
	after(() => listener?.close());

	test('a question edited in psql notifies its poll', async () => {
		const p = makePoll('Edited?', ['A']);
		await listener.sync();
		psql(`UPDATE poll SET question = 'Edited! ${run}' WHERE id = ${p.id}`);
		assert.deepEqual(await listener.sync(), [`/poll/${p.id}`]);
	});

	test('a poll deleted in psql, even one without options, notifies its key', async () => {
		const p = makePoll('Gone?', []);
		await listener.sync();
		psql(`DELETE FROM poll WHERE id = ${p.id}`);
		assert.deepEqual(await listener.sync(), [`/poll/${p.id}`]);
	});

	test('TRUNCATE vote notifies the polls whose bars it empties', async () => {
		const p = makePoll('Truncated?', ['A']);
		psql(`INSERT INTO vote (poll_id, option_id) VALUES (${p.id}, ${p.options[0]})`);
		await listener.sync();
		psql('TRUNCATE vote');
		assert.ok((await listener.sync()).includes(`/poll/${p.id}`), 'TRUNCATE vote notified nothing');
		const res = await request(env.httpBase, `/poll/${p.id}`);
		assert.match(res.body, /<span id="poll-total">0<\/span>/);
	});
});

describe('fcgi/pages/index.c', () => {
	test('the counter shows its value when no public room is listed', async () => {
		const hidden = psql('UPDATE rooms SET private = true WHERE NOT private RETURNING id')
			.split('\n').filter(Boolean);
		try {
			psql("INSERT INTO counters (name, value) VALUES ('global', 0) ON CONFLICT (name) DO NOTHING");
			const value = psql("UPDATE counters SET value = value + 7 WHERE name = 'global' RETURNING value");
			assert.notEqual(value, '0');
			const res = await request(env.httpBase, '/');
			assert.equal(res.status, 200);
			assert.match(res.body, new RegExp(`id="index-counter">${value}<`));
		} finally {
			if (hidden.length > 0)
				psql(`UPDATE rooms SET private = false WHERE id IN (${hidden.join(',')})`);
		}
	});
});

describe('fcgi/pages/chat.c: a private room', () => {
	test('stays closed to anonymous viewers when its owner is deleted', async () => {
		const owner = await signUp('rv-owner');
		const room = `rv-orphan-${run}`;
		assert.equal((await postForm(env.httpBase, '/api/rooms', { room, private: '1' }, { headers: as(owner) })).status, 303);
		assert.equal((await postForm(env.httpBase, `/api/chat/${room}/messages`, { text: `secret ${run}` }, { headers: as(owner) })).status, 303);
		psql(`DELETE FROM users WHERE id = ${owner.id}`);
		assert.equal(psql(`SELECT private::text || ',' || (owner_id IS NULL)::text FROM rooms WHERE name = '${room}'`), 'true,true');
		const page = await request(env.httpBase, `/chat/${room}`);
		assert.equal(page.status, 404);
		assert.doesNotMatch(page.body, new RegExp(`secret ${run}`));
		const az = await fcgiHttp('GET', `/chat/${room}`, {
			headers: { Origin: 'http://127.0.0.1' },
			params: { KEYCAST_AUTHORIZE: `/chat/${room}`, REMOTE_ADDR: '127.0.0.1' },
		});
		assert.equal(az.status, 401);
	});
});

describe('fcgi/authorize.c: one url per page, as the query rule intends', () => {
	// A percent-encoded spelling of a key's url decodes to the same page,
	// but pushd groups by the url as sent: each spelling would be one more
	// (key, url) group of --max-urls-per-key, squatted by one socket.
	for (const [key, url] of [['/chat/lobby', '/chat/lobb%79'], ['/counter', '/c%6Funter'],
		['/chat/lobby', '/chat/%6cobby'], ['global', '/%2F']]) {
		test(`key ${key} with url ${url}: 403`, async () => {
			const res = await fcgiHttp('GET', url, {
				headers: { Origin: 'http://127.0.0.1' },
				params: { KEYCAST_AUTHORIZE: key, REMOTE_ADDR: '127.0.0.1' },
			});
			assert.equal(res.status, 403, res.body);
			assert.equal(res.headers['keycast-view'], undefined);
		});
	}
});

describe('fcgi/pages/chat.c + sql: a room made private after a viewer came', () => {
	test('an anonymous socket on a room name with no room yet is closed when the room is created private', async () => {
		const owner = await signUp('rv-late');
		const room = `rv-late-${run}`;
		const anon = await connect(`/chat/${room}`, { label: 'anon early' });
		try {
			await anon.waitMessage('first fragment', () => true, { timeout: 15000 });
			assert.equal((await postForm(env.httpBase, '/api/rooms', { room, private: '1' }, { headers: as(owner) })).status, 303);
			assert.equal((await postForm(env.httpBase, `/api/chat/${room}/messages`, { text: `hush ${run}` }, { headers: as(owner) })).status, 303);
			const close = await anon.waitClose(15000).catch(() => null);
			assert.ok(!anon.messages.some((m) => m.data.includes(`hush ${run}`)), 'the anonymous socket got the private message');
			assert.equal(close?.code, 4401, 'the anonymous socket was not refused');
		} finally {
			anon.terminate();
		}
	});
});
