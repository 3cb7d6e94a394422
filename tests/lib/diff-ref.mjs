// A reference reader of protocol section 2 (v2 frames and diffs), written
// from the contract and nothing else, so that the C encoder
// (common/diff.c) and any client (static/keycast.js, the bench load
// client) can be checked against one independent text: units, ops, FNV-1a
// versions, frame headers. Pure functions, no DOM, no I/O.

const utf8 = new TextEncoder();

// FNV-1a 32-bit over the UTF-8 bytes of s, as 8 lowercase hex digits.
export function version(s) {
	let h = 0x811c9dc5;
	for (const byte of utf8.encode(s)) {
		h ^= byte;
		h = Math.imul(h, 0x01000193) >>> 0;
	}
	return h.toString(16).padStart(8, '0');
}

// A fragment's units: each ends just after '>' or '\n' (the last may end
// without either); "" has none.
export function units(s) {
	const u = s.split(/(?<=[>\n])/);
	if (u[u.length - 1] === '') u.pop();
	return u;
}

// Applies ops (the JSON text of a D frame's payload) to base. Returns the
// new fragment, or null when the ops are malformed: not an array, an
// element that is not a non-zero integer or a string, a copy or skip past
// the end, or a cursor short of the end after the last element.
// JSON.parse is a little laxer than common/diff.c's reader (it takes 3.0,
// 3e0 and lone surrogate escapes, which the encoder never writes); the
// version check catches any result that differs.
export function applyOps(base, opsText) {
	let ops;
	try {
		ops = JSON.parse(opsText);
	} catch {
		return null;
	}
	if (!Array.isArray(ops)) return null;
	const u = units(base);
	let cur = 0;
	let out = '';
	for (const op of ops) {
		if (typeof op === 'string') {
			out += op;
		} else if (Number.isInteger(op) && op !== 0) {
			const n = Math.abs(op);
			if (cur + n > u.length) return null;
			if (op > 0) out += u.slice(cur, cur + n).join('');
			cur += n;
		} else {
			return null;
		}
	}
	return cur === u.length ? out : null;
}

// Splits a v2 text frame: {kind: 'F', version, key, url, body} or
// {kind: 'D', base, version, key, url, ops}; null if it is neither
// (the empty heartbeat included).
export function parseFrame(text) {
	const nl = text.indexOf('\n');
	if (nl < 0) return null;
	const head = text.slice(0, nl).split(' ');
	const rest = text.slice(nl + 1);
	const hex = /^[0-9a-f]{8}$/;
	if (head[0] === 'F' && head.length === 4 && hex.test(head[1]))
		return { kind: 'F', version: head[1], key: head[2], url: head[3], body: rest };
	if (head[0] === 'D' && head.length === 5 && hex.test(head[1]) && hex.test(head[2]))
		return { kind: 'D', base: head[1], version: head[2], key: head[3], url: head[4], ops: rest };
	return null;
}

// What a client holding fragment `have` makes of frame text: the new
// fragment, or null when it must resync (wrong base, malformed ops, or a
// result whose version is not the frame's).
export function receive(have, text) {
	const f = parseFrame(text);
	if (f === null) return null;
	if (f.kind === 'F') return f.body;
	if (have === null || version(have) !== f.base) return null;
	const out = applyOps(have, f.ops);
	return out !== null && version(out) === f.version ? out : null;
}
