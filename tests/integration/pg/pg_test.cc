#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>

#include <algorithm>

#include "common/child_process.h"
#include "pg/pg_connection.h"
#include "pg/postgres.h"
#include "pg_fixture.h"

namespace keel::pg {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::PgMember;
using testing::processAlive;
using testing::TempDir;

ConnectParams superuserAt(const PgMember& m) {
  ConnectParams p;
  p.host = m.config->postgresql.listen.host;
  p.port = m.config->postgresql.listen.port;
  p.user = m.config->postgresql.superuser.username;
  p.password = m.config->postgresql.superuser.password;
  return p;
}

PgResult<Rows> sql(const PgMember& m, const std::string& statement) {
  auto conn = PgConnection::open(superuserAt(m));
  if (!conn) {
    return conn.failure();
  }
  return conn->query(statement);
}

// The first column of the first row, or "" on any failure.
std::string scalar(const PgMember& m, const std::string& statement) {
  auto rows = sql(m, statement);
  if (!rows || rows->empty() || rows->front().empty() || !rows->front()[0]) {
    return "";
  }
  return *rows->front()[0];
}

// The member's postgresql.log, for failure messages.
std::string logOf(const PgMember& m) {
  return testing::fileText(m.config->data_dir + "/postgresql.log");
}

bool streamsFrom(PgMember& standby) {
  auto s = standby.pg->status();
  return s && s->in_recovery && s->wal_receiver_state == "streaming";
}

class PgIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::runAsUserUsable("postgres")) {
      GTEST_SKIP() << "running as root without a 'postgres' user";
    }
    ASSERT_FALSE(dir_.path().empty());
  }
  TempDir dir_;
};

