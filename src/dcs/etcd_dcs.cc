#include "dcs/etcd_dcs.h"

#include <algorithm>
#include <boost/asio/this_coro.hpp>
#include <exception>
#include <optional>

#include "dcs/etcd_json.h"

namespace keel::dcs {
namespace {

namespace asio = boost::asio;
using nlohmann::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr milliseconds kMinAttemptShare{300};
constexpr std::size_t kQuoteLimit = 200;

std::string quote(const std::string& raw) {
  if (raw.size() <= kQuoteLimit) {
    return raw;
  }
  return raw.substr(0, kQuoteLimit) + "...";
}

milliseconds remainingUntil(Clock::time_point deadline) {
  return std::max(milliseconds(0), std::chrono::ceil<milliseconds>(deadline - Clock::now()));
}

// The failures of one call's pass over the endpoints.
struct Attempts {
  std::vector<std::string> problems;
  bool maybe_applied = false;

  void record(const std::string& url, const std::string& what, bool sent) {
    problems.push_back(url + " " + what);
    maybe_applied = maybe_applied || sent;
  }

  Failure<DcsErrc> exhausted() const {
    std::string list;
    for (const auto& p : problems) {
      list += (list.empty() ? "" : "; ") + p;
    }
    if (maybe_applied) {
      return fail(DcsErrc::timeout,
                  "etcd did not answer in time and the request may or may not have been "
                  "applied: " +
                      list + "; re-read the state before retrying");
    }
    return fail(DcsErrc::unavailable, "etcd unavailable: " + list +
                                          "; check that etcd runs and etcd.endpoints lists "
                                          "reachable members");
  }
};

// Each remaining endpoint gets an equal share of the time left (the last one all of it).
milliseconds attemptBudget(milliseconds remaining, std::size_t untried) {
  if (untried <= 1) {
    return remaining;
  }
  return std::max(remaining / static_cast<long>(untried), std::min(remaining, kMinAttemptShare));
}

// One pass over the endpoints for one request: each endpoint once, starting with the one that
// answered last, each getting its share of the time left. Endpoints reached after the deadline
// are recorded as not tried.
class EndpointPass {
 public:
  struct Turn {
    std::size_t index;
    const http::Endpoint* endpoint;
    milliseconds budget;
  };

  EndpointPass(const std::vector<http::Endpoint>& endpoints, std::size_t current,
               milliseconds timeout)
      : endpoints_(endpoints),
        first_(current % endpoints.size()),
        deadline_(Clock::now() + timeout),
        timeout_(timeout) {}

  std::optional<Turn> next(Attempts& attempts) {
    const std::size_t n = endpoints_.size();
    while (visited_ < n) {
      const std::size_t idx = (first_ + visited_) % n;
      const std::size_t untried = n - visited_;
      ++visited_;
      auto remaining = remainingUntil(deadline_);
      if (remaining.count() == 0) {
        attempts.record(
            endpoints_[idx].url,
            "not tried (deadline of " + std::to_string(timeout_.count()) + " ms passed)", false);
        continue;
      }
      return Turn{idx, &endpoints_[idx], attemptBudget(remaining, untried)};
    }
    return std::nullopt;
  }

