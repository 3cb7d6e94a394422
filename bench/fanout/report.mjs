// Turns bench/fanout.sh's JSON lines into the markdown tables of
// bench/RESULTS.md.   node bench/fanout/report.mjs results.jsonl [DIR]
// DIR holds perf-*.dso.txt from the perf phase, if any.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [file, dir] = process.argv.slice(2);
const rows = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const TICK_US = 1e6 / 100; // /proc/PID/stat counts USER_HZ = 100 ticks

const median = (a) => {
	if (a.length === 0) return NaN;
	const s = [...a].sort((x, y) => x - y), m = s.length >> 1;
	return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const range = (a, f = f1) => (a.length ? `${f(median(a))} (${f(Math.min(...a))}–${f(Math.max(...a))})` : '–');
const server = (r) => Object.entries(r.cpu); // [name, {ns, ut, st, rss_kb}]
const sum = (a) => a.reduce((x, y) => x + y, 0);
const order = ['floor', 'pushd', 'node', 'nchan', 'floor-nginx', 'pushd-nginx'];
const byOrder = (a, b) => order.indexOf(a) - order.indexOf(b);
const out = [];
const say = (s = '') => out.push(s);

// ---- idle ----
const idle = rows.filter((r) => r.mode === 'connect' && r.n >= 15000);
if (idle.length) {
	say(`### Idle connections: RSS per connection`);
	say();
	say('| server | clients held | connect time | RSS before → after | per connection |');
	say('|---|---|---|---|---|');
	for (const r of idle.filter((x) => !x.label.endsWith('-overflow')).sort((a, b) => byOrder(a.label, b.label))) {
		const [name, [before, after]] = Object.entries(r.rss_kb)[0];
		const per = ((after - before) * 1024) / r.ready;
		say(`| ${r.label} (${name}) | ${r.ready} of ${r.n}${r.failed ? `, ${r.failed} failed: ${r.err}` : ''} | ${r.connect_s.toFixed(1)} s | ${(before / 1024).toFixed(1)} → ${(after / 1024).toFixed(1)} MiB | ${per.toFixed(0)} B |`);
	}
	say();
	for (const r of idle.filter((x) => x.label.endsWith('-overflow'))) {
		say(`Past --max-clients: ${r.n.toLocaleString('en')} clients asked ${r.label.replace('-overflow', '')}; ${r.ready.toLocaleString('en')} were upgraded and ${r.failed.toLocaleString('en')} refused${r.err ? ` (first refusal: "${r.err}")` : ''}.`);
		say();
	}
}

// ---- fan-out ----
const fan = rows.filter((r) => r.mode === 'fanout' && !r.warmup && !r.label.endsWith('-perf'));
const ns = [...new Set(fan.map((r) => r.n))].sort((a, b) => a - b);
const stats = {};
for (const n of ns) {
	const labels = [...new Set(fan.filter((r) => r.n === n).map((r) => r.label))].sort(byOrder);
	for (const l of labels) {
		const rs = fan.filter((r) => r.n === n && r.label === l);
		const frames = sum(rs.map((r) => r.arrived));
		const srvNs = rs.map((r) => sum(server(r).map(([, c]) => c.ns)) / r.arrived / 1e3);
		const mainNs = rs.map((r) => server(r)[0][1].ns / r.arrived / 1e3);
		stats[`${n}/${l}`] = {
			rs, frames, missing: sum(rs.map((r) => r.missing + (r.ready - r.arrived))),
			p50: rs.map((r) => r.lat.p50), p99: rs.map((r) => r.lat.p99), max: rs.map((r) => r.lat.max),
			kp99: rs.map((r) => r.klat.p99),
			cp50: rs.filter((r) => r.clat).map((r) => r.clat.p50), cp99: rs.filter((r) => r.clat).map((r) => r.clat.p99),
			commit: rs.filter((r) => r.commit_ms !== undefined).map((r) => r.commit_ms),
			resp: rs.filter((r) => r.resp_first_ms !== undefined).map((r) => r.resp_first_ms),
			srv: srvNs, main: mainNs, mainName: server(rs[0])[0][0],
			wait: rs.map((r) => (server(r)[0][1].wait_ns ?? NaN) / 1e6),
			client: rs.map((r) => r.client_ns / r.arrived / 1e3),
			busy: rs.map((r) => r.machine_busy_ns / r.window_ns),
		};
	}
	say(`### Fan-out to ${n.toLocaleString('en')} clients`);
	say();
	say('Latency in ms from the mutation\'s send (POST, publish or trigger) to each client\'s arrival (user space), median over the fan-outs and (range); "kernel p99": the same with the kernel\'s receive timestamp; "from commit": pushd and node from the commit timestamp. CPU in µs per delivered frame: the server process (all its threads, schedstat), and with nginx the server plus both nginx workers; "waiting for a CPU": the server process\'s time runnable but not running during the fan-out (schedstat), median; client CPU: the load client\'s processes per frame; machine busy: cores busy on the whole machine during the fan-out window (/proc/stat), others\' work included.');
	say();
	say('| contender | fan-outs | p50 | p99 | max | kernel p99 | p99 from commit | p99 / floor\'s | server CPU/frame | CPU / floor\'s | server waiting for a CPU | client CPU/frame | machine busy |');
	say('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
	for (const l of labels) {
		const s = stats[`${n}/${l}`];
		const ref = stats[`${n}/${l.endsWith('-nginx') ? 'floor-nginx' : 'floor'}`] || stats[`${n}/floor`];
		const rp = ref ? median(s.p99) / median(ref.p99) : NaN;
		const rc = ref ? median(s.srv) / median(ref.srv) : NaN;
		const cpuCol = s.rs[0] && server(s.rs[0]).length > 1
			? `${f2(median(s.srv))} (${s.mainName} ${f2(median(s.main))})` : f2(median(s.srv));
		say(`| ${l} | ${s.rs.length}${s.missing ? ` (${s.missing} missing)` : ''} | ${range(s.p50)} | ${range(s.p99)} | ${f1(median(s.max))} | ${f1(median(s.kp99))} | ${s.cp99.length ? range(s.cp99) : '–'} | ${l.startsWith('floor') ? '1' : f2(rp)} | ${cpuCol} | ${l.startsWith('floor') ? '1' : f2(rc)} | ${f1(median(s.wait))} ms | ${f2(median(s.client))} | ${f2(median(s.busy))} |`);
	}
	say();
}

// ---- storm ----
const storm = rows.filter((r) => r.mode === 'storm' && !r.warmup);
if (storm.length) {
	say('### Notify storm');
	say();
	say(`Commits in one burst (pushd, node: one query string of separate transactions; nchan: pipelined publishes); "converged": time from the last commit as the client saw it (the burst query's end, or the last publish's answer) until the last client showed the final value (user space); "from commit ts": the same from the last commit's commit timestamp. Frames per client: how many fragments each client got during the storm.`);
	say();
	say('| contender | clients | storms | burst | converged (max) | p50 | from commit ts (max) | frames/client | server CPU per storm |');
	say('|---|---|---|---|---|---|---|---|---|');
	const keys = [...new Set(storm.map((r) => `${r.n}/${r.label}`))].sort((a, b) => {
		const [na, la] = a.split('/'), [nb, lb] = b.split('/');
		return na - nb || byOrder(la, lb);
	});
	for (const k of keys) {
		const [n, l] = k.split('/');
		const rs = storm.filter((r) => `${r.n}/${r.label}` === k);
		const missing = sum(rs.map((r) => r.missing + (r.ready - r.arrived)));
		const burst = rs.map((r) => r.burst_ms ?? r.resp_last_ms);
		const conv = rs.map((r) => r.conv.max), p50 = rs.map((r) => r.conv.p50);
		const cc = rs.filter((r) => r.cconv).map((r) => r.cconv.max);
		const cpu = rs.map((r) => sum(server(r).map(([, c]) => c.ns)) / 1e6);
		say(`| ${l} | ${Number(n).toLocaleString('en')} | ${rs.length}${missing ? ` (${missing} clients missed the final value)` : ''} | ${range(burst, (x) => x.toFixed(0))} ms | ${range(conv)} ms | ${f1(median(p50))} ms | ${cc.length ? `${range(cc)} ms` : '–'} | ${f1(median(rs.map((r) => r.frames_mean)))} | ${range(cpu, (x) => x.toFixed(0))} ms |`);
	}
	say();
}

// ---- perf ----
if (dir) {
	for (const who of ['pushd', 'floor']) {
		const p = path.join(dir, `perf-${who}.dso.txt`);
		if (!fs.existsSync(p)) continue;
		const lines = fs.readFileSync(p, 'utf8').split('\n').filter(Boolean);
		let kernel = 0, total = 0;
		for (const line of lines) {
			const m = /([\d.]+)%\s+(\S+)/.exec(line);
			if (!m) continue;
			total += Number(m[1]);
			if (m[2].includes('kernel')) kernel += Number(m[1]);
		}
		const perf = rows.filter((r) => r.label === `${who}-perf` && r.mode === 'fanout' && !r.warmup);
		const frames = sum(perf.map((r) => r.arrived));
		const ns = sum(perf.map((r) => server(r)[0][1].ns));
		const perFrame = ns / frames / 1e3;
		const ut = sum(perf.map((r) => server(r)[0][1].ut)), st = sum(perf.map((r) => server(r)[0][1].st));
		say(`perf (cpu-clock at 2 kHz, ${who}, during ${perf.length} fan-outs to ${perf[0]?.n ?? '?'}, ${f2(perFrame)} µs of CPU per frame while sampled): kernel ${kernel.toFixed(1)}%, user ${(total - kernel).toFixed(1)}% of the samples, i.e. ≈ ${f2((perFrame * (total - kernel)) / Math.max(total, 1))} µs of user space per frame (utime/stime ticks over the same fan-outs: ${ut}/${st}, ${f2((ut * TICK_US) / frames)} µs user per frame).`);
		say();
		say('```');
		for (const line of lines) say(line.trim());
		const sp = path.join(dir, `perf-${who}.sym.txt`);
		if (fs.existsSync(sp))
			for (const line of fs.readFileSync(sp, 'utf8').split('\n').filter((x) => x && !x.includes('[kernel')).slice(0, 6))
				say(`  ${line.trim()}`);
		say('```');
		say();
	}
}

say(`Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), Linux ${os.release()}, load average at the end ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}.`);
console.log(out.join('\n'));
