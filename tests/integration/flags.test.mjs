// Both daemons parse their flags from one table each (common/flags.c), and
// --help is printed from it: so the table is held against the man page
// through --help (every row in man/ with its argument and default, nothing
// else there), and every number flag of the table refuses a bad value the
// same way in both daemons, naming the flag and its bounds, exit 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { env } from './lib.mjs';
import { kc } from './ws.mjs';
import { helpAndMan, defaultsOf } from './manpage.mjs';

const DAEMONS = [
	{ bin: `${kc.KC_BIN}/keycast-pushd`, man: `${env.root}/man/keycast-pushd.8`, name: 'keycast-pushd' },
	{ bin: `${kc.KC_BIN}/keycast-fcgi`, man: `${env.root}/man/keycast-fcgi.8`, name: 'keycast-fcgi' },
];
// The argument names of the number kinds (FLAG_UINT, _MS, _SEC, _MIB).
const NUMBER_ARGS = new Set(['N', 'MS', 'SEC', 'S', 'MIB']);

const run = (bin, args) => spawnSync(bin, args, { encoding: 'utf8', timeout: 10000 });

for (const d of DAEMONS) {
	test(`${d.name}: every flag of the table is in the man page with its argument and default, and no other`, () => {
		const { help, man, helpArgs, manArgs } = helpAndMan(d.bin, d.man);
		assert.ok(help.size >= 10, `--help lists the table (${help.size} flags)`);
		assert.deepEqual([...man.keys()].sort(), [...help.keys()].sort(), 'the same flags');
		for (const [flag, arg] of helpArgs) {
			assert.equal(manArgs.get(flag), arg, `${flag}: the same argument name`);
			// --help shows this build's prefix, the man page /usr.
			if (flag !== '--templates')
				assert.deepEqual(defaultsOf(man.get(flag)), defaultsOf(help.get(flag)), `${flag}: the same default`);
		}
	});

	test(`${d.name}: each number flag refuses a bad value naming the flag and its bounds, exit 2`, () => {
		const { helpArgs } = helpAndMan(d.bin, d.man);
		const numbers = [...helpArgs].filter(([, arg]) => NUMBER_ARGS.has(arg));
		assert.ok(numbers.length >= 5, `number flags found (${numbers.length})`);
		for (const [flag] of numbers) {
			for (const bad of ['x', '-1', '12abc', '99999999999999999999999']) {
				const r = run(d.bin, [flag, bad]);
				assert.equal(r.status, 2, `${flag} ${bad}: exit 2 (${r.stderr})`);
				assert.match(r.stderr, new RegExp(`^${d.name}: ${flag} must be a number in \\d+\\.\\.\\d+( \\((milliseconds|seconds|MiB)\\))?\\n$`),
					`${flag} ${bad}`);
				assert.equal(r.stdout, '');
			}
		}
	});

	test(`${d.name}: --help on stdout, exit 0; an unknown flag, a missing value or an operand exit 2 on stderr`, () => {
		const h = run(d.bin, ['--help']);
		assert.equal(h.status, 0);
		assert.match(h.stdout, new RegExp(`^usage: ${d.name} `));
		for (const args of [['--no-such-flag'], ['--log-level'], ['extra']]) {
			const r = run(d.bin, args);
			assert.equal(r.status, 2, args.join(' '));
			assert.equal(r.stdout, '', args.join(' '));
			assert.notEqual(r.stderr, '', args.join(' '));
		}
		assert.match(run(d.bin, ['--log-level', 'loud']).stderr, new RegExp(`^${d.name}: unknown --log-level loud\\n$`));
	});
}
