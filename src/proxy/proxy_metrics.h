#pragma once

#include <string>

#include "proxy/proxy_context.h"
#include "proxy/proxy_snapshot.h"

namespace keel::proxy {

// The proxy's metrics in the Prometheus text exposition format 0.0.4: per pool (labels
// database, user, server) client and server connection gauges, the longest wait, query,
// transaction, byte, wait and login counters, and the request latency histogram
// keel_proxy_request_duration_seconds; and proxy-wide client count and pause state. Every name
// starts with keel_proxy_. Any thread.
std::string proxyMetricsText(const ProxyContext& ctx);
// The same from a snapshot. Pure.
std::string renderProxyMetrics(const ProxySnapshot& snapshot);

// A label value escaped for the text format (backslash, double quote, newline).
std::string escapeLabelValue(const std::string& value);

}  // namespace keel::proxy
