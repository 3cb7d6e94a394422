// A small FastCGI responder for the keycast-pushd tests: the app side of
// pushd's render contract, with answers keycast-fcgi never gives (a fragment
// over 1 MiB, output that is not CGI) and a configurable delay. It counts
// the renders per url and the connections pushd opens to it. It answers
// authorize requests (KEYCAST_AUTHORIZE) with app.authorize(params), by
// default 200 view `public` without tags, and records every request's
// params (app.requests), the renders per (url, view) and the peak number
// of requests it held at once.
import net from 'node:net';
import { rmSync } from 'node:fs';

const BEGIN = 1, END = 3, PARAMS = 4, STDIN = 5, STDOUT = 6;

function record(type, id, content = Buffer.alloc(0)) {
	const pad = (8 - (content.length % 8)) % 8;
	const h = Buffer.alloc(8);
	h[0] = 1;
	h[1] = type;
	h.writeUInt16BE(id, 2);
	h.writeUInt16BE(content.length, 4);
	h[6] = pad;
	return Buffer.concat([h, content, Buffer.alloc(pad)]);
}

function stdout(id, data) {
	const out = [];
	for (let i = 0; i < data.length; i += 65535)
		out.push(record(STDOUT, id, data.subarray(i, i + 65535)));
	out.push(record(STDOUT, id));
	const end = Buffer.alloc(8); // appStatus 0, FCGI_REQUEST_COMPLETE
	out.push(record(END, id, end));
	return Buffer.concat(out);
}

function parseParams(buf) {
	const params = {};
	let i = 0;
	const len = () => {
		if (buf[i] & 0x80) {
			const n = buf.readUInt32BE(i) & 0x7fffffff;
			i += 4;
			return n;
		}
		return buf[i++];
	};
	while (i < buf.length) {
		const nl = len(), vl = len();
		params[buf.toString('latin1', i, i + nl)] = buf.toString('latin1', i + nl, i + nl + vl);
		i += nl + vl;
	}
	return params;
}

// The answer for a url: '/big' -> 200 with 1.1 MiB; '/malformed' -> a head
// that is not CGI; anything else -> 200 "<p>URL n</p>" after delayMs.
function answer(url, n, view) {
	if (view !== undefined && view !== 'public')
		return Buffer.from(`Content-Type: text/html\r\n\r\n<p data-view="${view}">${url} ${n}</p>`);
	if (url.startsWith('/big'))
		return Buffer.from(`Content-Type: text/html\r\n\r\n${'x'.repeat(1100 * 1024)}`);
	if (url.startsWith('/malformed'))
		return Buffer.from('this line is no CGI header\r\n\r\n<p>x</p>');
	return Buffer.from(`Content-Type: text/html\r\n\r\n<p>${url} ${n}</p>`);
}

// Listens on { path } (a unix socket) or { host, port } (TCP; port 0 picks
// one). Resolves { address, renders: Map url -> count, connections, close }.
export async function startApp({ path, host = '127.0.0.1', port = 0, delayMs = 0 } = {}) {
	const app = {
		renders: new Map(), connections: 0, delayMs, sockets: new Set(),
		requests: [], viewRenders: new Map(), authorizes: 0, inflight: 0, peak: 0,
		// (params) -> { status = 200, view = 'public', tags = [], body = '', delayMs = 0 }
		authorize: () => ({}),
		// (url, n, view) -> a fragment to render instead of answer()'s, or undefined
		fragment: () => undefined,
	};
	const hold = (fn, ms) => {
		app.inflight++;
		app.peak = Math.max(app.peak, app.inflight);
		const done = () => { app.inflight--; fn(); };
		if (ms > 0) setTimeout(done, ms);
		else setImmediate(done);
	};
	const server = net.createServer((sock) => {
		app.connections++;
		app.sockets.add(sock);
		sock.on('close', () => app.sockets.delete(sock));
		sock.on('error', () => {});
		let buf = Buffer.alloc(0), params = Buffer.alloc(0);
		sock.on('data', (chunk) => {
			buf = Buffer.concat([buf, chunk]);
			while (buf.length >= 8) {
				const type = buf[1], id = buf.readUInt16BE(2), clen = buf.readUInt16BE(4), pad = buf[6];
				if (buf.length < 8 + clen + pad) break;
				const content = buf.subarray(8, 8 + clen);
				buf = buf.subarray(8 + clen + pad);
				if (type === BEGIN) params = Buffer.alloc(0);
				else if (type === PARAMS) params = Buffer.concat([params, content]);
				else if (type === STDIN && clen === 0) {
					const p = parseParams(params);
					const url = p.REQUEST_URI;
					app.requests.push({ ...p, t: Date.now() });
					if (p.KEYCAST_AUTHORIZE !== undefined) {
						app.authorizes++;
						const a = app.authorize(p) ?? {};
						const status = a.status ?? 200;
						const head = status === 200
							? `Status: 200\r\nSet-Cookie: kc_session=rotated\r\nKeycast-View: ${a.view ?? 'public'}\r\n` +
								(a.tags?.length ? `Keycast-Tags: ${a.tags.join(' ')}\r\n` : '')
							: `Status: ${status}\r\nContent-Type: text/plain\r\n`;
						const out = Buffer.from(a.raw ?? `${head}\r\n${a.body ?? ''}`);
						hold(() => { if (!sock.destroyed) sock.write(stdout(id, out)); }, a.delayMs ?? 0);
						continue;
					}
					const n = (app.renders.get(url) ?? 0) + 1;
					app.renders.set(url, n);
					const vk = `${url} ${p.KEYCAST_VIEW}`;
					app.viewRenders.set(vk, (app.viewRenders.get(vk) ?? 0) + 1);
					const own = app.fragment(url, n, p.KEYCAST_VIEW);
					const out = own !== undefined ? Buffer.from(`Content-Type: text/html\r\n\r\n${own}`)
						: answer(url, n, p.KEYCAST_VIEW);
					hold(() => { if (!sock.destroyed) sock.write(stdout(id, out)); }, app.delayMs);
				}
			}
		});
	});
	if (path) rmSync(path, { force: true });
	await new Promise((resolve, reject) => {
		server.once('error', reject);
		if (path) server.listen(path, resolve);
		else server.listen(port, host, resolve);
	});
	app.address = path ? `unix:${path}` : `${host}:${server.address().port}`;
	app.port = path ? undefined : server.address().port;
	app.total = () => [...app.renders.values()].reduce((a, b) => a + b, 0);
	app.close = () => new Promise((resolve) => {
		for (const s of app.sockets) s.destroy();
		server.close(() => resolve());
	});
	return app;
}
