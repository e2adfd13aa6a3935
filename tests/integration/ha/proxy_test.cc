// The proxy of every agent against the shared three-member cluster: routing of the RW and RO
// ports, TLS, authentication, cancel, pool exhaustion, lag-based RO routing and failover.

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <fstream>
#include <future>
#include <thread>

#include "common/child_process.h"
#include "integration/ha/ha_test_fixture.h"
#include "integration/ha/sql_client.h"
#include "pgwire/frame_decoder.h"
#include "pgwire/message_builder.h"
#include "pgwire/scram_client.h"

namespace keel::hatest {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace asio = boost::asio;

std::string serverPortThrough(const std::string& conninfo) {
  return execSql(conninfo, "SELECT inet_server_port()").scalar();
}

// A minimal protocol-level client, to see SQLSTATEs and cancel keys that libpq keeps to itself.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port) : socket_(io_) {
    asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
    socket_.connect(ep);
  }

  struct Outcome {
    bool ok = false;
    std::string sqlstate;
    std::string message;
  };

  // StartupMessage and SCRAM with `password`; ok once ReadyForQuery arrives.
  Outcome login(const std::string& user, const std::string& password) {
    std::string out;
    pgwire::StartupMessage startup;
    startup.parameters = {{"user", user}, {"database", "postgres"}};
    pgwire::encode(out, startup);
    send(out);
    auto client = pgwire::ScramClient::withPassword(password);
    while (true) {
      auto f = frame();
      if (!f) {
        return {false, "", "connection closed"};
      }
      if (f->type == 'E') {
        auto e = pgwire::parseErrorResponse(f->payload);
        return {false, std::string(e->sqlstate()), std::string(e->message())};
      }
      if (f->type == 'K') {
        key_ = *pgwire::parseBackendKeyData(f->payload);
      }
      if (f->type == 'Z') {
        return {true, "", ""};
      }
      if (f->type != 'R') {
        continue;
      }
      auto auth = pgwire::parseAuthentication(f->payload);
      std::string reply;
      if (auth->request == pgwire::AuthRequest::sasl) {
        auto first = client.clientFirstMessage();
        pgwire::encode(reply,
                       pgwire::SaslInitialResponse{"SCRAM-SHA-256", std::string_view(*first)});
      } else if (auth->request == pgwire::AuthRequest::sasl_continue) {
        std::string data(auth->data);
        if (!client.handleServerFirst(data)) {
          return {false, "", "bad server-first"};
        }
        auto keys = pgwire::deriveScramKeys(client.pendingDerivation()->password,
                                            client.pendingDerivation()->salt,
                                            client.pendingDerivation()->iterations);
        client.provideKeys(*keys);
        auto final_message = client.clientFinalMessage();
        pgwire::encode(reply, pgwire::SaslResponse{std::string_view(*final_message)});
      }
      if (!reply.empty()) {
        send(reply);
      }
    }
  }

  void query(const std::string& sql) {
    std::string out;
    pgwire::encode(out, pgwire::Query{sql});
    send(out);
  }
  // Reads up to ReadyForQuery; the error, if any.
  Outcome result() {
    Outcome o{true, "", ""};
    while (auto f = frame()) {
      if (f->type == 'E') {
        auto e = pgwire::parseErrorResponse(f->payload);
        o = {false, std::string(e->sqlstate()), std::string(e->message())};
      }
      if (f->type == 'Z') {
        return o;
      }
    }
    return {false, "", "connection closed"};
  }
  pgwire::BackendKeyData key() const { return key_; }

 private:
  void send(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }
  std::optional<pgwire::Frame> frame() {
    while (true) {
      auto next = decoder_.next();
      if (!next) {
        return std::nullopt;
      }
      if (*next) {
        return **next;
      }
      auto space = decoder_.prepare(4096);
      boost::system::error_code ec;
      std::size_t n = socket_.read_some(asio::buffer(space.data(), space.size()), ec);
      if (ec) {
        return std::nullopt;
      }
      decoder_.commit(n);
    }
  }

  asio::io_context io_;
  asio::ip::tcp::socket socket_;
  pgwire::FrameDecoder decoder_{pgwire::Source::backend};
  pgwire::BackendKeyData key_;
};

