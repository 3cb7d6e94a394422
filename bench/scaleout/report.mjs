// Tables for bench/scaleout.sh from the load client's JSON lines (--mode
// scale, one per round) and the client distribution lines the script
// records.
//   node bench/scaleout/report.mjs RESULTS.jsonl DIST.jsonl
import { readFileSync, existsSync } from 'node:fs';

const [resultsPath, distPath] = process.argv.slice(2);
const lines = (p) => (p && existsSync(p) ? readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);
const rounds = lines(resultsPath).filter((r) => !r.warmup);
const dist = lines(distPath);

const names = { a: 'one pushd', b: 'two pushd' };
const pct = (sorted, p) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] : NaN;
const median = (xs) => pct([...xs].sort((x, y) => x - y), 0.5);
const ms = (us) => (us / 1000).toFixed(1);
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const mb = (kb) => (kb / 1024).toFixed(0);

const groups = new Map();
for (const r of rounds) {
	const k = `${r.n}/${r.label}`;
	if (!groups.has(k)) groups.set(k, []);
	groups.get(k).push(r);
}
const keys = [...groups.keys()].sort((x, y) => {
	const [nx, lx] = x.split('/'), [ny, ly] = y.split('/');
	return Number(nx) - Number(ny) || lx.localeCompare(ly);
});

const out = [];
out.push('| N | setup | rounds | p50 | p99 | max | last client: median round (worst) | commit → NOTIFY at a listener | kernel-stamped p50 / p99 | missing |');
out.push('|---|---|---|---|---|---|---|---|---|---|');
for (const k of keys) {
	const rs = groups.get(k);
	const all = rs.flatMap((r) => r.lat_us).sort((x, y) => x - y);
	const allk = rs.flatMap((r) => r.latk_us).sort((x, y) => x - y);
	const last = rs.map((r) => r.lat_us[r.lat_us.length - 1] ?? NaN);
	out.push(`| ${rs[0].n} | ${names[rs[0].label] ?? rs[0].label} | ${rs.length} | ${ms(pct(all, 0.5))} ms | ${ms(pct(all, 0.99))} ms | ${ms(all[all.length - 1])} ms | ${ms(median(last))} ms (${ms(Math.max(...last))} ms) | ${f1(median(rs.map((r) => r.notify_ms)))} ms | ${ms(pct(allk, 0.5))} / ${ms(pct(allk, 0.99))} ms | ${rs.reduce((s, r) => s + r.missing, 0)} |`);
}

out.push('');
out.push('CPU per round (ms, median over rounds; /proc/PID/task/*/schedstat of the process and its children, from just before COMMIT until the last client has the fragment; "all" = every task on the machine, "other" = all minus the columns before it: work of other users of the machine and kernel threads), RSS with all clients connected:');
out.push('');
out.push('| N | setup | window | pushd A CPU | pushd B CPU | pushd ticks (stat, sum) | pushd RSS | nginx | PostgreSQL | keycast-fcgi | load client | all | other | busy cores |');
out.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const k of keys) {
	const rs = groups.get(k);
	const med = (name, field = 'cpu_ms') => median(rs.map((r) => r.procs[name]?.[field] ?? NaN));
	const sumOf = (prefix, field) => median(rs.map((r) => Object.entries(r.procs).filter(([n]) => n.startsWith(prefix)).reduce((s, [, v]) => s + v[field], 0)));
	const b = rs[0].procs['pushd-b'];
	const rss = b ? `${mb(med('pushd-a', 'rss_kb'))} + ${mb(med('pushd-b', 'rss_kb'))} MB` : `${mb(med('pushd-a', 'rss_kb'))} MB`;
	const ticks = median(rs.map((r) => (r.procs['pushd-a']?.ticks ?? 0) + (r.procs['pushd-b']?.ticks ?? 0)));
	out.push(`| ${rs[0].n} | ${names[rs[0].label] ?? rs[0].label} | ${f1(median(rs.map((r) => r.window_ms)))} ms | ${f1(med('pushd-a'))} | ${b ? f1(med('pushd-b')) : '–'} | ${ticks} × 10 ms | ${rss} | ${f1(sumOf('nginx', 'cpu_ms'))} | ${f1(med('postgres'))} | ${f1(sumOf('fcgi', 'cpu_ms'))} | ${f1(med('client'))} | ${f1(median(rs.map((r) => r.machine_cpu_ms)))} | ${f1(median(rs.map((r) => r.machine_cpu_ms - Object.values(r.procs).reduce((s, v) => s + v.cpu_ms, 0))))} | ${median(rs.map((r) => r.machine_busy_cores)).toFixed(2)} of ${rs[0].ncpu} |`);
}

if (dist.length) {
	out.push('');
	const byN = new Map();
	for (const d of dist.filter((d) => d.label === 'b')) {
		const k = d.n;
		if (!byN.has(k)) byN.set(k, d);
	}
	const parts = [...byN.values()].map((d) => `N = ${d.n}: pushd A ${d.a} clients / ${d.keys_a} keys, pushd B ${d.b} / ${d.keys_b}`);
	if (parts.length) out.push(`Clients per pushd in the two-pushd setup (hash $arg_key consistent over ${rounds[0]?.keys ?? '?'} keys): ${parts.join('; ')}.`);
}
console.log(out.join('\n'));
