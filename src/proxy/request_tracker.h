#pragma once

#include <chrono>
#include <string_view>

#include "pgwire/backend_messages.h"
#include "pgwire/frontend_messages.h"
#include "proxy/server_pool.h"

// What both pool modes note about the messages a session relays: the requests in flight (for
// the latency histogram and the query and transaction counts) and whether PostgreSQL ended the
// connection with a FATAL error.
namespace keel::proxy {

// True for the messages PostgreSQL answers with exactly one ReadyForQuery.
inline bool endsRequest(char frontend_type) {
  return frontend_type == pgwire::frontend::kQuery || frontend_type == pgwire::frontend::kSync ||
         frontend_type == pgwire::frontend::kFunctionCall;
}

// True when an ErrorResponse's payload carries severity FATAL or PANIC: the server closes the
// connection after it.
inline bool isFatalError(std::string_view error_payload) {
  auto e = pgwire::parseErrorResponse(error_payload);
  if (!e) {
    return false;
  }
  auto severity = e->severity();
  return severity == "FATAL" || severity == "PANIC";
}

// Requests relayed and not yet answered by a ReadyForQuery. One session thread only.
class RequestTracker {
 public:
  using Clock = std::chrono::steady_clock;

  // The client sent a message of `frontend_type`; counts it as a query when it ends a request.
  void clientMessage(char frontend_type, PoolStats* stats) {
    if (!endsRequest(frontend_type)) {
      return;
    }
    if (pending_++ == 0) {
      started_ = Clock::now();
    }
    if (stats != nullptr) {
      stats->queries++;
    }
  }

  // PostgreSQL sent ReadyForQuery with `status`: records the latency once nothing is pending,
  // and counts a transaction when the server is idle again.
  void readyForQuery(char status, PoolStats& stats) {
    if (pending_ > 0 && --pending_ == 0) {
      stats.recordLatency(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started_).count()));
    }
    if (status == 'I') {
      stats.transactions++;
    }
  }

  int pending() const { return pending_; }
  void reset() { pending_ = 0; }

 private:
  int pending_ = 0;
  Clock::time_point started_;
};

}  // namespace keel::proxy
