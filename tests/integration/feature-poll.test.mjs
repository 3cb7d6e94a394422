// The live poll feature (fcgi/pages/poll.c, sql/007_poll.sql,
// templates/poll.mustache): its page through both web servers and as a
// render, votes answered 204 or 303, refused input that changes and
// notifies nothing, and the trigger's NOTIFY of /poll/<id> in the vote's
// own transaction. Each test makes its own polls in psql, so runs and the
// demo's poll 1 do not see each other.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { env, webServers, request, postForm, fcgiHttp, psql, pgConnect, listen } from './lib.mjs';
import { JS, rtKey, makePoll as makeAPoll } from './page-helpers.mjs';

const run = Date.now().toString(36);

const makePoll = (question, labels) => makeAPoll(`${question} ${run}`, labels);

const votes = (poll) => Number(psql(`SELECT count(*) FROM vote WHERE poll_id = ${poll}`));
const votesFor = (option) => Number(psql(`SELECT count(*) FROM vote WHERE option_id = ${option}`));
const allVotes = () => psql('SELECT count(*), coalesce(max(id), 0) FROM vote');

// The shown votes and bar width of each option, in page order.
function bars(html) {
	return [...html.matchAll(/<li class="poll-option" data-option="(\d+)"[\s\S]*?<span class="count">(\d+) · (\d+)%<\/span>[\s\S]*?class="poll-fill" style="width:(\d+)%/g)]
		.map((m) => ({ option: Number(m[1]), votes: Number(m[2]), percent: Number(m[3]), width: Number(m[4]) }));
}


let poll;
before(() => { poll = makePoll('Tea or coffee?', ['Tea', 'Coffee', 'Water']); });

for (const { name, base } of webServers) {
	describe(`the poll page through ${name}`, () => {
		test('GET /poll/:id shows the question, a vote form per option and bars, under key /poll/:id', async () => {
			const res = await request(base, `/poll/${poll.id}`);
			assert.equal(res.status, 200);
			assert.match(res.headers.get('content-type'), /^text\/html/);
			assert.equal(rtKey(res.body), `/poll/${poll.id}`);
			assert.match(res.body, new RegExp(`<h1 id="poll-question">Tea or coffee\\? ${run}</h1>`));
			for (const o of poll.options) {
				assert.match(res.body, new RegExp(`<form method="post" action="/api/poll/${poll.id}/vote"[^>]*>\\s*` +
					`<button type="submit" name="option" value="${o}"`), `no vote form for option ${o}`);
				assert.match(res.body, new RegExp(`role="meter" aria-labelledby="option-${o}"`));
			}
			assert.deepEqual(bars(res.body).map((b) => b.option), poll.options);
		});

		test('the demo poll /poll/1 exists and the index links to it', async () => {
			assert.equal((await request(base, '/poll/1')).status, 200);
			assert.match((await request(base, '/')).body, /href="\/poll\/1"/);
		});

		test('unknown, non-numeric and zero-padded poll ids are 404', async () => {
			for (const p of ['/poll/999999999', '/poll/abc', `/poll/0${poll.id}`, '/poll/-1',
				'/poll/99999999999999999999'])
				assert.equal((await request(base, p)).status, 404, p);
		});
	});
}

describe('votes', () => {
	test('a vote with X-Keycast answers 204 and the page shows it', async () => {
		const before = votesFor(poll.options[0]);
		const res = await postForm(env.httpBase, `/api/poll/${poll.id}/vote`, { option: poll.options[0] }, { headers: JS });
		assert.equal(res.status, 204);
		assert.equal(res.body, '');
		assert.equal(votesFor(poll.options[0]), before + 1);
		const shown = bars((await request(env.httpBase, `/poll/${poll.id}`)).body);
		assert.equal(shown[0].votes, before + 1);
	});

	for (const { name, base } of webServers) {
		test(`a plain form vote through ${name} answers 303 back to the poll`, async () => {
			const before = votesFor(poll.options[1]);
			const res = await postForm(base, `/api/poll/${poll.id}/vote`, { option: poll.options[1] });
			assert.equal(res.status, 303);
			assert.equal(new URL(res.headers.get('location'), base).href, `${base}/poll/${poll.id}`);
			assert.equal(votesFor(poll.options[1]), before + 1);
		});
	}

	test('the bars show each option\'s share of the votes', async () => {
		const p = makePoll('Shares', ['A', 'B', 'C']);
		let shown = bars((await request(env.httpBase, `/poll/${p.id}`)).body);
		assert.deepEqual(shown.map((b) => [b.votes, b.width]), [[0, 0], [0, 0], [0, 0]], 'no votes: empty bars');
		psql(`INSERT INTO vote (poll_id, option_id) SELECT ${p.id}, ${p.options[0]} FROM generate_series(1, 2)`);
		psql(`INSERT INTO vote (poll_id, option_id) VALUES (${p.id}, ${p.options[1]})`);
		shown = bars((await request(env.httpBase, `/poll/${p.id}`)).body);
		assert.deepEqual(shown.map((b) => [b.votes, b.percent, b.width]), [[2, 67, 67], [1, 33, 33], [0, 0, 0]]);
		assert.match((await request(env.httpBase, `/poll/${p.id}`)).body, /<span id="poll-total">3<\/span> votes/);
	});

	test('a render request gets the fragment alone', async () => {
		const res = await fcgiHttp('GET', `/poll/${poll.id}`, { params: { KEYCAST_RENDER: `/poll/${poll.id}`, KEYCAST_VIEW: 'public' } });
		assert.equal(res.status, 200);
		assert.match(res.body, /^<section class="card poll"/);
		assert.doesNotMatch(res.body, /<html|data-rt-root/);
		assert.deepEqual(bars(res.body).map((b) => b.option), poll.options);
	});
});

describe('refused votes change and notify nothing', () => {
	let listener, other;
	before(async () => {
		listener = await listen('keycast');
		other = makePoll('Another poll', ['Elsewhere']);
	});
	after(() => listener?.close());

	const cases = () => [
		['an unknown option', 422, `/api/poll/${poll.id}/vote`, { option: '999999999' }],
		['an option of another poll', 422, `/api/poll/${poll.id}/vote`, { option: String(other.options[0]) }],
		['no option field', 422, `/api/poll/${poll.id}/vote`, { choice: String(poll.options[0]) }],
		['an empty option', 422, `/api/poll/${poll.id}/vote`, { option: '' }],
		['a non-numeric option', 422, `/api/poll/${poll.id}/vote`, { option: 'tea' }],
		['a zero-padded option', 422, `/api/poll/${poll.id}/vote`, { option: `0${poll.options[0]}` }],
		['an option with a sign', 422, `/api/poll/${poll.id}/vote`, { option: `+${poll.options[0]}` }],
		['a non-numeric poll id', 404, '/api/poll/tea/vote', { option: String(poll.options[0]) }],
		['an unknown poll', 404, '/api/poll/999999999/vote', { option: String(poll.options[0]) }],
	];

	for (const js of [true, false]) {
		test(`each is a clear 4xx ${js ? 'with' : 'without'} X-Keycast`, async () => {
			for (const [what, status, path, form] of cases()) {
				await listener.sync();
				const before = allVotes();
				const res = await postForm(env.httpBase, path, form, { headers: js ? JS : {} });
				assert.equal(res.status, status, `${what}: ${res.status} ${res.body.slice(0, 200)}`);
				if (js)
					assert.match(res.body, /poll/i, `${what}: the message names the poll or its options`);
				else
					assert.match(res.headers.get('content-type'), /^text\/html/, `${what}: an error page`);
				assert.equal(allVotes(), before, `${what} changed the votes`);
				assert.deepEqual(await listener.sync(), [], `${what} notified`);
			}
		});
	}

	test('GET on the vote route is 405 with Allow: POST', async () => {
		const res = await request(env.httpBase, `/api/poll/${poll.id}/vote`);
		assert.equal(res.status, 405);
		assert.match(res.headers.get('allow'), /POST/);
	});
});

describe('NOTIFY /poll/<id> in the vote\'s transaction', () => {
	let listener;
	before(async () => { listener = await listen('keycast'); });
	after(() => listener?.close());

	test('a vote over HTTP notifies its poll\'s key, and only that', async () => {
		await listener.sync();
		const res = await postForm(env.httpBase, `/api/poll/${poll.id}/vote`, { option: poll.options[2] }, { headers: JS });
		assert.equal(res.status, 204);
		assert.deepEqual(await listener.sync(), [`/poll/${poll.id}`]);
	});

	test('a vote in psql is notified at COMMIT, a rolled-back one never', async () => {
		const tx = await pgConnect();
		try {
			await listener.sync();
			const before = votes(poll.id);
			await tx.query('BEGIN');
			await tx.query('INSERT INTO vote (poll_id, option_id) VALUES ($1, $2)', [poll.id, poll.options[0]]);
			assert.deepEqual(await listener.sync(), [], 'notified before COMMIT');
			await tx.query('COMMIT');
			assert.deepEqual(await listener.sync(), [`/poll/${poll.id}`]);
			assert.equal(votes(poll.id), before + 1);
			await tx.query('BEGIN');
			await tx.query('INSERT INTO vote (poll_id, option_id) VALUES ($1, $2)', [poll.id, poll.options[0]]);
			await tx.query('ROLLBACK');
			assert.deepEqual(await listener.sync(), [], 'notified for a rolled-back vote');
			assert.equal(votes(poll.id), before + 1);
		} finally {
			await tx.end();
		}
	});

	test('many votes in one statement are one notify; an option renamed or moved notifies its polls', async () => {
		const p = makePoll('Moves', ['X', 'Y']);
		await listener.sync();
		psql(`INSERT INTO vote (poll_id, option_id) SELECT ${p.id}, ${p.options[0]} FROM generate_series(1, 50)`);
		assert.deepEqual(await listener.sync(), [`/poll/${p.id}`]);
		psql(`UPDATE poll_option SET label = 'Y2' WHERE id = ${p.options[1]}`);
		assert.deepEqual(await listener.sync(), [`/poll/${p.id}`]);
		psql(`UPDATE poll_option SET poll_id = ${poll.id} WHERE id = ${p.options[1]}`);
		assert.deepEqual((await listener.sync()).sort(), [`/poll/${p.id}`, `/poll/${poll.id}`].sort());
	});

	test('the database itself refuses a vote for another poll\'s option', async () => {
		const p = makePoll('Guard', ['Only']);
		assert.throws(() => psql(`INSERT INTO vote (poll_id, option_id) VALUES (${poll.id}, ${p.options[0]})`),
			/foreign key/);
	});
});
