// Helpers for the v2 protocol tests (roots, delta, deflate): the upgrade
// path for several (key, url) pairs, and a client that reads F and D frames
// with the reference reader (tests/lib/diff-ref.mjs). A client here checks every frame it gets: a D must start from
// the fragment it holds and produce the version it names.
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { env } from './lib.mjs';
import { Client, opened } from './ws.mjs';
import { version, applyOps, parseFrame } from '../lib/diff-ref.mjs';

export { version };

// pairs: [[key, url?], ...]; every url given, or none.
export function v2Path(pairs, { v = '2' } = {}) {
	const q = new URLSearchParams();
	if (v !== null) q.append('v', v);
	for (const [key] of pairs) q.append('key', key);
	for (const [, url] of pairs) if (url !== undefined) q.append('url', url);
	return `/__realtime?${q}`;
}

// Render n of a /list url in the tests' app: 30 items, the oldest drops
// off and one comes, as the chat's last 50 do.
export const list = (n) => `<ul>\n${Array.from({ length: 30 }, (_, i) =>
	`<li id="m${n + i}">message ${n + i}: lorem ipsum dolor sit amet</li>\n`).join('')}</ul>\n`;

// A v2 frame's parts (the reference reader's), with its payload (the
// fragment of an F, the ops of a D) as payload; throws when it is neither.
export function parseV2(text) {
	const f = parseFrame(text);
	assert.ok(f, `a v2 frame: ${JSON.stringify(text.slice(0, 80))}`);
	return { ...f, payload: f.kind === 'F' ? f.body : f.ops };
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
					assert.ok(html !== null, `well-formed ops: ${f.payload}`);
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
	return opened(new V2Client(ws, `v2 ${port}${path}`));
}
