// The driver of bench/viewers.sh (one Node.js process, one clock): WebSocket
// clients (package ws) of ONE key against keycast-pushd, the app's control
// port (bench/viewers/app.mjs), PostgreSQL for the notifies.
// Settings by environment, see bench/viewers.sh. Prints one JSON line per
// measurement to stdout; progress to stderr.
import WebSocket from 'ws';
import pg from 'pg';
import { readFileSync, readdirSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';

const E = process.env;
const PORT = Number(E.KC_PUSHD_PORT), CTL = Number(E.VIEWERS_CTL_PORT);
const KEY = '/k';
const NS = (E.VIEWERS_NS ?? '1000 10000').split(/\s+/).filter(Boolean).map(Number);
const VS = (E.VIEWERS_VS ?? '1 4 16').split(/\s+/).filter(Boolean).map(Number);
const UPDATES = Number(E.VIEWERS_UPDATES ?? 10);
const REVOKES = Number(E.VIEWERS_REVOKES ?? 50);
const STORM_N = Number(E.VIEWERS_STORM_N ?? 10000);
const STORM_V = Number(E.VIEWERS_STORM_V ?? 16);
const PHASES = (E.VIEWERS_PHASES ?? 'fanout revoke storm').split(/\s+/);
const now = () => performance.now();
const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);
const out = (o) => console.log(JSON.stringify(o));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (a, p) => { if (!a.length) return NaN; const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]; };
const r2 = (x) => Math.round(x * 100) / 100;

async function metrics() {
	const t = await (await fetch(`http://127.0.0.1:${PORT}/metrics`)).text();
	const m = {};
	for (const line of t.split('\n')) {
		const x = /^([a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$/.exec(line);
		if (x) m[x[1]] = Number(x[2]);
	}
	return m;
}
const ctl = async (path) => (await fetch(`http://127.0.0.1:${CTL}${path}`)).json();
// pushd's CPU time in ns, all threads (schedstat: ns on CPU).
function cpuNs(pid) {
	let s = 0;
	for (const t of readdirSync(`/proc/${pid}/task`)) {
		try { s += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]); } catch { /* gone */ }
	}
	return s;
}
const pushdPid = () => Number(readFileSync(`${E.KC_VAR}/run/pushd.pid`, 'utf8'));

// One client: cookie kc_session=VIEW.ID; messages counted with the time of
// the latest; reconnects (after 50..150 ms) if `reconnect` is set.
class C {
	constructor(view, id, { reconnect = false, port = PORT } = {}) {
		this.view = view; this.id = id; this.reconnect = reconnect; this.port = port;
		this.n = 0; this.tLast = 0; this.close = null; this.live = false; this.gen = 0;
	}
	open() {
		return new Promise((resolve) => {
			const ws = new WebSocket(`ws://127.0.0.1:${this.port}/__realtime?key=${encodeURIComponent(KEY)}&url=${encodeURIComponent(KEY)}`, {
				origin: `http://127.0.0.1:${this.port}`, headers: { Cookie: `kc_session=${this.view}.${this.id}` },
				perMessageDeflate: false, handshakeTimeout: 30000,
			});
			this.ws = ws; this.live = false; this.close = null;
			let settled = false;
			const done = (ok) => { if (!settled) { settled = true; resolve(ok); } };
			ws.on('message', () => { this.n++; this.tLast = now(); if (!this.live) { this.live = true; this.tLive = this.tLast; } });
			ws.on('open', () => done(true));
			ws.on('error', () => done(false));
			ws.on('close', (code, reason) => {
				this.close = { code, reason: reason.toString(), t: now() };
				this.live = false;
				done(false);
				if (this.reconnect) setTimeout(() => this.open(), 50 + Math.random() * 100);
			});
		});
	}
	terminate() { this.reconnect = false; this.ws?.terminate(); }
}

async function until(what, pred, timeoutMs) {
	const end = now() + timeoutMs;
	while (!pred()) {
		if (now() > end) throw new Error(`timeout: ${what}`);
		await sleep(2);
	}
}

