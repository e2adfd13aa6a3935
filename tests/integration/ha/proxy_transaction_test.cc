// The proxy in transaction pooling (proxy.pool_mode: transaction) against a three-member cluster
// of its own, with two server connections per pool so that clients really share them. Every
// client connects to n1's proxy; the last two tests move the leader. The real-driver workloads live
// in tests/compat (see its README.md).

#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "common/child_process.h"
#include "integration/ha/ha_test_fixture.h"
#include "integration/ha/sql_client.h"

namespace keel::hatest {
namespace {

using namespace std::chrono_literals;

constexpr int kPoolSize = 2;
constexpr int kMaxClients = 40;  // per proxy; the busiest test opens about 20

class TransactionPoolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = std::make_unique<KeelCluster>("keeltx", 3);
    cluster_->setProxyPooling("transaction", kPoolSize);
    cluster_->setProxyMaxClients(kMaxClients);
    if (!cluster_->start()) {
      error_ = cluster_->error();
      return;
    }
    std::string why;
    if (!cluster_->waitHealthy(120s, &why)) {
      error_ = why + "\n" + cluster_->logTails();
      return;
    }
    // The proxy routes once it has seen the leader.
    const std::string conninfo = rw();
    if (!waitFor([&] { return execSql(conninfo, "SELECT 1").ok; }, 30s)) {
      error_ = "the transaction-mode proxy never answered\n" + cluster_->logTails();
    }
  }
  static void TearDownTestSuite() { cluster_.reset(); }
  void SetUp() override {
    ASSERT_TRUE(cluster_);
    ASSERT_TRUE(error_.empty()) << error_;
  }
  void TearDown() override {
    if (HasFailure()) {
      std::cout << cluster_->logTails(60);
    }
  }

  static std::string rw(const std::string& extra = "") {
    return cluster_->proxyConninfo("n1", false, extra);
  }
  static std::uint16_t rwPort() { return cluster_->node("n1").proxy_rw; }

  // Runs a program with the superuser's password in its environment.
  static Result<CommandOutput, ProcessErrc> run(std::vector<std::string> argv,
                                                std::chrono::seconds timeout = 120s) {
    std::map<std::string, std::string> env{{"PGPASSWORD", KeelCluster::kSuperuserPassword}};
    return runCommand({.argv = std::move(argv), .env_overrides = env}, timeout);
  }
  static Result<CommandOutput, ProcessErrc> psql(const std::string& script) {
    return run({"psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=0", "-h", "127.0.0.1", "-p",
                std::to_string(rwPort()), "-U", "postgres", "-c", script, "postgres"});
  }

  // The tests/compat programs: driver name and command line.
  static std::vector<std::pair<std::string, std::vector<std::string>>> compatDrivers() {
    return {{"psycopg", {"/usr/bin/python3", "compat_psycopg.py"}},
            {"asyncpg", {"/usr/bin/python3", "compat_asyncpg.py"}},
            {"jdbc", {"java", "-cp", "/usr/share/java/postgresql.jar", "Compat.java"}},
            {"node-postgres", {"node", "compat_node.js"}}};
  }
  // Runs a tests/compat workload against n1's transaction-mode port: COMPAT_ITERATIONS rounds
  // per worker, or rounds for `seconds` when it is not 0.
  static Result<CommandOutput, ProcessErrc> compatRun(std::vector<std::string> argv,
                                                      int seconds = 0) {
    std::map<std::string, std::string> env{
        {"PGHOST", "127.0.0.1"},    {"PGPORT", std::to_string(rwPort())},
        {"PGUSER", "postgres"},     {"PGPASSWORD", KeelCluster::kSuperuserPassword},
        {"PGDATABASE", "postgres"}, {"COMPAT_WORKERS", "4"},
        {"COMPAT_ITERATIONS", "30"}};
    if (seconds > 0) {
      env["COMPAT_SECONDS"] = std::to_string(seconds);
      env["COMPAT_WORKERS"] = "2";
    }
    return runCommand({.argv = std::move(argv), .env_overrides = env, .cwd = KEEL_COMPAT_DIR},
                      180s);
  }
  static void expectCompatPassed(const std::string& driver,
                                 const Result<CommandOutput, ProcessErrc>& out) {
    SCOPED_TRACE("compat " + driver);
    ASSERT_TRUE(out) << out.message();
    EXPECT_EQ(out->exit_code, 0) << out->output;
    EXPECT_NE(out->output.find("compat " + driver + ": ops="), std::string::npos) << out->output;
    EXPECT_NE(out->output.find(" failed=0\n"), std::string::npos) << out->output;
  }
  static void runCompat(const std::string& driver) {
    auto made =
        execSql(rw(), "CREATE TABLE IF NOT EXISTS compat_rows (driver text, worker int, i int)");
    ASSERT_TRUE(made.ok) << made.error;
    for (auto& [name, argv] : compatDrivers()) {
      if (name == driver) {
        expectCompatPassed(driver, compatRun(argv));
        return;
      }
    }
    FAIL() << "no compat program for " << driver;
  }

