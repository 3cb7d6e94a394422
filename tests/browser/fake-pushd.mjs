// A stand-in for keycast-pushd's v2 WebSocket, on loopback, for the browser
// tests of keycast.js's side of the protocol (docs/protocol.md): it serves a
// page and static/ from this tree, accepts /__realtime upgrades (with
// permessage-deflate, as pushd does) and lets the test send any frame, also
// the forged ones a correct pushd never sends (a diff with a wrong base).
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { WebSocketServer } from 'ws';
import { ROOT, until } from './helpers.mjs';

// FNV-1a 32-bit over the UTF-8 bytes, 8 hex digits: a fragment's version.
export function fnv1a(s) {
	let h = 0x811c9dc5;
	for (const b of Buffer.from(s, 'utf8'))
		h = Math.imul(h ^ b, 16777619);
	return (h >>> 0).toString(16).padStart(8, '0');
}

// Units end just after '>' or '\n'.
export const units = (s) => s.split(/(?<=[>\n])/).filter((u, i, a) => u !== '' || i < a.length - 1);

// Diff ops from a to b: the common units at both ends copied, the middle
// skipped and replaced (enough for the tests; pushd's diff is finer).
export function diffOps(a, b) {
	const ua = units(a), ub = units(b);
	let pre = 0, suf = 0;
	while (pre < ua.length && pre < ub.length && ua[pre] === ub[pre])
		pre++;
	while (suf < ua.length - pre && suf < ub.length - pre &&
	    ua[ua.length - 1 - suf] === ub[ub.length - 1 - suf])
		suf++;
	const ops = [];
	if (pre)
		ops.push(pre);
	if (ua.length - pre - suf)
		ops.push(-(ua.length - pre - suf));
	const mid = ub.slice(pre, ub.length - suf).join('');
	if (mid)
		ops.push(mid);
	if (suf)
		ops.push(suf);
	return JSON.stringify(ops);
}

export const full = (key, url, frag) => `F ${fnv1a(frag)} ${key} ${url}\n${frag}`;
export const diff = (key, url, a, b, ops = diffOps(a, b), base = fnv1a(a)) =>
	`D ${base} ${fnv1a(b)} ${key} ${url}\n${ops}`;

const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript' };

// pages: { '/path': html }. Resolves { base, sockets, close() }; each
// socket: { ws, pairs: [[key, url]...], v, received: [text frames],
// extensions }.
export async function fakePushd(pages) {
	const sockets = [];
	const server = http.createServer(async (req, res) => {
		const u = new URL(req.url, 'http://x');
		if (u.pathname.startsWith('/static/') && !u.pathname.includes('..')) {
			try {
				const body = await readFile(path.join(ROOT, u.pathname));
				res.writeHead(200, { 'Content-Type': TYPES[path.extname(u.pathname)] || 'text/plain' });
				res.end(body);
			} catch {
				res.writeHead(404).end();
			}
			return;
		}
		if (pages[u.pathname]) {
			res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
			res.end(pages[u.pathname]);
			return;
		}
		res.writeHead(404).end();
	});
	const wss = new WebSocketServer({
		noServer: true,
		perMessageDeflate: { serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: 64 },
	});
	server.on('upgrade', (req, sock, head) => {
		const u = new URL(req.url, 'http://x');
		if (u.pathname !== '/__realtime') {
			sock.destroy();
			return;
		}
		wss.handleUpgrade(req, sock, head, (ws) => {
			const q = u.searchParams;
			const keys = q.getAll('key'), urls = q.getAll('url');
			const s = { ws, v: q.get('v'), pairs: keys.map((k, i) => [k, urls[i]]),
				received: [], extensions: ws.extensions, open: true };
			ws.on('message', (data, binary) => s.received.push(binary ? data : data.toString()));
			ws.on('close', () => { s.open = false; });
			sockets.push(s);
		});
	});
	await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
	return {
		base: `http://127.0.0.1:${server.address().port}`,
		sockets,
		// The n-th socket (from 1), once it is there.
		socket: (n = 1) => until(`socket ${n}`, () => sockets[n - 1], 5000),
		close: () => {
			for (const s of sockets)
				s.ws.terminate();
			return new Promise((resolve) => server.close(resolve));
		},
	};
}
