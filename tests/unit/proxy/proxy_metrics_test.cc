#include "proxy/proxy_metrics.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace keel::proxy {
namespace {

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    out.push_back(line);
  }
  return out;
}

bool hasLine(const std::string& text, const std::string& line) {
  for (const auto& l : lines(text)) {
    if (l == line) {
      return true;
    }
  }
  return false;
}

ProxySnapshot sample() {
  ProxySnapshot s;
  PoolSnapshot p;
  p.key = PoolKey{"10.0.0.1:5432", "app", "alice"};
  p.server = "node1";
  p.host = "10.0.0.1";
  p.port = 5432;
  p.lent = 2;
  p.idle = 3;
  p.total = 6;
  p.waiting = 1;
  p.max_wait = std::chrono::microseconds(1'500'000);
  p.counters.queries = 7;
  p.counters.transactions = 6;
  p.counters.bytes_received = 100;
  p.counters.bytes_sent = 900;
  p.counters.wait_microseconds = 250'000;
  p.counters.logins = 6;
  p.counters.login_failures = 1;
  p.counters.query_microseconds = 2'000'350;
  p.counters.latency[0] = 1;                           // <= 100 us
  p.counters.latency[2] = 2;                           // <= 500 us
  p.counters.latency[PoolStats::kBuckets.size()] = 1;  // above 10 s
  s.pools.push_back(p);
  ClientSnapshot active;
  active.id = 1;
  active.info.database = "app";
  active.info.user = "alice";
  active.info.state = "active";
  active.info.server_endpoint = "10.0.0.1:5432";
  ClientSnapshot queued = active;
  queued.id = 2;
  queued.info.state = "waiting";
  queued.info.server_endpoint.clear();
  ClientSnapshot held = queued;  // waits for a route (PAUSE)
  held.id = 3;
  held.info.database = "re\"port";
  s.clients = {active, queued, held};
  s.paused_databases = {"re\"port"};
  return s;
}

const std::string kLabels = "database=\"app\",user=\"alice\",server=\"node1\"";

TEST(ProxyMetricsTest, PoolGaugesAndCounters) {
  std::string text = renderProxyMetrics(sample());
  for (const std::string& line : std::vector<std::string>{
           "keel_proxy_clients_active{" + kLabels + "} 1",
           "keel_proxy_clients_waiting{" + kLabels + "} 1",
           "keel_proxy_servers_active{" + kLabels + "} 2",
           "keel_proxy_servers_idle{" + kLabels + "} 3",
           "keel_proxy_servers_login{" + kLabels + "} 1",
           "keel_proxy_max_wait_seconds{" + kLabels + "} 1.5",
           "keel_proxy_queries_total{" + kLabels + "} 7",
           "keel_proxy_transactions_total{" + kLabels + "} 6",
           "keel_proxy_received_bytes_total{" + kLabels + "} 100",
           "keel_proxy_sent_bytes_total{" + kLabels + "} 900",
           "keel_proxy_wait_seconds_total{" + kLabels + "} 0.25",
           "keel_proxy_server_logins_total{" + kLabels + "} 6",
           "keel_proxy_server_login_failures_total{" + kLabels + "} 1",
           "keel_proxy_client_connections 3",
           "keel_proxy_paused 0",
           "# TYPE keel_proxy_queries_total counter",
           "# TYPE keel_proxy_clients_active gauge",
       }) {
    EXPECT_TRUE(hasLine(text, line)) << line << "\n" << text;
  }
}

TEST(ProxyMetricsTest, ClientsWaitingForARouteHaveAnEmptyServerAndEscapedLabels) {
  std::string text = renderProxyMetrics(sample());
  EXPECT_TRUE(hasLine(
      text, "keel_proxy_clients_waiting{database=\"re\\\"port\",user=\"alice\",server=\"\"} 1"))
      << text;
  EXPECT_TRUE(hasLine(text, "keel_proxy_database_paused{database=\"re\\\"port\"} 1")) << text;
  // No server series for a route-less row.
  EXPECT_EQ(text.find("keel_proxy_servers_idle{database=\"re"), std::string::npos);
  EXPECT_EQ(escapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
}

TEST(ProxyMetricsTest, LatencyHistogramIsCumulative) {
  std::string text = renderProxyMetrics(sample());
  const std::string b = "keel_proxy_request_duration_seconds_bucket{" + kLabels + ",le=\"";
  EXPECT_TRUE(hasLine(text, "# TYPE keel_proxy_request_duration_seconds histogram"));
  EXPECT_TRUE(hasLine(text, b + "0.0001\"} 1")) << text;
  EXPECT_TRUE(hasLine(text, b + "0.00025\"} 1")) << text;
  EXPECT_TRUE(hasLine(text, b + "0.0005\"} 3")) << text;
  EXPECT_TRUE(hasLine(text, b + "10\"} 3")) << text;
  EXPECT_TRUE(hasLine(text, b + "+Inf\"} 4")) << text;
  EXPECT_TRUE(hasLine(text, "keel_proxy_request_duration_seconds_count{" + kLabels + "} 4"));
  EXPECT_TRUE(hasLine(text, "keel_proxy_request_duration_seconds_sum{" + kLabels + "} 2.00035"))
      << text;
  int buckets = 0;
  for (const auto& l : lines(text)) {
    buckets += l.rfind(b, 0) == 0 ? 1 : 0;
  }
  EXPECT_EQ(buckets, static_cast<int>(PoolStats::kBuckets.size()) + 1);
}

TEST(ProxyMetricsTest, EveryLineIsValidExpositionFormat) {
  const std::regex comment(R"(# (HELP|TYPE) keel_proxy_[a-z_]+ .+)");
  const std::regex sample_line(
      R"(keel_proxy_[a-z_]+(\{([a-z_]+="([^"\\]|\\.)*",?)+\})? [-+0-9.eE]+|keel_proxy_[a-z_]+\{.*le="\+Inf"\} [0-9]+)");
  std::string text = renderProxyMetrics(sample());
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  for (const auto& l : lines(text)) {
    EXPECT_TRUE(std::regex_match(l, comment) || std::regex_match(l, sample_line)) << l;
  }
}

TEST(ProxyMetricsTest, ReadsALiveContext) {
  boost::asio::io_context io;
  auto config = std::make_shared<Config>();
  ProxyContext ctx(config, io.get_executor());
  auto pool = ctx.pools.get(PoolKey{"127.0.0.1:5432", "app", "bob"},
                            RouteTarget{"node1", "127.0.0.1", 5432});
  pool->stats().queries += 3;
  pool->stats().recordLatency(300);
  ctx.paused = true;
  std::string text = proxyMetricsText(ctx);
  const std::string labels = "database=\"app\",user=\"bob\",server=\"node1\"";
  EXPECT_TRUE(hasLine(text, "keel_proxy_queries_total{" + labels + "} 3")) << text;
  EXPECT_TRUE(hasLine(text, "keel_proxy_request_duration_seconds_count{" + labels + "} 1"));
  EXPECT_TRUE(hasLine(text, "keel_proxy_servers_idle{" + labels + "} 0"));
  EXPECT_TRUE(hasLine(text, "keel_proxy_paused 1"));

  ProxySnapshot s = takeSnapshot(ctx);
  ASSERT_EQ(s.pools.size(), 1u);
  EXPECT_EQ(s.pools[0].max_size, config->proxy.default_pool_size);
  EXPECT_EQ(s.pools[0].counters.latency[2], 1u);  // 300 us: in (250, 500]
  EXPECT_TRUE(s.pausedFor("anything"));
}

}  // namespace
}  // namespace keel::proxy