  static std::unique_ptr<KeelCluster> cluster_;
  static std::string error_;
};

std::unique_ptr<KeelCluster> TransactionPoolTest::cluster_;
std::string TransactionPoolTest::error_;

TEST_F(TransactionPoolTest, PgbenchSharesTwoServerConnectionsAmongEightClients) {
  auto init = run({"pgbench", "-h", "127.0.0.1", "-p", std::to_string(rwPort()), "-U", "postgres",
                   "-i", "-s", "1", "-q", "postgres"});
  ASSERT_TRUE(init) << init.message();
  ASSERT_EQ(init->exit_code, 0) << init->output;
  // One pgbench thread per client: -M prepared prepares each statement with a blocking call
  // the first time it runs it, so a thread with several clients can wait for a server
  // connection that its own other clients hold in open transactions (docs/proxy.md).
  for (const char* mode : {"simple", "extended", "prepared"}) {
    SCOPED_TRACE(std::string("pgbench -M ") + mode);
    auto bench = run({"pgbench", "-h", "127.0.0.1", "-p", std::to_string(rwPort()), "-U",
                      "postgres", "-M", mode, "-c", "8", "-j", "8", "-t", "50", "-n", "postgres"});
    ASSERT_TRUE(bench) << bench.message();
    EXPECT_EQ(bench->exit_code, 0) << bench->output;
    EXPECT_NE(bench->output.find("number of transactions actually processed: 400/400"),
              std::string::npos)
        << bench->output;
    EXPECT_NE(bench->output.find("number of failed transactions: 0 "), std::string::npos)
        << bench->output;
  }
  // Eight clients, never more than two server connections (the agent's own short connections,
  // application_name keel, are not the proxy's).
  auto servers = execSql(rw(),
                         "SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
                         "'client backend' AND datname = 'postgres' AND application_name <> "
                         "'keel'");
  ASSERT_TRUE(servers.ok) << servers.error;
  EXPECT_LE(std::stoi(servers.scalar()), kPoolSize);
}

