#!/usr/bin/python3
"""Transaction-pooling compatibility workload for asyncpg, which prepares every statement.

Connects with the libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE). Runs
COMPAT_WORKERS tasks of COMPAT_ITERATIONS rounds each (see tests/compat/README.md) and prints
`compat asyncpg: ops=N failed=F` last. Exits 0 only when F is 0.
"""

import asyncio

import asyncpg

from compat_common import WORKERS, Rounds, Tally

DRIVER = "asyncpg"
tally = Tally(DRIVER)
check = tally.check


async def worker(w):
    # The statement cache stays on (asyncpg's default): named statements on every query.
    conn = await asyncpg.connect()
    try:
        rounds = Rounds()
        path = '"$user", public'  # search_path: not reported by PostgreSQL 15, carried by Keel
        for i in rounds:
            got = await conn.fetchval("SELECT $1::int * 2", i)
            check(got == 2 * i, f"w{w} i{i}: doubled {got}")

            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO compat_rows (driver, worker, i) VALUES ($1, $2, $3)", DRIVER, w, i)
                n = await conn.fetchval(
                    "SELECT count(*) FROM compat_rows WHERE driver = $1 AND worker = $2", DRIVER, w)
            check(n == i + 1, f"w{w} i{i}: {n} rows in the transaction")

            if i % 5 == 0:
                try:
                    async with conn.transaction():
                        await conn.execute(
                            "INSERT INTO compat_rows (driver, worker, i) VALUES ($1, $2, $3)",
                            DRIVER, w, -1 - i)
                        await conn.fetchval("SELECT 1 / $1::int", 0)
                    check(False, f"w{w} i{i}: division by zero succeeded")
                except asyncpg.exceptions.DivisionByZeroError:
                    check(True, "")

            if i % 7 == 0:
                name = f"compat-{DRIVER}-{w}-{i}"
                await conn.execute(f"SET application_name = '{name}'")
                shown = await conn.fetchval("SHOW application_name")
                check(shown == name, f"w{w} i{i}: application_name {shown!r}, want {name!r}")

            if i % 4 == 1:
                path = f"compat_{w}_{i // 4 % 3}, public"
                await conn.execute(f"SET search_path = {path}")
            shown = await conn.fetchval("SHOW search_path")
            check(shown == path, f"w{w} i{i}: search_path {shown!r}, want {path!r}")
        row = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE i >= 0) AS kept, count(*) FILTER (WHERE i < 0) AS undone "
            "FROM compat_rows WHERE driver = $1 AND worker = $2", DRIVER, w)
        check(row["kept"] == rounds.started and row["undone"] == 0,
              f"w{w}: rows kept {row['kept']}, rolled back kept {row['undone']}")
    except Exception as e:  # noqa: BLE001 - every failure is counted and shown
        check(False, f"w{w}: {type(e).__name__}: {e}")
    finally:
        await conn.close()


async def main():
    await asyncio.gather(*(worker(w) for w in range(WORKERS)))


asyncio.run(main())
tally.finish()