void sendCancel(std::uint16_t port, pgwire::BackendKeyData key) {
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  std::string out;
  pgwire::encode(out, pgwire::CancelRequest{key.process_id, key.secret_key});
  asio::write(s, asio::buffer(out));
  char byte;
  boost::system::error_code ec;
  s.read_some(asio::buffer(&byte, 1), ec);  // the proxy closes once it has forwarded it
}

TEST_F(HaClusterTest, ProxyRoutesWritesToTheLeaderAndReadsToReplicas) {
  std::string leader = cluster().leader();
  ASSERT_FALSE(leader.empty());
  const auto leader_port = std::to_string(cluster().node(leader).pg_port);
  for (const auto& name : cluster().names()) {
    SCOPED_TRACE("through " + name + "'s proxy");
    EXPECT_EQ(serverPortThrough(cluster().proxyConninfo(name, false)), leader_port);
    // Right after a clone the published positions can show a replica a WAL segment behind for
    // a moment, and RO clients then fall back to the leader.
    SqlResult ro;
    EXPECT_TRUE(waitFor(
        [&] {
          ro = execSql(cluster().proxyConninfo(name, true), "SELECT pg_is_in_recovery()");
          return ro.ok && ro.scalar() == "t";
        },
        10s))
        << ro.error << ro.scalar();
  }
  auto w = execSql(cluster().proxyConninfo(someReplica(leader), false),
                   "CREATE TABLE IF NOT EXISTS proxy_t (id int); INSERT INTO proxy_t VALUES (1)");
  EXPECT_TRUE(w.ok) << w.error;

  // psql and pgbench, as users run them.
  const auto& n = cluster().node(leader);
  std::map<std::string, std::string> env{{"PGPASSWORD", KeelCluster::kSuperuserPassword}};
  auto psql =
      runCommand({.argv = {"psql", "-h", "127.0.0.1", "-p", std::to_string(n.proxy_ro), "-U",
                           "postgres", "-Atc", "SELECT pg_is_in_recovery()", "postgres"},
                  .env_overrides = env},
                 30s);
  ASSERT_TRUE(psql) << psql.message();
  EXPECT_EQ(psql->output, "t\n");
  auto init = runCommand({.argv = {"pgbench", "-h", "127.0.0.1", "-p", std::to_string(n.proxy_rw),
                                   "-U", "postgres", "-i", "-s", "1", "-q", "postgres"},
                          .env_overrides = env},
                         120s);
  ASSERT_TRUE(init) << init.message();
  for (auto port : {n.proxy_rw, n.proxy_ro}) {
    for (const char* mode : {"simple", "extended", "prepared"}) {
      SCOPED_TRACE(std::string("pgbench -S -M ") + mode + " on port " + std::to_string(port));
      auto run = runCommand(
          {.argv = {"pgbench", "-h", "127.0.0.1", "-p", std::to_string(port), "-U", "postgres",
                    "-S", "-M", mode, "-c", std::to_string(KeelCluster::kProxyPoolSize - 1), "-j",
                    "2", "-T", "2", "-n", "postgres"},
           .env_overrides = env},
          60s);
      ASSERT_TRUE(run) << run.message();
      EXPECT_NE(run->output.find("number of failed transactions: 0 "), std::string::npos)
          << run->output;
    }
  }
}