TEST_F(PgIntegrationTest, ReplicationFailoverAndRewind) {
  PgMember a(dir_.path(), "node-a");
  PgMember b(dir_.path(), "node-b");

  // Bootstrap a primary.
  EXPECT_FALSE(a.pg->initialized());
  ASSERT_TRUE(a.pg->initdb().ok());
  EXPECT_TRUE(a.pg->initialized());
  auto second_initdb = a.pg->initdb();
  ASSERT_FALSE(second_initdb.ok());
  EXPECT_EQ(second_initdb.code(), PgErrc::refused);
  auto started = a.pg->startPrimary();
  ASSERT_TRUE(started.ok()) << started.message();
  EXPECT_TRUE(a.pg->running());
  auto roles = a.pg->createRoles();
  ASSERT_TRUE(roles.ok()) << roles.message();
  ASSERT_TRUE(a.pg->createRoles().ok()) << "createRoles must be idempotent";

  auto sa = a.pg->status();
  ASSERT_TRUE(sa.ok()) << sa.message();
  EXPECT_FALSE(sa->in_recovery);
  EXPECT_EQ(sa->timeline, 1);
  EXPECT_NE(sa->system_identifier, 0u);
  EXPECT_GT(sa->write_lsn.value, 0u);
  EXPECT_GT(sa->postmaster_start_epoch, 0);
  EXPECT_FALSE(sa->pending_restart);
  EXPECT_EQ(scalar(a, "SHOW wal_level"), "replica");
  EXPECT_EQ(scalar(a, "SHOW data_checksums"), "on");

  // A slot for b, then a standby cloned through it.
  const std::string slot_b = slotNameFor(b.config->name);
  ASSERT_TRUE(a.pg->createSlot(slot_b).ok());
  ASSERT_TRUE(a.pg->createSlot(slot_b).ok()) << "createSlot must be idempotent";
  EXPECT_FALSE(a.pg->createSlot("Bad-Name").ok());
  auto slots = a.pg->slots();
  ASSERT_TRUE(slots.ok()) << slots.message();
  ASSERT_EQ(slots->size(), 1u);
  EXPECT_EQ((*slots)[0].name, "node_b");
  EXPECT_FALSE((*slots)[0].active);
  EXPECT_GT((*slots)[0].restart_lsn.value, 0u) << "slot must reserve WAL immediately";

  auto backup = b.pg->basebackup(a.endpoint(), slot_b);
  ASSERT_TRUE(backup.ok()) << backup.message();
  auto standby = b.pg->startStandby(a.endpoint(), slot_b);
  ASSERT_TRUE(standby.ok()) << standby.message();
  ASSERT_TRUE(eventually([&] { return streamsFrom(b); }, 20s));
  auto sb = b.pg->status();
  ASSERT_TRUE(sb.ok()) << sb.message();
  EXPECT_TRUE(sb->in_recovery);
  EXPECT_EQ(sb->timeline, 1);
  EXPECT_EQ(sb->system_identifier, sa->system_identifier);
  EXPECT_GT(sb->receive_lsn.value, 0u);
  EXPECT_GT(sb->replay_lsn.value, 0u);
  EXPECT_EQ(sb->wal_receiver_sender,
            "127.0.0.1:" + std::to_string(a.config->postgresql.listen.port));
  EXPECT_EQ(scalar(a, "SELECT application_name FROM pg_stat_replication"), "node-b");

  // A write on the primary reaches the standby.
  ASSERT_TRUE(sql(a, "CREATE TABLE t AS SELECT 1 AS x").ok());
  EXPECT_TRUE(eventually([&] { return scalar(b, "SELECT count(*) FROM t") == "1"; }, 10s));
  auto in_use = a.pg->dropSlot(slot_b);
  ASSERT_FALSE(in_use.ok());
  EXPECT_EQ(in_use.code(), PgErrc::refused);

  // Fencing kills the primary at once.
  auto fence_start = std::chrono::steady_clock::now();
  a.pg->fence();
  EXPECT_TRUE(eventually([&] { return !PgConnection::open(superuserAt(a)).ok(); }, 1s));
  EXPECT_TRUE(eventually([&] { return !a.pg->running(); }, 2s));
  EXPECT_LT(std::chrono::steady_clock::now() - fence_start, 2s);

  // Promote the standby: writable on timeline 2.
  auto promoted = b.pg->promote();
  ASSERT_TRUE(promoted.ok()) << promoted.message();
  ASSERT_TRUE(b.pg->promote().ok()) << "promoting a primary is a no-op";
  auto sb2 = b.pg->status();
  ASSERT_TRUE(sb2.ok()) << sb2.message();
  EXPECT_FALSE(sb2->in_recovery);
  EXPECT_EQ(sb2->timeline, 2);
  ASSERT_TRUE(sql(b, "INSERT INTO t VALUES (2)").ok());
  auto history = a.pg->timelineHistory(b.endpoint(), 2);
  ASSERT_TRUE(history.ok()) << history.message();
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ((*history)[0].first, 1);
  EXPECT_GT((*history)[0].second.value, 0u);

  // Rewind the old primary and make it a standby of the new one.
  auto cd_before = a.pg->controlData();
  ASSERT_TRUE(cd_before.ok()) << cd_before.message();
  EXPECT_EQ(cd_before->system_identifier, sa->system_identifier);
  EXPECT_FALSE(cd_before->cleanly_shut_down());
  auto rewound = a.pg->rewind(b.endpoint());
  ASSERT_TRUE(rewound.ok()) << rewound.message();
  ASSERT_TRUE(b.pg->createSlot(slotNameFor(a.config->name)).ok());
  auto restarted = a.pg->startStandby(b.endpoint(), slotNameFor(a.config->name));
  ASSERT_TRUE(restarted.ok()) << restarted.message();
  ASSERT_TRUE(eventually([&] { return streamsFrom(a); }, 20s));
  auto sa2 = a.pg->status();
  ASSERT_TRUE(sa2.ok());
  EXPECT_EQ(sa2->timeline, 2) << logOf(a);
  ASSERT_TRUE(sql(b, "INSERT INTO t VALUES (3)").ok());
  EXPECT_TRUE(eventually([&] { return scalar(a, "SELECT count(*) FROM t") == "3"; }, 10s));

  // Re-pointing a running standby only rewrites keel.conf and reloads.
  auto followed = a.pg->followUpstream(b.endpoint(), slotNameFor(a.config->name));
  ASSERT_TRUE(followed.ok()) << followed.message();
  EXPECT_TRUE(eventually([&] { return streamsFrom(a); }, 10s));

  // ALTER SYSTEM with a value that needs quoting, then RESET.
  ASSERT_TRUE(b.pg->alterSystem({{"work_mem", "8MB"}, {"application_name", "it's"}}).ok());
  EXPECT_TRUE(eventually([&] { return scalar(b, "SHOW work_mem") == "8MB"; }, 5s));
  EXPECT_FALSE(b.pg->alterSystem({{"port", "1"}}).ok());
  ASSERT_TRUE(
      b.pg->alterSystem({{"work_mem", std::nullopt}, {"application_name", std::nullopt}}).ok());
  EXPECT_TRUE(eventually([&] { return scalar(b, "SHOW work_mem") == "4MB"; }, 5s));
  EXPECT_TRUE(b.pg->checkpoint().ok());

  // Clean shutdowns, then a readable control file.
  ASSERT_TRUE(a.pg->stop(Postgres::StopMode::fast).ok());
  EXPECT_FALSE(a.pg->running());
  auto cd = a.pg->controlData();
  ASSERT_TRUE(cd.ok()) << cd.message();
  EXPECT_EQ(cd->cluster_state, "shut down in recovery");
  EXPECT_EQ(cd->timeline, 2);
  EXPECT_TRUE(a.pg->stop(Postgres::StopMode::fast).ok()) << "stopping a stopped server is a no-op";
  auto not_running = a.pg->followUpstream(b.endpoint(), "");
  ASSERT_FALSE(not_running.ok());
  EXPECT_EQ(not_running.code(), PgErrc::not_running);
  ASSERT_TRUE(b.pg->stop(Postgres::StopMode::smart).ok());
  ASSERT_TRUE(a.pg->removeDataDirectory().ok());
  EXPECT_FALSE(a.pg->initialized());
}