// Opens n clients, `batch` handshakes at a time, and waits until each has
// its first fragment.
async function openAll(n, V, prefix, opts) {
	const cs = [];
	for (let i = 0; i < n; i++) cs.push(new C(`v${i % V}`, `${prefix}${i}`, opts));
	for (let i = 0; i < n; i += 500) {
		const r = await Promise.all(cs.slice(i, i + 500).map((c) => c.open()));
		if (r.some((ok) => !ok)) {
			const bad = cs.slice(i, i + 500).find((c) => c.close);
			throw new Error(`a handshake failed (${bad?.close?.code} ${bad?.close?.reason})`);
		}
	}
	await until(`${n} first fragments`, () => cs.every((c) => c.live), 60000);
	return cs;
}
async function closeAll(cs, floor = false) {
	for (const c of cs) c.terminate();
	if (floor) { await sleep(1000); return; }
	for (let i = 0; i < 300; i++) { if ((await metrics()).keycast_clients === 0) break; await sleep(100); }
	await sleep(300);
}

const db = new pg.Client({ host: E.KC_PGDATA, port: Number(E.KC_PGPORT), user: E.KC_PGUSER, database: E.KC_PGDATABASE });
await db.connect();

// Render requests pushd sent (ok + failed; coalesced ones are not sent).
const rendersSent = (m) => m['keycast_renders_total{result="ok"}'] + m['keycast_renders_total{result="failed"}'];

async function update(cs) {
	const base = cs.map((c) => c.n);
	const m0 = await metrics(), a0 = (await ctl('/stats')).renders, c0 = cpuNs(pushdPid());
	const t0 = now();
	await db.query("SELECT pg_notify('keycast', $1)", [KEY]);
	const tCommit = now();
	await until('every client has the update', () => cs.every((c, i) => c.n > base[i]), 30000);
	const tAll = now();
	await sleep(50); // let pushd finish its writes before reading its CPU time
	const c1 = cpuNs(pushdPid()), m1 = await metrics(), a1 = (await ctl('/stats')).renders;
	const lat = cs.map((c) => c.tLast - t0);
	return {
		renders: rendersSent(m1) - rendersSent(m0), appRenders: a1 - a0,
		frames: m1.keycast_frames_sent_total - m0.keycast_frames_sent_total,
		cpuNs: c1 - c0, lat, tCommit: tCommit - t0, tAll: tAll - t0,
		extra: cs.reduce((a, c, i) => a + (c.n - base[i] - 1), 0),
	};
}

// The floor (bench/fanout/floor.c): one write() of one pre-encoded frame
// per client on POST /trigger; same clients, same clock.
const FLOOR = Number(E.VIEWERS_FLOOR_PORT ?? 0), FLOOR_PID = Number(E.VIEWERS_FLOOR_PID ?? 0);
async function floorUpdate(cs) {
	const base = cs.map((c) => c.n);
	const c0 = cpuNs(FLOOR_PID);
	const t0 = now();
	const r = await fetch(`http://127.0.0.1:${FLOOR}/trigger`, { method: 'POST' });
	await r.arrayBuffer();
	await until('every client has the floor frame', () => cs.every((c, i) => c.n > base[i]), 30000);
	await sleep(50);
	const c1 = cpuNs(FLOOR_PID);
	return { cpuNs: c1 - c0, frames: cs.length, lat: cs.map((c) => c.tLast - t0) };
}