 private:
  const std::vector<http::Endpoint>& endpoints_;
  std::size_t first_;
  Clock::time_point deadline_;
  milliseconds timeout_;
  std::size_t visited_ = 0;
};

bool sentBefore(http::HttpErrc e) {
  return e == http::HttpErrc::timed_out || e == http::HttpErrc::io_error;
}

// A non-200 answer: 5xx means this endpoint cannot serve now (no leader, overloaded); anything
// else is etcd's verdict on the request itself.
std::string gatewayErrorText(const http::Reply& reply) {
  auto body = json::parse(reply.body, nullptr, false);
  if (auto e = etcd_json::parseGatewayError(body)) {
    return e->message + " (gRPC code " + std::to_string(e->code) + ")";
  }
  return quote(reply.body);
}

Failure<DcsErrc> requestRefused(const std::string& url, const char* path,
                                const http::Reply& reply) {
  auto body = json::parse(reply.body, nullptr, false);
  auto e = etcd_json::parseGatewayError(body);
  if (e && e->code == etcd_json::kGrpcNotFound &&
      e->message.find("lease not found") != std::string::npos) {
    return fail(DcsErrc::lease_not_found,
                "the lease expired or was revoked (" + e->message + "); grant a new one");
  }
  return fail(DcsErrc::rejected, "etcd at " + url + " refused " + path + " with HTTP " +
                                     std::to_string(reply.status) + ": " + gatewayErrorText(reply));
}

}  // namespace

EtcdDcs::EtcdDcs(asio::any_io_executor ex, std::vector<std::string> endpoints,
                 milliseconds request_timeout)
    : ex_(std::move(ex)), request_timeout_(request_timeout) {
  for (const auto& url : endpoints) {
    endpoints_.push_back(http::parseEndpoint(url));
  }
}

std::string EtcdDcs::describe() const {
  if (endpoints_.empty()) {
    return "etcd (no endpoints configured)";
  }
  std::size_t i = current_.load() % endpoints_.size();
  return "etcd " + endpoints_[i].url + " (endpoint " + std::to_string(i + 1) + " of " +
         std::to_string(endpoints_.size()) + ")";
}

Failure<DcsErrc> EtcdDcs::badResponse(const Reply& reply, const char* path,
                                      const std::string& why) {
  return fail(DcsErrc::bad_response, "etcd at " + reply.endpoint +
                                         " sent an unexpected answer to " + path + " (" + why +
                                         "): " + quote(reply.raw));
}

asio::awaitable<DcsResult<EtcdDcs::Reply>> EtcdDcs::call(const char* path, json request) {
  if (endpoints_.empty()) {
    co_return fail(DcsErrc::unavailable, "no etcd endpoints configured; set etcd.endpoints");
  }
  const std::string body = request.dump();
  Attempts attempts;
  EndpointPass pass(endpoints_, current_.load(), request_timeout_);
  while (auto turn = pass.next(attempts)) {
    const std::size_t idx = turn->index;
    const auto& ep = *turn->endpoint;
    auto r = co_await http::exchange(ex_, ep, path, body, turn->budget);
    if (!r) {
      if (r.code() == http::HttpErrc::cancelled) {
        co_return fail(DcsErrc::cancelled, std::string("cancelled while calling ") + path);
      }
      attempts.record(ep.url, r.message(), sentBefore(r.code()));
      continue;
    }
    if (r->status >= 500) {
      attempts.record(
          ep.url, "answered HTTP " + std::to_string(r->status) + ": " + gatewayErrorText(*r), true);
      continue;
    }
    current_.store(idx);
    if (r->status != 200) {
      co_return requestRefused(ep.url, path, *r);
    }
    Reply reply{.body = json::parse(r->body, nullptr, false),
                .raw = std::move(r->body),
                .endpoint = ep.url};
    if (reply.body.is_discarded()) {
      co_return badResponse(reply, path, "not JSON");
    }
    co_return reply;
  }
  co_return attempts.exhausted();
}

asio::awaitable<DcsResult<LeaseGrant>> EtcdDcs::grantLease(std::chrono::seconds ttl) {
  auto reply = co_await call("/v3/lease/grant", etcd_json::leaseGrantRequest(ttl));
  if (!reply) {
    co_return reply.failure();
  }
  auto grant = etcd_json::parseLeaseGrant(reply->body);
  if (!grant && grant.code() == DcsErrc::bad_response) {
    co_return badResponse(*reply, "/v3/lease/grant", grant.message());
  }
  co_return grant;
}

asio::awaitable<DcsResult<std::chrono::seconds>> EtcdDcs::keepAlive(LeaseId id) {
  auto reply = co_await call("/v3/lease/keepalive", etcd_json::leaseIdRequest(id));
  if (!reply) {
    co_return reply.failure();
  }
  auto ttl = etcd_json::parseKeepAlive(reply->body);
  if (!ttl && ttl.code() == DcsErrc::bad_response) {
    co_return badResponse(*reply, "/v3/lease/keepalive", ttl.message());
  }
  co_return ttl;
}

asio::awaitable<DcsResult<void>> EtcdDcs::revokeLease(LeaseId id) {
  auto reply = co_await call("/v3/lease/revoke", etcd_json::leaseIdRequest(id));
  if (!reply) {
    co_return reply.failure();
  }
  co_return DcsResult<void>();
}

asio::awaitable<DcsResult<RangeResult>> EtcdDcs::get(std::string key, bool prefix) {
  auto reply = co_await call("/v3/kv/range", etcd_json::rangeRequest(key, prefix));
  if (!reply) {
    co_return reply.failure();
  }
  auto range = etcd_json::parseRange(reply->body);
  if (!range) {
    co_return badResponse(*reply, "/v3/kv/range", range.message());
  }
  co_return range;
}

asio::awaitable<DcsResult<std::int64_t>> EtcdDcs::put(std::string key, std::string value,
                                                      LeaseId lease) {
  auto reply = co_await call("/v3/kv/put", etcd_json::putRequest(key, value, lease));
  if (!reply) {
    co_return reply.failure();
  }
  auto rev = etcd_json::parseHeaderRevision(reply->body);
  if (!rev) {
    co_return badResponse(*reply, "/v3/kv/put", rev.message());
  }
  co_return rev;
}

asio::awaitable<DcsResult<std::int64_t>> EtcdDcs::del(std::string key, bool prefix) {
  auto reply = co_await call("/v3/kv/deleterange", etcd_json::deleteRequest(key, prefix));
  if (!reply) {
    co_return reply.failure();
  }
  auto rev = etcd_json::parseHeaderRevision(reply->body);
  if (!rev) {
    co_return badResponse(*reply, "/v3/kv/deleterange", rev.message());
  }
  co_return rev;
}

asio::awaitable<DcsResult<TxnResult>> EtcdDcs::txn(Txn txn) {
  auto reply = co_await call("/v3/kv/txn", etcd_json::txnRequest(txn));
  if (!reply) {
    co_return reply.failure();
  }
  auto result = etcd_json::parseTxn(reply->body);
  if (!result) {
    co_return badResponse(*reply, "/v3/kv/txn", result.message());
  }
  co_return result;
}

namespace {

// Watch stream state: messages are newline-separated JSON objects.
struct WatchStreamState {
  std::int64_t start_revision = 0;
  bool created = false;
  std::int64_t created_revision = 0;
};

// Consumes the complete lines in `buffer`; returns a result once one is decided.
std::optional<DcsResult<WatchResult>> consumeWatchLines(std::string& buffer,
                                                        WatchStreamState& state,
                                                        const std::string& url) {
  std::size_t nl;
  while ((nl = buffer.find('\n')) != std::string::npos) {
    std::string line = buffer.substr(0, nl);
    buffer.erase(0, nl + 1);
    if (line.find_first_not_of(" \r\t") == std::string::npos) {
      continue;
    }
    auto parsed = json::parse(line, nullptr, false);
    auto message = etcd_json::parseWatchMessage(parsed);
    if (!message) {
      if (message.code() == DcsErrc::bad_response) {
        return fail(DcsErrc::bad_response, "etcd at " + url +
                                               " sent an unexpected watch message (" +
                                               message.message() + "): " + quote(line));
      }
      return message.failure();
    }
    if (message->created) {
      state.created = true;
      state.created_revision = message->header_revision;
    }
    if (!message->events.empty()) {
      WatchResult result;
      result.events = std::move(message->events);
      // Not the header revision: a catch-up batch may stop short of it.
      result.revision = result.events.back().kv.mod_revision;
      return result;
    }
    if (message->canceled) {
      if (message->compact_revision > 0) {
        return WatchResult{.revision = message->compact_revision, .compacted = true};
      }
      return fail(DcsErrc::rejected,
                  "etcd at " + url + " cancelled the watch: " + message->cancel_reason);
    }
  }
  return std::nullopt;
}

}  // namespace

asio::awaitable<DcsResult<WatchResult>> EtcdDcs::watch(std::string prefix,
                                                       std::int64_t start_revision,
                                                       milliseconds max_wait) {
  if (endpoints_.empty()) {
    co_return fail(DcsErrc::unavailable, "no etcd endpoints configured; set etcd.endpoints");
  }
  const std::string body = etcd_json::watchCreateRequest(prefix, start_revision).dump();
  Attempts attempts;
  EndpointPass pass(endpoints_, current_.load(), request_timeout_);
  while (auto turn = pass.next(attempts)) {
    const std::size_t idx = turn->index;
    const auto& ep = *turn->endpoint;
    const auto budget = turn->budget;
    const auto attempt_deadline = Clock::now() + budget;
    auto opened = co_await http::StreamingExchange::open(ex_, ep, "/v3/watch", body, budget);
    if (!opened) {
      if (opened.code() == http::HttpErrc::cancelled) {
        co_return fail(DcsErrc::cancelled, "cancelled while opening a watch");
      }
      attempts.record(ep.url, opened.message(), false);
      continue;
    }
    auto& stream = **opened;
    std::string buffer;
    if (stream.status() != 200) {
      // Error bodies are short; read what arrives before the attempt's deadline.
      for (;;) {
        auto more = co_await stream.readSome(buffer, remainingUntil(attempt_deadline));
        if (!more || !*more) {
          break;
        }
      }
      http::Reply reply{.status = stream.status(), .body = buffer};
      if (stream.status() >= 500) {
        attempts.record(
            ep.url,
            "answered HTTP " + std::to_string(stream.status()) + ": " + gatewayErrorText(reply),
            false);
        continue;
      }
      co_return requestRefused(ep.url, "/v3/watch", reply);
    }
    // Until etcd confirms the watch this endpoint may still be replaced by the next one.
    WatchStreamState state{.start_revision = start_revision};
    bool failed_over = false;
    while (!state.created) {
      if (auto decided = consumeWatchLines(buffer, state, ep.url)) {
        current_.store(idx);
        co_return std::move(*decided);
      }
      if (state.created) {
        break;
      }
      auto more = co_await stream.readSome(buffer, remainingUntil(attempt_deadline));
      if (!more && more.code() == http::HttpErrc::cancelled) {
        co_return fail(DcsErrc::cancelled, "cancelled while opening a watch");
      }
      if (!more || !*more) {
        attempts.record(ep.url, more ? "closed the watch stream" : more.message(), false);
        failed_over = true;
        break;
      }
    }
    if (failed_over) {
      continue;
    }
    current_.store(idx);
    const auto wait_deadline = Clock::now() + max_wait;
    for (;;) {
      if (auto decided = consumeWatchLines(buffer, state, ep.url)) {
        co_return std::move(*decided);
      }
      auto left = remainingUntil(wait_deadline);
      if (left.count() == 0) {
        co_return WatchResult{.revision = std::max(state.created_revision, start_revision - 1)};
      }
      // Not folded into a conditional expression: GCC 12 miscompiles co_await there.
      auto more = co_await stream.readSome(buffer, left);
      if (!more) {
        switch (more.code()) {
          case http::HttpErrc::timed_out:
          case http::HttpErrc::timed_out_before_send:
            co_return WatchResult{.revision = std::max(state.created_revision, start_revision - 1)};
          case http::HttpErrc::cancelled:
            co_return fail(DcsErrc::cancelled, "watch cancelled");
          default:
            co_return fail(DcsErrc::unavailable, "etcd at " + ep.url + " broke off the watch: " +
                                                     more.message() + "; watch again");
        }
      }
      if (!*more) {
        co_return fail(DcsErrc::unavailable,
                       "etcd at " + ep.url + " ended the watch stream; watch again");
      }
    }
  }
  co_return attempts.exhausted();
}

}  // namespace keel::dcs