TEST_F(TransactionPoolTest, TrackedSettingsFollowTheClientAcrossServerConnections) {
  SqlConnection a(rw());
  SqlConnection b(rw());
  ASSERT_TRUE(a.ok()) << a.error();
  ASSERT_TRUE(b.ok()) << b.error();
  ASSERT_TRUE(a.exec("SET DateStyle = 'German, DMY'").ok);
  ASSERT_TRUE(b.exec("SET TimeZone = 'Asia/Tokyo'").ok);
  // Hold one server connection in an open transaction so that the others must be shared.
  SqlConnection holder(rw());
  ASSERT_TRUE(holder.ok()) << holder.error();
  ASSERT_TRUE(holder.exec("BEGIN").ok);
  for (int i = 0; i < 5; ++i) {
    auto da = a.exec("SHOW DateStyle");
    ASSERT_TRUE(da.ok) << da.error;
    EXPECT_EQ(da.scalar(), "German, DMY");
    auto ta = a.exec("SHOW TimeZone");
    EXPECT_NE(ta.scalar(), "Asia/Tokyo");
    auto db = b.exec("SHOW DateStyle");
    EXPECT_EQ(db.scalar(), "ISO, MDY");
    auto tb = b.exec("SHOW TimeZone");
    EXPECT_EQ(tb.scalar(), "Asia/Tokyo");
  }
  ASSERT_TRUE(holder.exec("ROLLBACK").ok);
  // A new client starts from PostgreSQL's values, whatever earlier clients set.
  EXPECT_EQ(execSql(rw(), "SHOW DateStyle").scalar(), "ISO, MDY");
}

// search_path is not reported by PostgreSQL 15: Keel reads it back after a transaction that may
// have changed it (proxy.track_extra_parameters) and SETs or RESETs it on each connection lent.
TEST_F(TransactionPoolTest, SearchPathFollowsTheClientAndLeavesNoTraceForOthers) {
  const std::string kDefault = "\"$user\", public";
  SqlConnection a(rw());
  SqlConnection b(rw());
  SqlConnection c(rw());
  SqlConnection holder(rw());
  for (SqlConnection* conn : {&a, &b, &c, &holder}) {
    ASSERT_TRUE(conn->ok()) << conn->error();
  }
  auto show = [](SqlConnection& conn) {
    auto r = conn.exec("SHOW search_path");
    EXPECT_TRUE(r.ok) << r.error;
    return r.ok ? r.scalar() : "(failed: " + r.error + ")";
  };
  ASSERT_TRUE(a.exec("SET search_path = tx_a, public").ok);
  // The pool lends its most recently returned connection first: c lands where a set it.
  EXPECT_EQ(show(c), kDefault);
  EXPECT_EQ(show(a), "tx_a, public");
  // With that connection held in a transaction, a and c share the other one.
  ASSERT_TRUE(holder.exec("BEGIN").ok);
  ASSERT_TRUE(holder.exec("SELECT 1").ok);
  EXPECT_EQ(show(a), "tx_a, public");
  EXPECT_EQ(show(c), kDefault);
  EXPECT_EQ(show(holder), kDefault);
  ASSERT_TRUE(holder.exec("ROLLBACK").ok);

  // set_config() gives no SET tag; SET LOCAL and a rolled-back SET leave nothing.
  auto set = b.exec("SELECT set_config('search_path', 'tx_b', false)");
  ASSERT_TRUE(set.ok) << set.error;
  EXPECT_EQ(show(b), "tx_b");
  EXPECT_EQ(show(c), kDefault);
  ASSERT_TRUE(c.exec("BEGIN; SET LOCAL search_path = tx_local; COMMIT").ok);
  EXPECT_EQ(show(c), kDefault);
  ASSERT_TRUE(c.exec("BEGIN").ok);
  ASSERT_TRUE(c.exec("SET search_path = tx_rolled_back").ok);
  EXPECT_EQ(show(c), "tx_rolled_back");
  ASSERT_TRUE(c.exec("ROLLBACK").ok);
  EXPECT_EQ(show(c), kDefault);
  EXPECT_EQ(show(a), "tx_a, public");
  EXPECT_EQ(show(b), "tx_b");

  // A startup value is the client's from the start; RESET takes a client back to the default.
  SqlConnection f(rw("options='-c search_path=tx_f'"));
  ASSERT_TRUE(f.ok()) << f.error();
  EXPECT_EQ(show(f), "tx_f");
  EXPECT_EQ(show(c), kDefault);
  ASSERT_TRUE(a.exec("RESET search_path").ok);
  EXPECT_EQ(show(a), kDefault);
  EXPECT_EQ(show(f), "tx_f");
  EXPECT_EQ(execSql(rw(), "SHOW search_path").scalar(), kDefault);
}

