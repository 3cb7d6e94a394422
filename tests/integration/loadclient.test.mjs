// The benchmarks' load client (bench/loadclient) must hold, per client,
// exactly what a browser would show: v1 frames taken whole; v2 F frames
// only if they hash to their version; D frames applied to the fragment the
// client holds, only on the right base, their result checked; deflated
// frames inflated. A frame a browser would refuse, or a client holding
// something other than the page at the end, fails the run (exit 3), so a
// wrong diff can never pass for a faster number. First against the stack's
// pushd (v1, v2, v2 + permessage-deflate, direct and through nginx), then
// against a fake server that forges each kind of bad frame.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { WebSocketServer } from 'ws';
import { env, psql } from './lib.mjs';
import { kc, httpPort } from './ws.mjs';
import { version } from './v2.mjs';

const bin = `${kc.KC_BUILD}/bench/loadclient/loadclient`;

// Runs the load client; resolves { code, out (JSON lines), err }.
function loadclient(args, { timeout = 60000 } = {}) {
	return new Promise((resolve, reject) => {
		const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
		let out = '', err = '';
		p.stdout.on('data', (d) => { out += d; });
		p.stderr.on('data', (d) => { err += d; });
		const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`load client still running after ${timeout} ms: ${err}`)); }, timeout);
		p.on('error', reject);
		p.on('close', (code) => {
			clearTimeout(timer);
			const lines = out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
			resolve({ code, lines, err });
		});
	});
}

const rounds = (r) => r.lines.filter((l) => l.round !== undefined && l.warmup === false);
const verdict = (r) => r.lines.find((l) => l.mode === 'verify');
const sumKind = (r, k) => rounds(r).reduce((s, l) => s + l.wire[k], 0);

describe('the load client against the stack', () => {
	const counter = ['-n', '20', '--rounds', '2', '--trigger', `127.0.0.1:${httpPort}`,
		'--header', 'X-Keycast: 1', '--verify', `127.0.0.1:${httpPort}`];

	for (const [name, connect] of [['directly', env.pushdPort], ['through nginx', httpPort]]) {
		test(`counter ${name}: v1 full frames, held fragments equal the page`, async () => {
			const r = await loadclient([...counter, '--connect', `127.0.0.1:${connect}`]);
			assert.equal(r.code, 0, r.err);
			assert.equal(verdict(r).ok, true);
			assert.equal(verdict(r).clients, 20);
			assert.equal(sumKind(r, 'v1'), 40, 'one v1 frame per client per update');
			for (const l of rounds(r)) assert.equal(l.arrived, 20);
		});

		test(`counter ${name}: v2 diffs applied and checked, plain and deflated`, async () => {
			const plain = await loadclient([...counter, '--connect', `127.0.0.1:${connect}`, '--v2']);
			assert.equal(plain.code, 0, plain.err);
			assert.equal(verdict(plain).ok, true);
			assert.equal(sumKind(plain, 'D'), 40, 'every update arrives as a diff');
			const v1 = await loadclient([...counter, '--connect', `127.0.0.1:${connect}`]);
			assert.ok(rounds(plain)[0].wire.mean < rounds(v1)[0].wire.mean / 2,
				`a diff (${rounds(plain)[0].wire.mean} B) is well below the full fragment (${rounds(v1)[0].wire.mean} B)`);
			const z = await loadclient([...counter, '--connect', `127.0.0.1:${connect}`, '--v2', '--deflate']);
			assert.equal(z.code, 0, z.err);
			assert.equal(verdict(z).ok, true);
			assert.equal(sumKind(z, 'D') + sumKind(z, 'Dz'), 40);
		});
	}

	test('chat through nginx (scale mode): the sliding 50 as deflated diffs, held fragments equal the page', async () => {
		psql(`DELETE FROM messages WHERE room = 'lctest-0';
			INSERT INTO messages (room, author, body) SELECT 'lctest-0', 'bench',
			rpad('filler ' || m || ' ', 72, 'lorem ipsum ') FROM generate_series(1, 50) m`);
		const args = ['--mode', 'scale', '--prefix', 'lctest-', '--keys', '1', '-n', '20', '--rounds', '2',
			'--connect', `127.0.0.1:${httpPort}`, '--pg', kc.KC_CONNINFO, '--verify', `127.0.0.1:${httpPort}`];
		const v1 = await loadclient(args);
		assert.equal(v1.code, 0, v1.err);
		assert.equal(verdict(v1).ok, true);
		const z = await loadclient([...args, '--v2', '--deflate']);
		assert.equal(z.code, 0, z.err);
		assert.equal(verdict(z).ok, true);
		assert.equal(sumKind(z, 'Dz'), 40, 'each message arrives as one deflated diff');
		assert.ok(rounds(z)[0].wire.mean * 10 < rounds(v1)[0].wire.mean,
			`deflated diffs (${rounds(z)[0].wire.mean} B) against full fragments (${rounds(v1)[0].wire.mean} B)`);
	});
});

