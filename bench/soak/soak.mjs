// The chaos soak's driver (run by bench/soak.sh, which starts the stack):
// clients on /counter and chat rooms, writers incrementing the counter and
// posting chat messages through nginx, and a fault every SOAK_FAULT_EVERY
// seconds, in turn: PostgreSQL restarted, pushd's LISTEN backend
// terminated, a keycast-fcgi worker killed. It counts what was
// acknowledged (204) against what the database holds at the end (nothing
// lost, nothing doubled), checks every client ends on the final state, and
// times each fault's recovery: from the fault's end (PostgreSQL started
// again, the backend or worker killed) until every /counter client shows at
// least the value the database had then. For a restart it is timed both
// from the start command (an upper bound: PostgreSQL accepts connections
// somewhat later) and from when the start (with tools/migrate) returned.
import { setTimeout as delay } from 'node:timers/promises';
import crypto from 'node:crypto';
import { env, until, postForm, stack, partPid, childPids, psql, signUp, as } from '../../tests/integration/lib.mjs';
import WebSocket from 'ws';
import { realtimePath, countOf } from '../../tests/integration/ws.mjs';

const num = (name, dflt) => Number(process.env[name] ?? dflt);
const SECONDS = num('SOAK_SECONDS', 600);
const CLIENTS = num('SOAK_CLIENTS', 400);
const ROOMS = num('SOAK_ROOMS', 8);
const WRITERS = num('SOAK_WRITERS', 4);
const FAULT_EVERY = num('SOAK_FAULT_EVERY', 15);
const PG_DOWN_MS = num('SOAK_PG_DOWN_MS', 2000);
const run = crypto.randomBytes(3).toString('hex');
const XK = { headers: { 'X-Keycast': '1' }, timeout: 10000 };
const rooms = Array.from({ length: ROOMS }, (_, i) => `soak-${run}-${i}`);

// A client that keeps only its last frame (the tests' Client keeps all,
// too much for hundreds of clients over minutes).
function connect(key) {
	const port = env.pushdPort;
	const ws = new WebSocket(`ws://127.0.0.1:${port}${realtimePath(key)}`, {
		origin: `http://127.0.0.1:${port}`, perMessageDeflate: false, handshakeTimeout: 10000,
	});
	const c = { last: undefined, frames: 0, close: null, terminate: () => ws.terminate() };
	ws.on('message', (data) => {
		c.last = data.toString('utf8');
		c.frames++;
	});
	ws.on('close', (code) => { c.close = code; });
	ws.on('error', () => {});
	return new Promise((resolve, reject) => {
		ws.once('open', () => resolve(c));
		ws.once('unexpected-response', (req, res) => reject(new Error(`${key}: handshake answered ${res.statusCode}`)));
		ws.once('error', reject);
	});
}

const dbCount = () => Number(psql("SELECT value FROM counters WHERE name = 'global'"));
const stats = { inc: 0, incUnknown: 0, incRefused: 0, chat: 0, chatUnknown: 0, chatRefused: 0 };
const recoveries = { 'pg-restart': [], 'pg-restart (from start returned)': [], 'listen-killed': [], 'worker-killed': [] };
let stopping = false;

// One writer: alternates increments and chat posts until stopping. A 204
// is acknowledged; another status was refused (not applied); no answer is
// unknown (may or may not be applied).
async function writer(w) {
	// Posting needs a signed-in user: one account per writer.
	const chatXK = { ...XK, headers: as(await signUp(`soak-${w}`), XK.headers) };
	for (let i = 0; !stopping; i++) {
		const chat = i % 2 === 1;
		const room = rooms[(w + i) % rooms.length];
		try {
			const res = chat
				? await postForm(env.httpBase, `/api/chat/${room}/messages`, { text: `soak-${run}-${w}-${i}` }, chatXK)
				: await postForm(env.httpBase, '/api/counter/increment', '', XK);
			if (res.status === 204) stats[chat ? 'chat' : 'inc']++;
			else {
				stats[chat ? 'chatRefused' : 'incRefused']++;
				await delay(50);
			}
		} catch {
			stats[chat ? 'chatUnknown' : 'incUnknown']++;
			await delay(50);
		}
	}
}

// Waits until every /counter client shows at least v; returns ms since t0.
async function recovered(counters, v, t0) {
	await until(`every /counter client at ${v} or more`, () =>
		counters.every((c) => (countOf(c.last) ?? -1) >= v), { timeout: 60000, interval: 5 });
	return Date.now() - t0;
}

