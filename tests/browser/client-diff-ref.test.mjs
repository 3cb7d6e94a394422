// keycast.js's diff reader (running in Chromium: window.keycast.applyOps and
// fnv1a) against the reference reader of protocol section 2
// (tests/lib/diff-ref.mjs): on seeded random fragments and random ops,
// valid and malformed alike, both must give the same result (the same
// fragment, or both refuse), and the same FNV-1a versions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { launch, ROOT } from './helpers.mjs';
import { applyOps, version } from '../lib/diff-ref.mjs';
import { rng } from '../lib/rng.mjs';

let browser, page;
before(async () => {
	browser = await launch();
	page = await browser.newPage();
	await page.setContent('<!doctype html><title>diff</title>');
	await page.addScriptTag({ path: path.join(ROOT, 'static/keycast.js') });
});
after(async () => { await browser?.close(); });

const PIECES = ['<li>', '</li>\n', '<b>', '</b>', 'x', '\n', '<p class="q">', '>', '"', '\\',
	'\t', 'café', '€', '😀', '\u2028', '\u0001'];

function fragment(r) {
	let s = '';
	for (let n = r(40); n > 0; n--)
		s += PIECES[r(PIECES.length)];
	return s;
}

const countUnits = (s) => s.split(/(?<=[>\n])/).filter((u) => u !== '').length;

// Ops for base: mostly well formed (copies and skips that cover the units
// exactly, inserts), else broken in one of the ways the contract names.
function ops(r, base) {
	const n = countUnits(base), out = [];
	let left = n;
	while (left > 0) {
		const k = 1 + r(left);
		out.push(r(2) ? k : -k);
		left -= k;
		if (r(3) === 0)
			out.push(fragment(r));
	}
	switch (r(20)) {
	case 0: out.push(1); break;			// past the end
	case 1: if (out.length) out.pop(); break;	// short of the end
	case 2: out.splice(r(out.length + 1), 0, 0); break;
	case 3: out.splice(r(out.length + 1), 0, 1.5); break;
	case 4: out.splice(r(out.length + 1), 0, null); break;
	case 5: out.splice(r(out.length + 1), 0, ['x']); break;
	case 6: return JSON.stringify({ ops: out });
	case 7: return JSON.stringify(out).slice(0, -1);	// not JSON
	default: break;
	}
	return JSON.stringify(out);
}

test('keycast.js applies and refuses diffs exactly as the reference reader does', async () => {
	const r = rng(20261129);
	const cases = [];
	for (let i = 0; i < 3000; i++) {
		const base = fragment(r);
		cases.push([base, ops(r, base)]);
	}
	cases.push(['', '[]'], ['', '["a"]'], ['', '[1]'], ['a>b', '[2]'], ['a>b', '[-2,"c"]'],
		['a>b', '[-0,2]'], ['a>b', '[1e0,1]'], ['a>b', ' [2] '], ['a>', '[1]'], ['a>', '[1,1]']);
	const got = await page.evaluate((cs) => cs.map(([b, o]) => {
		const out = window.keycast.applyOps(b, o);
		return [out, window.keycast.fnv1a(b), out === null ? null : window.keycast.fnv1a(out)];
	}), cases);
	let refused = 0;
	cases.forEach(([b, o], i) => {
		const want = applyOps(b, o);
		assert.equal(got[i][0], want, `case ${i}: applyOps(${JSON.stringify(b)}, ${o})`);
		assert.equal(got[i][1], version(b), `case ${i}: the version of ${JSON.stringify(b)}`);
		if (want === null)
			refused++;
		else
			assert.equal(got[i][2], version(want), `case ${i}: the result's version`);
	});
	assert.ok(refused > 300 && refused < cases.length - 300, `both kinds tested (${refused} refused)`);
});
