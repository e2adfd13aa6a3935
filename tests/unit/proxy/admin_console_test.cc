#include "proxy/admin_console.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pgwire/backend_messages.h"
#include "pgwire/frame_decoder.h"
#include "proxy/admin_commands.h"

namespace keel::proxy {
namespace {

using std::chrono::microseconds;
using std::chrono::seconds;

// ---- parsing ----

AdminCommand parsed(std::string_view sql) {
  auto c = parseAdminCommand(sql);
  EXPECT_TRUE(c.ok()) << sql << ": " << (c.ok() ? "" : c.message());
  return c.ok() ? *c : AdminCommand{};
}

TEST(AdminCommandTest, ShowInAnyCaseWithOrWithoutSemicolon) {
  for (const char* sql : {"SHOW POOLS", "show pools;", "  Show\tPools ;  ", "SHOW POOLS;;"}) {
    auto c = parsed(sql);
    EXPECT_EQ(c.verb, AdminVerb::show) << sql;
    EXPECT_EQ(c.argument, "POOLS") << sql;
  }
  for (const char* subject : {"clients", "SERVERS", "stats", "stats_totals", "stats_averages",
                              "databases", "config", "state", "lists", "version", "help"}) {
    EXPECT_EQ(parsed(std::string("show ") + subject).verb, AdminVerb::show) << subject;
  }
}

TEST(AdminCommandTest, ControlCommandsTakeAnOptionalDatabase) {
  EXPECT_EQ(parsed("PAUSE").verb, AdminVerb::pause);
  EXPECT_EQ(parsed("PAUSE").argument, "");
  EXPECT_EQ(parsed("pause app;").argument, "app");
  EXPECT_EQ(parsed("RESUME app").verb, AdminVerb::resume);
  EXPECT_EQ(parsed("reconnect").verb, AdminVerb::reconnect);
  auto kill = parsed("KILL \"My \"\"DB\"\"\"");
  EXPECT_EQ(kill.verb, AdminVerb::kill);
  EXPECT_EQ(kill.argument, "My \"DB\"");
  EXPECT_EQ(parsed("kill_client 42").verb, AdminVerb::kill_client);
  EXPECT_EQ(parsed("kill_client 42").argument, "42");
  EXPECT_EQ(parsed("reload;").verb, AdminVerb::reload);
}

TEST(AdminCommandTest, EmptyStatement) {
  EXPECT_EQ(parsed("").verb, AdminVerb::empty);
  EXPECT_EQ(parsed(" ; ").verb, AdminVerb::empty);
}

TEST(AdminCommandTest, RefusalsListTheSupportedCommands) {
  for (const char* sql : {"SELECT 1", "SHOW", "SHOW FDS", "SHOW POOLS now", "PAUSE a b",
                          "RELOAD now", "SET log_connections = 1"}) {
    auto c = parseAdminCommand(sql);
    ASSERT_FALSE(c.ok()) << sql;
    EXPECT_EQ(c.code(), AdminErrc::syntax);
    EXPECT_NE(c.message().find("SHOW POOLS|CLIENTS"), std::string::npos) << c.message();
    EXPECT_NE(c.message().find("RELOAD"), std::string::npos) << c.message();
  }
  for (const char* sql : {"KILL_CLIENT", "KILL_CLIENT x1", "KILL_CLIENT 99999999999999999999",
                          "PAUSE \"unterminated", "PAUSE \"\""}) {
    EXPECT_FALSE(parseAdminCommand(sql).ok()) << sql;
  }
}

TEST(AdminCommandTest, StatsUsersRunOnlyShow) {
  EXPECT_TRUE(readOnly(parsed("SHOW POOLS")));
  EXPECT_TRUE(readOnly(parsed("")));
  for (const char* sql : {"PAUSE", "RESUME", "RECONNECT", "KILL", "KILL_CLIENT 1", "RELOAD"}) {
    EXPECT_FALSE(readOnly(parsed(sql))) << sql;
  }
}

TEST(AdminConsoleTest, AdminDatabases) {
  EXPECT_TRUE(isAdminDatabase("pgbouncer"));
  EXPECT_TRUE(isAdminDatabase("keel"));
  EXPECT_FALSE(isAdminDatabase("postgres"));
  EXPECT_FALSE(isAdminDatabase("PGBOUNCER"));
}

// ---- SHOW rows ----

const auto kSteadyNow = std::chrono::steady_clock::time_point{} + std::chrono::hours(10);
constexpr double kEpochNow = 1'700'000'000.0;  // 2023-11-14 22:13:20 UTC

ClientSnapshot client(std::uint64_t id, std::string db, std::string state,
                      std::string endpoint = "", std::uint64_t server_id = 0) {
  ClientSnapshot c;
  c.id = id;
  c.listener = Listener::rw;
  c.info.user = "alice";
  c.info.database = std::move(db);
  c.info.address = "10.0.0.9";
  c.info.port = 50000;
  c.info.state = std::move(state);
  c.info.server_endpoint = std::move(endpoint);
  c.info.server = c.info.server_endpoint.empty() ? "" : "node1";
  c.info.server_id = server_id;
  c.info.connect_time = kEpochNow - 30;
  c.info.application_name = "psql";
  return c;
}

PoolSnapshot pool(std::string db, std::string server, std::string host, std::uint16_t port) {
  PoolSnapshot p;
  p.key = PoolKey{host + ":" + std::to_string(port), std::move(db), "alice"};
  p.server = std::move(server);
  p.host = std::move(host);
  p.port = port;
  p.max_size = 20;
  return p;
}

// node1 serves "app" with 2 lent, 1 idle, 1 being opened, 3 queued (oldest for 2.5 s); node2
// serves "app" too, and one client of "app" waits for a route.
ProxySnapshot sample() {
  ProxySnapshot s;
  s.steady_now = kSteadyNow;
  s.epoch_now = kEpochNow;
  s.default_pool_size = 20;
  s.listen_rw = HostPort{"127.0.0.1", 6432};
  s.listen_ro = HostPort{"127.0.0.1", 6433};
  PoolSnapshot a = pool("app", "node1", "10.0.0.1", 5432);
  a.lent = 2;
  a.idle = 1;
  a.total = 4;
  a.waiting = 3;
  a.max_wait = microseconds(2'500'000);
  a.retire_before = 11;
  a.idle_servers.push_back(
      ServerPool::IdleServer{12, 4242, kSteadyNow - seconds(60), kSteadyNow - seconds(5)});
  a.counters.queries = 10;
  a.counters.transactions = 8;
  a.counters.bytes_received = 1000;
  a.counters.bytes_sent = 5000;
  a.counters.wait_microseconds = 600;
  a.counters.waits = 3;
  a.counters.query_microseconds = 4000;
  a.counters.latency[1] = 4;  // 4 requests timed
  PoolSnapshot b = pool("app", "node2", "10.0.0.2", 5432);
  b.counters.queries = 5;
  b.counters.transactions = 5;
  b.counters.query_microseconds = 1000;
  b.counters.latency[0] = 1;
  s.pools = {a, b};
  s.clients = {client(1, "app", "active", "10.0.0.1:5432", 10),
               client(2, "app", "active", "10.0.0.1:5432", 13),
               client(3, "app", "waiting"),  // queued in node1's pool
               client(4, "app", "waiting"),
               client(5, "app", "waiting"),
               client(6, "app", "waiting"),  // waiting for a route: no pool has room for it
               client(7, "pgbouncer", "admin")};
  return s;
}

int column(const ResultSet& r, const std::string& name) {
  for (std::size_t i = 0; i < r.columns.size(); ++i) {
    if (r.columns[i].name == name) {
      return static_cast<int>(i);
    }
  }
  ADD_FAILURE() << "no column " << name;
  return 0;
}

std::string cell(const ResultSet& r, std::size_t row, const std::string& name) {
  const auto& v = r.rows.at(row).at(static_cast<std::size_t>(column(r, name)));
  return v ? *v : "NULL";
}

std::vector<std::string> names(const ResultSet& r) {
  std::vector<std::string> out;
  for (const auto& c : r.columns) {
    out.push_back(c.name);
  }
  return out;
}

TEST(AdminShowTest, PoolsHavePgBouncersColumnsThenServer) {
  ResultSet r = showPools(sample());
  EXPECT_EQ(names(r), (std::vector<std::string>{
                          "database", "user", "cl_active", "cl_waiting", "cl_active_cancel_req",
                          "cl_waiting_cancel_req", "sv_active", "sv_active_cancel",
                          "sv_being_canceled", "sv_idle", "sv_used", "sv_tested", "sv_login",
                          "maxwait", "maxwait_us", "pool_mode", "server"}));
  EXPECT_EQ(r.tag, "SHOW");
  ASSERT_EQ(r.rows.size(), 3u);
  // Sorted by server: the route-less row ("") first.
  EXPECT_EQ(cell(r, 0, "server"), "");
  EXPECT_EQ(cell(r, 0, "cl_waiting"), "1");
  EXPECT_EQ(cell(r, 0, "cl_active"), "0");
  EXPECT_EQ(cell(r, 1, "server"), "node1");
  EXPECT_EQ(cell(r, 1, "database"), "app");
  EXPECT_EQ(cell(r, 1, "user"), "alice");
  EXPECT_EQ(cell(r, 1, "cl_active"), "2");
  EXPECT_EQ(cell(r, 1, "cl_waiting"), "3");
  EXPECT_EQ(cell(r, 1, "sv_active"), "2");
  EXPECT_EQ(cell(r, 1, "sv_idle"), "1");
  EXPECT_EQ(cell(r, 1, "sv_login"), "1");
  EXPECT_EQ(cell(r, 1, "maxwait"), "2");
  EXPECT_EQ(cell(r, 1, "maxwait_us"), "500000");
  EXPECT_EQ(cell(r, 1, "pool_mode"), "session");
  EXPECT_EQ(cell(r, 2, "server"), "node2");
  EXPECT_EQ(cell(r, 2, "cl_active"), "0");
  EXPECT_TRUE(r.columns[static_cast<std::size_t>(column(r, "cl_active"))].numeric);
  EXPECT_FALSE(r.columns[static_cast<std::size_t>(column(r, "database"))].numeric);
}

TEST(AdminShowTest, Clients) {
  ResultSet r = showClients(sample());
  auto n = names(r);
  std::vector<std::string> pgbouncer = {
      "type",         "user",       "database",   "replication",     "state",
      "addr",         "port",       "local_addr", "local_port",      "connect_time",
      "request_time", "wait",       "wait_us",    "close_needed",    "ptr",
      "link",         "remote_pid", "tls",        "application_name"};
  ASSERT_GE(n.size(), pgbouncer.size());
  EXPECT_EQ(std::vector<std::string>(n.begin(), n.begin() + pgbouncer.size()), pgbouncer);
  ASSERT_EQ(r.rows.size(), 7u);
  EXPECT_EQ(cell(r, 0, "type"), "C");
  EXPECT_EQ(cell(r, 0, "state"), "active");
  EXPECT_EQ(cell(r, 0, "addr"), "10.0.0.9");
  EXPECT_EQ(cell(r, 0, "port"), "50000");
  EXPECT_EQ(cell(r, 0, "local_port"), "6432");
  EXPECT_EQ(cell(r, 0, "connect_time"), "2023-11-14 22:12:50 UTC");
  EXPECT_EQ(cell(r, 0, "link"), "0xa");
  EXPECT_EQ(cell(r, 0, "ptr"), "0x1");
  EXPECT_EQ(cell(r, 0, "id"), "1");
  EXPECT_EQ(cell(r, 0, "server"), "node1");
  EXPECT_EQ(cell(r, 0, "application_name"), "psql");
  EXPECT_EQ(cell(r, 2, "state"), "waiting");
  EXPECT_EQ(cell(r, 2, "wait"), "30");
  EXPECT_EQ(cell(r, 2, "link"), "");
  EXPECT_EQ(cell(r, 6, "database"), "pgbouncer");
  EXPECT_EQ(cell(r, 6, "state"), "active");
}

TEST(AdminShowTest, ServersLentAndIdle) {
  ResultSet r = showServers(sample());
  EXPECT_EQ(names(r).front(), "type");
  ASSERT_EQ(r.rows.size(), 3u);
  // By server connection id: 10 (lent, to be retired), 12 (idle), 13 (lent).
  EXPECT_EQ(cell(r, 0, "id"), "10");
  EXPECT_EQ(cell(r, 0, "type"), "S");
  EXPECT_EQ(cell(r, 0, "state"), "active");
  EXPECT_EQ(cell(r, 0, "addr"), "10.0.0.1");
  EXPECT_EQ(cell(r, 0, "port"), "5432");
  EXPECT_EQ(cell(r, 0, "link"), "0x1");
  EXPECT_EQ(cell(r, 0, "close_needed"), "1");
  EXPECT_EQ(cell(r, 1, "id"), "12");
  EXPECT_EQ(cell(r, 1, "state"), "idle");
  EXPECT_EQ(cell(r, 1, "remote_pid"), "4242");
  EXPECT_EQ(cell(r, 1, "connect_time"), "2023-11-14 22:12:20 UTC");
  EXPECT_EQ(cell(r, 1, "request_time"), "2023-11-14 22:13:15 UTC");
  EXPECT_EQ(cell(r, 1, "link"), "");
  EXPECT_EQ(cell(r, 1, "server"), "node1");
  EXPECT_EQ(cell(r, 2, "id"), "13");
  EXPECT_EQ(cell(r, 2, "close_needed"), "0");
}

TEST(AdminShowTest, StatsAggregatePerDatabase) {
  ResultSet all = showStats(sample(), StatsColumns::all);
  ASSERT_EQ(all.rows.size(), 1u);
  EXPECT_EQ(cell(all, 0, "database"), "app");
  EXPECT_EQ(cell(all, 0, "total_query_count"), "15");
  EXPECT_EQ(cell(all, 0, "total_xact_count"), "13");
  EXPECT_EQ(cell(all, 0, "total_received"), "1000");
  EXPECT_EQ(cell(all, 0, "total_sent"), "5000");
  EXPECT_EQ(cell(all, 0, "total_query_time"), "5000");
  EXPECT_EQ(cell(all, 0, "total_wait_time"), "600");
  EXPECT_EQ(cell(all, 0, "avg_query_time"), "1000");  // 5000 us over 5 timed requests
  EXPECT_EQ(cell(all, 0, "avg_wait_time"), "200");

  ResultSet totals = showStats(sample(), StatsColumns::totals);
  for (const auto& c : totals.columns) {
    EXPECT_TRUE(c.name == "database" || c.name.rfind("total_", 0) == 0) << c.name;
  }
  ResultSet averages = showStats(sample(), StatsColumns::averages);
  for (const auto& c : averages.columns) {
    EXPECT_TRUE(c.name == "database" || c.name.rfind("avg_", 0) == 0) << c.name;
  }
  EXPECT_EQ(all.columns.size(), totals.columns.size() + averages.columns.size() - 1);
}

TEST(AdminShowTest, DatabasesOnePerServerWithPauseState) {
  ProxySnapshot s = sample();
  s.paused_databases = {"app"};
  ResultSet r = showDatabases(s);
  EXPECT_EQ(names(r), (std::vector<std::string>{
                          "name", "host", "port", "database", "force_user", "pool_size",
                          "min_pool_size", "reserve_pool", "pool_mode", "max_connections",
                          "current_connections", "paused", "disabled", "server"}));
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(cell(r, 0, "name"), "app");
  EXPECT_EQ(cell(r, 0, "host"), "10.0.0.1");
  EXPECT_EQ(cell(r, 0, "force_user"), "NULL");
  EXPECT_EQ(cell(r, 0, "pool_size"), "20");
  EXPECT_EQ(cell(r, 0, "current_connections"), "4");
  EXPECT_EQ(cell(r, 0, "paused"), "1");
  EXPECT_EQ(cell(r, 1, "host"), "10.0.0.2");
  EXPECT_EQ(cell(r, 1, "server"), "node2");

  s.paused_databases.clear();
  EXPECT_EQ(cell(showDatabases(s), 0, "paused"), "0");
  s.paused = true;
  EXPECT_EQ(cell(showDatabases(s), 1, "paused"), "1");
  ResultSet state = showState(s);
  EXPECT_EQ(cell(state, 1, "key"), "paused");
  EXPECT_EQ(cell(state, 1, "value"), "yes");
}

TEST(AdminShowTest, ListsCountWhatKeelHas) {
  ResultSet r = showLists(sample());
  EXPECT_EQ(names(r), (std::vector<std::string>{"list", "items"}));
  EXPECT_EQ(cell(r, 0, "list"), "databases");
  EXPECT_EQ(cell(r, 0, "items"), "1");
  EXPECT_EQ(cell(r, 2, "items"), "2");  // pools
  EXPECT_EQ(cell(r, 4, "items"), "7");  // used_clients
}

TEST(AdminShowTest, ConfigFlattensTheProxySection) {
  nlohmann::json effective = {{"pool_mode", "session"},
                              {"default_pool_size", 10},
                              {"admin_users", {"postgres", "ops"}},
                              {"client_tls", {{"sslmode", "require"}}},
                              {"connect_address", nullptr},
                              {"enabled", true}};
  nlohmann::json defaults = {{"pool_mode", "session"},
                             {"default_pool_size", 20},
                             {"admin_users", nlohmann::json::array()},
                             {"client_tls", {{"sslmode", "disable"}}},
                             {"enabled", true}};
  ResultSet r = showConfig(effective, defaults);
  EXPECT_EQ(names(r), (std::vector<std::string>{"key", "value", "default", "changeable"}));
  std::map<std::string, std::vector<std::string>> rows;
  for (std::size_t i = 0; i < r.rows.size(); ++i) {
    rows[cell(r, i, "key")] = {cell(r, i, "value"), cell(r, i, "default"),
                               cell(r, i, "changeable")};
  }
  EXPECT_EQ(rows["default_pool_size"], (std::vector<std::string>{"10", "20", "no"}));
  EXPECT_EQ(rows["admin_users"], (std::vector<std::string>{"postgres,ops", "", "no"}));
  EXPECT_EQ(rows["client_tls.sslmode"], (std::vector<std::string>{"require", "disable", "no"}));
  EXPECT_EQ(rows["connect_address"][0], "");
  EXPECT_EQ(rows["enabled"][0], "true");
  EXPECT_EQ(rows.size(), 6u);
}

TEST(AdminShowTest, VersionAndTimestamps) {
  ResultSet r = showVersion();
  EXPECT_EQ(names(r), std::vector<std::string>{"version"});
  EXPECT_EQ(cell(r, 0, "version"), std::string("Keel ") + KEEL_VERSION);
  EXPECT_EQ(adminTimestamp(0), "");
  EXPECT_EQ(adminTimestamp(kEpochNow), "2023-11-14 22:13:20 UTC");
}

// ---- wire encoding ----

std::vector<std::pair<char, std::string>> frames(const std::string& bytes) {
  pgwire::FrameDecoder decoder(pgwire::Source::backend);
  decoder.feed(bytes);
  std::vector<std::pair<char, std::string>> out;
  while (true) {
    auto next = decoder.next();
    EXPECT_TRUE(next.ok());
    if (!next.ok() || !*next) {
      break;
    }
    out.emplace_back((**next).type, std::string((**next).payload));
  }
  return out;
}

TEST(AdminEncodeTest, RowDescriptionDataRowsCommandComplete) {
  ResultSet r;
  r.columns = {AdminColumn{"name", false}, AdminColumn{"count", true}};
  r.rows = {{"a", "1"}, {std::nullopt, "2"}};
  std::string out;
  encodeResultSet(out, r);
  auto f = frames(out);
  ASSERT_EQ(f.size(), 4u);
  ASSERT_EQ(f[0].first, 'T');
  auto desc = pgwire::parseRowDescription(f[0].second);
  ASSERT_TRUE(desc.ok());
  ASSERT_EQ(desc->fields.size(), 2u);
  EXPECT_EQ(desc->fields[0].name, "name");
  EXPECT_EQ(desc->fields[0].type, 25u);
  EXPECT_EQ(desc->fields[1].name, "count");
  EXPECT_EQ(desc->fields[1].type, 20u);
  auto row2 = pgwire::parseDataRow(f[2].second);
  ASSERT_TRUE(row2.ok());
  ASSERT_EQ(row2->columns.size(), 2u);
  EXPECT_FALSE(row2->columns[0].has_value());
  EXPECT_EQ(row2->columns[1], std::optional<std::string_view>("2"));
  ASSERT_EQ(f[3].first, 'C');
  auto done = pgwire::parseCommandComplete(f[3].second);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->tag, "SHOW");
}

TEST(AdminEncodeTest, CommandWithoutRows) {
  ResultSet r;
  r.tag = "PAUSE";
  std::string out;
  encodeResultSet(out, r);
  auto f = frames(out);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].first, 'C');
  EXPECT_EQ(pgwire::parseCommandComplete(f[0].second)->tag, "PAUSE");
}

}  // namespace
}  // namespace keel::proxy