// Between transactions a client session is a pending read of the client, not a coroutine. Over
// TLS, whose layer may hold bytes it already read, and over plain TCP, clients that sat idle after
// login or after a transaction are served again and keep their settings, and a request larger
// than the idle read buffer arrives whole.
TEST_F(TransactionPoolTest, ClientsAreServedAgainAfterIdling) {
  SqlConnection tls(rw("sslmode=require"));
  SqlConnection plain(rw());
  ASSERT_TRUE(tls.ok()) << tls.error();
  ASSERT_TRUE(plain.ok()) << plain.error();
  ASSERT_TRUE(tls.exec("SET application_name = 'idle_tls'").ok);
  for (int i = 0; i < 5; ++i) {
    auto t = tls.exec("SELECT " + std::to_string(i) + " + 1");
    ASSERT_TRUE(t.ok) << t.error;
    EXPECT_EQ(t.scalar(), std::to_string(i + 1));
    auto p = plain.exec("SELECT " + std::to_string(i));
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_EQ(p.scalar(), std::to_string(i));
  }
  const std::string big = "SELECT length('" + std::string(200000, 'x') + "')";
  for (SqlConnection* c : {&tls, &plain}) {
    auto r = c->exec(big);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.scalar(), "200000");
  }
  EXPECT_EQ(tls.exec("SHOW application_name").scalar(), "idle_tls");
}

TEST_F(TransactionPoolTest, ErrorsRollbacksAndListen) {
  SqlConnection c(rw());
  ASSERT_TRUE(c.ok()) << c.error();
  ASSERT_TRUE(c.exec("BEGIN").ok);
  auto failed = c.exec("SELECT 1/0");
  EXPECT_FALSE(failed.ok);
  auto aborted = c.exec("SELECT 1");
  EXPECT_FALSE(aborted.ok);
  EXPECT_NE(aborted.error.find("current transaction is aborted"), std::string::npos)
      << aborted.error;
  ASSERT_TRUE(c.exec("ROLLBACK").ok);
  EXPECT_EQ(c.exec("SELECT 42").scalar(), "42");

  auto listen = c.exec("LISTEN some_channel");
  EXPECT_FALSE(listen.ok);
  EXPECT_NE(listen.error.find("LISTEN is not supported in transaction pooling mode"),
            std::string::npos)
      << listen.error;
  EXPECT_EQ(c.exec("SELECT 43").scalar(), "43") << "the client stays usable after LISTEN";
  // Inside a transaction block the refusal aborts the transaction, as an error there does.
  ASSERT_TRUE(c.exec("BEGIN").ok);
  EXPECT_FALSE(c.exec("LISTEN some_channel").ok);
  EXPECT_FALSE(c.exec("SELECT 1").ok);
  ASSERT_TRUE(c.exec("ROLLBACK").ok);
  EXPECT_EQ(c.exec("SELECT 44").scalar(), "44");
}