// A fake pushd + web server: serves the page, the v2 socket (F first), and
// POST /trigger, on which it sends every client the frame the test forged
// (the page then shows `next`).
describe('the load client against forged frames', () => {
	const key = '/counter';
	const frag = (n) => `<p>\n<output aria-live="polite">${n}</output>\n</p>\n`;
	let server, wss, port, forge, page;
	const received = [];

	before(async () => {
		server = http.createServer((req, res) => {
			if (req.method === 'POST' && req.url === '/trigger') {
				const { frame, compress } = forge();
				for (const ws of wss.clients) ws.send(frame, { compress });
				res.writeHead(204).end();
			} else if (req.url === key) {
				res.writeHead(200, { 'Content-Type': 'text/html' })
					.end(`<!doctype html><main><div data-rt-root data-rt-key="${key}">${page}</div></main>`);
			} else {
				res.writeHead(404).end();
			}
		});
		wss = new WebSocketServer({ noServer: true, perMessageDeflate: { threshold: 0 } });
		server.on('upgrade', (req, sock, head) => wss.handleUpgrade(req, sock, head, (ws) => {
			ws.send(`F ${version(frag(1))} ${key} ${key}\n${frag(1)}`, { compress: false });
			ws.on('message', (data) => {
				received.push(String(data));
				ws.send(`F ${version(page)} ${key} ${key}\n${page}`, { compress: false });
			});
		}));
		await new Promise((r) => server.listen(0, '127.0.0.1', r));
		port = server.address().port;
	});
	after(async () => {
		for (const ws of wss.clients) ws.terminate();
		await new Promise((r) => server.close(r));
	});

	const run = (extra = ['--max-failures', '1']) => loadclient(['-n', '5', '--procs', '1', '--rounds', '1',
		'--warmup', '0', '--connect', `127.0.0.1:${port}`, '--trigger', `127.0.0.1:${port}`, '--target', '/trigger',
		'--verify', `127.0.0.1:${port}`, '--v2', ...extra], { timeout: 30000 });
	// The diff turning frag(1) into frag(2): of the units "<p>", "\n",
	// "<output ...>", "1</output>", "\n", "</p>", "\n", the fourth changes.
	const ops = JSON.stringify([3, -1, '2</output>', 3]);

	test('a correct diff passes (the fake is right, so the failures below are the frames)', async () => {
		page = frag(2);
		forge = () => ({ frame: `D ${version(frag(1))} ${version(frag(2))} ${key} ${key}\n${ops}`, compress: false });
		const r = await run();
		assert.equal(r.code, 0, r.err);
		assert.equal(rounds(r)[0].wire.D, 5);
		assert.equal(verdict(r).ok, true);
	});

	test('a correct deflated diff passes, counted as deflated', async () => {
		page = frag(2);
		forge = () => ({ frame: `D ${version(frag(1))} ${version(frag(2))} ${key} ${key}\n${ops}`, compress: true });
		const r = await run(['--deflate', '--max-failures', '1']);
		assert.equal(r.code, 0, r.err);
		assert.equal(rounds(r)[0].wire.Dz, 5);
	});

	test('a diff whose result is not its version fails the run', async () => {
		page = frag(2);
		forge = () => ({ frame: `D ${version(frag(1))} ${version(frag(2))} ${key} ${key}\n${JSON.stringify([3, -1, '3</output>', 3])}`, compress: false });
		const r = await run();
		assert.equal(r.code, 3, r.err);
		assert.match(r.err, /the result is not version/);
	});

	test('a diff on a base the client does not hold fails the run', async () => {
		page = frag(2);
		forge = () => ({ frame: `D ${version(frag(7))} ${version(frag(2))} ${key} ${key}\n${ops}`, compress: false });
		const r = await run();
		assert.equal(r.code, 3, r.err);
		assert.match(r.err, /D frame on base/);
	});

	test('malformed ops fail the run', async () => {
		page = frag(2);
		forge = () => ({ frame: `D ${version(frag(1))} ${version(frag(2))} ${key} ${key}\n[3, -1, "2</output>", 9]`, compress: false });
		const r = await run();
		assert.equal(r.code, 3, r.err);
		assert.match(r.err, /malformed ops/);
	});

	test('a full frame that is not its version fails the run', async () => {
		page = frag(2);
		forge = () => ({ frame: `F ${version(frag(3))} ${key} ${key}\n${frag(2)}`, compress: false });
		const r = await run();
		assert.equal(r.code, 3, r.err);
		assert.match(r.err, /content is not its version/);
	});

	test('a frame naming another root fails the run', async () => {
		page = frag(2);
		forge = () => ({ frame: `F ${version(frag(2))} /other /other\n${frag(2)}`, compress: false });
		const r = await run();
		assert.equal(r.code, 3, r.err);
		assert.match(r.err, /another root/);
	});

	test('without --max-failures a refused diff is resynced as keycast.js does, and the run still fails', async () => {
		page = frag(2);
		received.length = 0;
		forge = () => ({ frame: `D ${version(frag(7))} ${version(frag(2))} ${key} ${key}\n${ops}`, compress: false });
		const r = await run([]);
		assert.equal(r.code, 3, r.err);
		assert.deepEqual(received, ['r', 'r', 'r', 'r', 'r'], 'each client asked for a full fragment');
		assert.equal(rounds(r)[0].arrived, 5, 'the full fragment sent on resync arrived');
		assert.equal(rounds(r)[0].wire.refused, 5);
		assert.equal(verdict(r).ok, true, 'after the resync every client holds the page');
		assert.match(r.err, /FAILED: 5 frames refused/);
	});

	test('clients holding something other than the page fail the run', async () => {
		page = frag(3);
		forge = () => ({ frame: `D ${version(frag(1))} ${version(frag(2))} ${key} ${key}\n${ops}`, compress: false });
		const r = await run();
		assert.equal(r.code, 3, r.err);
		assert.equal(verdict(r).ok, false);
		assert.equal(verdict(r).mismatched, 5);
	});
});
