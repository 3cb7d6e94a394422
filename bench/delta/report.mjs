// Tables for bench/delta.sh from the load client's JSON lines (one per
// update; fanout mode for the counter and nchan, scale mode for the chat).
//   node bench/delta/report.mjs results.jsonl
import { readFileSync } from 'node:fs';

const rows = readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const updates = rows.filter((r) => r.round !== undefined && r.warmup === false && r.wire);
const verdicts = rows.filter((r) => r.mode === 'verify');

const median = (a) => {
	const s = a.filter(Number.isFinite).sort((x, y) => x - y), m = s.length >> 1;
	return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const sum = (a) => a.reduce((x, y) => x + y, 0);
const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const pctOf = (sorted, p) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.round(p * (sorted.length - 1)))] : NaN;

// One update's figures, whichever mode measured it.
function figures(r) {
	const arrived = r.arrived ?? r.got;
	let p50, p99, pushdNs = NaN, nginxNs = 0, nchanNs = NaN;
	if (r.klat) {
		p50 = r.klat.p50;
		p99 = r.klat.p99;
		for (const [name, c] of Object.entries(r.cpu)) {
			if (name === 'pushd') pushdNs = c.ns;
			else if (name.startsWith('nginx')) nginxNs += c.ns;
			else if (name === 'nchan') nchanNs = c.ns;
		}
	} else {
		const k = [...r.latk_us].sort((x, y) => x - y);
		p50 = pctOf(k, 0.5) / 1000;
		p99 = pctOf(k, 0.99) / 1000;
		pushdNs = (r.procs.pushd?.cpu_ms ?? NaN) * 1e6;
		nginxNs = (r.procs.nginx?.cpu_ms ?? 0) * 1e6;
	}
	const w = r.wire;
	return {
		arrived, missing: r.missing + (r.closed ?? 0), bytes: w.mean, p50, p99,
		kinds: { v1: w.v1, F: w.F, Fz: w.Fz, D: w.D, Dz: w.Dz },
		pushd: pushdNs / arrived / 1e3, nginx: nginxNs / arrived / 1e3, nchan: nchanNs / arrived / 1e3,
		serverMs: ((Number.isFinite(pushdNs) ? pushdNs : nchanNs) + nginxNs) / 1e6,
	};
}

