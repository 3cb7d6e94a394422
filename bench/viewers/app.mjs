// The app side for bench/viewers.sh: tests/integration/fcgi_app.mjs (the
// FastCGI responder of the pushd tests) run as its own process on a unix socket, with a view per cookie and an
// HTTP control port for the benchmark driver.
//   node app.mjs SOCKET CONTROL_PORT [AUTHZ_DELAY_MS]
// Authorize: cookie kc_session=VIEW.ID -> 200, Keycast-View VIEW, tags
// user:ID; ID in the deny set -> 403 "revoked"; no cookie -> view anon.
// Control: GET /stats -> {authorizes, renders, peak, inflight, viewRenders};
// GET /deny?id=ID; GET /delay?ms=MS (authorize hold); GET /reset (peak and counters to 0).
import http from 'node:http';
import { startApp } from '../../tests/integration/fcgi_app.mjs';

const [sock, ctlPort, delay = '0'] = process.argv.slice(2);
const deny = new Set();
const app = await startApp({ path: sock });
let authzDelay = Number(delay);
app.authorize = (p) => {
	const m = /kc_session=([^;.]+)\.([^;]*)/.exec(p.HTTP_COOKIE ?? '');
	if (!m) return { view: 'anon', delayMs: authzDelay };
	if (deny.has(m[2])) return { status: 403, body: 'revoked', delayMs: authzDelay };
	return { view: m[1], tags: [`user:${m[2]}`], delayMs: authzDelay };
};
// The responder keeps every request's params (for the tests): drop them.
setInterval(() => { app.requests.length = 0; }, 1000).unref();
http.createServer((req, res) => {
	const u = new URL(req.url, 'http://x');
	if (u.pathname === '/deny') deny.add(u.searchParams.get('id'));
	if (u.pathname === '/delay') authzDelay = Number(u.searchParams.get('ms'));
	if (u.pathname === '/reset') { app.peak = app.inflight; app.authorizes = 0; app.renders.clear(); app.viewRenders.clear(); }
	res.setHeader('Content-Type', 'application/json');
	res.end(JSON.stringify({
		authorizes: app.authorizes, renders: app.total(), peak: app.peak, inflight: app.inflight,
		connections: app.connections, views: app.viewRenders.size, authzDelayMs: authzDelay,
	}));
}).listen(Number(ctlPort), '127.0.0.1', () => console.log(`app on ${app.address}, control ${ctlPort}`));