TEST_F(HaClusterTest, ProxyTlsAndAuthentication) {
  std::string leader = cluster().leader();
  ASSERT_FALSE(leader.empty());
  const std::string ca = cluster().tlsDir() + "/ca.crt";
  auto require = execSql(cluster().proxyConninfo(leader, false, "sslmode=require"), "SELECT 1");
  EXPECT_TRUE(require.ok) << require.error;
  auto full = execSql(
      cluster().proxyConninfo(leader, false, "sslmode=verify-full sslrootcert=" + ca), "SELECT 1");
  EXPECT_TRUE(full.ok) << full.error;
  auto wrong_host = execSql(cluster().proxyConninfo(leader, false,
                                                    "host=wrong.example hostaddr=127.0.0.1 "
                                                    "sslmode=verify-full sslrootcert=" +
                                                        ca),
                            "SELECT 1");
  EXPECT_FALSE(wrong_host.ok);

  // Client certificates: the proxy checks the CN, then logs in with the userlist password.
  std::string role = KeelCluster::kCertUser;
  auto made =
      cluster().exec(leader, "DROP ROLE IF EXISTS " + role + "; CREATE ROLE " + role +
                                 " LOGIN PASSWORD '" + KeelCluster::kCertUserPassword + "'");
  ASSERT_TRUE(made.ok) << made.error;
  std::string cert_conn = "host=127.0.0.1 port=" + std::to_string(cluster().node(leader).proxy_rw) +
                          " dbname=postgres user=" + role + " connect_timeout=5 sslmode=require" +
                          " sslcert=" + cluster().tlsDir() + "/" + role +
                          ".crt sslkey=" + cluster().tlsDir() + "/" + role + ".key";
  auto by_cert = execSql(cert_conn, "SELECT current_user");
  ASSERT_TRUE(by_cert.ok) << by_cert.error;
  EXPECT_EQ(by_cert.scalar(), role);
  auto no_cert = execSql("host=127.0.0.1 port=" + std::to_string(cluster().node(leader).proxy_rw) +
                             " dbname=postgres user=" + role + " sslmode=require password=x",
                         "SELECT 1");
  EXPECT_FALSE(no_cert.ok);
  EXPECT_NE(no_cert.error.find("certificate authentication failed"), std::string::npos)
      << no_cert.error;

  // A wrong password and an unknown user look the same: PostgreSQL's message and 28P01.
  for (const std::string user : {"postgres", "nobody"}) {
    RawClient raw(cluster().node(leader).proxy_rw);
    auto outcome = raw.login(user, "wrong-password");
    EXPECT_FALSE(outcome.ok);
    EXPECT_EQ(outcome.sqlstate, "28P01");
    EXPECT_EQ(outcome.message, "password authentication failed for user \"" + user + "\"");
  }
}

// A user missing from the userlist is looked up on the leader with auth_query (as auth_user),
// and the proxy then logs in to PostgreSQL with the keys from the client's own SCRAM proof.
TEST_F(HaClusterTest, ProxyLooksUpUnknownUsersWithAuthQuery) {
  std::string leader = cluster().leader();
  ASSERT_FALSE(leader.empty());
  auto made = cluster().exec(leader,
                             "DROP ROLE IF EXISTS aq_user; CREATE ROLE aq_user LOGIN PASSWORD "
                             "'aq-pass'");
  ASSERT_TRUE(made.ok) << made.error;
  std::string base = "host=127.0.0.1 port=" + std::to_string(cluster().node(leader).proxy_rw) +
                     " dbname=postgres user=aq_user connect_timeout=5 sslmode=disable";
  auto ok = execSql(base + " password=aq-pass", "SELECT current_user");
  ASSERT_TRUE(ok.ok) << ok.error;
  EXPECT_EQ(ok.scalar(), "aq_user");
  RawClient wrong(cluster().node(leader).proxy_rw);
  auto refused = wrong.login("aq_user", "not-the-password");
  EXPECT_FALSE(refused.ok);
  EXPECT_EQ(refused.sqlstate, "28P01");
  EXPECT_EQ(refused.message, "password authentication failed for user \"aq_user\"");
}