// Each round runs the floor and every V once on fresh connections, the
// order rotating per round (the first contender after a pause ran slower).
const ROUNDS = Number(E.VIEWERS_ROUNDS ?? 3);
async function floorRun(N, round) {
	log(`floor: ${N} clients (round ${round + 1})`);
	const cs = [];
	for (let i = 0; i < N; i++) cs.push(new C('v0', `fl${i}`, { port: FLOOR }));
	for (let i = 0; i < N; i += 500) await Promise.all(cs.slice(i, i + 500).map((c) => c.open()));
	await until(`${N} first frames from the floor`, () => cs.every((c) => c.live), 60000);
	await floorUpdate(cs);
	const rs = [];
	for (let u = 0; u < UPDATES; u++) rs.push(await floorUpdate(cs));
	const lat = rs.flatMap((r) => r.lat);
	const cpu = rs.reduce((a, r) => a + r.cpuNs, 0), frames = rs.reduce((a, r) => a + r.frames, 0);
	out({ phase: 'floor', N, round, updates: UPDATES, p50ms: r2(pct(lat, 50)), p99ms: r2(pct(lat, 99)), maxms: r2(Math.max(...lat)),
		cpuNs: cpu, frames, cpuUsPerFrame: r2(cpu / frames / 1000), cpuMsPerUpdate: r2(cpu / UPDATES / 1e6) });
	await closeAll(cs, true);
}
async function viewsRun(N, V, round) {
	log(`fan-out: ${N} clients over ${V} view class(es) (round ${round + 1})`);
	const cs = await openAll(N, V, `f${N}x${V}r${round}-`);
	await update(cs); // warm-up, not reported
	const rs = [];
	for (let u = 0; u < UPDATES; u++) rs.push(await update(cs));
	const lat = rs.flatMap((r) => r.lat);
	const cpu = rs.reduce((a, r) => a + r.cpuNs, 0), frames = rs.reduce((a, r) => a + r.frames, 0);
	out({
		phase: 'fanout', N, V, round, updates: UPDATES,
		rendersPerUpdate: rs.map((r) => r.renders), appRendersPerUpdate: rs.map((r) => r.appRenders),
		framesPerUpdate: rs.map((r) => r.frames),
		p50ms: r2(pct(lat, 50)), p99ms: r2(pct(lat, 99)), maxms: r2(Math.max(...lat)),
		cpuNs: cpu, frames, cpuUsPerFrame: r2(cpu / frames / 1000), cpuMsPerUpdate: r2(cpu / UPDATES / 1e6),
		extraMessages: rs.reduce((a, r) => a + r.extra, 0),
	});
	await closeAll(cs);
}
if (PHASES.includes('fanout')) {
	const who = [...(FLOOR ? ['floor'] : []), ...VS];
	for (const N of NS) {
		for (let round = 0; round < ROUNDS; round++) {
			const order = who.map((_, i) => who[(i + round) % who.length]);
			for (const w of order) {
				if (w === 'floor') await floorRun(N, round);
				else await viewsRun(N, w, round);
			}
		}
	}
}

if (PHASES.includes('revoke')) {
	const BG = Number(E.VIEWERS_REVOKE_BG ?? 1000);
	log(`revocation: ${REVOKES} tries, ${BG} other clients (4 views) connected`);
	const bg = BG ? await openAll(BG, 4, 'bg-') : [];
	const m0 = await metrics();
	const lat = [], latCommit = [], codes = {};
	for (let i = 0; i < REVOKES; i++) {
		const c = new C('v1', `rv${i}`);
		if (!await c.open()) throw new Error('revoke client: handshake failed');
		await until('first fragment', () => c.live, 5000);
		await ctl(`/deny?id=rv${i}`);
		await sleep(20);
		const t0 = now();
		await db.query("SELECT pg_notify('keycast_revoke', $1)", [`user:rv${i}`]);
		const t1 = now();
		await until('close frame', () => c.close, 5000);
		lat.push(c.close.t - t0); latCommit.push(c.close.t - t1);
		codes[c.close.code] = (codes[c.close.code] ?? 0) + 1;
	}
	const m1 = await metrics();
	const o = {
		phase: 'revoke', tries: REVOKES, background: BG, codes,
		p50ms: r2(pct(lat, 50)), p99ms: r2(pct(lat, 99)), maxms: r2(Math.max(...lat)),
		fromCommitReturnP50ms: r2(pct(latCommit, 50)), fromCommitReturnP99ms: r2(pct(latCommit, 99)),
		revokes: m1.keycast_revokes_total - m0.keycast_revokes_total,
		revokeCloses: m1.keycast_revoke_closes_total - m0.keycast_revoke_closes_total,
		bgStillOpen: bg.filter((c) => c.ws.readyState === WebSocket.OPEN).length,
	};
	out(o);
	await closeAll(bg);

	// One tag on many sockets: every client of one "user" revoked at once.
	const MANY = Number(E.VIEWERS_REVOKE_MANY ?? 1000);
	for (let k = 0; MANY && k < 3; k++) {
		log(`revocation of one tag carried by ${MANY} clients (4 views), try ${k + 1}/3`);
		const id = `many${k}`;
		const cs = [];
		for (let i = 0; i < MANY; i++) cs.push(new C(`v${i % 4}`, id));
		for (let i = 0; i < MANY; i += 500) await Promise.all(cs.slice(i, i + 500).map((c) => c.open()));
		await until('first fragments', () => cs.every((c) => c.live), 60000);
		await ctl('/reset');
		await ctl(`/deny?id=${id}`);
		await sleep(50);
		const t0 = now();
		await db.query("SELECT pg_notify('keycast_revoke', $1)", [`user:${id}`]);
		await until('every close frame', () => cs.every((c) => c.close), 30000);
		const l = cs.map((c) => c.close.t - t0);
		const st = await ctl('/stats');
		out({ phase: 'revoke-many', clients: MANY, try: k, p50ms: r2(pct(l, 50)), p99ms: r2(pct(l, 99)), maxms: r2(Math.max(...l)),
			closed4403: cs.filter((c) => c.close.code === 4403).length, authorizes: st.authorizes, appPeakInFlight: st.peak,
			appConns: Number(E.KC_APP_CONNS) });
		await closeAll(cs);
	}
}