const pgQuery = async (sql) => {
	// psql fails while PostgreSQL is starting; retry until it answers.
	return until(`psql: ${sql}`, () => psql(sql) || 'empty', { timeout: 30000, interval: 20 });
};

async function fault(kind, counters) {
	let t0, tUp;
	if (kind === 'pg-restart') {
		stack('stop', 'pg');
		await delay(PG_DOWN_MS);
		t0 = Date.now();
		stack('start', 'pg');
		tUp = Date.now();
	} else if (kind === 'listen-killed') {
		psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'keycast-pushd'");
		t0 = Date.now();
	} else {
		const workers = childPids(partPid('fcgi'));
		process.kill(workers[Math.floor(Math.random() * workers.length)], 'SIGKILL');
		t0 = Date.now();
	}
	const v = Number(await pgQuery("SELECT value FROM counters WHERE name = 'global'"));
	const ms = await recovered(counters, v, t0);
	recoveries[kind].push(ms);
	if (tUp !== undefined)
		recoveries['pg-restart (from start returned)'].push(ms - (tUp - t0));
	console.error(`[soak] ${kind}: every /counter client current ${ms} ms after the fault ended` +
		(tUp !== undefined ? ` (the start command took ${tUp - t0} ms)` : ''));
}

function summary(list) {
	if (list.length === 0) return 'none';
	const s = [...list].sort((a, b) => a - b);
	return `n=${s.length} p50=${s[Math.floor((s.length - 1) / 2)]} ms max=${s[s.length - 1]} ms`;
}

async function main() {
	const inc0 = dbCount();
	const nCounter = Math.ceil(CLIENTS / 2);
	const specs = [
		...Array.from({ length: nCounter }, () => ({ key: '/counter' })),
		...Array.from({ length: CLIENTS - nCounter }, (_, i) => ({ key: `/chat/${rooms[i % rooms.length]}` })),
	];
	const clients = [];
	for (let i = 0; i < specs.length; i += 50)
		clients.push(...await Promise.all(specs.slice(i, i + 50).map((s) => connect(s.key))));
	const counters = clients.slice(0, nCounter);
	console.error(`[soak] ${clients.length} clients; ${WRITERS} writers; ${SECONDS} s; a fault every ${FAULT_EVERY} s`);

	const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
	const end = Date.now() + SECONDS * 1000;
	const kinds = ['pg-restart', 'listen-killed', 'worker-killed'];
	let faults = 0;
	while (Date.now() + FAULT_EVERY * 1000 < end) {
		await delay(FAULT_EVERY * 1000);
		await fault(kinds[faults % kinds.length], counters);
		faults++;
	}
	await delay(Math.max(0, end - Date.now()));
	stopping = true;
	await Promise.all(writers);

	// Everything acknowledged is in the database, once.
	const incDb = dbCount() - inc0;
	const chatDb = Number(psql(`SELECT count(*) FROM messages WHERE room LIKE 'soak-${run}-%'`));
	const final = dbCount();
	await until('every /counter client on the final value', () =>
		counters.every((c) => countOf(c.last) === final), { timeout: 30000 });
	const closed = clients.filter((c) => c.close).length;
	for (const c of clients) c.terminate();

	const incOk = incDb >= stats.inc && incDb <= stats.inc + stats.incUnknown;
	const chatOk = chatDb >= stats.chat && chatDb <= stats.chat + stats.chatUnknown;
	console.log(`soak: ${SECONDS} s, ${clients.length} clients, ${faults} faults`);
	console.log(`increments: ${stats.inc} acknowledged, ${stats.incUnknown} unanswered, ${stats.incRefused} refused; ` +
		`database +${incDb} ${incOk ? '(ok: none lost, none doubled)' : '(MISMATCH)'}`);
	console.log(`chat posts: ${stats.chat} acknowledged, ${stats.chatUnknown} unanswered, ${stats.chatRefused} refused; ` +
		`database ${chatDb} ${chatOk ? '(ok: none lost, none doubled)' : '(MISMATCH)'}`);
	for (const [kind, list] of Object.entries(recoveries))
		console.log(`recovery after ${kind}: ${summary(list)}`);
	console.log(`clients closed during the run: ${closed}`);
	if (!incOk || !chatOk || closed > 0) process.exit(1);
}

main().catch((err) => {
	console.error(`soak: ${err.stack}`);
	process.exit(1);
});