// The PgBouncer-compatible admin console on the RW port.
TEST_F(HaClusterTest, ProxyAdminConsole) {
  std::string leader = cluster().leader();
  ASSERT_FALSE(leader.empty());
  const auto& n = cluster().node(leader);
  std::string admin =
      "host=127.0.0.1 port=" + std::to_string(n.proxy_rw) +
      " dbname=pgbouncer user=postgres sslmode=disable connect_timeout=5 password=" +
      KeelCluster::kSuperuserPassword;
  SqlConnection console(admin);
  ASSERT_TRUE(console.ok()) << console.error();
  SqlConnection client(cluster().proxyConninfo(leader, false));
  ASSERT_TRUE(client.ok()) << client.error();
  ASSERT_TRUE(client.exec("SELECT 1").ok);

  auto version = console.exec("SHOW VERSION");
  ASSERT_TRUE(version.ok) << version.error;
  EXPECT_NE(version.scalar().find("Keel"), std::string::npos) << version.scalar();
  auto pools = console.exec("SHOW POOLS");
  ASSERT_TRUE(pools.ok) << pools.error;
  bool found = false;
  for (const auto& row : pools.rows) {
    found = found || (row.size() > 2 && row[0] == "postgres" && row[1] == "postgres");
  }
  EXPECT_TRUE(found) << "no pool for postgres/postgres in SHOW POOLS";
  for (const char* show :
       {"SHOW CLIENTS", "SHOW SERVERS", "SHOW STATS", "SHOW DATABASES", "SHOW CONFIG"}) {
    auto r = console.exec(show);
    EXPECT_TRUE(r.ok) << show << ": " << r.error;
    EXPECT_FALSE(r.rows.empty()) << show;
  }
  auto bad = console.exec("SHOW NONSENSE");
  EXPECT_FALSE(bad.ok);
  EXPECT_TRUE(console.exec("RELOAD").ok);
  EXPECT_TRUE(console.exec("RECONNECT").ok);

  // KILL ends the client sessions of a database with 57P01.
  ASSERT_TRUE(console.exec("KILL postgres").ok);
  auto killed = client.exec("SELECT 1");
  EXPECT_FALSE(killed.ok);
  EXPECT_NE(killed.error.find("terminating connection"), std::string::npos) << killed.error;

  // PAUSE holds new clients until RESUME.
  ASSERT_TRUE(console.exec("PAUSE").ok);
  auto held = std::async(std::launch::async, [&] {
    return execSql(cluster().proxyConninfo(leader, false), "SELECT 7");
  });
  EXPECT_EQ(held.wait_for(1s), std::future_status::timeout) << "a client got through a PAUSE";
  ASSERT_TRUE(console.exec("RESUME").ok);
  auto r = held.get();
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.scalar(), "7");

  // Only admin_users and stats_users may connect.
  auto made = cluster().exec(leader, "DROP ROLE IF EXISTS outsider; CREATE ROLE outsider LOGIN");
  ASSERT_TRUE(made.ok);
  {
    std::ofstream users(cluster().userlistPath(), std::ios::app);
    users << "\"outsider\" \"outsider-pass\"\n";
  }
  ASSERT_TRUE(console.exec("RELOAD").ok);
  auto outsider = execSql("host=127.0.0.1 port=" + std::to_string(n.proxy_rw) +
                              " dbname=pgbouncer user=outsider password=outsider-pass "
                              "sslmode=disable",
                          "SHOW POOLS");
  EXPECT_FALSE(outsider.ok);
  EXPECT_NE(outsider.error.find("admin_users"), std::string::npos) << outsider.error;
}

TEST_F(HaClusterTest, ProxyForwardsCancelRequestsAcrossAgents) {
  std::string leader = cluster().leader();
  ASSERT_FALSE(leader.empty());
  std::string other = someReplica(leader);
  // libpq's own cancel, through the same proxy.
  {
    SqlConnection conn(cluster().proxyConninfo(leader, false));
    ASSERT_TRUE(conn.ok()) << conn.error();
    auto start = std::chrono::steady_clock::now();
    auto sleeping =
        std::async(std::launch::async, [&] { return conn.exec("SELECT pg_sleep(30)"); });
    std::this_thread::sleep_for(500ms);
    ASSERT_TRUE(conn.cancel());
    auto r = sleeping.get();
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("canceling statement due to user request"), std::string::npos)
        << r.error;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
  }
  // A cancel sent to another agent's proxy reaches the backend through the agent that issued
  // the key.
  RawClient raw(cluster().node(leader).proxy_rw);
  ASSERT_TRUE(raw.login("postgres", KeelCluster::kSuperuserPassword).ok);
  raw.query("SELECT pg_sleep(30)");
  std::this_thread::sleep_for(500ms);
  sendCancel(cluster().node(other).proxy_rw, raw.key());
  auto outcome = raw.result();
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.sqlstate, "57014") << outcome.message;
}

