#!/usr/bin/python3
"""Transaction-pooling compatibility workload for psycopg 3, every statement prepared.

Connects with the libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE). Runs
COMPAT_WORKERS threads of COMPAT_ITERATIONS rounds each (see tests/compat/README.md for what a
round does) and prints `compat psycopg: ops=N failed=F` last. Exits 0 only when F is 0.
"""

import threading

import psycopg
from psycopg import errors

from compat_common import WORKERS, Rounds, Tally

DRIVER = "psycopg"
tally = Tally(DRIVER)
check = tally.check


def worker(w):
    # prepare_threshold=0: psycopg prepares every statement with a named Parse.
    conn = psycopg.connect(autocommit=True, prepare_threshold=0)
    try:
        rounds = Rounds()
        path = '"$user", public'  # search_path: not reported by PostgreSQL 15, carried by Keel
        for i in rounds:
            got = conn.execute("SELECT %s::int * 2", (i,)).fetchone()[0]
            check(got == 2 * i, f"w{w} i{i}: doubled {got}")

            conn.execute("BEGIN")
            conn.execute("INSERT INTO compat_rows (driver, worker, i) VALUES (%s, %s, %s)",
                         (DRIVER, w, i))
            n = conn.execute("SELECT count(*) FROM compat_rows WHERE driver = %s AND worker = %s",
                             (DRIVER, w)).fetchone()[0]
            conn.execute("COMMIT")
            check(n == i + 1, f"w{w} i{i}: {n} rows in the transaction")

            if i % 5 == 0:
                conn.execute("BEGIN")
                conn.execute("INSERT INTO compat_rows (driver, worker, i) VALUES (%s, %s, %s)",
                             (DRIVER, w, -1 - i))
                try:
                    conn.execute("SELECT 1 / %s::int", (0,))
                    check(False, f"w{w} i{i}: division by zero succeeded")
                except errors.DivisionByZero:
                    check(True, "")
                conn.execute("ROLLBACK")

            if i % 7 == 0:
                name = f"compat-{DRIVER}-{w}-{i}"
                conn.execute(f"SET application_name = '{name}'")
                shown = conn.execute("SHOW application_name").fetchone()[0]
                check(shown == name, f"w{w} i{i}: application_name {shown!r}, want {name!r}")

            if i % 4 == 1:
                path = f"compat_{w}_{i // 4 % 3}, public"
                conn.execute(f"SET search_path = {path}")
            shown = conn.execute("SHOW search_path").fetchone()[0]
            check(shown == path, f"w{w} i{i}: search_path {shown!r}, want {path!r}")
        n = conn.execute("SELECT count(*) FILTER (WHERE i >= 0), count(*) FILTER (WHERE i < 0) "
                         "FROM compat_rows WHERE driver = %s AND worker = %s",
                         (DRIVER, w)).fetchone()
        check(n[0] == rounds.started and n[1] == 0,
              f"w{w}: rows kept {n[0]} of {rounds.started}, rolled back kept {n[1]}")
    except Exception as e:  # noqa: BLE001 - every failure is counted and shown
        check(False, f"w{w}: {type(e).__name__}: {e}")
    finally:
        conn.close()


threads = [threading.Thread(target=worker, args=(w,)) for w in range(WORKERS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
tally.finish()
