// Helpers for the keycast-fcgi daemon tests (fcgi-db.test.mjs,
// fcgi-daemon.test.mjs): a private keycast-fcgi with its own socket, flags,
// log and application_name (so its PostgreSQL sessions can be told apart),
// a socket holder that hands the listening socket to keycast-fcgi as fd 0
// and restarts it on demand (what systemd's keycast-fcgi.socket does), and
// raw FastCGI connections that stop halfway.
import { execFileSync, spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import net from 'node:net';
import readline from 'node:readline';
import {
	env, until, fcgiHttp, fcgiRecord, fcgiStream, fcgiParams,
	FCGI_BEGIN_REQUEST, FCGI_PARAMS, FCGI_STDIN,
} from './lib.mjs';

export const FCGI_BIN = `${env.vars.KC_BIN}/keycast-fcgi`;

export function fcgiArgs({ workers = 1, appName, flags = [] } = {}) {
	return [
		'--workers', String(workers),
		'--db', `${env.vars.KC_CONNINFO} application_name=${appName}`,
		'--templates', `${env.root}/templates`,
		...flags,
	];
}

// The "TIME LEVEL keycast-fcgi[PID]: message" shape of every log line.
export const LOG_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (error|warn|info|debug) keycast-fcgi\[\d+\]: \S/;

// keycast-fcgi on $KC_VAR/run/NAME.sock, stdout and stderr in
// $KC_VAR/log/NAME.log (so bare lines libpq prints would show there);
// resolves once it answers GET /counter. Stopped (SIGTERM) after the test.
export async function startFcgi(t, name, { workers = 1, flags = [] } = {}) {
	const sock = `${env.var}/run/${name}.sock`;
	const logPath = `${env.var}/log/${name}.log`;
	const log = openSync(logPath, 'w');
	const child = spawn(FCGI_BIN, ['--listen', `unix:${sock}`, ...fcgiArgs({ workers, appName: name, flags })],
		{ stdio: ['ignore', log, log] });
	closeSync(log);
	const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
	t.after(async () => {
		if (child.exitCode === null && child.signalCode === null) {
			child.kill('SIGTERM');
			await exited;
		}
	});
	await until(`keycast-fcgi ${name} to answer`, async () => {
		if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}; see ${logPath}`);
		return (await fcgiHttp('GET', '/counter', { socket: sock })).status === 200;
	});
	return { child, sock, logPath, exited, log: () => readFileSync(logPath, 'utf8') };
}

// Holds a listening unix socket and runs keycast-fcgi on it as fd 0, as
// systemd does with keycast-fcgi.socket; "restart" on its stdin stops the
// app (SIGTERM, wait for the exit) and starts a new one on the same socket.
const HOLDER = `
import json, os, signal, socket, subprocess, sys
path, log, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
if os.path.exists(path):
    os.unlink(path)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(1024)
out = open(log, "a")
def start():
    p = subprocess.Popen(argv, stdin=s.fileno(), stdout=out, stderr=out)
    print(json.dumps({"started": p.pid}), flush=True)
    return p
p = start()
for line in sys.stdin:
    if line.strip() != "restart":
        break
    p.send_signal(signal.SIGTERM)
    print(json.dumps({"exited": p.wait()}), flush=True)
    p = start()
p.send_signal(signal.SIGTERM)
p.wait()
os.unlink(path)
`;

export async function socketActivated(t, { sock, name, workers, flags }) {
	const logPath = `${env.var}/log/${name}.log`;
	const holder = spawn('python3', ['-c', HOLDER, sock, logPath, FCGI_BIN,
		...fcgiArgs({ workers, appName: name, flags })], { stdio: ['pipe', 'pipe', 'inherit'] });
	const events = [];
	readline.createInterface({ input: holder.stdout }).on('line', (line) => events.push(JSON.parse(line)));
	const gone = new Promise((resolve) => holder.once('exit', resolve));
	t.after(async () => {
		holder.stdin.end();
		await gone;
	});
	const started = () => events.filter((e) => e.started).length;
	await until('the socket holder to start keycast-fcgi', () => started() === 1);
	return {
		logPath,
		pid: () => events.filter((e) => e.started).at(-1).started,
		exits: () => events.filter((e) => 'exited' in e).map((e) => e.exited),
		// Asks for a restart; resolves once the new instance runs.
		async restart() {
			const n = started();
			holder.stdin.write('restart\n');
			await until('keycast-fcgi to be restarted', () => started() > n, { timeout: 30000 });
		},
	};
}

// Connections waiting in a listening unix socket's accept queue (ss's
// Recv-Q for a listener).
export function acceptQueue(sock) {
	const out = execFileSync('ss', ['-xlnH', 'src', sock], { encoding: 'utf8' }).trim();
	const cols = out.split(/\s+/);
	if (cols.length < 3) throw new Error(`no listener at ${sock}: ${JSON.stringify(out)}`);
	return Number(cols[2]);
}

// A raw FastCGI connection that sends what it is told, when it is told;
// closed() resolves when the app closes it, answer() with all it sent.
export function rawFcgi(sock) {
	const conn = net.createConnection(sock);
	const chunks = [];
	const closed = new Promise((resolve) => conn.once('close', resolve));
	conn.on('error', () => {});
	conn.on('data', (d) => chunks.push(d));
	return {
		conn,
		closed,
		ready: new Promise((resolve, reject) => { conn.once('connect', resolve); conn.once('error', reject); }),
		write: (buf) => conn.write(buf),
		received: () => Buffer.concat(chunks),
		destroy: () => conn.destroy(),
	};
}

// The records of one GET, split in two at PARAMS so a test can stop between.
export function getRecords(uri, { keepConn = false } = {}) {
	const begin = Buffer.alloc(8);
	begin.writeUInt16BE(1, 0); // FCGI_RESPONDER
	begin[2] = keepConn ? 1 : 0; // FCGI_KEEP_CONN
	const params = fcgiParams({
		GATEWAY_INTERFACE: 'CGI/1.1', SERVER_PROTOCOL: 'HTTP/1.1', REQUEST_METHOD: 'GET',
		REQUEST_URI: uri, SCRIPT_NAME: '', PATH_INFO: uri, QUERY_STRING: '', HTTP_HOST: '127.0.0.1',
	});
	const half = Math.floor(params.length / 2);
	return {
		head: Buffer.concat([fcgiRecord(FCGI_BEGIN_REQUEST, begin), fcgiRecord(FCGI_PARAMS, params.subarray(0, half))]),
		rest: Buffer.concat([fcgiRecord(FCGI_PARAMS, params.subarray(half)), fcgiRecord(FCGI_PARAMS),
			...fcgiStream(FCGI_STDIN, Buffer.alloc(0))]),
	};
}

// The STDOUT of the complete FastCGI answer in buf (END_REQUEST seen), else null.
export function fcgiAnswer(buf) {
	const out = [];
	for (let p = 0; p + 8 <= buf.length;) {
		const type = buf[p + 1];
		const len = buf.readUInt16BE(p + 4);
		const total = 8 + len + buf[p + 6];
		if (p + total > buf.length) return null;
		if (type === 6) out.push(buf.subarray(p + 8, p + 8 + len));
		if (type === 3) return Buffer.concat(out).toString('utf8');
		p += total;
	}
	return null;
}
