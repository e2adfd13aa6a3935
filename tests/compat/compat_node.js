// Transaction-pooling compatibility workload for node-postgres (npm `pg`), with named prepared
// statements. Connects with the libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD,
// PGDATABASE). Runs COMPAT_WORKERS clients of COMPAT_ITERATIONS rounds each (see README.md) and
// prints `compat node-postgres: ops=N failed=F` last. Exits 0 only when F is 0.
'use strict';

const { Client } = require('pg');

const DRIVER = 'node-postgres';
const WORKERS = Number(process.env.COMPAT_WORKERS || 4);
const ITERATIONS = Number(process.env.COMPAT_ITERATIONS || 40);
// When set, each client runs rounds for this many seconds instead of COMPAT_ITERATIONS rounds.
const SECONDS = Number(process.env.COMPAT_SECONDS || 0);

let ops = 0;
let failed = 0;
const problems = [];
function check(ok, what) {
  ops++;
  if (!ok) {
    failed++;
    problems.push(what);
  }
}

// A named statement: node-postgres parses it once per connection and binds it afterwards.
function named(name, text, values) {
  return { name, text, values };
}

async function worker(w) {
  const client = new Client();
  let started = 0;
  await client.connect();
  try {
    const end = Date.now() + SECONDS * 1000;
    let path = '"$user", public';  // search_path: not reported by PostgreSQL 15, carried by Keel
    for (let i = 0; SECONDS > 0 ? Date.now() < end : i < ITERATIONS; i++) {
      started = i + 1;
      let r = await client.query(named('double', 'SELECT $1::int * 2 AS v', [i]));
      check(r.rows[0].v === 2 * i, `w${w} i${i}: doubled ${r.rows[0].v}`);

      await client.query('BEGIN');
      await client.query(named('insert',
        'INSERT INTO compat_rows (driver, worker, i) VALUES ($1, $2, $3)', [DRIVER, w, i]));
      r = await client.query(named('count',
        'SELECT count(*)::int AS n FROM compat_rows WHERE driver = $1 AND worker = $2', [DRIVER, w]));
      await client.query('COMMIT');
      check(r.rows[0].n === i + 1, `w${w} i${i}: ${r.rows[0].n} rows in the transaction`);

      if (i % 5 === 0) {
        await client.query('BEGIN');
        await client.query(named('insert',
          'INSERT INTO compat_rows (driver, worker, i) VALUES ($1, $2, $3)', [DRIVER, w, -1 - i]));
        try {
          await client.query(named('divide', 'SELECT 1 / $1::int', [0]));
          check(false, `w${w} i${i}: division by zero succeeded`);
        } catch (e) {
          check(e.code === '22012', `w${w} i${i}: ${e.code} ${e.message}`);
        }
        await client.query('ROLLBACK');
      }

      if (i % 7 === 0) {
        const name = `compat-${DRIVER}-${w}-${i}`;
        await client.query(`SET application_name = '${name}'`);
        r = await client.query('SHOW application_name');
        const shown = r.rows[0].application_name;
        check(shown === name, `w${w} i${i}: application_name ${shown}, want ${name}`);
      }

      if (i % 4 === 1) {
        path = `compat_${w}_${Math.floor(i / 4) % 3}, public`;
        await client.query(`SET search_path = ${path}`);
      }
      r = await client.query(named('path', 'SHOW search_path'));
      check(r.rows[0].search_path === path,
            `w${w} i${i}: search_path ${r.rows[0].search_path}, want ${path}`);
    }
    const r = await client.query(named('final',
      'SELECT count(*) FILTER (WHERE i >= 0)::int AS kept, count(*) FILTER (WHERE i < 0)::int AS undone ' +
      'FROM compat_rows WHERE driver = $1 AND worker = $2', [DRIVER, w]));
    check(r.rows[0].kept === started && r.rows[0].undone === 0,
      `w${w}: rows kept ${r.rows[0].kept}, rolled back kept ${r.rows[0].undone}`);
  } catch (e) {
    check(false, `w${w}: ${e.code || ''} ${e.message}`);
  } finally {
    await client.end();
  }
}

async function main() {
  const workers = [];
  for (let w = 0; w < WORKERS; w++) {
    workers.push(worker(w));
  }
  await Promise.all(workers);
  for (const p of problems.slice(0, 20)) {
    console.error(`compat ${DRIVER}: ${p}`);
  }
  console.log(`compat ${DRIVER}: ops=${ops} failed=${failed}`);
  process.exit(failed === 0 && ops > 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(`compat ${DRIVER}: ${e.stack || e}`);
  process.exit(1);
});
