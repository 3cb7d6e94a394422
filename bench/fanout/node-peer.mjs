// The Node.js peer of bench/fanout.sh: keycast-pushd's job written the way a
// Node.js user would, with `ws` and `pg`. LISTEN keycast; on a notify of a
// key, render each of its (key, url)s ONCE by asking keycast-fcgi over
// FastCGI exactly as pushd does (same socket, same params, one kept-alive
// connection), then ws.send the same string to every client of that
// (key, url). The same coalescing as pushd (one render in flight, one
// pending), and a new client gets the cached fragment when it is current.
//
//   node bench/fanout/node-peer.mjs --port P --app PATH.sock \
//        --pghost DIR --pgport N --pguser U --pgdatabase D [--channel keycast]
import http from 'node:http';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { WebSocketServer } from 'ws';
import pg from 'pg';

const { values: a } = parseArgs({
	options: {
		port: { type: 'string' }, app: { type: 'string' },
		pghost: { type: 'string' }, pgport: { type: 'string' },
		pguser: { type: 'string' }, pgdatabase: { type: 'string' },
		channel: { type: 'string', default: 'keycast' },
	},
});

// ---- FastCGI client: one kept-alive connection, requests one at a time ----
const FCGI = { BEGIN: 1, END: 3, PARAMS: 4, STDIN: 5, STDOUT: 6, STDERR: 7 };

function record(type, body) {
	const h = Buffer.alloc(8);
	h[0] = 1; h[1] = type; h.writeUInt16BE(1, 2);
	h.writeUInt16BE(body.length, 4);
	return Buffer.concat([h, body]);
}

function nvLen(n) {
	if (n < 128) return Buffer.from([n]);
	const b = Buffer.alloc(4); b.writeUInt32BE((n | 0x80000000) >>> 0); return b;
}

function encodeRequest(params) {
	const pairs = [];
	for (const [k, v] of Object.entries(params)) {
		const kb = Buffer.from(k), vb = Buffer.from(v);
		pairs.push(nvLen(kb.length), nvLen(vb.length), kb, vb);
	}
	const begin = Buffer.from([0, 1, 1, 0, 0, 0, 0, 0]); // responder, KEEP_CONN
	return Buffer.concat([record(FCGI.BEGIN, begin), record(FCGI.PARAMS, Buffer.concat(pairs)),
		record(FCGI.PARAMS, Buffer.alloc(0)), record(FCGI.STDIN, Buffer.alloc(0))]);
}

class FcgiClient {
	constructor(path) { this.path = path; this.queue = []; this.sock = null; this.busy = null; }
	request(params) {
		return new Promise((resolve, reject) => {
			this.queue.push({ req: encodeRequest(params), resolve, reject });
			this.next();
		});
	}
	connect() {
		this.sock = net.createConnection(this.path);
		this.buf = Buffer.alloc(0);
		this.sock.on('data', (d) => this.onData(d));
		const fail = (e) => {
			this.sock = null;
			const j = this.busy; this.busy = null;
			if (j) j.reject(e || new Error('app closed the connection'));
			this.next();
		};
		this.sock.on('error', fail);
		this.sock.on('close', () => fail());
	}
	next() {
		if (this.busy || this.queue.length === 0) return;
		if (!this.sock) this.connect();
		this.busy = this.queue.shift();
		this.out = [];
		this.sock.write(this.busy.req);
	}
	onData(d) {
		this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
		while (this.buf.length >= 8) {
			const type = this.buf[1], len = this.buf.readUInt16BE(4), pad = this.buf[6];
			if (this.buf.length < 8 + len + pad) break;
			const body = this.buf.subarray(8, 8 + len);
			this.buf = this.buf.subarray(8 + len + pad);
			if (type === FCGI.STDOUT) this.out.push(body);
			else if (type === FCGI.END) {
				const j = this.busy; this.busy = null;
				const raw = Buffer.concat(this.out);
				const sep = raw.indexOf('\r\n\r\n');
				const head = raw.subarray(0, sep < 0 ? 0 : sep).toString();
				const m = /^status:\s*(\d+)/im.exec(head);
				j.resolve({ status: m ? Number(m[1]) : 200, body: raw.subarray(sep < 0 ? 0 : sep + 4).toString() });
				this.next();
			}
		}
	}
}

