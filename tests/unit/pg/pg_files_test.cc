#include "pg/pg_files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "pg/fence_deadline.h"

namespace keel::pg {
namespace {

PostgresConfig sampleConfig() {
  PostgresConfig pg;
  pg.data_dir = "/var/lib/keel/pgdata";
  pg.listen = {"10.0.0.5", 5433};
  pg.superuser = {"postgres", "su-secret"};
  pg.replication = {"replicator", "rep'secret"};
  return pg;
}

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

TEST(PgFilesTest, PathsAroundTheDataDirectory) {
  PgPaths p = pathsFor("/var/lib/keel/pgdata/");
  EXPECT_EQ(p.data_dir, "/var/lib/keel/pgdata");
  EXPECT_EQ(p.base_dir, "/var/lib/keel");
  EXPECT_EQ(p.socket_dir, "/var/lib/keel/run");
  EXPECT_EQ(p.log_file, "/var/lib/keel/postgresql.log");
  EXPECT_EQ(p.keel_conf(), "/var/lib/keel/pgdata/keel.conf");
}

TEST(PgFilesTest, KeelConfForPrimaryHasDefaultsAndNoRecoverySettings) {
  auto conf = renderKeelConf(sampleConfig(), "node1", "/var/lib/keel/run", std::nullopt);
  ASSERT_TRUE(conf.ok()) << conf.message();
  EXPECT_TRUE(contains(*conf, "listen_addresses = '10.0.0.5'\n"));
  EXPECT_TRUE(contains(*conf, "port = 5433\n"));
  EXPECT_TRUE(contains(*conf, "unix_socket_directories = '/var/lib/keel/run'\n"));
  EXPECT_TRUE(contains(*conf, "wal_level = 'replica'\n"));
  EXPECT_TRUE(contains(*conf, "hot_standby = 'on'\n"));
  EXPECT_TRUE(contains(*conf, "max_wal_senders = '10'\n"));
  EXPECT_TRUE(contains(*conf, "wal_keep_size = '128MB'\n"));
  EXPECT_TRUE(contains(*conf, "password_encryption = 'scram-sha-256'\n"));
  EXPECT_FALSE(contains(*conf, "primary_conninfo"));
  EXPECT_FALSE(contains(*conf, "recovery_target_timeline"));
}

TEST(PgFilesTest, KeelConfUserParametersOverrideDefaultsAndAreQuoted) {
  PostgresConfig pg = sampleConfig();
  pg.parameters = {{"max_wal_senders", "20"},
                   {"shared_buffers", "256MB"},
                   {"search_path", "\"$user\", 'public'"},
                   {"port", "9999"}};  // managed: config validation rejects it; never written
  auto conf = renderKeelConf(pg, "node1", "/run", std::nullopt);
  ASSERT_TRUE(conf.ok()) << conf.message();
  EXPECT_TRUE(contains(*conf, "max_wal_senders = '20'\n"));
  EXPECT_FALSE(contains(*conf, "max_wal_senders = '10'"));
  EXPECT_TRUE(contains(*conf, "shared_buffers = '256MB'\n"));
  EXPECT_TRUE(contains(*conf, "search_path = '\"$user\", ''public'''\n"));
  EXPECT_FALSE(contains(*conf, "9999"));
}

TEST(PgFilesTest, KeelConfPreloadsKeelFenceAfterTheUsersLibraries) {
  const FenceSettings fence{"/opt/keel bin/keel_fence.so", "/var/lib/keel/fence.deadline"};
  auto alone = renderKeelConf(sampleConfig(), "node1", "/run", std::nullopt, fence);
  ASSERT_TRUE(alone.ok()) << alone.message();
  EXPECT_TRUE(contains(*alone, "shared_preload_libraries = '\"/opt/keel bin/keel_fence.so\"'\n"))
      << *alone;
  EXPECT_TRUE(contains(*alone, "keel.fence_deadline_file = '/var/lib/keel/fence.deadline'\n"));

  PostgresConfig pg = sampleConfig();
  pg.parameters = {{"shared_preload_libraries", "pg_stat_statements, auto_explain,"}};
  auto both = renderKeelConf(pg, "node1", "/run", std::nullopt, fence);
  ASSERT_TRUE(both.ok()) << both.message();
  EXPECT_TRUE(contains(*both,
                       "shared_preload_libraries = 'pg_stat_statements, auto_explain, "
                       "\"/opt/keel bin/keel_fence.so\"'\n"))
      << *both;
  EXPECT_EQ(both->find("shared_preload_libraries"), both->rfind("shared_preload_libraries"))
      << "written once";

  auto without = renderKeelConf(pg, "node1", "/run", std::nullopt);
  ASSERT_TRUE(without.ok());
  EXPECT_TRUE(contains(*without, "shared_preload_libraries = 'pg_stat_statements, auto_explain,'"));
  EXPECT_FALSE(contains(*without, "keel.fence_deadline_file"));
}

TEST(PgFilesTest, FenceDeadlineFileIsSharedAndStartsRefusing) {
  char dir[] = "/tmp/keel-fence-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/fence.deadline";
  auto file = FenceDeadlineFile::open(path);
  ASSERT_TRUE(file.ok()) << file.message();
  EXPECT_EQ((*file)->load(), 0) << "no lease granted yet: PostgreSQL must refuse writes";
  (*file)->store(123456789);
  // What a PostgreSQL backend reads through its own read-only mapping: the same 8 bytes.
  std::int64_t seen = -1;
  FILE* f = std::fopen(path.c_str(), "rb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(std::fread(&seen, sizeof seen, 1, f), 1u);
  std::fclose(f);
  EXPECT_EQ(seen, 123456789);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u) << "the PostgreSQL user must be able to read it";
  file->reset();
  std::remove(path.c_str());
  rmdir(dir);
}

TEST(PgFilesTest, KeelConfRejectsBadParameterName) {
  PostgresConfig pg = sampleConfig();
  pg.parameters = {{"evil\nport", "1"}};
  auto conf = renderKeelConf(pg, "node1", "/run", std::nullopt);
  ASSERT_FALSE(conf.ok());
  EXPECT_EQ(conf.code(), PgErrc::refused);
}

TEST(PgFilesTest, KeelConfForStandby) {
  UpstreamSettings up{{"10.0.0.6", 5432}, "node1"};
  auto conf = renderKeelConf(sampleConfig(), "node-1", "/run", up);
  ASSERT_TRUE(conf.ok()) << conf.message();
  EXPECT_TRUE(contains(*conf,
                       "primary_conninfo = 'host=''10.0.0.6'' port=''5432'' "
                       "user=''replicator'' password=''rep\\\\''secret'' "
                       "application_name=''node-1'' connect_timeout=''2'''\n"))
      << *conf;
  EXPECT_TRUE(contains(*conf, "primary_slot_name = 'node1'\n"));
  EXPECT_TRUE(contains(*conf, "recovery_target_timeline = 'latest'\n"));

  UpstreamSettings no_slot{{"::1", 5432}, ""};
  auto conf2 = renderKeelConf(sampleConfig(), "n", "/run", no_slot);
  ASSERT_TRUE(conf2.ok());
  EXPECT_FALSE(contains(*conf2, "primary_slot_name"));
}

TEST(PgFilesTest, PgHbaPutsUserLinesBeforeKeelRules) {
  PostgresConfig pg = sampleConfig();
  pg.pg_hba = {"host all app 10.0.0.0/8 scram-sha-256", "host all all 0.0.0.0/0 reject\nlocal"};
  auto hba = renderPgHba(pg);
  ASSERT_TRUE(hba.ok()) << hba.message();
  auto user_pos = hba->find("host all app 10.0.0.0/8 scram-sha-256\n");
  auto repl_pos = hba->find("host replication replicator all scram-sha-256\n");
  auto su_pos = hba->find("host all postgres all scram-sha-256\n");
  ASSERT_NE(user_pos, std::string::npos);
  ASSERT_NE(repl_pos, std::string::npos);
  ASSERT_NE(su_pos, std::string::npos);
  EXPECT_LT(user_pos, repl_pos);
  EXPECT_TRUE(contains(*hba, "local all all trust\n"));
  // A line break in one configured entry does not start a second rule.
  EXPECT_TRUE(contains(*hba, "host all all 0.0.0.0/0 reject local\n"));
}

TEST(PgFilesTest, PgHbaQuotesOrRejectsRoleNames) {
  PostgresConfig pg = sampleConfig();
  pg.replication.username = "repl-user";
  auto hba = renderPgHba(pg);
  ASSERT_TRUE(hba.ok());
  EXPECT_TRUE(contains(*hba, "host replication \"repl-user\" all scram-sha-256\n"));
  pg.replication.username = "bad\"name";
  EXPECT_FALSE(renderPgHba(pg).ok());
}

TEST(PgFilesTest, IncludeLineIsAppendedOnce) {
  auto once = withKeelInclude("max_connections = 100\n#include_if_exists = 'keel.conf'");
  ASSERT_TRUE(once.has_value());
  EXPECT_TRUE(contains(*once, "\ninclude_if_exists = 'keel.conf'\n"));
  EXPECT_TRUE(once->starts_with("max_connections = 100\n"));
  EXPECT_FALSE(withKeelInclude(*once).has_value());
  EXPECT_FALSE(withKeelInclude("a = 1\n  include_if_exists = 'keel.conf'  \r\nb = 2\n"));
  EXPECT_TRUE(withKeelInclude("").has_value());
}

TEST(PgFilesTest, LocalConnectHost) {
  EXPECT_EQ(localConnectHost("10.0.0.5"), "10.0.0.5");
  EXPECT_EQ(localConnectHost("*"), "127.0.0.1");
  EXPECT_EQ(localConnectHost("0.0.0.0"), "127.0.0.1");
  EXPECT_EQ(localConnectHost("::"), "::1");
  EXPECT_EQ(localConnectHost("[::1]"), "::1");
}

}  // namespace
}  // namespace keel::pg
