// The schema's promises, made in psql as an operator would: TRUNCATE
// notifies every key whose page it changes (and the browsers on them get the
// new fragment), the per-room message counts the index page shows stay equal
// to the messages after any INSERT, UPDATE, DELETE or TRUNCATE, and the index
// page stays bounded with 300,000 messages in 2,000 spam rooms: its query
// never scans messages and lobby, help and random stay listed.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { env, psql, listen, request, pgConnect } from './lib.mjs';
import { connect, countOf, closeAll } from './ws.mjs';

const run = Date.now().toString(36);
const clients = [];
after(() => closeAll(clients));

// Rooms whose kept count differs from the messages table (must be none).
const countMismatches = () => psql(`
	SELECT count(*) FROM (SELECT room, count(*) AS n FROM messages GROUP BY room) m
	FULL JOIN rooms r ON r.name = m.room
	WHERE coalesce(m.n, 0) <> coalesce(r.messages, 0)`);

const post = (room, text) => psql(`INSERT INTO messages (room, author, body) VALUES ('${room}', 'sql-test', '${text}')`);

describe('TRUNCATE notifies every affected key', () => {
	test('TRUNCATE counters notifies /counter and global, and /counter pages show 0', async () => {
		const v0 = Number(psql("SELECT value FROM counters WHERE name = 'global'"));
		const c = await connect('/counter', { label: 'counter page' });
		clients.push(c);
		psql("UPDATE counters SET value = 4242 WHERE name = 'global'");
		await c.waitMessage('the counter at 4242', (d) => countOf(d) === 4242, { timeout: 10000 });
		const l = await listen();
		try {
			await l.sync();
			psql('TRUNCATE counters');
			const keys = await l.sync();
			assert.ok(keys.includes('/counter') && keys.includes('global'), `notified ${JSON.stringify(keys)}`);
			await c.waitMessage('the counter at 0 after TRUNCATE', (d) => countOf(d) === 0, { timeout: 10000 });
		} finally {
			psql(`INSERT INTO counters (name, value) VALUES ('global', ${v0}) ON CONFLICT (name) DO UPDATE SET value = ${v0}`);
			await l.close();
		}
	});

	test('TRUNCATE messages notifies each room that had messages and global; its pages empty out', async () => {
		const rooms = [`trunc-a-${run}`, `trunc-b-${run}`];
		for (const room of rooms) post(room, `before truncate ${run}`);
		const c = await connect(`/chat/${rooms[0]}`, { label: 'chat page' });
		clients.push(c);
		await c.waitMessage('the message', (d) => d.includes(`before truncate ${run}`), { timeout: 10000 });
		const from = c.messages.length;
		const l = await listen();
		try {
			await l.sync();
			psql('TRUNCATE messages');
			const keys = await l.sync();
			for (const key of [...rooms.map((r) => `/chat/${r}`), 'global'])
				assert.ok(keys.includes(key), `${key} not notified; got ${JSON.stringify(keys.slice(0, 20))}`);
			await c.waitMessage('the page without the message', (d) => !d.includes(`before truncate ${run}`),
				{ from, timeout: 10000 });
		} finally {
			await l.close();
		}
		assert.equal(countMismatches(), '0');
	});
});

describe('per-room counts', () => {
	test('stay equal to the messages after INSERT, UPDATE, DELETE and TRUNCATE', () => {
		const a = `count-a-${run}`;
		const b = `count-b-${run}`;
		psql(`INSERT INTO messages (room, author, body) SELECT CASE WHEN i % 3 = 0 THEN '${a}' ELSE '${b}' END,
			'sql-test', 'm' || i FROM generate_series(1, 30) i`);
		assert.equal(countMismatches(), '0', 'after a multi-room INSERT');
		psql(`UPDATE messages SET room = '${a}' WHERE room = '${b}' AND body IN ('m1', 'm2', 'm4')`);
		assert.equal(countMismatches(), '0', 'after moving messages between rooms');
		psql(`DELETE FROM messages WHERE room = '${b}'`);
		assert.equal(countMismatches(), '0', 'after emptying a room');
		assert.equal(psql(`SELECT count(*) FROM rooms WHERE name = '${b}'`), '0', 'an emptied room is no longer listed');
		const owned = psql("SELECT string_agg(name, ',' ORDER BY name) FROM rooms WHERE owner_id IS NOT NULL");
		psql('TRUNCATE messages');
		assert.equal(countMismatches(), '0', 'after TRUNCATE');
		assert.equal(psql("SELECT string_agg(name, ',' ORDER BY name) FROM rooms WHERE owner_id IS NULL"),
			'help,lobby,random', 'after TRUNCATE only the pinned rooms are left of those nobody owns');
		assert.equal(psql("SELECT string_agg(name, ',' ORDER BY name) FROM rooms WHERE owner_id IS NOT NULL"),
			owned, 'rooms users created stay (with their members), empty');
	});
});

describe('per-room counts under concurrent writers', () => {
	test('8 connections posting and deleting in the same rooms at once leave the counts exact', async () => {
		const rooms = [0, 1, 2].map((i) => `race-${i}-${run}`);
		const conns = await Promise.all(Array.from({ length: 8 }, () => pgConnect()));
		try {
			await Promise.all(conns.map(async (c, w) => {
				for (let i = 0; i < 40; i++) {
					const room = rooms[(w + i) % rooms.length];
					if (w === 0 && i % 4 === 3)
						await c.query('DELETE FROM messages WHERE id = (SELECT min(id) FROM messages WHERE room = $1)', [room]);
					else
						await c.query("INSERT INTO messages (room, author, body) VALUES ($1, 'race', $2)", [room, `w${w} ${i}`]);
				}
			}));
		} finally {
			await Promise.all(conns.map((c) => c.end()));
		}
		assert.equal(countMismatches(), '0');
	});
});

describe('the index page with 300,000 messages in 2,000 rooms', () => {
	after(() => psql('TRUNCATE messages'));

	test('its query reads no messages, and lobby, help and random stay listed', async () => {
		// Room names sorting before "help" and "lobby", posted after them.
		post('lobby', 'pinned');
		psql(`INSERT INTO messages (room, author, body)
			SELECT 'a' || (i % 2000), 'spam', 'x' FROM generate_series(1, 300000) i`);
		const t0 = Date.now();
		const page = await request(env.httpBase, '/', { timeout: 10000 });
		const ms = Date.now() - t0;
		assert.equal(page.status, 200);
		const listed = new Map([...page.body.matchAll(/data-room="([a-z0-9-]+)">(\d+) /g)]
			.map((m) => [m[1], Number(m[2])]));
		for (const room of ['lobby', 'help', 'random'])
			assert.ok(listed.has(room), `${room} not listed among ${listed.size}: ${[...listed.keys()].slice(0, 10)}...`);
		assert.equal(listed.get('lobby'), 1);
		assert.ok(listed.size <= 50, `${listed.size} rooms listed`);
		const spam = [...listed].filter(([room]) => /^a\d+$/.test(room));
		assert.ok(spam.length > 0, 'the most active rooms are listed too');
		for (const [room, n] of spam) assert.equal(n, 150, `${room} shows ${n} messages`);
		assert.equal(countMismatches(), '0');
		psql('ANALYZE messages');
		const plan = psql('EXPLAIN (FORMAT JSON) SELECT * FROM index_rooms');
		assert.doesNotMatch(plan, /"Relation Name": "messages"/, `the index query reads messages: ${plan}`);
		// Generous: a shared machine; the work is bounded by the plan above.
		assert.ok(ms < 3000, `the index page took ${ms} ms`);
	});
});