// A failed start reports the log; a postmaster left by an earlier agent is replaced; and a
// postmaster does not outlive the thread that started it.
TEST_F(PgIntegrationTest, StartFailureLeftoverPostmasterAndAgentDeath) {
  PgMember c(dir_.path(), "node-c");
  ASSERT_TRUE(c.pg->initdb().ok());

  // A postmaster that is not ours (pg_ctl, as an earlier agent might have left it).
  std::string log = dir_.path() + "/node-c/pg_ctl.log";
  auto pg_ctl = runCommand({.argv = {c.config->postgresql.bin_dir + "/pg_ctl", "start", "-w", "-D",
                                     c.dataDir(), "-l", log},
                            .cwd = "/",
                            .run_as = c.config->postgresql.run_as},
                           30s);
  ASSERT_TRUE(pg_ctl.ok()) << pg_ctl.message() << testing::fileText(log);
  pid_t foreign = testing::postmasterPid(c.dataDir());
  ASSERT_TRUE(processAlive(foreign));
  auto adopted = c.pg->startPrimary();
  ASSERT_TRUE(adopted.ok()) << adopted.message();
  EXPECT_FALSE(processAlive(foreign));
  EXPECT_NE(testing::postmasterPid(c.dataDir()), foreign);
  ASSERT_TRUE(c.pg->stop(Postgres::StopMode::fast).ok());

  auto bad_config = std::make_shared<Config>(*c.config);
  bad_config->postgresql.parameters["shared_buffers"] = "lots";
  auto bad = makePostgres(bad_config)->startPrimary();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.code(), PgErrc::command_failed);
  EXPECT_NE(bad.message().find("shared_buffers"), std::string::npos) << bad.message();

  // Agent death: a process starts the postmaster and is SIGKILLed.
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t agent = ::fork();
  ASSERT_GE(agent, 0);
  if (agent == 0) {
    ::close(ready[0]);
    auto pg = makePostgres(c.config);
    char ok = pg->startPrimary().ok() ? '1' : '0';
    (void)!::write(ready[1], &ok, 1);
    for (;;) {
      ::pause();
    }
  }
  ::close(ready[1]);
  pollfd p{ready[0], POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 40000), 1);
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  ::close(ready[0]);
  pid_t postmaster = testing::postmasterPid(c.dataDir());
  ::kill(agent, SIGKILL);
  ::waitpid(agent, nullptr, 0);
  ASSERT_EQ(ok, '1');
  ASSERT_GT(postmaster, 0);
  EXPECT_TRUE(eventually([&] { return !processAlive(postmaster); }, 5s));
  EXPECT_FALSE(PgConnection::open(superuserAt(c)).ok());
}

}  // namespace
}  // namespace keel::pg
