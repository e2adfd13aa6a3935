"""What the Python compatibility workloads share: their size and the tally they print."""

import os
import sys
import threading
import time

WORKERS = int(os.environ.get("COMPAT_WORKERS", "4"))
ITERATIONS = int(os.environ.get("COMPAT_ITERATIONS", "40"))
# When set, each worker runs rounds for this many seconds instead of COMPAT_ITERATIONS rounds
# (the suite runs across a switchover this way).
SECONDS = float(os.environ.get("COMPAT_SECONDS", "0"))


class Rounds:
    """The round numbers 0, 1, ... of one worker, and how many it started."""

    def __init__(self):
        self.started = 0

    def __iter__(self):
        end = time.monotonic() + SECONDS
        while (self.started < ITERATIONS) if SECONDS <= 0 else (time.monotonic() < end):
            self.started += 1
            yield self.started - 1


class Tally:
    """Counts checked operations and failures; thread-safe."""

    def __init__(self, driver):
        self.driver = driver
        self.ops = 0
        self.failed = 0
        self.problems = []
        self._lock = threading.Lock()

    def check(self, ok, what):
        with self._lock:
            self.ops += 1
            if not ok:
                self.failed += 1
                self.problems.append(what)

    def finish(self):
        """Prints the problems and the summary line, and exits 0 only when nothing failed."""
        for p in self.problems[:20]:
            print(f"compat {self.driver}: {p}", file=sys.stderr)
        print(f"compat {self.driver}: ops={self.ops} failed={self.failed}")
        sys.exit(0 if self.failed == 0 and self.ops > 0 else 1)
