// Shared by the viewers tests (issue 9: accounts, authorized subscriptions,
// view classes, revocation) and the HTTPS test: accounts made through the
// app's own routes, sign-in in a browser, raw WebSocket upgrades that carry
// a chosen cookie and Origin, pushd's labelled metrics, and latency figures.
// The stack's addresses and psql come from helpers.mjs.
import WebSocket from 'ws';
import { BASE, METRICS, psql, until } from './helpers.mjs';

const host = process.env.KC_HTTP_HOST || '127.0.0.1';
const httpPort = Number(process.env.KC_HTTP_PORT || 18080);
export const HTTPS_BASE = `https://${host}:${process.env.KC_HTTPS_PORT || httpPort + 363}`;

// A fresh account name (the app allows [a-z0-9_-], up to 32).
export function userName(prefix = 'u') {
	return `${prefix}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}
export const PASSWORD = 'correct horse battery staple';

// The value of the kc_session cookie an answer sets, or null.
function sessionOf(res) {
	for (const c of res.headers.getSetCookie())
		if (c.startsWith('kc_session='))
			return c.slice('kc_session='.length).split(';')[0];
	return null;
}

async function form(path, fields, cookie) {
	return fetch(BASE + path, {
		method: 'POST',
		redirect: 'manual',
		headers: {
			'Content-Type': 'application/x-www-form-urlencoded',
			Origin: BASE,
			...(cookie ? { Cookie: `kc_session=${cookie}` } : {}),
		},
		body: new URLSearchParams(fields),
	});
}

// Signs up NAME (from node, like a script would) and returns its session
// token: the value of kc_session.
export async function signUp(name, password = PASSWORD) {
	const res = await form('/signup', { name, password });
	const token = sessionOf(res);
	if (res.status !== 303 || !token)
		throw new Error(`sign-up of ${name}: ${res.status} ${await res.text()}`);
	return token;
}

// Signs NAME in again: a second session of the same user.
export async function signIn(name, password = PASSWORD) {
	const res = await form('/signin', { name, password });
	const token = sessionOf(res);
	if (res.status !== 303 || !token)
		throw new Error(`sign-in of ${name}: ${res.status} ${await res.text()}`);
	return token;
}

// A mutation as keycast.js sends it (X-Keycast: 1), signed in with token.
export async function api(path, fields, token) {
	const res = await fetch(BASE + path, {
		method: 'POST',
		headers: {
			'Content-Type': 'application/x-www-form-urlencoded',
			'X-Keycast': '1',
			Origin: BASE,
			...(token ? { Cookie: `kc_session=${token}` } : {}),
		},
		body: new URLSearchParams(fields),
	});
	return { status: res.status, text: await res.text() };
}

export async function apiOk(path, fields, token) {
	const r = await api(path, fields, token);
	if (r.status !== 204)
		throw new Error(`POST ${path}: ${r.status} ${r.text}`);
}

// The user's id, from the users table.
export async function idOf(name) {
	if (!/^[a-z0-9_-]{1,32}$/.test(name))
		throw new Error(`bad user name ${name}`);
	const id = Number((await psql(`SELECT id FROM users WHERE name = '${name}'`)).trim());
	if (!id)
		throw new Error(`no user ${name}`);
	return id;
}

// A browser context signed in with token (the cookie the app set, with
// the app's flags as far as a browser context can hold them).
export async function contextAs(browser, token, opts = {}) {
	const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...opts });
	if (token)
		await context.addCookies([{
			name: 'kc_session', value: token, url: BASE, httpOnly: true, sameSite: 'Lax',
		}]);
	return context;
}

// Signs in through the app's own form in page (JavaScript on), at base.
export async function signInForm(page, name, base = BASE, password = PASSWORD) {
	await page.goto(`${base}/signin`);
	await page.fill('input[name=name]', name);
	await page.fill('input[name=password]', password);
	await Promise.all([
		page.waitForURL(`${base}/`, { timeout: 10000 }),
		page.press('input[name=password]', 'Enter'),
	]);
}

// A WebSocket to /__realtime through nginx, as a browser of BASE would open
// it, with the cookie and Origin given (origin null: no Origin header;
// the string 'null' is sent as is). Records frames and the close.
export function upgrade(key, url, { token, origin = BASE, label = key } = {}) {
	const q = new URLSearchParams({ key, url });
	const ws = new WebSocket(`${BASE.replace(/^http/, 'ws')}/__realtime?${q}`, {
		...(origin === null ? {} : { origin }),
		headers: token ? { Cookie: `kc_session=${token}` } : {},
		perMessageDeflate: false,
		handshakeTimeout: 10000,
	});
	const c = { ws, label, frames: [], close: null, refused: null, opened: false };
	ws.on('open', () => { c.opened = true; });
	ws.on('message', (d) => {
		if (String(d) !== '')
			c.frames.push({ data: String(d), t: performance.now() });
	});
	ws.on('close', (code, reason) => {
		c.close = { code, reason: String(reason), t: performance.now() };
	});
	ws.on('unexpected-response', (req, res) => {
		c.refused = res.statusCode;
		c.close = { code: 1006, reason: `HTTP ${res.statusCode}`, t: performance.now() };
		req.destroy();
	});
	ws.on('error', () => {
		if (!c.close)
			c.close = { code: 1006, reason: 'error', t: performance.now() };
	});
	return c;
}

export const waitFrame = (c, timeout = 10000) =>
	until(`${c.label}: a fragment`, () => {
		if (c.frames.length)
			return c.frames[c.frames.length - 1];
		if (c.close)
			throw new Error(`closed ${c.close.code} ${c.close.reason}`);
		return null;
	}, timeout);

export const waitClose = (c, timeout = 10000) =>
	until(`${c.label}: a close`, () => c.close, timeout);

// pushd's /metrics as { 'name{labels}': value }.
export async function metrics() {
	const text = await (await fetch(METRICS)).text();
	const out = {};
	for (const line of text.split('\n')) {
		const m = line.match(/^([a-z_:][a-z0-9_:]*(?:\{[^}]*\})?) ([0-9.e+-]+|NaN)$/i);
		if (m)
			out[m[1]] = Number(m[2]);
	}
	return out;
}

// The sum of every series of metric name (all labels), and whether any.
export function sum(all, name, labelFilter = () => true) {
	let total = 0, seen = false;
	for (const [k, v] of Object.entries(all)) {
		const m = k.match(/^([^{]+)(?:\{(.*)\})?$/);
		if (m[1] === name && labelFilter(m[2] || '')) {
			total += v;
			seen = true;
		}
	}
	return seen ? total : null;
}

// Renders pushd asked the app for (ok or failed; coalesced ones are not
// renders).
export async function renders() {
	const all = await metrics();
	const n = sum(all, 'keycast_renders_total', (l) => !/coalesced/.test(l));
	if (n === null)
		throw new Error('keycast_renders_total not in /metrics');
	return n;
}

// Authorize requests pushd sent the app, whatever the answer: the first
// metric named keycast_authoriz*_total.
export async function authorizations() {
	const all = await metrics();
	const name = Object.keys(all).map((k) => k.split('{')[0])
		.find((k) => /^keycast_authoriz[a-z_]*_total$/.test(k));
	if (!name)
		throw new Error('no keycast_authoriz*_total metric in /metrics');
	return sum(all, name);
}

export function percentile(values, p) {
	const s = [...values].sort((a, b) => a - b);
	return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}