const STORM_MS = (E.VIEWERS_STORM_AUTHZ_MS ?? '1 0').split(/\s+/).filter(Boolean).map(Number);
const STORM_CONNS = (E.VIEWERS_STORM_APP_CONNS ?? '1 4 16').split(/\s+/).filter(Boolean).map(Number);
const storms = PHASES.includes('storm') ? STORM_CONNS.flatMap((k) => STORM_MS.map((ms) => [k, ms])) : [];
for (const [appConns, ms] of storms) {
	await ctl(`/delay?ms=${ms}`);
	log(`reconnect storm: ${STORM_N} clients over ${STORM_V} views, authorize held ${ms} ms, then pushd restarts with --app-conns ${appConns}`);
	const cs = await openAll(STORM_N, STORM_V, 'st-', { reconnect: true });
	await ctl('/reset');
	for (const c of cs) c.live = false;
	const a0 = (await ctl('/stats')).authorizes;
	const tKill = now();
	let tUp = 0;
	const restart = new Promise((resolve, reject) => execFile('bash', ['-c', E.VIEWERS_RESTART], { env: { ...process.env, KC_APP_CONNS: String(appConns) } }, (err, so, se) => {
		if (err) reject(new Error(`restart: ${se}`)); else { tUp = now(); resolve(); }
	}));
	let tAll = 0;
	const watch = (async () => { await until('all live again', () => cs.every((c) => c.live && c.tLive > tKill), 300000); tAll = now(); })();
	await restart;
	await watch;
	const st = await ctl('/stats');
	const m = await metrics();
	// From the first client live on the new pushd (tools/stack up returns
	// only after its healthz poll, up to ~50 ms after pushd listens).
	const tFirst = Math.min(...cs.map((c) => c.tLive));
	const lives = cs.map((c) => c.tLive - tFirst);
	const o = {
		phase: 'storm', N: STORM_N, V: STORM_V, appConns, authzDelayMs: ms,
		restartMs: r2(tUp - tKill), allLiveFromFirstMs: r2(tAll - tFirst), allLiveFromUpMs: r2(tAll - tUp), allLiveFromKillMs: r2(tAll - tKill),
		p50LiveFromFirstMs: r2(pct(lives, 50)), p99LiveFromFirstMs: r2(pct(lives, 99)),
		authorizes: st.authorizes - a0, appPeakInFlight: st.peak,
		pushdAuthorizations: Object.fromEntries(Object.entries(m).filter(([k]) => k.startsWith('keycast_authorizations_total'))),
		pushdClients: m.keycast_clients,
	};
	out(o);
	await closeAll(cs);
}
await ctl(`/delay?ms=${E.VIEWERS_AUTHZ_MS ?? 1}`);
await db.end();
