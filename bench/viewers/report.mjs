// Tables (markdown) from bench/viewers/run.mjs's JSON lines.
//   node report.mjs results.jsonl
import { readFileSync } from 'node:fs';
const rows = readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const fan = rows.filter((r) => r.phase === 'fanout');
const floor = rows.filter((r) => r.phase === 'floor');
if (fan.length) {
	console.log('| N | V | renders per update (pushd; app) | frames per update | p50 ms | p99 ms | max ms | CPU µs/frame | CPU vs V=1 | p99 vs V=1 | p99 vs floor | CPU vs floor | CPU ms/update |');
	console.log('|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
	for (const f of floor)
		console.log(`| ${f.N} | floor | - | ${f.N} | ${f.p50ms} | ${f.p99ms} | ${f.maxms} | ${f.cpuUsPerFrame} | - | - | 1.00 | 1.00 | ${f.cpuMsPerUpdate} |`);
	for (const r of fan) {
		const base = fan.find((b) => b.N === r.N && b.V === 1);
		const ratio = base ? (r.cpuUsPerFrame / base.cpuUsPerFrame).toFixed(2) : '-';
		const pr = base ? (r.p99ms / base.p99ms).toFixed(2) : '-';
		const f = floor.find((x) => x.N === r.N);
		const fp = f ? (r.p99ms / f.p99ms).toFixed(2) : '-', fc = f ? (r.cpuUsPerFrame / f.cpuUsPerFrame).toFixed(2) : '-';
		const uniq = (a) => [...new Set(a)].join('/');
		console.log(`| ${r.N} | ${r.V} | ${uniq(r.rendersPerUpdate)}; ${uniq(r.appRendersPerUpdate ?? [])} | ${uniq(r.framesPerUpdate)} | ${r.p50ms} | ${r.p99ms} | ${r.maxms} | ${r.cpuUsPerFrame} | ${ratio} | ${pr} | ${fp} | ${fc} | ${r.cpuMsPerUpdate} |`);
	}
	console.log();
}
for (const r of rows.filter((x) => x.phase === 'revoke'))
	console.log(`Revocation (${r.tries} tries, ${r.background} other clients): NOTIFY sent -> close frame p50 ${r.p50ms} ms, p99 ${r.p99ms} ms, max ${r.maxms} ms ` +
		`(from the commit's return: p50 ${r.fromCommitReturnP50ms}, p99 ${r.fromCommitReturnP99ms} ms); close codes ${JSON.stringify(r.codes)}; ` +
		`revokes ${r.revokes}, revoke closes ${r.revokeCloses}; other clients still open ${r.bgStillOpen}/${r.background}.`);
for (const r of rows.filter((x) => x.phase === 'storm'))
	console.log(`\nReconnect storm (${r.N} clients, ${r.V} views, --app-conns ${r.appConns}, each authorize held ${r.authzDelayMs} ms by the app): pushd stop+start ${r.restartMs} ms; ` +
		`**all ${r.N} live ${r.allLiveFromFirstMs} ms after the first client was live again** on the new pushd ` +
		`(${r.allLiveFromUpMs} ms after tools/stack up returned, ${r.allLiveFromKillMs} ms after the stop began); ` +
		`per client p50 ${r.p50LiveFromFirstMs} ms, p99 ${r.p99LiveFromFirstMs} ms after the first; authorize requests ${r.authorizes}; ` +
		`app peak in flight ${r.appPeakInFlight} (<= ${r.appConns}: ${r.appPeakInFlight <= r.appConns ? 'yes' : 'NO'}).`);
