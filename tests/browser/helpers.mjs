// Shared by the browser tests: the stack's addresses (from the KC_* variables
// tools/test exports), headless Chromium, polling with deadlines, and the
// stack controls (tools/stack start|stop PART, tools/stack psql).
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const host = process.env.KC_HTTP_HOST || '127.0.0.1';
export const BASE = `http://${host}:${process.env.KC_HTTP_PORT || 18080}`;
export const METRICS = `http://127.0.0.1:${process.env.KC_PUSHD_PORT || 18081}/metrics`;
export const OUT = path.resolve(ROOT, process.env.KC_OUT || 'test-output');
export const SHOTS = path.join(OUT, 'screenshots');

export function launch() {
	return chromium.launch({
		executablePath: process.env.KC_CHROMIUM || '/usr/bin/chromium',
		args: ['--headless', '--no-sandbox', '--disable-gpu',
			'--disable-background-networking', '--disable-component-update',
			'--no-first-run'],
	});
}

// Polls fn until it returns something truthy; throws after timeout ms,
// naming what it waited for and the last value seen.
export async function until(what, fn, timeout = 5000, interval = 20) {
	const end = Date.now() + timeout;
	let last;
	for (;;) {
		try {
			last = await fn();
			if (last)
				return last;
		} catch (e) {
			last = e;
		}
		if (Date.now() > end)
			throw new Error(`timed out after ${timeout} ms waiting for ${what}` +
				` (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
		await delay(interval);
	}
}

function run(cmd, args) {
	return new Promise((resolve, reject) => {
		execFile(cmd, args, { env: process.env, timeout: 60000 }, (err, stdout, stderr) => {
			if (err)
				reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`));
			else
				resolve(stdout);
		});
	});
}

export const stack = (...args) => run(path.join(ROOT, 'tools/stack'), args);
export const psql = (sql) => stack('psql', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql);

// pushd's Prometheus text; returns the value of one metric (no labels).
export async function metric(name) {
	const res = await fetch(METRICS);
	const text = await res.text();
	const m = text.match(new RegExp(`^${name}(?:\\{\\})? ([0-9.e+]+)$`, 'm'));
	if (!m)
		throw new Error(`${name} not in ${METRICS}`);
	return Number(m[1]);
}

// A unique, valid chat room name so runs and tests do not see each other.
export function room(prefix = 't') {
	return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
}

// Opens path in a fresh browser context (like another person's window),
// records page errors, sockets and main-frame navigations, and waits until
// the realtime client is live (unless js or live is false).
// user (from signUp): the context is signed in as that user first.
export async function open(browser, urlPath, { js = true, live = js, viewport, setup, user, ...ctxOpts } = {}) {
	const context = await browser.newContext({
		javaScriptEnabled: js,
		viewport: viewport || { width: 1280, height: 800 },
		...ctxOpts,
	});
	if (user)
		await signIn(context, user);
	if (setup)
		await setup(context);
	const page = await context.newPage();
	const rec = { errors: [], sockets: [], navigations: 0, warnings: [] };
	page.on('pageerror', (e) => rec.errors.push(e.message));
	page.on('console', (m) => {
		if (m.type() === 'warning')
			rec.warnings.push(m.text());
	});
	page.on('websocket', (ws) => rec.sockets.push(ws));
	page.on('framenavigated', (f) => {
		if (f === page.mainFrame())
			rec.navigations++;
	});
	const res = await page.goto(BASE + urlPath);
	if (!res || res.status() !== 200)
		throw new Error(`GET ${urlPath}: ${res && res.status()}`);
	rec.navigations = 0;
	if (live)
		await waitState(page, 'live');
	if (js) {
		// A page-lifetime marker: a reload or navigation would lose it.
		await page.evaluate(() => { window.__kcMarker = 'still-here'; });
	}
	page.rec = rec;
	return page;
}

export function waitState(page, state, timeout = 5000) {
	return page.waitForFunction(
		(s) => document.querySelector('main [data-rt-root]')?.getAttribute('data-rt-state') === s,
		state, { timeout, polling: 20 });
}

export const rtState = (page) =>
	page.evaluate(() => document.querySelector('main [data-rt-root]').getAttribute('data-rt-state'));

// For open()'s setup: marks every realtime root data-rt-manual before the
// deferred keycast.js runs (so the page calls initRealtimeClient itself), and
// wraps the WebSocket constructor to keep every socket the page creates in
// window.__kcSockets and every close code in window.__kcCloses.
export async function manualRoot(context) {
	await context.addInitScript(manualRoots);
	await countSockets(context);
}

// An init script: marks each [data-rt-root] data-rt-manual as the parser
// adds it (the header's root comes after the main one).
export function manualRoots() {
	const mo = new MutationObserver(() => {
		for (const root of document.querySelectorAll('[data-rt-root]:not([data-rt-manual])'))
			root.setAttribute('data-rt-manual', '');
	});
	mo.observe(document, { childList: true, subtree: true });
	document.addEventListener('DOMContentLoaded', () => mo.disconnect());
}

