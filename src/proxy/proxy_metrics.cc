#include "proxy/proxy_metrics.h"

#include <charconv>
#include <cstdio>
#include <functional>

namespace keel::proxy {

namespace {

// The shortest text that reads back as `v`.
std::string number(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::string("0");
}

// `le` bounds in seconds, printed short: 0.0001, 0.00025, ..., 10.
std::string bound(std::uint64_t micros) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(micros) / 1e6);
  return buf;
}

struct Series {
  std::string labels;  // `database="a",user="b",server="c"`
  const PoolSnapshot* pool = nullptr;
  int clients_active = 0;
  int clients_waiting = 0;
};

class Writer {
 public:
  void family(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void sample(const std::string& name, const std::string& labels, const std::string& value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::string escapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string renderProxyMetrics(const ProxySnapshot& s) {
  std::vector<Series> series;
  auto labels = [](const std::string& db, const std::string& user, const std::string& server) {
    return "database=\"" + escapeLabelValue(db) + "\",user=\"" + escapeLabelValue(user) +
           "\",server=\"" + escapeLabelValue(server) + "\"";
  };
  for (const auto& p : s.pools) {
    series.push_back(Series{labels(p.key.database, p.key.user, p.server), &p,
                            activeClients(s, p.key), p.waiting});
  }
  // Clients waiting for a route (failover hold, PAUSE) have no server yet.
  for (const auto& [key, n] : unroutedWaiting(s)) {
    series.push_back(Series{labels(key.first, key.second, ""), nullptr, 0, n});
  }

  Writer w;
  using PoolValue = std::function<std::string(const PoolSnapshot&)>;
  // One family over the pools (the route-less series carry only client gauges).
  auto perPool = [&](const char* name, const char* type, const char* help, const PoolValue& value) {
    w.family(name, type, help);
    for (const auto& x : series) {
      if (x.pool != nullptr) {
        w.sample(name, x.labels, value(*x.pool));
      }
    }
  };
  auto counter = [](std::uint64_t PoolCounters::*field) {
    return [field](const PoolSnapshot& p) { return std::to_string(p.counters.*field); };
  };

  w.family("keel_proxy_clients_active", "gauge",
           "Client connections holding a server connection of the pool.");
  for (const auto& x : series) {
    w.sample("keel_proxy_clients_active", x.labels, std::to_string(x.clients_active));
  }
  w.family("keel_proxy_clients_waiting", "gauge",
           "Client connections waiting for a server connection (server=\"\": waiting for a "
           "route, during a failover or PAUSE).");
  for (const auto& x : series) {
    w.sample("keel_proxy_clients_waiting", x.labels, std::to_string(x.clients_waiting));
  }
  perPool("keel_proxy_servers_active", "gauge", "Server connections lent to clients.",
          [](const PoolSnapshot& p) { return std::to_string(p.lent); });
  perPool("keel_proxy_servers_idle", "gauge", "Server connections idle in the pool.",
          [](const PoolSnapshot& p) { return std::to_string(p.idle); });
  perPool(
      "keel_proxy_servers_login", "gauge", "Server connections being opened.",
      [](const PoolSnapshot& p) { return std::to_string(std::max(0, p.total - p.lent - p.idle)); });
  perPool(
      "keel_proxy_max_wait_seconds", "gauge",
      "How long the oldest client queued for a server connection has waited.",
      [](const PoolSnapshot& p) { return number(static_cast<double>(p.max_wait.count()) / 1e6); });
  perPool("keel_proxy_queries_total", "counter",
          "Requests relayed (simple queries, extended-protocol Syncs, function calls).",
          counter(&PoolCounters::queries));
  perPool("keel_proxy_transactions_total", "counter",
          "Transactions ended (ReadyForQuery back to idle).", counter(&PoolCounters::transactions));
  perPool("keel_proxy_received_bytes_total", "counter", "Bytes received from clients.",
          counter(&PoolCounters::bytes_received));
  perPool("keel_proxy_sent_bytes_total", "counter", "Bytes sent to clients.",
          counter(&PoolCounters::bytes_sent));
  perPool("keel_proxy_wait_seconds_total", "counter",
          "Time clients spent queued for a server connection.", [](const PoolSnapshot& p) {
            return number(static_cast<double>(p.counters.wait_microseconds) / 1e6);
          });
  perPool("keel_proxy_server_logins_total", "counter", "Server connections opened.",
          counter(&PoolCounters::logins));
  perPool("keel_proxy_server_login_failures_total", "counter",
          "Server connections that failed to open or log in.",
          counter(&PoolCounters::login_failures));
  perPool("keel_proxy_server_parses_total", "counter",
          "Transaction pooling: named statements prepared on server connections.",
          counter(&PoolCounters::server_parses));
  perPool("keel_proxy_injected_parses_total", "counter",
          "Transaction pooling: Parses Keel sent because the borrowed server connection lacked "
          "a client's statement.",
          counter(&PoolCounters::injected_parses));
  perPool("keel_proxy_statement_evictions_total", "counter",
          "Transaction pooling: statements closed to keep a server connection within "
          "proxy.server_prepared_statements.",
          counter(&PoolCounters::statement_evictions));
  perPool("keel_proxy_client_statement_evictions_total", "counter",
          "Transaction pooling: client statements forgotten, least recently used first, to keep "
          "a client within proxy.max_prepared_statements.",
          counter(&PoolCounters::client_statement_evictions));
  perPool("keel_proxy_shared_statements_total", "counter",
          "Transaction pooling: client Parses answered by a statement already prepared on the "
          "server connection.",
          counter(&PoolCounters::shared_statements));

  const char* hist = "keel_proxy_request_duration_seconds";
  w.family(hist, "histogram", "Time from a client's request to the server's ReadyForQuery.");
  for (const auto& x : series) {
    if (x.pool == nullptr) {
      continue;
    }
    const PoolCounters& c = x.pool->counters;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < PoolStats::kBuckets.size(); ++i) {
      cumulative += c.latency[i];
      w.sample(std::string(hist) + "_bucket",
               x.labels + ",le=\"" + bound(PoolStats::kBuckets[i]) + "\"",
               std::to_string(cumulative));
    }
    cumulative += c.latency.back();
    w.sample(std::string(hist) + "_bucket", x.labels + ",le=\"+Inf\"", std::to_string(cumulative));
    w.sample(std::string(hist) + "_sum", x.labels,
             number(static_cast<double>(c.query_microseconds) / 1e6));
    w.sample(std::string(hist) + "_count", x.labels, std::to_string(cumulative));
  }

  w.family("keel_proxy_client_connections", "gauge",
           "Client connections to the proxy, admin console included.");
  w.sample("keel_proxy_client_connections", "", std::to_string(s.clients.size()));
  w.family("keel_proxy_paused", "gauge",
           "1 while the admin console's PAUSE holds new clients of every database, else 0.");
  w.sample("keel_proxy_paused", "", s.paused ? "1" : "0");
  w.family("keel_proxy_switchover_pauses_total", "counter",
           "Switchovers during which this proxy held read-write transactions for the new leader.");
  w.sample("keel_proxy_switchover_pauses_total", "", std::to_string(s.switchover_pauses));
  w.family("keel_proxy_switchover_pause_seconds", "gauge",
           "How long the last switchover held read-write transactions, as this proxy saw it: "
           "from the leader's pause until the new leader was routed to.");
  w.sample("keel_proxy_switchover_pause_seconds", "",
           number(static_cast<double>(s.last_switchover_pause_us) / 1e6));
  w.family("keel_proxy_database_paused", "gauge",
           "1 for each database paused on its own with PAUSE db.");
  for (const auto& db : s.paused_databases) {
    w.sample("keel_proxy_database_paused", "database=\"" + escapeLabelValue(db) + "\"", "1");
  }
  return w.take();
}

std::string proxyMetricsText(const ProxyContext& ctx) {
  return renderProxyMetrics(takeSnapshot(ctx));
}

}  // namespace keel::proxy