TEST_F(TransactionPoolTest, CopyInBothDirectionsAndStatementCommands) {
  ASSERT_TRUE(
      execSql(rw(), "DROP TABLE IF EXISTS tx_copy; CREATE TABLE tx_copy (id int, t text)").ok);
  // COPY FROM STDIN with data through psql's \copy, then COPY TO STDOUT.
  auto copied_in = run({"psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                        std::to_string(rwPort()), "-U", "postgres", "-c",
                        "\\copy tx_copy (id) from program 'seq 1 1000'", "postgres"});
  ASSERT_TRUE(copied_in) << copied_in.message();
  EXPECT_EQ(copied_in->exit_code, 0) << copied_in->output;
  auto copied_out = psql("COPY (SELECT sum(id) FROM tx_copy) TO STDOUT");
  ASSERT_TRUE(copied_out) << copied_out.message();
  EXPECT_EQ(copied_out->output, "500500\n");

  // SQL-level PREPARE lives on one server connection; DEALLOCATE ALL and DISCARD ALL work.
  SqlConnection c(rw());
  ASSERT_TRUE(c.ok()) << c.error();
  ASSERT_TRUE(c.exec("BEGIN").ok);
  ASSERT_TRUE(c.exec("PREPARE p1 AS SELECT 7").ok);
  EXPECT_EQ(c.exec("EXECUTE p1").scalar(), "7");
  ASSERT_TRUE(c.exec("DEALLOCATE p1").ok);
  ASSERT_TRUE(c.exec("COMMIT").ok);
  EXPECT_TRUE(c.exec("DEALLOCATE ALL").ok);
  EXPECT_TRUE(c.exec("DISCARD ALL").ok);
  EXPECT_EQ(c.exec("SELECT 8").scalar(), "8");
}

// Real drivers, each with concurrent workers that mix named prepared statements, transactions,
// errors inside transactions and SET of a tracked parameter (tests/compat/README.md).
TEST_F(TransactionPoolTest, CompatPsycopg3WithEveryStatementPrepared) {
  runCompat("psycopg");
}

TEST_F(TransactionPoolTest, CompatAsyncpgWithItsStatementCache) {
  runCompat("asyncpg");
}

TEST_F(TransactionPoolTest, CompatPgJdbcWithPrepareThresholdOne) {
  runCompat("jdbc");
}

TEST_F(TransactionPoolTest, CompatNodePostgresWithNamedStatements) {
  ASSERT_TRUE(std::filesystem::exists(std::string(KEEL_COMPAT_DIR) + "/node_modules/pg"))
      << "npm package pg is missing from " << KEEL_COMPAT_DIR
      << "/node_modules: run `make deps` (scripts/install-deps.sh installs it)";
  runCompat("node-postgres");
}

// The drivers' named statements really were prepared on shared connections: Keel had to prepare
// statements on connections that lacked them, and it reports so.
TEST_F(TransactionPoolTest, CompatDriversNeededStatementsPreparedAgain) {
  auto metrics = cluster_->api("n1", "GET", "/metrics");
  ASSERT_TRUE(metrics) << metrics.message();
  auto total = [&](const std::string& family) {
    double sum = 0;
    std::istringstream in(metrics->body);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(family + "{", 0) == 0) {
        sum += std::stod(line.substr(line.rfind(' ') + 1));
      }
    }
    return sum;
  };
  EXPECT_GT(total("keel_proxy_server_parses_total"), 0) << metrics->body;
  EXPECT_GT(total("keel_proxy_injected_parses_total"), 0) << metrics->body;
}

// max_client_conn counts clients, not server connections: transaction pooling lets 40 clients
// share two server connections, and the 41st is refused with an error that names the setting.
TEST_F(TransactionPoolTest, MaxClientConnIsEnforcedWithAClearError) {
  std::vector<std::unique_ptr<SqlConnection>> held;
  std::string refusal;
  for (int i = 0; i < kMaxClients + 5 && refusal.empty(); ++i) {
    auto c = std::make_unique<SqlConnection>(rw());
    if (!c->ok()) {
      refusal = c->error();
      break;
    }
    ASSERT_TRUE(c->exec("SELECT 1").ok);
    held.push_back(std::move(c));
  }
  EXPECT_GT(held.size(), static_cast<std::size_t>(kMaxClients) - 5) << refusal;
  EXPECT_LE(held.size(), static_cast<std::size_t>(kMaxClients));
  EXPECT_NE(refusal.find("no more connections allowed (proxy.max_client_conn = " +
                         std::to_string(kMaxClients) + ")"),
            std::string::npos)
      << refusal;
  // The clients already in keep working, and a place freed is taken again.
  EXPECT_EQ(held.front()->exec("SELECT 2").scalar(), "2");
  held.pop_back();
  ASSERT_TRUE(waitFor([&] { return execSql(rw(), "SELECT 3").scalar() == "3"; }, 10s));
}