const groups = new Map();
for (const r of updates) {
	if (!groups.has(r.label)) groups.set(r.label, []);
	groups.get(r.label).push(figures(r));
}
const order = { counter: 0, chat: 1, direct: 0, nginx: 1, nchan: 2, v1: 0, v2plain: 1, v2: 2 };
const labels = [...groups.keys()].sort((a, b) => {
	const [wa, na, pa, ma] = a.split('/'), [wb, nb, pb, mb] = b.split('/');
	return order[wa] - order[wb] || na - nb || order[pa] - order[pb] || order[ma] - order[mb];
});
const stat = (label) => {
	const g = groups.get(label);
	if (!g) return null;
	const kinds = {};
	for (const k of ['v1', 'F', 'Fz', 'D', 'Dz']) kinds[k] = sum(g.map((x) => x.kinds[k]));
	const frames = sum(Object.values(kinds));
	return {
		n: g.length, missing: sum(g.map((x) => x.missing)),
		bytes: median(g.map((x) => x.bytes)), p50: median(g.map((x) => x.p50)), p99: median(g.map((x) => x.p99)),
		pushd: median(g.map((x) => x.pushd)), nginx: median(g.map((x) => x.nginx)), nchan: median(g.map((x) => x.nchan)),
		serverMs: median(g.map((x) => x.serverMs)),
		mix: Object.entries(kinds).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${f((100 * v) / frames, 0)}%`).join(', '),
	};
};
const modeName = { v1: 'v1 (full)', v2: 'v2 + diff + deflate', v2plain: 'v2 + diff' };

const out = [];
out.push('Per update, medians over the measured updates of every set. Bytes: what each client received on the wire for the update (WebSocket frame headers included). Frames: the data frames by kind (v1 full; v2 F full, D diff; z deflated). Arrival: kernel receive stamps, counter from sending the POST, chat from the commit timestamp, nchan from sending the publish. CPU: schedstat of keycast-pushd (nchan: its worker) and of nginx\'s workers (through nginx only), µs per delivered frame, and server total (pushd + nginx) ms per update.');
out.push('');
out.push('| workload | clients | path | mode | updates | bytes/client | frames | p50 ms | p99 ms | pushd µs/frame | nginx µs/frame | server ms/update |');
out.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const l of labels) {
	const [w, n, p, m] = l.split('/');
	const s = stat(l);
	const pushd = p === 'nchan' ? `nchan ${f(s.nchan, 2)}` : f(s.pushd, 2);
	out.push(`| ${w} | ${Number(n).toLocaleString('en')} | ${p} | ${p === 'nchan' ? 'nchan (full)' : modeName[m] ?? m} | ${s.n}${s.missing ? ` (${s.missing} missing)` : ''} | ${f(s.bytes, 0)} | ${s.mix} | ${f(s.p50, 2)} | ${f(s.p99, 2)} | ${pushd} | ${p === 'nginx' ? f(s.nginx, 2) : '–'} | ${f(s.serverMs, 1)} |`);
}
out.push('');

// The issue's goals, v2 against v1 in the same run.
const goals = [];
const ns = [...new Set(labels.map((l) => Number(l.split('/')[1])))].sort((a, b) => a - b);
const big = ns[ns.length - 1];
for (const n of ns) {
	const c = stat(`chat/${n}/nginx/v2`) ?? stat(`chat/${n}/direct/v2`);
	if (c) goals.push(`- chat, ${n.toLocaleString('en')} clients: ${f(c.bytes, 0)} bytes per client per update with v2 (goal ≤ 400) — ${c.bytes <= 400 ? 'met' : 'NOT met'}.`);
}
for (const w of ['chat', 'counter']) {
	const a = stat(`${w}/${big}/nginx/v1`), b = stat(`${w}/${big}/nginx/v2`);
	if (!a || !b) continue;
	const rp = b.p99 / a.p99, rc = b.serverMs / a.serverMs;
	if (w === 'chat')
		goals.push(`- chat through nginx, ${big.toLocaleString('en')} clients: p99 ${f(b.p99, 2)} vs ${f(a.p99, 2)} ms (${f(rp, 2)}×), pushd + nginx CPU per update ${f(b.serverMs, 1)} vs ${f(a.serverMs, 1)} ms (${f(rc, 2)}×); goal ≤ 0.5× each — ${rp <= 0.5 && rc <= 0.5 ? 'met' : 'NOT met'}.`);
	else
		goals.push(`- counter through nginx, ${big.toLocaleString('en')} clients: bytes ${f(b.bytes, 0)} vs ${f(a.bytes, 0)}, p99 ${f(b.p99, 2)} vs ${f(a.p99, 2)} ms (${f(rp, 2)}×), CPU per update ${f(b.serverMs, 1)} vs ${f(a.serverMs, 1)} ms (${f(rc, 2)}×); goal: no worse than v1.`);
}
if (goals.length) {
	out.push('Goals (issue 11), v2 + diff + deflate against v1 in the same run:');
	out.push(...goals);
	out.push('');
}
const bad = verdicts.filter((v) => !v.ok);
out.push(`Correctness: ${verdicts.length} runs ended with every client's fragment compared with the page fetched afresh through nginx (the key's data-rt-root): ${bad.length === 0 ? 'all equal' : `${bad.length} MISMATCHED (${bad.map((v) => v.label).join(', ')})`}; every diff was applied and every version checked as keycast.js does${sum(updates.map((r) => r.wire.refused)) ? `, ${sum(updates.map((r) => r.wire.refused))} FRAMES REFUSED` : ', none refused'}.`);
console.log(out.join('\n'));
