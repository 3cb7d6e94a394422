// tools/migrate on fresh databases of the stack's cluster: concurrent runs
// (two deploy hosts upgrading at once) all succeed and apply each migration
// exactly once, and a second run changes nothing (same schema dump, same
// keycast_migrations rows, applied_at included).
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { env, psql } from './lib.mjs';

const run = Date.now().toString(36);
const created = [];
const migrations = readdirSync(`${env.root}/sql`).filter((f) => /^\d+_[a-z0-9_]+\.sql$/.test(f)).sort();

const pgEnv = (db) => ({
	...process.env, PGHOST: env.pg.host, PGPORT: String(env.pg.port), PGUSER: env.pg.user, PGDATABASE: db,
});

function freshDb(tag) {
	const db = `kc_migrate_${run}_${tag}`;
	psql(`CREATE DATABASE ${db}`);
	created.push(db);
	return db;
}

// Resolves {code, stdout, stderr} of one tools/migrate run.
function migrate(db) {
	return new Promise((resolve) => {
		execFile(`${env.root}/tools/migrate`, [], { env: pgEnv(db), timeout: 60000, encoding: 'utf8' },
			(err, stdout, stderr) => resolve({ code: err ? err.code ?? err.signal : 0, stdout, stderr }));
	});
}

const applied = (db) => execFileSync('psql', ['-X', '-Atq', '-c',
	'SELECT name, applied_at FROM keycast_migrations ORDER BY name'], { env: pgEnv(db), encoding: 'utf8' });
// Without pg_dump's per-run random \restrict key lines.
const schema = (db) => execFileSync('pg_dump', ['--schema-only', '--no-owner'], { env: pgEnv(db), encoding: 'utf8' })
	.replace(/^\\(un)?restrict .*$/gm, '');

after(() => {
	for (const db of created) psql(`DROP DATABASE IF EXISTS ${db}`);
});

describe('tools/migrate', () => {
	test('three concurrent runs on a fresh database all succeed and apply each migration once', async () => {
		// Several rounds: without the lock one of the runs failed most times.
		for (let round = 0; round < 3; round++) {
			const db = freshDb(`c${round}`);
			const runs = await Promise.all([migrate(db), migrate(db), migrate(db)]);
			for (const r of runs)
				assert.equal(r.code, 0, `round ${round}: a run failed: ${r.stderr}`);
			const names = applied(db).trim().split('\n').map((l) => l.split('|')[0]);
			assert.deepEqual(names, migrations);
			const total = runs.map((r) => Number(/migrate: (\d+) applied/.exec(r.stdout)?.[1])).reduce((a, b) => a + b, 0);
			assert.equal(total, migrations.length, `round ${round}: the runs together applied ${total}`);
		}
	});

	test('a second run changes nothing', async () => {
		const db = freshDb('twice');
		const first = await migrate(db);
		assert.equal(first.code, 0, first.stderr);
		const before = { applied: applied(db), schema: schema(db) };
		const second = await migrate(db);
		assert.equal(second.code, 0, second.stderr);
		assert.match(second.stdout, /migrate: 0 applied/);
		assert.equal(applied(db), before.applied);
		assert.equal(schema(db), before.schema);
	});
});