// A client between transactions holds no server connection; the admin console's KILL still ends
// it at once, with 57P01 and KILL's reason.
TEST_F(TransactionPoolTest, AdminKillEndsClientsBetweenTransactions) {
  SqlConnection console("host=127.0.0.1 port=" + std::to_string(rwPort()) +
                        " dbname=pgbouncer user=postgres sslmode=disable connect_timeout=5 "
                        "password=" +
                        KeelCluster::kSuperuserPassword);
  ASSERT_TRUE(console.ok()) << console.error();
  SqlConnection client(rw());
  ASSERT_TRUE(client.ok()) << client.error();
  ASSERT_TRUE(client.exec("SELECT 1").ok);
  ASSERT_TRUE(console.exec("KILL postgres").ok);
  auto killed = client.exec("SELECT 1");
  EXPECT_FALSE(killed.ok);
  EXPECT_NE(killed.error.find("terminating connection"), std::string::npos) << killed.error;
  EXPECT_EQ(execSql(rw(), "SELECT 2").scalar(), "2") << "new clients get in after KILL";
}

// Runs last: it moves the leader. Every proxy stops lending read-write server connections for
// new transactions, the transactions in flight finish on the old leader, and the waiting ones run
// on the new leader: no client sees an error, and the client between transactions keeps its
// settings.
TEST_F(TransactionPoolTest, SwitchoverWithoutClientErrors) {
  ASSERT_TRUE(execSql(rw(), "DROP TABLE IF EXISTS tx_sw; CREATE TABLE tx_sw (id int)").ok);
  SqlConnection idle(rw());
  ASSERT_TRUE(idle.ok()) << idle.error();
  ASSERT_TRUE(idle.exec("SET DateStyle = 'German, DMY'").ok);
  ASSERT_TRUE(idle.exec("INSERT INTO tx_sw VALUES (1)").ok);
  SqlConnection in_tx(rw());
  ASSERT_TRUE(in_tx.ok()) << in_tx.error();
  ASSERT_TRUE(in_tx.exec("BEGIN").ok);
  ASSERT_TRUE(in_tx.exec("INSERT INTO tx_sw VALUES (2)").ok);

  const std::string old_leader = cluster_->leader();
  ASSERT_FALSE(old_leader.empty());
  const std::string candidate = old_leader == "n1" ? "n2" : "n1";
  std::string why;
  ASSERT_TRUE(cluster_->waitHealthy(60s, &why)) << why;

  // pgbench -M prepared keeps four clients in transactions across the switchover (the tables
  // are the ones the first test created).
  Result<CommandOutput, ProcessErrc> bench;  // a failure until pgbench ran
  std::thread load([&] {
    bench = run({"pgbench", "-h", "127.0.0.1", "-p", std::to_string(rwPort()), "-U", "postgres",
                 "-M", "prepared", "-c", "4", "-j", "4", "-T", "12", "-n", "postgres"});
  });
  std::this_thread::sleep_for(3s);
  // The open transaction commits while the switchover is under way.
  SqlResult committed;
  std::thread committer([&] {
    std::this_thread::sleep_for(500ms);
    committed = in_tx.exec("COMMIT");
  });
  auto r = cluster_->api(old_leader, "POST", "/switchover",
                         {{"leader", old_leader}, {"candidate", candidate}}, 90s);
  committer.join();
  load.join();
  ASSERT_TRUE(r) << r.message();
  ASSERT_EQ(r->status, 200) << r->body;
  ASSERT_TRUE(waitFor([&] { return cluster_->leader() == candidate; }, 30s))
      << "leader is " << cluster_->leader();

  EXPECT_TRUE(committed.ok) << committed.error;
  ASSERT_TRUE(bench) << bench.message();
  EXPECT_EQ(bench->exit_code, 0) << bench->output;
  EXPECT_NE(bench->output.find("number of failed transactions: 0 "), std::string::npos)
      << bench->output;

  // The client that was between transactions: no error, its write goes to the new leader, and
  // its settings came along.
  auto write = idle.exec("INSERT INTO tx_sw VALUES (3)");
  EXPECT_TRUE(write.ok) << write.error;
  EXPECT_EQ(idle.exec("SHOW DateStyle").scalar(), "German, DMY");
  EXPECT_EQ(idle.exec("SELECT pg_is_in_recovery()").scalar(), "f");
  EXPECT_EQ(idle.exec("SELECT string_agg(id::text, ',' ORDER BY id) FROM tx_sw").scalar(), "1,2,3");

  // The pause is reported in the history entry and in the proxy's metrics.
  auto history = cluster_->api(candidate, "GET", "/history");
  ASSERT_TRUE(history) << history.message();
  auto entries = nlohmann::json::parse(history->body, nullptr, false);
  ASSERT_TRUE(entries.is_array() && !entries.empty()) << history->body;
  EXPECT_NE(entries.back().dump().find("clients paused"), std::string::npos) << history->body;
  auto metrics = cluster_->api("n1", "GET", "/metrics");
  ASSERT_TRUE(metrics) << metrics.message();
  EXPECT_NE(metrics->body.find("keel_proxy_switchover_pauses_total 1"), std::string::npos)
      << metrics->body;
  std::cout << "[ info     ] " << entries.back().dump() << "\n";
}