export function countSockets(context) {
	return context.addInitScript(() => {
		const Native = window.WebSocket;
		window.__kcSockets = [];
		window.__kcCloses = [];
		window.WebSocket = class extends Native {
			constructor(...args) {
				super(...args);
				window.__kcSockets.push(this);
				this.addEventListener('close', (e) => window.__kcCloses.push(e.code));
			}
		};
	});
}

export const socketsMade = (page) => page.evaluate(() => window.__kcSockets.length);

// keycast-pushd's pid (tools/stack records it), to freeze it with SIGSTOP.
export function pushdPid() {
	const file = path.join(process.env.KC_VAR || path.join(ROOT, 'var'), 'run/pushd.pid');
	return Number(readFileSync(file, 'utf8').trim());
}

// The text of keycast.js's live region (the connection badge): '' while live.
export const statusText = (page) =>
	page.evaluate(() => document.querySelector('.rt-status[role=status]')?.textContent ?? null);

export const countOf = async (page) => Number(await page.textContent('#count'));

// Bumps the counter from psql (the trigger path) and waits until page shows
// the new value, which it returns: proof that its socket is live and morphing.
export async function bumpAndSee(page) {
	const v = await countOf(page);
	await psql("UPDATE counters SET value = value + 1 WHERE name = 'global'");
	await page.waitForFunction((n) => Number(document.querySelector('#count').textContent) === n,
		v + 1, { timeout: 2000, polling: 10 });
	return v + 1;
}

// The page was neither reloaded nor navigated since open().
export async function stillSamePage(page) {
	const marker = await page.evaluate(() => window.__kcMarker);
	return marker === 'still-here' && page.rec.navigations === 0;
}

export function screenshot(page, name) {
	mkdirSync(SHOTS, { recursive: true });
	return page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

// Removes a test room's messages so the index page stays tidy.
export function dropRoom(name) {
	if (!/^[a-z0-9-]{1,32}$/.test(name))
		throw new Error(`bad room ${name}`);
	return psql(`DELETE FROM messages WHERE room = '${name}'`);
}

export async function closeAll(pages) {
	for (const p of pages)
		await p?.context().close().catch(() => {});
}

// Accounts. Names are new on every run: a stack outlives one test file.
const accountRun = `${Date.now().toString(36)}${process.pid.toString(36)}`;
let accountSeq = 0;
export const PASSWORD = 'correct horse 42';

// Signs up a new user named prefix-<run>-<n> (over HTTP, like a script);
// resolves { name, token (kc_session's value), id }.
export async function signUp(prefix = 'b') {
	const name = `${prefix.slice(0, 12)}-${accountRun}-${++accountSeq}`.slice(0, 32);
	const res = await fetch(`${BASE}/signup`, {
		method: 'POST', redirect: 'manual',
		headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
		body: new URLSearchParams({ name, password: PASSWORD }),
	});
	const token = /kc_session=([^;]*)/.exec(res.headers.get('set-cookie') || '')?.[1];
	if (res.status !== 303 || !token)
		throw new Error(`sign-up of ${name}: ${res.status} ${await res.text()}`);
	const id = Number((await psql(`SELECT id FROM users WHERE name = '${name}'`)).trim());
	return { name, token, id };
}

// Signs a browser context in as user (the cookie sign-in would set).
export function signIn(context, user) {
	return context.addCookies([{ name: 'kc_session', value: user.token, url: BASE,
		httpOnly: true, sameSite: 'Lax' }]);
}

// A room owned by user (the owner sees the moderator view, with the
// member form and its #member-name field).
export async function ownRoom(user, roomName, { priv = false } = {}) {
	const res = await fetch(`${BASE}/api/rooms`, {
		method: 'POST',
		headers: { 'X-Keycast': '1', 'Content-Type': 'application/x-www-form-urlencoded',
			Cookie: `kc_session=${user.token}` },
		body: new URLSearchParams({ room: roomName, ...(priv ? { private: '1' } : {}) }),
	});
	if (res.status !== 204)
		throw new Error(`room ${roomName}: ${res.status} ${await res.text()}`);
}

// One account per poster name, made on first use.
const posters = new Map();
function poster(who) {
	if (!posters.has(who))
		posters.set(who, signUp(who));
	return posters.get(who);
}

// Posts a chat message the way a script or another service would, as the
// user this file made for the name who.
export async function postMessage(roomName, who, text) {
	const user = await poster(who);
	const res = await fetch(`${BASE}/api/chat/${roomName}/messages`, {
		method: 'POST',
		headers: { 'X-Keycast': '1', 'Content-Type': 'application/x-www-form-urlencoded',
			Cookie: `kc_session=${user.token}` },
		body: new URLSearchParams({ text }),
	});
	if (res.status !== 204)
		throw new Error(`post to ${roomName}: ${res.status} ${await res.text()}`);
}

export { delay };