TEST_F(HaClusterTest, ProxyPoolExhaustionQueuesThenTimesOut) {
  std::string leader = cluster().leader();
  ASSERT_FALSE(leader.empty());
  const std::string conninfo = cluster().proxyConninfo(leader, false);
  std::vector<std::unique_ptr<SqlConnection>> held;
  for (int i = 0; i < KeelCluster::kProxyPoolSize; ++i) {
    held.push_back(std::make_unique<SqlConnection>(conninfo));
    ASSERT_TRUE(held.back()->ok()) << held.back()->error();
  }
  // One more queues for query_wait_timeout (3 s), then gets the error.
  auto start = std::chrono::steady_clock::now();
  auto refused = execSql(conninfo, "SELECT 1");
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(refused.ok);
  EXPECT_NE(refused.error.find("became free within 3000 ms"), std::string::npos) << refused.error;
  EXPECT_GE(waited, 2s) << "the client should have queued before being refused";

  // A queued client gets the connection another client gives back.
  auto queued = std::async(std::launch::async, [&] { return execSql(conninfo, "SELECT 42"); });
  std::this_thread::sleep_for(1s);
  held.pop_back();
  auto r = queued.get();
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.scalar(), "42");
}

TEST_F(HaClusterTest, ProxyDropsAReplicaWhoseReplayFallsBehind) {
  std::string leader = cluster().leader();
  ASSERT_FALSE(leader.empty());
  std::string paused = someReplica(leader);
  std::string other = someReplica(leader, paused);
  ASSERT_TRUE(cluster().exec(paused, "SELECT pg_wal_replay_pause()").ok);
  auto resume = [&] { cluster().exec(paused, "SELECT pg_wal_replay_resume()"); };
  const std::string ro = cluster().proxyConninfo(leader, true);
  const std::string paused_port = std::to_string(cluster().node(paused).pg_port);
  // Keep WAL coming so the paused replica's replay delay grows past max_lag_time (1 s).
  bool dropped = waitFor(
      [&] {
        cluster().exec(leader, "INSERT INTO proxy_t VALUES (2)");
        for (int i = 0; i < 4; ++i) {
          if (serverPortThrough(ro) == paused_port) {
            return false;
          }
        }
        return true;
      },
      20s, 300ms);
  std::string other_port = std::to_string(cluster().node(other).pg_port);
  std::string seen = serverPortThrough(ro);
  resume();
  EXPECT_TRUE(dropped) << "RO connections still reach the paused replica " << paused;
  EXPECT_EQ(seen, other_port);
  // Once replay resumes it qualifies again.
  EXPECT_TRUE(waitFor(
      [&] {
        cluster().exec(leader, "INSERT INTO proxy_t VALUES (3)");
        std::vector<std::unique_ptr<SqlConnection>> hold;
        for (int i = 0; i < 3; ++i) {
          hold.push_back(std::make_unique<SqlConnection>(ro));
          auto port = hold.back()->exec("SELECT inet_server_port()").scalar();
          if (port == paused_port) {
            return true;
          }
        }
        return false;
      },
      20s, 300ms));
}

TEST_F(HaClusterTest, ProxyFollowsAFailoverWithoutHangingClients) {
  std::string leader = cluster().leader();
  ASSERT_FALSE(leader.empty());
  std::string via = someReplica(leader);
  const std::string rw = cluster().proxyConninfo(via, false, "connect_timeout=30");
  SqlConnection open(rw);
  ASSERT_TRUE(open.ok()) << open.error();
  ASSERT_TRUE(open.exec("SELECT 1").ok);

  ASSERT_TRUE(cluster().killAgent(leader, SIGKILL));
  cluster().killPostmaster(leader, SIGKILL);
  leftDown() = "";
  auto start = std::chrono::steady_clock::now();
  // The open session fails promptly instead of hanging on the dead primary (whose orphaned
  // backend may answer for a moment before it notices the postmaster is gone).
  std::this_thread::sleep_for(500ms);
  auto stale = open.exec("SELECT 1");
  EXPECT_FALSE(stale.ok);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);

  // A new client is held until the new leader is writable, then lands on it.
  auto fresh = execSql(rw, "SELECT inet_server_port(), pg_is_in_recovery()");
  ASSERT_TRUE(fresh.ok) << fresh.error << "\n" << cluster().logTails(20);
  EXPECT_NE(fresh.scalar(), std::to_string(cluster().node(leader).pg_port));
  ASSERT_EQ(fresh.rows.size(), 1u);
  EXPECT_EQ(fresh.rows[0][1].value_or(""), "f");
  auto write = execSql(rw, "INSERT INTO proxy_t VALUES (4)");
  EXPECT_TRUE(write.ok) << write.error;
}

}  // namespace
}  // namespace keel::hatest
