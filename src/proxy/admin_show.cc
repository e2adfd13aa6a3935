#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "proxy/admin_commands.h"

// The rows of each SHOW command of the admin console.
namespace keel::proxy {

namespace {

std::string num(std::uint64_t v) {
  return std::to_string(v);
}
std::string num(std::int64_t v) {
  return std::to_string(v);
}
std::string num(int v) {
  return std::to_string(v);
}

std::string hexId(std::uint64_t id) {
  if (id == 0) {
    return "";
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(id));
  return buf;
}

AdminColumn text(std::string name) {
  return AdminColumn{std::move(name), false};
}
AdminColumn integer(std::string name) {
  return AdminColumn{std::move(name), true};
}

// PgBouncer's client states; Keel's "admin" (a console session) is an active client there.
std::string clientState(const std::string& keel_state) {
  if (keel_state == "admin" || keel_state == "closing") {
    return "active";
  }
  return keel_state;
}

// "host:port" (IPv6 hosts in brackets) into its parts; port 0 when unparsable.
std::pair<std::string, std::uint16_t> splitEndpoint(const std::string& endpoint) {
  auto colon = endpoint.rfind(':');
  if (colon == std::string::npos) {
    return {endpoint, 0};
  }
  std::string host = endpoint.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int port = std::atoi(endpoint.c_str() + colon + 1);
  return {host, static_cast<std::uint16_t>(port > 0 && port <= 65535 ? port : 0)};
}

const PoolSnapshot* poolFor(const ProxySnapshot& s, const SessionInfo& info) {
  for (const auto& p : s.pools) {
    if (p.key.database == info.database && p.key.user == info.user &&
        p.key.endpoint == info.server_endpoint) {
      return &p;
    }
  }
  return nullptr;
}

std::string configValue(const nlohmann::json& v) {
  if (v.is_null()) {
    return "";
  }
  if (v.is_string()) {
    return v.get<std::string>();
  }
  if (v.is_array()) {
    std::string out;
    for (const auto& item : v) {
      out += (out.empty() ? "" : ",") + configValue(item);
    }
    return out;
  }
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void flatten(const nlohmann::json& j, const std::string& prefix,
             std::map<std::string, std::string>& out) {
  if (!j.is_object()) {
    out[prefix] = configValue(j);
    return;
  }
  for (const auto& [k, v] : j.items()) {
    flatten(v, prefix.empty() ? k : prefix + "." + k, out);
  }
}

}  // namespace

std::string adminTimestamp(double epoch_seconds) {
  if (epoch_seconds <= 0) {
    return "";
  }
  std::time_t t = static_cast<std::time_t>(epoch_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

ResultSet showPools(const ProxySnapshot& s) {
  ResultSet r;
  for (const char* c : {"database", "user"}) {
    r.columns.push_back(text(c));
  }
  for (const char* c : {"cl_active", "cl_waiting", "cl_active_cancel_req", "cl_waiting_cancel_req",
                        "sv_active", "sv_active_cancel", "sv_being_canceled", "sv_idle", "sv_used",
                        "sv_tested", "sv_login", "maxwait", "maxwait_us"}) {
    r.columns.push_back(integer(c));
  }
  r.columns.push_back(text("pool_mode"));
  r.columns.push_back(text("server"));

  // A pool's mode is the one its connections serve (a reload that changes pool_mode leaves the
  // pools of the other mode until their clients are gone).
  auto row = [&](const std::string& db, const std::string& user, int cl_active, int cl_waiting,
                 int sv_active, int sv_idle, int sv_login, std::chrono::microseconds wait,
                 const std::string& server, const std::string& mode) {
    auto us = wait.count() < 0 ? 0 : wait.count();
    r.rows.push_back({db, user, num(cl_active), num(cl_waiting), "0", "0", num(sv_active), "0", "0",
                      num(sv_idle), "0", "0", num(sv_login), num(std::int64_t(us / 1000000)),
                      num(std::int64_t(us % 1000000)), mode, server});
  };
  for (const auto& p : s.pools) {
    int login = std::max(0, p.total - p.lent - p.idle);
    row(p.key.database, p.key.user, activeClients(s, p.key), p.waiting, p.lent, p.idle, login,
        p.max_wait, p.server,
        p.key.transaction ? std::string("transaction") : std::string("session"));
  }
  // Clients waiting before a server was chosen belong to no pool yet: a row of their (database,
  // user) with an empty server.
  for (const auto& [key, n] : unroutedWaiting(s)) {
    row(key.first, key.second, 0, n, 0, 0, 0, std::chrono::microseconds(0), "", s.pool_mode);
  }
  std::stable_sort(r.rows.begin(), r.rows.end(), [](const auto& a, const auto& b) {
    return std::tie(*a[0], *a[1], *a[16]) < std::tie(*b[0], *b[1], *b[16]);
  });
  return r;
}

// PgBouncer's columns of SHOW CLIENTS and SHOW SERVERS (the same for both), then Keel's.
static std::vector<AdminColumn> connectionColumns() {
  return {text("type"),
          text("user"),
          text("database"),
          text("replication"),
          text("state"),
          text("addr"),
          integer("port"),
          text("local_addr"),
          integer("local_port"),
          text("connect_time"),
          text("request_time"),
          integer("wait"),
          integer("wait_us"),
          integer("close_needed"),
          text("ptr"),
          text("link"),
          integer("remote_pid"),
          text("tls"),
          text("application_name"),
          integer("prepared_statements"),
          integer("id"),
          text("server")};
}

ResultSet showClients(const ProxySnapshot& s) {
  ResultSet r;
  r.columns = connectionColumns();
  r.columns.push_back(text("listener"));
  for (const auto& c : s.clients) {
    const HostPort& local = c.listener == Listener::rw ? s.listen_rw : s.listen_ro;
    std::int64_t wait_us = 0;
    if (c.info.state == "waiting" && c.info.connect_time > 0) {
      wait_us = static_cast<std::int64_t>((s.epoch_now - c.info.connect_time) * 1e6);
      wait_us = std::max<std::int64_t>(wait_us, 0);
    }
    std::string connect = adminTimestamp(c.info.connect_time);
    r.rows.push_back({"C",
                      c.info.user,
                      c.info.database,
                      "none",
                      clientState(c.info.state),
                      c.info.address,
                      num(int(c.info.port)),
                      local.host,
                      num(int(local.port)),
                      connect,
                      connect,
                      num(wait_us / 1000000),
                      num(wait_us % 1000000),
                      "0",
                      hexId(c.id),
                      hexId(c.info.server_id),
                      "0",
                      c.info.tls ? "TLS" : "",
                      c.info.application_name,
                      "0",
                      num(c.id),
                      c.info.server,
                      toString(c.listener)});
  }
  return r;
}

ResultSet showServers(const ProxySnapshot& s) {
  ResultSet r;
  r.columns = connectionColumns();
  struct Row {
    std::uint64_t id;
    std::vector<AdminValue> values;
  };
  std::vector<Row> rows;
  // Lent connections are known through the sessions that hold them.
  for (const auto& c : s.clients) {
    if (c.info.server_id == 0) {
      continue;
    }
    const PoolSnapshot* pool = poolFor(s, c.info);
    auto [host, port] =
        pool ? std::make_pair(pool->host, pool->port) : splitEndpoint(c.info.server_endpoint);
    bool close_needed = pool && c.info.server_id < pool->retire_before;
    rows.push_back({c.info.server_id,
                    {"S",
                     c.info.user,
                     c.info.database,
                     "none",
                     "active",
                     host,
                     num(int(port)),
                     "",
                     "0",
                     "",
                     "",
                     "0",
                     "0",
                     close_needed ? "1" : "0",
                     hexId(c.info.server_id),
                     hexId(c.id),
                     "0",
                     "",
                     c.info.application_name,
                     "0",
                     num(c.info.server_id),
                     c.info.server}});
  }
  for (const auto& p : s.pools) {
    for (const auto& idle : p.idle_servers) {
      rows.push_back({idle.id,
                      {"S",
                       p.key.user,
                       p.key.database,
                       "none",
                       "idle",
                       p.host,
                       num(int(p.port)),
                       "",
                       "0",
                       adminTimestamp(s.toEpoch(idle.created)),
                       adminTimestamp(s.toEpoch(idle.last_used)),
                       "0",
                       "0",
                       "0",
                       hexId(idle.id),
                       "",
                       num(int(idle.remote_pid)),
                       "",
                       "",
                       "0",
                       num(idle.id),
                       p.server}});
    }
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.id < b.id; });
  for (auto& row : rows) {
    r.rows.push_back(std::move(row.values));
  }
  return r;
}

ResultSet showStats(const ProxySnapshot& s, StatsColumns which) {
  std::map<std::string, PoolCounters> by_db;
  for (const auto& p : s.pools) {
    PoolCounters& t = by_db[p.key.database];
    const PoolCounters& c = p.counters;
    t.queries += c.queries;
    t.transactions += c.transactions;
    t.bytes_received += c.bytes_received;
    t.bytes_sent += c.bytes_sent;
    t.wait_microseconds += c.wait_microseconds;
    t.waits += c.waits;
    t.query_microseconds += c.query_microseconds;
    t.server_parses += c.server_parses;
    for (std::size_t i = 0; i < t.latency.size(); ++i) {
      t.latency[i] += c.latency[i];
    }
  }
  const bool totals = which != StatsColumns::averages;
  const bool averages = which != StatsColumns::totals;
  ResultSet r;
  r.columns.push_back(text("database"));
  if (totals) {
    for (const char* c :
         {"total_xact_count", "total_query_count", "total_received", "total_sent",
          "total_xact_time", "total_query_time", "total_wait_time", "total_server_parse_count"}) {
      r.columns.push_back(integer(c));
    }
  }
  if (averages) {
    for (const char* c : {"avg_xact_count", "avg_query_count", "avg_recv", "avg_sent",
                          "avg_xact_time", "avg_query_time", "avg_wait_time"}) {
      r.columns.push_back(integer(c));
    }
  }
  for (const auto& [db, t] : by_db) {
    std::uint64_t timed = 0;
    for (auto n : t.latency) {
      timed += n;
    }
    std::vector<AdminValue> row{db};
    if (totals) {
      // Keel does not time transactions apart from requests: total_xact_time stays 0.
      for (std::uint64_t v :
           {t.transactions, t.queries, t.bytes_received, t.bytes_sent, std::uint64_t{0},
            t.query_microseconds, t.wait_microseconds, t.server_parses}) {
        row.push_back(num(v));
      }
    }
    if (averages) {
      // Keel keeps no stats_period: rates are 0 (use rate() over /metrics); durations are
      // averages since the proxy started.
      std::uint64_t avg_query = timed ? t.query_microseconds / timed : 0;
      std::uint64_t avg_wait = t.waits ? t.wait_microseconds / t.waits : 0;
      for (std::uint64_t v : {std::uint64_t{0}, std::uint64_t{0}, std::uint64_t{0},
                              std::uint64_t{0}, std::uint64_t{0}, avg_query, avg_wait}) {
        row.push_back(num(v));
      }
    }
    r.rows.push_back(std::move(row));
  }
  return r;
}

ResultSet showDatabases(const ProxySnapshot& s) {
  ResultSet r;
  r.columns = {text("name"),
               text("host"),
               integer("port"),
               text("database"),
               text("force_user"),
               integer("pool_size"),
               integer("min_pool_size"),
               integer("reserve_pool"),
               text("pool_mode"),
               integer("max_connections"),
               integer("current_connections"),
               integer("paused"),
               integer("disabled"),
               text("server")};
  struct Entry {
    std::string server, host;
    std::uint16_t port = 0;
    int pool_size = 0;
    int connections = 0;
  };
  std::map<std::pair<std::string, std::string>, Entry> rows;  // (database, endpoint)
  for (const auto& p : s.pools) {
    Entry& e = rows[{p.key.database, p.key.endpoint}];
    e.server = p.server;
    e.host = p.host;
    e.port = p.port;
    e.pool_size = p.max_size;
    e.connections += p.total;
  }
  for (const auto& [key, e] : rows) {
    r.rows.push_back({key.first, e.host, num(int(e.port)), key.first, std::nullopt,
                      num(e.pool_size), num(s.min_pool_size), "0", s.pool_mode, "0",
                      num(e.connections), s.pausedFor(key.first) ? "1" : "0", "0", e.server});
  }
  return r;
}

ResultSet showState(const ProxySnapshot& s) {
  ResultSet r;
  r.columns = {text("key"), text("value")};
  r.rows = {{"active", s.paused ? "no" : "yes"},
            {"paused", s.paused ? "yes" : "no"},
            {"suspended", "no"}};
  std::string dbs;
  for (const auto& db : s.paused_databases) {
    dbs += (dbs.empty() ? "" : ",") + db;
  }
  r.rows.push_back({"paused_databases", dbs});
  return r;
}

ResultSet showLists(const ProxySnapshot& s) {
  std::set<std::string> dbs, users;
  int servers = 0;
  for (const auto& p : s.pools) {
    dbs.insert(p.key.database);
    users.insert(p.key.user);
    servers += p.total;
  }
  int login = 0;
  for (const auto& c : s.clients) {
    login += c.info.state == "login" ? 1 : 0;
  }
  ResultSet r;
  r.columns = {text("list"), integer("items")};
  r.rows = {{"databases", num(int(dbs.size()))},
            {"users", num(int(users.size()))},
            {"pools", num(int(s.pools.size()))},
            {"free_clients", "0"},
            {"used_clients", num(int(s.clients.size()))},
            {"login_clients", num(login)},
            {"free_servers", "0"},
            {"used_servers", num(servers)},
            {"dns_names", "0"},
            {"dns_zones", "0"},
            {"dns_queries", "0"},
            {"dns_pending", "0"}};
  return r;
}

ResultSet showConfig(const nlohmann::json& effective, const nlohmann::json& defaults) {
  std::map<std::string, std::string> values, default_values;
  flatten(effective, "", values);
  flatten(defaults, "", default_values);
  ResultSet r;
  r.columns = {text("key"), text("value"), text("default"), text("changeable")};
  for (const auto& [key, value] : values) {
    auto d = default_values.find(key);
    // RELOAD re-reads only the auth_file; every setting changes with an agent restart.
    r.rows.push_back({key, value, d == default_values.end() ? std::string() : d->second, "no"});
  }
  return r;
}

ResultSet showVersion() {
  ResultSet r;
  r.columns = {text("version")};
  r.rows = {{std::string("Keel ") + KEEL_VERSION}};
  return r;
}

}  // namespace keel::proxy
