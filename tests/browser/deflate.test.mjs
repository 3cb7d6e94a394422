// permessage-deflate from a real browser (issue 11): Chromium offers it on
// every WebSocket; through nginx and through lighttpd the offer must reach
// keycast-pushd and its answer come back, so the socket's extensions name
// it (with no context takeover), and a v2 socket's first frame is the
// root's full fragment (F), whether or not it came compressed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const servers = [
	['nginx', Number(process.env.KC_HTTP_PORT || 18080)],
	['lighttpd', Number(process.env.KC_LIGHTTPD_PORT || 18082)],
];

for (const [name, port] of servers) {
	test(`Chromium negotiates permessage-deflate with pushd through ${name}`, async () => {
		const context = await browser.newContext();
		try {
			const page = await context.newPage();
			const res = await page.goto(`http://127.0.0.1:${port}/counter`);
			assert.equal(res.status(), 200);
			const got = await page.evaluate(() => new Promise((resolve, reject) => {
				const ws = new WebSocket(`ws://${location.host}/__realtime?v=2&key=%2Fcounter&url=%2Fcounter`);
				const timer = setTimeout(() => reject(new Error('no fragment in 10 s')), 10000);
				ws.onmessage = (e) => {
					if (e.data === '') return;
					clearTimeout(timer);
					resolve({ extensions: ws.extensions, data: e.data });
					ws.close();
				};
				ws.onclose = (e) => reject(new Error(`closed ${e.code} ${e.reason}`));
			}));
			assert.equal(got.extensions, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover');
			assert.match(got.data, /^F [0-9a-f]{8} \/counter \/counter\n[\s\S]*<output id="count"/);
		} finally {
			await context.close();
		}
	});
}
