/*
 * keel_fence: refuses to commit a writing transaction once the leader-lease deadline that the
 * Keel agent last granted has passed, so that a primary whose agent is frozen (SIGSTOP, a
 * paused VM) stops writing at the same instant the agent's watchdog would have killed it.
 *
 * The agent maps a file of 8 bytes (keel.fence_deadline_file) and stores into it, after every
 * successful lease renewal, the deadline as nanoseconds of CLOCK_MONOTONIC (the clock every
 * process of the host shares). INT64_MAX means "no deadline" (maintenance mode). Backends map
 * the same file read-only and check it in a pre-commit callback: one atomic load and one
 * clock_gettime per transaction that has a transaction id. Read-only transactions are never
 * refused. Loaded with shared_preload_libraries; see docs/ARCHITECTURE.md ("The frozen
 * process").
 */
#include "postgres.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "access/xact.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

void _PG_init(void);

static char *deadline_file = NULL;
static const int64_t *deadline = NULL; /* the mapped file, once opened */
static char *mapped_path = NULL;       /* which file `deadline` maps */

static int64_t
monotonic_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Maps the deadline file; NULL (with errno) when it cannot. */
static const int64_t *
map_deadline(const char *path)
{
	int			fd = open(path, O_RDONLY | O_CLOEXEC);
	void	   *p;

	if (fd < 0)
		return NULL;
	p = mmap(NULL, sizeof(int64_t), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : (const int64_t *) p;
}

static void
check_deadline(void)
{
	int64_t		until;
	int64_t		now;

	if (deadline_file == NULL || deadline_file[0] == '\0')
		return;
	if (!TransactionIdIsValid(GetTopTransactionIdIfAny()))
		return;					/* wrote nothing */
	if (deadline == NULL || mapped_path == NULL || strcmp(mapped_path, deadline_file) != 0)
	{
		if (deadline != NULL)
			munmap((void *) deadline, sizeof(int64_t));
		deadline = map_deadline(deadline_file);
		if (mapped_path != NULL)
			free(mapped_path);
		mapped_path = deadline != NULL ? strdup(deadline_file) : NULL;
		if (deadline == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
					 errmsg("cannot commit: the leader-lease deadline file \"%s\" cannot be read: %m",
							deadline_file),
					 errhint("Keel's agent writes this file while it holds the leader lease; "
							 "check that the agent runs on this host.")));
	}
	until = __atomic_load_n(deadline, __ATOMIC_ACQUIRE);
	now = monotonic_now_ns();
	if (now >= until)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot commit: this server's leader lease expired %lld ms ago",
						(long long) ((now - until) / 1000000)),
				 errdetail("Keel's agent on this host has not renewed the lease in time, so "
						   "another member may be primary now; the transaction was rolled back."),
				 errhint("Reconnect through the Keel proxy, which routes to the current leader.")));
}

static void
keel_fence_xact_callback(XactEvent event, void *arg)
{
	(void) arg;
	if (event == XACT_EVENT_PRE_COMMIT || event == XACT_EVENT_PRE_PREPARE)
		check_deadline();
}

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errmsg("keel_fence must be loaded with shared_preload_libraries")));
	DefineCustomStringVariable("keel.fence_deadline_file",
							   "File holding the leader-lease deadline the Keel agent granted.",
							   "Empty disables the check.",
							   &deadline_file, "", PGC_SIGHUP, 0, NULL, NULL, NULL);
	MarkGUCPrefixReserved("keel");
	RegisterXactCallback(keel_fence_xact_callback, NULL);
}