const app = new FcgiClient(a.app);

// ---- hub: key -> url -> { clients, cached, inflight, pending } ----
const keys = new Map();
let renders = 0, sends = 0;

function entry(key, url, host) {
	let urls = keys.get(key);
	if (!urls) keys.set(key, (urls = new Map()));
	let e = urls.get(url);
	if (!e) urls.set(url, (e = { key, url, host, clients: new Set(), cached: null, gen: 0, cachedGen: -1, inflight: false, pending: false }));
	return e;
}

async function render(e) {
	e.inflight = true;
	e.pending = false;
	const gen = e.renderGen = e.gen;
	const q = e.url.indexOf('?');
	const [name, port] = e.host.split(':');
	try {
		const r = await app.request({
			GATEWAY_INTERFACE: 'CGI/1.1', SERVER_PROTOCOL: 'HTTP/1.1', SERVER_SOFTWARE: 'node-peer',
			SERVER_NAME: name, SERVER_PORT: port || '80', REMOTE_ADDR: '127.0.0.1',
			REQUEST_METHOD: 'GET', REQUEST_URI: e.url, SCRIPT_NAME: q < 0 ? e.url : e.url.slice(0, q),
			PATH_INFO: '', QUERY_STRING: q < 0 ? '' : e.url.slice(q + 1), HTTP_HOST: e.host,
			KEYCAST_RENDER: e.key,
		});
		renders++;
		if (r.status === 200) {
			e.cached = r.body;
			e.cachedGen = gen;
			for (const ws of e.clients) { ws.send(r.body); sends++; }
		}
	} catch (err) {
		console.error('render failed:', err.message);
	}
	e.inflight = false;
	if (e.pending && e.clients.size > 0) render(e);
}

function want(e) {
	if (e.inflight) e.pending = true;
	else render(e);
}

// ---- LISTEN ----
const db = new pg.Client({ host: a.pghost, port: Number(a.pgport), user: a.pguser, database: a.pgdatabase });
await db.connect();
db.on('notification', (n) => {
	const urls = keys.get(n.payload);
	if (!urls) return;
	for (const e of urls.values()) {
		e.gen++;
		if (e.clients.size > 0) want(e);
	}
});
await db.query(`LISTEN ${a.channel}`);

// ---- WebSocket endpoint ----
const wss = new WebSocketServer({ noServer: true });
const server = http.createServer((req, res) => {
	if (req.url === '/stats') {
		let clients = 0;
		for (const urls of keys.values()) for (const e of urls.values()) clients += e.clients.size;
		res.end(JSON.stringify({ clients, renders, sends }));
		return;
	}
	res.writeHead(404).end();
});
server.on('upgrade', (req, sock, head) => {
	const u = new URL(req.url, 'http://x');
	const key = u.searchParams.get('key'), url = u.searchParams.get('url') || key;
	if (u.pathname !== '/__realtime' || !key || !url?.startsWith('/') ||
	    req.headers.origin !== `http://${req.headers.host}`) {
		sock.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
		return;
	}
	wss.handleUpgrade(req, sock, head, (ws) => {
		const e = entry(key, url, req.headers.host);
		e.clients.add(ws);
		ws.on('close', () => e.clients.delete(ws));
		ws.on('error', () => {});
		if (e.cached !== null && e.cachedGen === e.gen) ws.send(e.cached);
		else if (!e.inflight) render(e);
		else if (e.renderGen !== e.gen) e.pending = true;
		// else the render in flight is current: its broadcast reaches ws
	});
});
server.listen(Number(a.port), '127.0.0.1');
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => process.exit(0));
