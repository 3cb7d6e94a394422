// keycast-pushd --check URL, the part for "no realtime updates" when every
// link works: it fetches the page through the web server, lists each
// realtime root's key and url, and asks pushd's loopback /debug/keys
// whether a notify named the key or only a similar one (the guide's key
// mismatch). The page comes from the stack's nginx; the keys from a pushd
// of this test's own (fresh state), which LISTENs on the stack's database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { env, psql } from './lib.mjs';
import { kc, startPushd } from './ws.mjs';

const BIN = `${kc.KC_BIN}/keycast-pushd`;
const PORT = env.pushdPort + 760; // keys.test.mjs +740
const run = Date.now().toString(36);

// Runs --check; resolves {code, out, lines: {name: {state, text}}}.
function check(url, flags) {
	const args = ['--check', url, '--db', kc.KC_CONNINFO, '--app', `unix:${kc.KC_FCGI_SOCKET}`, ...flags];
	return new Promise((resolve) => {
		execFile(BIN, args, { timeout: 30000, encoding: 'utf8' }, (err, stdout, stderr) => {
			const lines = {};
			for (const line of stdout.split('\n')) {
				const m = /^(ok|FAILED|skipped|note) +([^:]+): (.*)$/.exec(line);
				if (m) lines[m[2]] = { state: m[1], text: m[3] };
			}
			resolve({ code: err ? err.code : 0, out: stdout + stderr, lines });
		});
	});
}

test('--check http://HOST:PORT/PATH lists the page\'s realtime root, its url defaulting to the page\'s path and query', async (t) => {
	const pushd = await startPushd({ port: PORT });
	t.after(() => pushd.stop());
	let r = await check(`${env.httpBase}/counter`, ['--listen', `127.0.0.1:${PORT}`]);
	assert.equal(r.lines.page?.state, 'ok', r.out);
	// The layout's header (before main) holds a second root: today's
	// messages (key global). Roots are listed in document order.
	assert.match(r.lines.page.text, /has 2 realtime roots: key global url \/live\/today; key \/counter url \/counter$/, r.out);
	assert.equal(r.lines['key /counter']?.state, 'ok', r.out);
	assert.equal(r.code, 0, r.out);

	r = await check(`${env.httpBase}/counter?from=${run}`, ['--listen', `127.0.0.1:${PORT}`]);
	assert.match(r.lines.page?.text, new RegExp(`has 2 realtime roots: key global url /live/today; key /counter url /counter\\?from=${run}$`), r.out);
	// The render and the upgrade use the page's key, not the url.
	assert.match(r.lines.render?.text, new RegExp(`rendered /counter\\?from=${run} \\(key /counter\\)`), r.out);
});

test('--check: a page subscribing /counter while only /COUNTER/ is notified FAILs that key, naming the other; a notify of /counter clears it', async (t) => {
	const pushd = await startPushd({ port: PORT });
	t.after(() => pushd.stop());
	const flags = ['--via', env.httpBase, '--listen', `127.0.0.1:${PORT}`];

	let r = await check('/counter', flags);
	assert.equal(r.lines['key /counter']?.state, 'ok', r.out);
	assert.match(r.lines['key /counter'].text, /^url \/counter: no notify since pushd started$/, r.out);

	psql("NOTIFY keycast, '/COUNTER/'");
	r = await check('/counter', flags);
	assert.equal(r.lines['key /counter']?.state, 'FAILED', r.out);
	assert.match(r.lines['key /counter'].text,
		/no notify since pushd started; the similar key \/COUNTER\/ was notified \(1 notifies, last \d+ s ago\) and no client holds it/, r.out);
	assert.equal(r.code, 1, r.out);
	for (const link of ['database', 'LISTEN/NOTIFY', 'render', 'websocket', 'page'])
		assert.equal(r.lines[link]?.state, 'ok', `${link}: ${r.out}`);

	psql("NOTIFY keycast, '/counter'");
	r = await check('/counter', flags);
	assert.equal(r.lines['key /counter']?.state, 'ok', r.out);
	assert.match(r.lines['key /counter'].text, /last notify \d+ s ago, while no client held it/, r.out);
	assert.equal(r.code, 0, r.out);
});

test('--check: a pushd without /debug/keys, or none at --listen, is a note that does not fail the check', async (t) => {
	const old = http.createServer((req, res) => {
		res.writeHead(req.url === '/healthz' ? 200 : 404, { 'Content-Type': 'text/plain' });
		res.end('not found\n');
	});
	await new Promise((resolve) => old.listen(0, '127.0.0.1', resolve));
	t.after(() => new Promise((resolve) => old.close(resolve)));
	let r = await check('/counter', ['--via', env.httpBase, '--listen', `127.0.0.1:${old.address().port}`]);
	assert.equal(r.lines.keys?.state, 'note', r.out);
	assert.match(r.lines.keys.text, /has no \/debug\/keys/, r.out);
	assert.equal(r.code, 0, r.out);

	const port = old.address().port;
	await new Promise((resolve) => old.close(resolve));
	r = await check('/counter', ['--via', env.httpBase, '--listen', `127.0.0.1:${port}`]);
	assert.equal(r.lines.keys?.state, 'note', r.out);
	assert.match(r.lines.keys.text, /cannot connect.*give --check pushd's --listen/, r.out);
	assert.equal(r.code, 0, r.out);
});

test('--check: a page without a realtime root FAILs the page link', async () => {
	// The app renders /counter as a fragment; /healthz of pushd itself is
	// a 200 page with no root, reached through --via.
	const r = await check('/healthz', ['--key', '/counter', '--via', `http://127.0.0.1:${env.pushdPort}`,
		'--listen', `127.0.0.1:${env.pushdPort}`]);
	assert.equal(r.lines.page?.state, 'FAILED', r.out);
	assert.match(r.lines.page.text, /has no realtime root/, r.out);
	assert.equal(r.code, 1, r.out);
});
