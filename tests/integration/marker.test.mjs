// The render marker: only keycast-pushd may ask keycast-fcgi for a bare
// fragment, with the FastCGI param KEYCAST_RENDER, which no web server
// builds from a client header. lighttpd turns X-Keycast-Render:,
// X_Keycast_Render: and X-Keycast.Render: all into HTTP_X_KEYCAST_RENDER,
// so a browser spelling the header any way must still get the whole page
// through either server, and the app must ignore that HTTP_ name.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { webServers, fcgiHttp } from './lib.mjs';

const spellings = ['X-Keycast-Render', 'X_Keycast_Render', 'X-Keycast.Render', 'Keycast-Render', 'Keycast_Render'];

// A GET with one raw header (fetch would refuse none of these, but
// node:http sends the name exactly as given).
function get(base, path, headers) {
	return new Promise((resolve, reject) => {
		const req = http.get(`${base}${path}`, { headers, timeout: 10000 }, (res) => {
			let body = '';
			res.setEncoding('utf8');
			res.on('data', (d) => { body += d; });
			res.on('end', () => resolve({ status: res.statusCode, body }));
		});
		req.on('timeout', () => req.destroy(new Error('GET timed out')));
		req.on('error', reject);
	});
}

const wholePage = (body) => /^<!doctype html>/i.test(body) && body.includes('<div data-rt-root data-rt-key="/counter">');

for (const { name, base } of webServers) {
	describe(`render marker through ${name}`, () => {
		for (const header of spellings) {
			test(`a client's ${header}: header gets the whole page, not the bare fragment`, async () => {
				const res = await get(base, '/counter', { [header]: '/counter' });
				assert.equal(res.status, 200);
				assert.ok(wholePage(res.body), `got ${JSON.stringify(res.body.slice(0, 120))}`);
			});
		}
	});
}

describe('render marker straight to keycast-fcgi', () => {
	test('HTTP_X_KEYCAST_RENDER (what a web server makes of a header) is not the marker', async () => {
		const res = await fcgiHttp('GET', '/counter', { params: { HTTP_X_KEYCAST_RENDER: '/counter' } });
		assert.equal(res.status, 200);
		assert.ok(wholePage(res.body), `got ${JSON.stringify(res.body.slice(0, 120))}`);
	});

	test('KEYCAST_RENDER (what keycast-pushd sends) gets the bare fragment', async () => {
		const res = await fcgiHttp('GET', '/counter', { params: { KEYCAST_RENDER: '/counter' } });
		assert.equal(res.status, 200);
		assert.doesNotMatch(res.body, /<!doctype|data-rt-root/i);
		assert.match(res.body, /<output id="count"/);
	});
});
