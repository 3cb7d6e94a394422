// The origin rule (common/text.c) through each web server as a browser
// meets it: a form POST to keycast-fcgi and a WebSocket upgrade to
// keycast-pushd must come from the page's own origin, scheme, host and port
// (default ports implied), with Sec-Fetch-Site same-origin or none. The
// bypasses the review measured (Host example.com over http against Origin
// http://example.com:8080, :9999, https://example.com, and Sec-Fetch-Site:
// same-site) are refused and change nothing; the page's own origin passes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { env, webServers, psql, fcgiHttp } from './lib.mjs';
import { rawConnect, OP } from './ws.mjs';

const HOST = 'example.com'; // a Host without a port: port 80 over http

// The bypasses: each was accepted before the rule compared scheme and port.
const foreign = [
	{ Origin: 'http://example.com:8080' },
	{ Origin: 'http://example.com:9999' },
	{ Origin: 'https://example.com' },
	{ Origin: 'http://example.com', 'Sec-Fetch-Site': 'same-site' },
	{ Origin: 'null' },
];

const counter = () => Number(psql("SELECT value FROM counters WHERE name = 'global'"));

// A POST with the exact Host given (fetch cannot set Host).
function post(base, path, headers) {
	const { hostname, port } = new URL(base);
	return new Promise((resolve, reject) => {
		const req = http.request({
			host: hostname, port, path, method: 'POST', setHost: false,
			headers: { Host: HOST, 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': 0, ...headers },
			timeout: 10000,
		}, (res) => {
			res.resume();
			res.on('end', () => resolve(res.statusCode));
		});
		req.on('timeout', () => req.destroy(new Error('POST timed out')));
		req.on('error', reject);
		req.end();
	});
}

// Upgrades /__realtime?key=/counter with Host example.com. 'accepted' when
// the fragment arrives; 'refused' when the upgrade gets 403, or (pushd
// accepting and then closing, so a browser can read why) close 4403.
async function upgrade(port, headers) {
	let c;
	try {
		c = await rawConnect({ key: '/counter', port, headers: { Host: HOST, ...headers }, timeout: 10000 });
	} catch (err) {
		if (/answered HTTP\/1\.1 403/.test(err.message)) return 'refused';
		throw err;
	}
	try {
		const f = await c.waitFrame('the fragment or a close', (x) => x.opcode === OP.TEXT || x.opcode === OP.CLOSE,
			{ timeout: 10000 });
		if (f.opcode === OP.TEXT) return 'accepted';
		return f.code === 4403 ? 'refused' : `closed ${f.code}`;
	} finally {
		c.destroy();
	}
}

for (const { name, base } of webServers) {
	const port = Number(new URL(base).port);

	describe(`origin rule through ${name}`, () => {
		test('a POST from another scheme, port or site is refused 403 and changes nothing', async () => {
			const v0 = counter();
			for (const headers of foreign)
				assert.equal(await post(base, '/api/counter/increment', headers), 403, JSON.stringify(headers));
			assert.equal(counter(), v0);
		});

		test("a POST from the page's own origin (port 80 implied) is applied", async () => {
			const v0 = counter();
			assert.equal(await post(base, '/api/counter/increment',
				{ Origin: 'http://example.com', 'Sec-Fetch-Site': 'same-origin' }), 303);
			assert.equal(counter(), v0 + 1);
		});

		test('an upgrade from another scheme, port or site is refused', async () => {
			for (const headers of foreign)
				assert.equal(await upgrade(port, headers), 'refused', JSON.stringify(headers));
		});

		test("an upgrade from the page's own origin is accepted", async () => {
			assert.equal(await upgrade(port, { Origin: 'http://example.com', 'Sec-Fetch-Site': 'same-origin' }), 'accepted');
		});

		test(`${name} replaces a client's X-Forwarded-Proto: an https Origin on plain http stays refused`, async () => {
			assert.equal(await upgrade(port, { Origin: 'https://example.com', 'X-Forwarded-Proto': 'https' }), 'refused');
		});
	});
}

describe('the scheme a proxy reports', () => {
	test('pushd takes X-Forwarded-Proto as the scheme: an https page behind a TLS proxy is accepted', async () => {
		assert.equal(await upgrade(env.pushdPort, { Origin: 'https://example.com', 'X-Forwarded-Proto': 'https' }), 'accepted');
		assert.equal(await upgrade(env.pushdPort, { Origin: 'http://example.com', 'X-Forwarded-Proto': 'https' }), 'refused');
	});

	test('keycast-fcgi takes HTTPS=on as the scheme: only the https Origin may post', async () => {
		const v0 = counter();
		const send = (origin) => fcgiHttp('POST', '/api/counter/increment', {
			headers: { Host: HOST, Origin: origin },
			params: { HTTPS: 'on', REQUEST_SCHEME: 'https', CONTENT_LENGTH: '0' },
		});
		assert.equal((await send('http://example.com')).status, 403);
		assert.equal((await send('https://example.com:443')).status, 303);
		assert.equal(counter(), v0 + 1);
	});
});
