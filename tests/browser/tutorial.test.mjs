// docs/realtime-page.md, followed by a machine: its code blocks must be the
// repository's files, and a copy of the tree without the poll, with the
// blocks written back in as the tutorial says, must build, run, and move
// the bars of one window when another votes or psql changes the votes.
// Markers (HTML comments, invisible when the page is read) tell where each
// block goes:
//   <!-- file: PATH -->                    the block is PATH, or the next
//                                          part of it (parts are joined by
//                                          one blank line)
//   <!-- insert: PATH before: LINE -->     the block's lines go into PATH
//   <!-- insert: PATH at: end -->          before LINE, or at its end
//   <!-- psql -->                          SQL typed in psql; the bars follow
// The copy runs its own stack (ports: this stack's + 205..208, PostgreSQL
// + 200) and stops it, whatever happens.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import {
	copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { ROOT, launch, waitState } from './helpers.mjs';

const DOC = 'docs/realtime-page.md';
const port = (name, fallback) => Number(process.env[name] || fallback);
const ports = {
	KC_HTTP_PORT: port('KC_HTTP_PORT', 18080) + 205,
	KC_PUSHD_PORT: port('KC_HTTP_PORT', 18080) + 206,
	KC_LIGHTTPD_PORT: port('KC_HTTP_PORT', 18080) + 207,
	KC_HTTPS_PORT: port('KC_HTTP_PORT', 18080) + 208,
	KC_PGPORT: port('KC_PGPORT', 15432) + 200,
};
const BASE = `http://127.0.0.1:${ports.KC_HTTP_PORT}`;
// Inside the stack's directory (reachable by the postgres user, removed by
// tools/test at its start) unless run by hand.
const vardir = process.env.KC_VAR || path.join(ROOT, 'var/test');
const work = path.join(vardir, `tutorial-${process.pid}`);
const tree = path.join(work, 'tree');

// The tutorial's instructions, in order: { kind, path, where, anchor, text }.
function parseTutorial(md) {
	const steps = [];
	const re = /^<!-- (file|insert|psql)(?:: (\S+)(?: (before|at): (.*?))?)? -->\n```[\w-]*\n([\s\S]*?)^```$/gm;
	for (const m of md.matchAll(re))
		steps.push({ kind: m[1], path: m[2], where: m[3], anchor: m[4], text: m[5] });
	return steps;
}

// PATH -> its content as the tutorial's file blocks give it.
function tutorialFiles(steps) {
	const files = new Map();
	for (const s of steps.filter((x) => x.kind === 'file'))
		files.set(s.path, files.has(s.path) ? `${files.get(s.path)}\n${s.text}` : s.text);
	return files;
}

// Where the block's lines (indentation aside) stand together in lines.
function runsOf(lines, block) {
	const want = block.replace(/\n$/, '').split('\n').map((l) => l.trim());
	const at = [];
	for (let i = 0; i + want.length <= lines.length; i++) {
		if (want.every((w, j) => lines[i + j].trim() === w))
			at.push(i);
	}
	return at;
}

