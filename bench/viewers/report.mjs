// Tables (markdown) from bench/viewers/run.mjs's JSON lines.
//   node report.mjs results.jsonl
import { readFileSync } from 'node:fs';
const rows = readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const med = (a) => { const s = [...a].sort((x, y) => x - y); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const r2 = (x) => Math.round(x * 100) / 100;
const uniq = (a) => [...new Set(a)].join('/');
// Per (N, V): p50/p99 = median over rounds; CPU per frame = total CPU / total frames.
const groups = new Map();
for (const r of rows.filter((x) => x.phase === 'fanout' || x.phase === 'floor')) {
	const k = `${r.N} ${r.phase === 'floor' ? 'floor' : r.V}`;
	if (!groups.has(k)) groups.set(k, []);
	groups.get(k).push(r);
}
const agg = new Map();
for (const [k, rs] of groups) {
	agg.set(k, {
		N: rs[0].N, V: rs[0].phase === 'floor' ? 'floor' : rs[0].V, rounds: rs.length,
		renders: uniq(rs.flatMap((r) => r.rendersPerUpdate ?? [])), appRenders: uniq(rs.flatMap((r) => r.appRendersPerUpdate ?? [])),
		frames: uniq(rs.flatMap((r) => r.framesPerUpdate ?? [r.N])),
		p50: r2(med(rs.map((r) => r.p50ms))), p99: r2(med(rs.map((r) => r.p99ms))),
		p99range: `${Math.min(...rs.map((r) => r.p99ms))}–${Math.max(...rs.map((r) => r.p99ms))}`,
		cpu: r2(rs.reduce((a, r) => a + r.cpuNs, 0) / rs.reduce((a, r) => a + r.frames, 0) / 1000),
		extra: rs.reduce((a, r) => a + (r.extraMessages ?? 0), 0),
	});
}
if (agg.size) {
	console.log('| N | V | renders/update (pushd; app) | frames/update | p50 ms | p99 ms (range) | CPU µs/frame | CPU vs V=1 | p99 vs V=1 | CPU vs floor | p99 vs floor |');
	console.log('|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|');
	for (const a of [...agg.values()].sort((x, y) => x.N - y.N || (x.V === 'floor' ? -1 : y.V === 'floor' ? 1 : x.V - y.V))) {
		const b = agg.get(`${a.N} 1`), f = agg.get(`${a.N} floor`);
		const q = (x, y) => (x && y ? (x / y).toFixed(2) : '-');
		const fl = a.V === 'floor';
		console.log(`| ${a.N} | ${a.V} | ${fl ? '-' : `${a.renders}; ${a.appRenders}`} | ${a.frames} | ${a.p50} | ${a.p99} (${a.p99range}) | ${a.cpu} | ` +
			`${fl ? '-' : q(a.cpu, b?.cpu)} | ${fl ? '-' : q(a.p99, b?.p99)} | ${q(a.cpu, f?.cpu)} | ${q(a.p99, f?.p99)} |`);
	}
	const rounds = uniq([...agg.values()].map((a) => a.rounds)), extra = [...agg.values()].reduce((s, a) => s + a.extra, 0);
	console.log(`\n(${rounds} rounds per row, ${rows.find((r) => r.updates)?.updates} measured updates each; p50/p99: median over the rounds; ` +
		`CPU: all rounds' CPU time / all frames; extra messages beyond one per client and update: ${extra}.)\n`);
}
for (const r of rows.filter((x) => x.phase === 'revoke'))
	console.log(`Revocation (${r.tries} tries, ${r.background} other clients): NOTIFY sent -> close frame p50 ${r.p50ms} ms, p99 ${r.p99ms} ms, max ${r.maxms} ms ` +
		`(from the commit's return: p50 ${r.fromCommitReturnP50ms}, p99 ${r.fromCommitReturnP99ms} ms); close codes ${JSON.stringify(r.codes)}; ` +
		`revokes ${r.revokes}, revoke closes ${r.revokeCloses}; other clients still open ${r.bgStillOpen}/${r.background}.`);
const many = rows.filter((x) => x.phase === 'revoke-many');
if (many.length) {
	console.log('\n| one tag on N clients | try | all closed (ms) | p50 / p99 (ms) | closed 4403 | authorize requests | app peak in flight |');
	console.log('|---:|---:|---:|---|---:|---:|---:|');
	for (const r of many)
		console.log(`| ${r.clients} | ${r.try + 1} | ${r.maxms} | ${r.p50ms} / ${r.p99ms} | ${r.closed4403} | ${r.authorizes} | ${r.appPeakInFlight} (cap ${r.appConns}) |`);
}
const storms = rows.filter((x) => x.phase === 'storm');
if (storms.length) {
	console.log('\n| storm: clients | --app-conns | app holds each authorize | all live, from the first live (ms) | per client p50 / p99 (ms) | from the stop (ms) | authorize requests | app peak in flight |');
	console.log('|---:|---:|---:|---:|---|---:|---:|---:|');
	for (const r of storms)
		console.log(`| ${r.N} (${r.V} views) | ${r.appConns} | ${r.authzDelayMs} ms | ${r.allLiveFromFirstMs} | ${r.p50LiveFromFirstMs} / ${r.p99LiveFromFirstMs} | ${r.allLiveFromKillMs} | ${r.authorizes} | ${r.appPeakInFlight} ${r.appPeakInFlight <= r.appConns ? '(≤ cap)' : '(OVER the cap)'} |`);
}