// Runs after the first switchover and moves the leader again: the four drivers' workloads
// (prepared statements, transactions, errors inside transactions, SET of a tracked parameter)
// run across a switchover, and not one of their operations fails.
TEST_F(TransactionPoolTest, CompatDriversAcrossSwitchover) {
  ASSERT_TRUE(execSql(rw(),
                      "CREATE TABLE IF NOT EXISTS compat_rows (driver text, worker int, "
                      "i int); TRUNCATE compat_rows")
                  .ok);
  std::string why;
  ASSERT_TRUE(cluster_->waitHealthy(60s, &why)) << why;
  const std::string old_leader = cluster_->leader();
  ASSERT_FALSE(old_leader.empty());
  const std::string candidate = old_leader == "n3" ? "n2" : "n3";

  // Each workload runs 14 s; the switchover comes 6 s in (the JVM compiles Compat.java first).
  auto drivers = compatDrivers();
  std::vector<Result<CommandOutput, ProcessErrc>> outs(drivers.size());
  std::vector<std::thread> workers;
  for (std::size_t i = 0; i < drivers.size(); ++i) {
    workers.emplace_back([&, i] { outs[i] = compatRun(drivers[i].second, 14); });
  }
  std::this_thread::sleep_for(6s);
  auto r = cluster_->api(old_leader, "POST", "/switchover",
                         {{"leader", old_leader}, {"candidate", candidate}}, 90s);
  for (auto& w : workers) {
    w.join();
  }
  ASSERT_TRUE(r) << r.message();
  ASSERT_EQ(r->status, 200) << r->body;
  ASSERT_TRUE(waitFor([&] { return cluster_->leader() == candidate; }, 30s))
      << "leader is " << cluster_->leader();
  for (std::size_t i = 0; i < drivers.size(); ++i) {
    expectCompatPassed(drivers[i].first, outs[i]);
  }
  auto metrics = cluster_->api("n1", "GET", "/metrics");
  ASSERT_TRUE(metrics) << metrics.message();
  EXPECT_NE(metrics->body.find("keel_proxy_switchover_pauses_total 2"), std::string::npos)
      << metrics->body;
}

}  // namespace
}  // namespace keel::hatest
