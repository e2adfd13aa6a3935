#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dcs/dcs.h"
#include "dcs/http_exchange.h"

namespace keel::dcs {

// etcd v3 through its JSON gRPC gateway (HTTP/1.1, one connection per request; a watch holds its
// own connection, so lease keepalives never wait behind it).
//
// Endpoint failover: requests go to the "current" endpoint first. On a connect error, timeout or
// 5xx answer the call moves on to the next endpoint while its deadline (request_timeout) allows,
// at most one pass over the list; the endpoint that answers becomes current. Each attempt gets an
// equal share of the remaining time (at least 300 ms while that much remains), so one dead member
// cannot use up the whole deadline. A request that timed out after being sent may have been
// applied; if every attempt failed and one of them was such a timeout the call fails with
// DcsErrc::timeout, otherwise with DcsErrc::unavailable. Either message names every endpoint
// tried and what went wrong there.
//
// I/O runs on `ex` (the agent's control-plane executor). Thread-safe: the only shared state is
// the current endpoint index.
class EtcdDcs final : public Dcs {
 public:
  EtcdDcs(boost::asio::any_io_executor ex, std::vector<std::string> endpoints,
          std::chrono::milliseconds request_timeout);

  boost::asio::awaitable<DcsResult<LeaseGrant>> grantLease(std::chrono::seconds ttl) override;
  boost::asio::awaitable<DcsResult<std::chrono::seconds>> keepAlive(LeaseId id) override;
  boost::asio::awaitable<DcsResult<void>> revokeLease(LeaseId id) override;
  boost::asio::awaitable<DcsResult<RangeResult>> get(std::string key, bool prefix) override;
  boost::asio::awaitable<DcsResult<std::int64_t>> put(std::string key, std::string value,
                                                      LeaseId lease) override;
  boost::asio::awaitable<DcsResult<std::int64_t>> del(std::string key, bool prefix) override;
  boost::asio::awaitable<DcsResult<TxnResult>> txn(Txn txn) override;
  // A watch whose stream the server cancels for compaction returns compacted = true. max_wait
  // bounds the wait for events; connecting and the server's first answer get request_timeout.
  boost::asio::awaitable<DcsResult<WatchResult>> watch(std::string prefix,
                                                       std::int64_t start_revision,
                                                       std::chrono::milliseconds max_wait) override;
  std::string describe() const override;

 private:
  struct Reply {
    nlohmann::json body;
    std::string raw;
    std::string endpoint;
  };
  // POSTs `request` to `path` with failover; returns the parsed JSON of a 200 answer. Non-200
  // answers that are not endpoint failures map to lease_not_found or rejected.
  boost::asio::awaitable<DcsResult<Reply>> call(const char* path, nlohmann::json request);
  static Failure<DcsErrc> badResponse(const Reply& reply, const char* path, const std::string& why);

  boost::asio::any_io_executor ex_;
  std::vector<http::Endpoint> endpoints_;
  std::chrono::milliseconds request_timeout_;
  std::atomic<std::size_t> current_{0};
};

}  // namespace keel::dcs
