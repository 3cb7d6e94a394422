// Tables (markdown) from bench/viewers/run.mjs's JSON lines.
//   node report.mjs results.jsonl
import { readFileSync } from 'node:fs';
const rows = readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const fan = rows.filter((r) => r.phase === 'fanout');
if (fan.length) {
	console.log('| N | V | renders per update (pushd; app) | frames per update | p50 ms | p99 ms | max ms | pushd CPU µs/frame | vs V=1 | pushd CPU ms/update |');
	console.log('|---:|---:|---|---|---:|---:|---:|---:|---:|---:|');
	for (const r of fan) {
		const base = fan.find((b) => b.N === r.N && b.V === 1);
		const ratio = base ? (r.cpuUsPerFrame / base.cpuUsPerFrame).toFixed(2) : '-';
		const uniq = (a) => [...new Set(a)].join('/');
		console.log(`| ${r.N} | ${r.V} | ${uniq(r.rendersPerUpdate)}; ${uniq(r.appRendersPerUpdate ?? [])} | ${uniq(r.framesPerUpdate)} | ${r.p50ms} | ${r.p99ms} | ${r.maxms} | ${r.cpuUsPerFrame} | ${ratio} | ${r.cpuMsPerUpdate} |`);
	}
	console.log();
}
for (const r of rows.filter((x) => x.phase === 'revoke'))
	console.log(`Revocation (${r.tries} tries, ${r.background} other clients): NOTIFY sent -> close frame p50 ${r.p50ms} ms, p99 ${r.p99ms} ms, max ${r.maxms} ms ` +
		`(from the commit's return: p50 ${r.fromCommitReturnP50ms}, p99 ${r.fromCommitReturnP99ms} ms); close codes ${JSON.stringify(r.codes)}; ` +
		`revokes ${r.revokes}, revoke closes ${r.revokeCloses}; other clients still open ${r.bgStillOpen}/${r.background}.`);
for (const r of rows.filter((x) => x.phase === 'storm'))
	console.log(`\nReconnect storm (${r.N} clients, ${r.V} views, --app-conns ${r.appConns}, each authorize held ${r.authzDelayMs} ms by the app): pushd stop+start ${r.restartMs} ms; ` +
		`all live ${r.allLiveFromUpMs} ms after pushd was healthy again (${r.allLiveFromKillMs} ms after the stop began); ` +
		`per client p50 ${r.p50LiveFromUpMs} ms, p99 ${r.p99LiveFromUpMs} ms; authorize requests ${r.authorizes}; ` +
		`app peak in flight ${r.appPeakInFlight} (<= ${r.appConns}: ${r.appPeakInFlight <= r.appConns ? 'yes' : 'NO'}).`);
