// The C diff encoder (common/diff.c) against the reference reader of
// protocol section 2 (tests/lib/diff-ref.mjs), so that the encoder pushd
// runs and the decoder a browser runs cannot drift apart: pairs of
// fragments (the demo's edits and seeded random edits of HTML-like text
// with quotes, backslashes, control bytes and non-ASCII) go through a
// small C program built from diff.c; every diff it gives must apply in
// JavaScript to exactly the new fragment, and both sides must agree on
// every FNV-1a version. Needs a C compiler, no stack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyOps, receive, units, version } from '../lib/diff-ref.mjs';
import { rng } from '../lib/rng.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const DIFF_OK = 0;
const DIFF_NOT_SMALLER = -2;

// Builds tests/lib/diff_tool.c with diff.c; returns its path and a cleanup.
function buildTool() {
	const dir = mkdtempSync(join(tmpdir(), 'keycast-diff-js-'));
	const bin = join(dir, 'diff_tool');
	execFileSync(process.env.CC || 'cc', ['-std=gnu11', '-D_GNU_SOURCE', '-O1',
		`-I${root}`, `-I${root}/common`, '-o', bin, `${root}/tests/lib/diff_tool.c`,
		`${root}/common/diff.c`, `${root}/common/buf.c`, `${root}/common/xmalloc.c`]);
	return { bin, done: () => rmSync(dir, { recursive: true, force: true }) };
}

// Runs the C encoder over [a, b] pairs: [{rc, va, vb, ops}].
function encodeAll(bin, pairs) {
	const chunks = [];
	for (const [a, b] of pairs) {
		const ab = Buffer.from(a), bb = Buffer.from(b);
		chunks.push(Buffer.from(`${ab.length} ${bb.length}\n`), ab, bb);
	}
	const out = execFileSync(bin, { input: Buffer.concat(chunks), maxBuffer: 1 << 28 });
	const res = [];
	let at = 0;
	while (at < out.length) {
		const nl = out.indexOf(10, at);
		const [rc, va, vb, olen] = out.subarray(at, nl).toString().split(' ');
		const ops = out.subarray(nl + 1, nl + 1 + Number(olen)).toString();
		res.push({ rc: Number(rc), va, vb, ops });
		at = nl + 1 + Number(olen);
	}
	assert.equal(res.length, pairs.length, 'one answer per pair');
	return res;
}

const PIECES = ['<li>', '</li>\n', '<b>', '</b>', 'x', 'yy', '\n', '<p class="q">', '</p>',
	'café', '"', '\\', '\t', '\r', '\u0001', '\u001f', '>', '<br>', '€', '😀', '\u2028', '/', '1'];

function randomHtml(r, n) {
	let s = '';
	for (let i = 0; i < n; i++) s += PIECES[r(PIECES.length)];
	return s;
}

// b from a by a few edits on whole pieces of text: deletes, random
// inserts, copies of a's own ranges (moves, duplicates). Cuts fall on
// UTF-16 code units, so only between whole code points are kept.
function randomEdit(r, a) {
	let b = a;
	for (let e = 1 + r(5); e > 0; e--) {
		const cps = Array.from(b);
		const at = r(cps.length + 1);
		const n = Math.min(r(cps.length - at + 1), 30);
		const src = Array.from(a);
		const from = r(src.length + 1);
		const ins = r(2) ? randomHtml(r, r(6)) : src.slice(from, from + r(40)).join('');
		b = cps.slice(0, at).join('') + ins + cps.slice(at + n).join('');
	}
	return b;
}

function chat(first) {
	let s = '<section class="card chat">\n  <h1>#lobby</h1>\n  <ol class="messages" id="messages">\n';
	for (let i = first; i < first + 50; i++)
		s += `    <li class="msg" id="msg-${i}" data-author="${i % 7}"><time datetime="2026-11-29T12:00:${String(i % 60).padStart(2, '0')}Z">12:00 UTC</time> <b class="author">user${i % 7}</b> <span class="text">message ${i} &amp; "quotes" \\ café 😀</span></li>\n`;
	return `${s}  </ol>\n</section>\n`;
}

test('reference reader: units and versions per section 2', () => {
	assert.deepEqual(units(''), []);
	assert.deepEqual(units('<a>b\nc'), ['<a>', 'b\n', 'c']);
	assert.deepEqual(units('<a>>'), ['<a>', '>']);
	assert.equal(version(''), '811c9dc5');
	assert.equal(version('a'), 'e40c292c');
	assert.equal(version('foobar'), 'bf9cf968');
	assert.equal(applyOps('<a><b>c', '[1,-1,"x",1]'), '<a>xc');
	for (const bad of ['[0,3]', '[2]', '[4]', '[1.5]', '[true]', '{}', '[', '[3,"x"', '[[3]]'])
		assert.equal(applyOps('<a><b>c', bad), null, bad);
});

test('the C encoder\'s diffs apply in JavaScript: the demo\'s edits and 2000 seeded random pairs', () => {
	const tool = buildTool();
	try {
		const r = rng(20261129);
		const counter = (n) => `<section class="card counter">\n  <h1>Shared Real-Time Counter</h1>\n  <output id="count" aria-live="polite">${n}</output>\n  <div class="counter-buttons">\n    <form method="post" action="/api/counter/decrement">\n      <button type="submit" class="btn" aria-label="Decrement">−</button>\n    </form>\n  </div>\n</section>\n`;
		const pairs = [[chat(1), chat(2)], [counter(41), counter(42)], [chat(1), chat(1).replace(/ *<li[^\n]*msg-20"[^\n]*\n/, '')]];
		for (let i = 0; i < 2000; i++) {
			const a = randomHtml(r, r(150));
			pairs.push([a, i % 10 === 0 ? randomHtml(r, r(150)) : randomEdit(r, a)]);
		}
		const res = encodeAll(tool.bin, pairs);
		let diffs = 0;
		res.forEach(({ rc, va, vb, ops }, i) => {
			const [a, b] = pairs[i];
			assert.equal(va, version(a), `pair ${i}: C and JS versions of a`);
			assert.equal(vb, version(b), `pair ${i}: C and JS versions of b`);
			if (rc === DIFF_NOT_SMALLER) return;
			assert.equal(rc, DIFF_OK, `pair ${i}: rc`);
			diffs++;
			assert.equal(applyOps(a, ops), b, `pair ${i}: ops ${ops} on ${JSON.stringify(a)}`);
			assert.equal(receive(a, `D ${va} ${vb} k /u\n${ops}`), b, `pair ${i}: as a D frame`);
		});
		assert.ok(res[0].rc === DIFF_OK && res[0].ops.length < 400,
			`chat window shift: ${res[0].ops.length} B of ops`);
		assert.ok(res[1].rc === DIFF_OK && res[2].rc === DIFF_OK, 'counter and removal diffed');
		assert.ok(diffs > pairs.length / 2, `${diffs} of ${pairs.length} pairs diffed`);
		assert.equal(receive(chat(2), `D ${res[0].va} ${res[0].vb} k /u\n${res[0].ops}`), null,
			'a D frame on the wrong base: resync, not a corrupt page');
	} finally {
		tool.done();
	}
});
