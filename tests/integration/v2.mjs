// Helpers for the v2 protocol tests (roots, delta, deflate): the upgrade
// path for several (key, url) pairs, the F and D frames parsed, a diff
// applied as docs/protocol.md says (and as keycast.js does), and FNV-1a
// versions. A client here checks every frame it gets: a D must start from
// the fragment it holds and produce the version it names.
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { env } from './lib.mjs';
import { Client } from './ws.mjs';

// pairs: [[key, url?], ...]; every url given, or none.
export function v2Path(pairs, { v = '2' } = {}) {
	const q = new URLSearchParams();
	if (v !== null) q.append('v', v);
	for (const [key] of pairs) q.append('key', key);
	for (const [, url] of pairs) if (url !== undefined) q.append('url', url);
	return `/__realtime?${q}`;
}

// FNV-1a 32-bit over the UTF-8 bytes, as 8 lowercase hex digits.
export function version(s) {
	let h = 2166136261;
	for (const b of Buffer.from(s, 'utf8')) {
		h ^= b;
		h = Math.imul(h, 16777619) >>> 0;
	}
	return h.toString(16).padStart(8, '0');
}

// Render n of a /list url in the tests' app: 30 items, the oldest drops
// off and one comes, as the chat's last 50 do.
export const list = (n) => `<ul>\n${Array.from({ length: 30 }, (_, i) =>
	`<li id="m${n + i}">message ${n + i}: lorem ipsum dolor sit amet</li>\n`).join('')}</ul>\n`;

export function units(s) {
	return s === '' ? [] : s.split(/(?<=[>\n])/);
}

// Applies the ops (JSON text) to base; throws on a malformed diff.
export function applyOps(base, opsText) {
	const ops = JSON.parse(opsText);
	const u = units(base);
	let cur = 0, out = '';
	assert.ok(Array.isArray(ops), 'ops are an array');
	for (const op of ops) {
		if (typeof op === 'string') {
			out += op;
		} else {
			assert.ok(Number.isInteger(op) && op !== 0, `bad op ${op}`);
			const n = Math.abs(op);
			assert.ok(cur + n <= u.length, 'ops run past the base');
			if (op > 0) out += u.slice(cur, cur + n).join('');
			cur += n;
		}
	}
	assert.equal(cur, u.length, 'ops end at the end of the base');
	return out;
}

// A v2 frame's parts: { kind: 'F'|'D', base?, version, key, url, payload }.
export function parseV2(text) {
	const nl = text.indexOf('\n');
	assert.ok(nl > 0, `a header line in ${JSON.stringify(text.slice(0, 80))}`);
	const h = text.slice(0, nl).split(' ');
	const payload = text.slice(nl + 1);
	if (h[0] === 'F') {
		assert.equal(h.length, 4, `F header ${h}`);
		return { kind: 'F', version: h[1], key: h[2], url: h[3], payload };
	}
	assert.equal(h[0], 'D', `a frame kind in ${h}`);
	assert.equal(h.length, 5, `D header ${h}`);
	return { kind: 'D', base: h[1], version: h[2], key: h[3], url: h[4], payload };
}

// A v2 WebSocket client (npm ws) that keeps, per root "key url", the
// fragment it holds, checking each frame as keycast.js would; a check
// failure is recorded in bad (the tests assert it stays empty).
export class V2Client extends Client {
	constructor(ws, label) {
		super(ws, label);
		this.held = new Map(); // "key url" -> { version, html }
		this.frames = []; // parsed frames, in order
		this.bad = [];
		ws.on('message', (data, isBinary) => {
			const text = data.toString('utf8');
			if (isBinary || text === '') return;
			try {
				const f = parseV2(text);
				const id = `${f.key} ${f.url}`;
				if (f.kind === 'F') {
					assert.equal(version(f.payload), f.version, 'F version');
					this.held.set(id, { version: f.version, html: f.payload });
				} else {
					const h = this.held.get(id);
					assert.ok(h, `a D for ${id} before any F`);
					assert.equal(f.base, h.version, `D base for ${id}`);
					const html = applyOps(h.html, f.payload);
					assert.equal(version(html), f.version, 'D result version');
					this.held.set(id, { version: f.version, html });
				}
				this.frames.push(f);
			} catch (err) {
				this.bad.push(`${err.message} in ${JSON.stringify(text.slice(0, 120))}`);
			}
		});
	}

	html(key, url = key) { return this.held.get(`${key} ${url}`)?.html; }

	async waitHtml(key, url, pred, opts) {
		return this.waitMessage(`${key} ${url}`, () => { const h = this.html(key, url); return h !== undefined && pred(h); }, opts);
	}
}

export function connectV2(pairs, { port = env.pushdPort, headers, deflate = false, timeout = 5000, path } = {}) {
	path ??= v2Path(pairs);
	const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, {
		origin: `http://127.0.0.1:${port}`, handshakeTimeout: timeout, headers,
		perMessageDeflate: deflate ? { threshold: 0 } : false,
	});
	const client = new V2Client(ws, `v2 ${port}${path}`);
	return new Promise((resolve, reject) => {
		ws.once('open', () => resolve(client));
		ws.once('unexpected-response', (req, res) => {
			reject(new Error(`${client.label}: handshake answered ${res.statusCode}`));
			ws.terminate();
		});
		ws.once('error', reject);
	});
}
