#!/usr/bin/env node
// Click-to-paint latency: a real click on + in page A (headless Chromium),
// timed until page B, another browser context on /counter, shows the new
// value in #count: the whole path POST -> keycast-fcgi -> PostgreSQL commit +
// NOTIFY -> keycast-pushd -> render -> WebSocket -> morph, through nginx.
//
// Runs against a running stack given by the KC_* variables (as tools/stack):
//   tools/stack up && node bench/click-to-paint.mjs [--runs 50] [--warmup 5] [--gap 50]
//
// Times are taken inside the browsers on the shared wall clock
// (performance.timeOrigin + high-resolution time):
//   start  = the click event's timeStamp in A (when the input event arrived)
//   dom    = B's MutationObserver sees #count become the new value
//   frame  = the first moment after B rendered the frame with it
//            (requestAnimationFrame, then a task after that frame)
// Also reported: A's POST round trip (Resource Timing), for context.
import os from 'node:os';
import { chromium } from 'playwright-core';

const args = process.argv.slice(2);
const opt = (name, def) => {
	const i = args.indexOf(`--${name}`);
	return i >= 0 ? Number(args[i + 1]) : def;
};
const RUNS = opt('runs', Number(process.env.KC_BENCH_RUNS || 50));
const WARMUP = opt('warmup', 5);
const GAP = opt('gap', 50);		// ms idle between clicks, as a person's
const host = process.env.KC_HTTP_HOST || '127.0.0.1';
const BASE = `http://${host}:${process.env.KC_HTTP_PORT || 8080}`;

const browser = await chromium.launch({
	executablePath: process.env.KC_CHROMIUM || '/usr/bin/chromium',
	args: ['--headless', '--no-sandbox', '--disable-gpu',
		'--disable-background-networking', '--disable-component-update',
		'--no-first-run'],
});
const chromiumVersion = browser.version();

async function openCounter() {
	const ctx = await browser.newContext({ viewport: { width: 1000, height: 700 } });
	const page = await ctx.newPage();
	const res = await page.goto(`${BASE}/counter`);
	if (!res || res.status() !== 200)
		throw new Error(`GET ${BASE}/counter: ${res && res.status()}`);
	await page.waitForFunction(() =>
		document.querySelector('[data-rt-root]')?.getAttribute('data-rt-state') === 'live',
	null, { timeout: 10000 });
	return page;
}

const a = await openCounter();
const b = await openCounter();

// A: remember when each click arrived.
await a.evaluate(() => {
	document.addEventListener('click', (e) => {
		window.__clickAt = performance.timeOrigin + e.timeStamp;
	}, true);
});
// B: arm(n) starts watching for #count == n; result() resolves with times.
await b.evaluate(() => {
	const now = () => performance.timeOrigin + performance.now();
	window.__arm = (n) => {
		window.__result = new Promise((resolve) => {
			const check = () => {
				if (document.querySelector('#count')?.textContent.trim() !== String(n))
					return false;
				const dom = now();
				mo.disconnect();
				requestAnimationFrame(() => {
					const ch = new MessageChannel();
					ch.port1.onmessage = () => resolve({ dom, frame: now() });
					ch.port2.postMessage(0);
				});
				return true;
			};
			const mo = new MutationObserver(check);
			mo.observe(document.body, { subtree: true, childList: true, characterData: true });
			check();
		});
	};
});

const count = (p) => p.evaluate(() => Number(document.querySelector('#count').textContent));
const plus = 'button[aria-label=Increment]';
const dom = [], frame = [], post = [];

for (let i = 0; i < WARMUP + RUNS; i++) {
	// Clicks spaced like a person's, so each one times an isolated update
	// (pushd spaces renders of one url; back-to-back clicks would measure that).
	await new Promise((r) => setTimeout(r, GAP));
	const n = (await count(b)) + 1;
	await b.evaluate((v) => window.__arm(v), n);
	await a.click(plus);
	const r = await b.evaluate(() => window.__result);
	const clickAt = await a.evaluate(() => window.__clickAt);
	// A's own post has finished (button enabled again) and A shows n too.
	await a.waitForFunction(([s, v]) => !document.querySelector(s).disabled &&
		Number(document.querySelector('#count').textContent) === v, [plus, n],
	{ timeout: 10000, polling: 5 });
	const p = await a.evaluate(() => {
		const e = performance.getEntriesByType('resource')
			.filter((x) => x.name.endsWith('/api/counter/increment')).pop();
		performance.clearResourceTimings();
		return e ? e.duration : NaN;
	});
	if (i < WARMUP)
		continue;
	dom.push(r.dom - clickAt);
	frame.push(r.frame - clickAt);
	post.push(p);
}
await browser.close();

function stats(xs) {
	const s = [...xs].sort((x, y) => x - y);
	const q = (f) => s[Math.min(s.length - 1, Math.ceil(f * s.length) - 1)];
	const mean = s.reduce((x, y) => x + y, 0) / s.length;
	return { p50: q(0.5), p95: q(0.95), min: s[0], max: s[s.length - 1], mean };
}
const fmt = (x) => x.toFixed(1).padStart(6);
const line = (name, xs) => {
	const s = stats(xs);
	return `${name.padEnd(34)} p50 ${fmt(s.p50)}  p95 ${fmt(s.p95)}  min ${fmt(s.min)}  max ${fmt(s.max)}  mean ${fmt(s.mean)} ms`;
};
const cpus = os.cpus();
console.log(`click-to-paint: ${RUNS} clicks (after ${WARMUP} warm-up, ${GAP} ms apart) through ${BASE}`);
console.log(`machine: ${cpus.length} x ${cpus[0]?.model.trim()}, ${os.platform()} ${os.release()}, ` +
	`node ${process.version}, chromium ${chromiumVersion}`);
console.log(line('click -> B #count in DOM', dom));
console.log(line('click -> B frame with new value', frame));
console.log(line('A POST round trip (context)', post));
