// Helpers shared by the page tests (pages.test.mjs, feature-*.test.mjs):
// reading the pages' HTML and the demo's rows.
import assert from 'node:assert/strict';
import { psql } from './lib.mjs';

export const JS = { 'X-Keycast': '1' }; // what keycast.js sends with a mutation

const entities = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
export function decodeHtml(s) {
	return s.replace(/&(?:#x([0-9a-f]+)|#(\d+)|(\w+));/gi, (all, hex, dec, name) =>
		hex ? String.fromCodePoint(parseInt(hex, 16))
			: dec ? String.fromCodePoint(Number(dec)) : entities[name] ?? all);
}

export function rtKey(html) {
	return /<div data-rt-root data-rt-key="([^"]*)">/.exec(html)?.[1];
}

export function shownCount(html) {
	const m = /<output id="count"[^>]*>(-?\d+)<\/output>/.exec(html);
	assert.ok(m, 'no <output id="count"> with a number');
	return Number(m[1]);
}

// The inside of the <form method="post" action="ACTION">, or undefined.
export function postFormBody(html, action) {
	for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
		if (/method="post"/i.test(m[1]) && m[1].includes(`action="${action}"`))
			return m[2];
	}
	return undefined;
}

export function chatMessages(html) {
	return [...html.matchAll(/class="author">([^<]*)<[\s\S]*?class="text">([^<]*)</g)]
		.map((m) => ({ author: decodeHtml(m[1]), text: decodeHtml(m[2]) }));
}

export const dbCounter = () => Number(psql("SELECT value FROM counters WHERE name = 'global'"));
export const dbNewest = (room) => psql('SELECT author, body FROM messages WHERE room = ' +
	`'${room}' ORDER BY id DESC LIMIT 1`);

export function assertRedirect(res, base, path) {
	assert.equal(res.status, 303);
	assert.equal(new URL(res.headers.get('location'), base).href, base + path);
}

// A new poll (question and option labels: plain text, no quotes) made in
// psql, so tests never share the demo's poll 1; { id, options: [ids] }.
export function makePoll(question, labels) {
	const id = Number(psql(`INSERT INTO poll (question) VALUES ('${question}') RETURNING id`));
	const options = labels.map((l) => Number(psql(
		`INSERT INTO poll_option (poll_id, label) VALUES (${id}, '${l}') RETURNING id`)));
	return { id, options };
}