function run(cmd, args, { cwd = tree, env, timeout = 180000, input } = {}) {
	return new Promise((resolve, reject) => {
		const child = execFile(cmd, args, { cwd, env, timeout, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
			if (err)
				reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`));
			else
				resolve(stdout);
		});
		if (input !== undefined)
			child.stdin.end(input);
	});
}

// The copy's own stack: none of this stack's KC_* settings leak into it.
function copyEnv(dir = work) {
	const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KC_')));
	for (const [k, v] of Object.entries(ports))
		env[k] = String(v);
	return {
		...env,
		KC_VAR: path.join(dir, 'var'),
		KC_BUILD: path.join(dir, 'tree/build/test'),
		KC_CONFIGURE_FLAGS: process.env.KC_CONFIGURE_FLAGS || '',
		KC_MAKE_TARGETS: 'keycast-fcgi keycast-pushd',
		KC_PG_FSYNC: 'off',
		KC_FCGI_WORKERS: '4',
	};
}
const stack = (...args) => run(path.join(tree, 'tools/stack'), args, { env: copyEnv() });
const psql = (sql) => run(path.join(tree, 'tools/stack'),
	['psql', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-f', '-'], { env: copyEnv(), input: sql });

let steps, browser, stackStarted = false;

before(async () => {
	// A run that was killed left its copy's stack running: stop it first.
	for (const d of existsSync(vardir) ? readdirSync(vardir).filter((n) => n.startsWith('tutorial-')) : []) {
		const dir = path.join(vardir, d);
		await run(path.join(dir, 'tree/tools/stack'), ['down'], { cwd: dir, env: copyEnv(dir) })
			.catch((e) => console.error(e.message));
		rmSync(dir, { recursive: true, force: true });
	}
	const listed = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
		.split('\0').filter(Boolean);
	for (const f of listed) {
		if (!existsSync(path.join(ROOT, f)))
			continue; // deleted in the work tree, not yet committed
		mkdirSync(path.dirname(path.join(tree, f)), { recursive: true });
		copyFileSync(path.join(ROOT, f), path.join(tree, f));
	}
	steps = parseTutorial(readFileSync(path.join(tree, DOC), 'utf8'));
});

after(async () => {
	await browser?.close();
	if (stackStarted)
		await stack('down').catch((e) => console.error(e.message));
	rmSync(work, { recursive: true, force: true });
});

test('the tutorial\'s code blocks are the repository\'s files and lines', () => {
	const files = tutorialFiles(steps);
	assert.ok(files.size >= 3, `file blocks for ${[...files.keys()]}`);
	for (const [p, text] of files)
		assert.equal(text, readFileSync(path.join(ROOT, p), 'utf8'), `${DOC}'s ${p} differs from the file`);
	const inserts = steps.filter((s) => s.kind === 'insert');
	assert.ok(inserts.length >= 1, 'no insert step (register the feature)');
	for (const s of inserts) {
		const real = readFileSync(path.join(ROOT, s.path), 'utf8').split('\n');
		assert.equal(runsOf(real, s.text).length, 1, `${s.path} holds the tutorial's lines once:\n${s.text}`);
	}
	assert.ok(steps.some((s) => s.kind === 'psql'), 'no psql step');
});

// The bars as a browser shows them: option id -> { votes, percent, px }.
const bars = (page) => page.evaluate(() => Object.fromEntries(
	[...document.querySelectorAll('[data-rt-root] li.poll-option')].map((li) => [li.dataset.option, {
		votes: Number(/^(\d+)/.exec(li.querySelector('.count').textContent)[1]),
		percent: Number(li.querySelector('[role=meter]').getAttribute('aria-valuenow')),
		px: li.querySelector('.poll-fill').getBoundingClientRect().width,
	}])));

// What the copy's database says the bars must show.
async function expected() {
	const out = await psql('SELECT o.id, count(v.id) FROM poll_option o LEFT JOIN vote v ' +
		'ON v.option_id = o.id WHERE o.poll_id = 1 GROUP BY o.id ORDER BY o.id');
	const rows = out.trim().split('\n').map((l) => l.split('|').map(Number));
	const total = rows.reduce((n, [, v]) => n + v, 0);
	return Object.fromEntries(rows.map(([id, v]) =>
		[id, { votes: v, percent: total ? Math.round((v * 100) / total) : 0 }]));
}

// Waits until page shows the database's votes and shares, with each bar's
// width in proportion; returns what it shows.
async function showsDatabase(page, what) {
	const want = await expected();
	let seen;
	try {
		await page.waitForFunction((w) => {
			const got = [...document.querySelectorAll('[data-rt-root] li.poll-option')];
			return got.length === Object.keys(w).length && got.every((li) => {
				const o = w[li.dataset.option];
				return o && li.querySelector('.count').textContent.startsWith(`${o.votes} `) &&
					li.querySelector('[role=meter]').getAttribute('aria-valuenow') === String(o.percent);
			});
		}, want, { timeout: 10000, polling: 50 });
	} catch (e) {
		seen = await bars(page);
		throw new Error(`${what}: the page shows ${JSON.stringify(seen)}, the database ${JSON.stringify(want)}`);
	}
	seen = await bars(page);
	const full = await page.evaluate(() => document.querySelector('[data-rt-root] .poll-bar').getBoundingClientRect().width);
	for (const [id, o] of Object.entries(seen))
		assert.ok(Math.abs(o.px - (full * o.percent) / 100) <= 1.5, `${what}: bar ${id} is ${o.px}px of ${full}px for ${o.percent}%`);
	return seen;
}

test('the tree without the poll, rebuilt from the tutorial, moves the bars of one window when the other votes or psql changes the votes',
	{ timeout: 230000 }, async () => {
		// Take the poll out: its files and its registration lines.
		const files = tutorialFiles(steps);
		for (const p of files.keys())
			unlinkSync(path.join(tree, p));
		const inserts = steps.filter((s) => s.kind === 'insert');
		for (const s of inserts) {
			const f = path.join(tree, s.path);
			const lines = readFileSync(f, 'utf8').split('\n');
			const [i] = runsOf(lines, s.text);
			lines.splice(i, s.text.replace(/\n$/, '').split('\n').length);
			writeFileSync(f, lines.join('\n'));
		}
		for (const s of inserts)
			assert.doesNotMatch(readFileSync(path.join(tree, s.path), 'utf8'), /poll/, `${s.path} still names the poll`);

		// Follow the tutorial.
		for (const [p, text] of files)
			writeFileSync(path.join(tree, p), text);
		for (const s of inserts) {
			const f = path.join(tree, s.path);
			let body = readFileSync(f, 'utf8');
			if (s.where === 'at' && s.anchor === 'end') {
				body = `${body}${body.endsWith('\n\n') ? '' : '\n'}${s.text}`;
			} else if (s.where === 'before') {
				const lines = body.split('\n');
				const i = lines.findIndex((l) => l.trim() === s.anchor.trim());
				assert.ok(i >= 0, `${s.path} has no line "${s.anchor}" to insert before`);
				const indent = /^\s*/.exec(lines[i])[0];
				lines.splice(i, 0, ...s.text.replace(/\n$/, '').split('\n').map((l) => indent + l.trim()));
				body = lines.join('\n');
			} else {
				assert.fail(`unknown insert place "${s.where}: ${s.anchor}" for ${s.path}`);
			}
			writeFileSync(f, body);
		}

		await stack('build');
		stackStarted = true;
		await stack('up', 'pg', 'fcgi', 'pushd', 'nginx');

		// Open it in two windows.
		browser = await launch();
		const open = async () => {
			const page = await (await browser.newContext({ viewport: { width: 1024, height: 800 } })).newPage();
			const res = await page.goto(`${BASE}/poll/1`);
			assert.equal(res.status(), 200);
			await waitState(page, 'live', 15000);
			return page;
		};
		const [a, b] = [await open(), await open()];
		const start = await showsDatabase(b, 'at first');
		const second = Object.keys(start)[1];
		await a.evaluate(() => { window.__kcMarker = 'still-here'; });
		await a.click(`[data-rt-root] button[name=option][value="${second}"]`);
		const voted = await showsDatabase(b, 'after a vote in the other window');
		assert.equal(voted[second].votes, start[second].votes + 1, 'the vote was counted once');
		assert.ok(voted[second].px > start[second].px, `the bar grew: ${start[second].px} -> ${voted[second].px}`);
		assert.equal(await a.evaluate(() => window.__kcMarker), 'still-here',
			'the voting window neither reloaded nor navigated');

		// Change it in psql.
		let last = voted;
		for (const s of steps.filter((x) => x.kind === 'psql')) {
			await psql(s.text);
			for (const p of [a, b]) {
				const now = await showsDatabase(p, `after psql: ${s.text.trim()}`);
				assert.notDeepEqual(now, last, `psql: ${s.text.trim()} moved no bar`);
			}
			last = await bars(b);
		}
	});
