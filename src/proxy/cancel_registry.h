#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "pgwire/backend_messages.h"
#include "proxy/route_table.h"

namespace keel::proxy {

// Where a client's CancelRequest must go: the PostgreSQL backend serving it right now.
struct CancelTarget {
  std::string host;
  std::uint16_t port = 0;
  pgwire::BackendKeyData server_key;
};

// Where one client's CancelRequest goes right now. Its session points it at each server backend
// it borrows (no registry-wide lock per transaction); a CancelRequest reads it. Thread-safe.
class CancelSlot {
 public:
  void set(const std::string& host, std::uint16_t port, const pgwire::BackendKeyData& key);
  void clear();  // no server attached right now
  std::optional<CancelTarget> get() const;

 private:
  mutable std::mutex mu_;
  CancelTarget target_;
  bool set_ = false;
};

// The cancel keys Keel hands to its clients (BackendKeyData), mapped to the server backend each
// client uses. Keys are random with the sign bit of the process id clear; a CancelRequest this
// agent does not know is forwarded to the other agents' proxies with that bit set, so the
// agent that issued the key cancels it and a forwarded request is never forwarded again.
// Thread-safe.
class CancelRegistry {
 public:
  static constexpr std::uint32_t kForwardedBit = 0x80000000u;

  pgwire::BackendKeyData issue();
  // The slot of an issued key (null once removed), for its session to keep.
  std::shared_ptr<CancelSlot> slot(const pgwire::BackendKeyData& key) const;
  void set(const pgwire::BackendKeyData& key, const CancelTarget& target);
  void clear(const pgwire::BackendKeyData& key);  // no server attached right now
  void remove(const pgwire::BackendKeyData& key);
  // Looks the key up with the forwarded bit cleared.
  std::optional<CancelTarget> find(const pgwire::BackendKeyData& key) const;
  std::size_t size() const;

 private:
  static std::uint64_t index(const pgwire::BackendKeyData& key);
  mutable std::mutex mu_;
  std::unordered_map<std::uint64_t, std::shared_ptr<CancelSlot>> keys_;
};

// Sends a CancelRequest for `key` to host:port (a PostgreSQL server or another agent's proxy)
// and closes; bounded by `timeout`. Cancellation is best effort, as in PostgreSQL: failures are
// only logged.
boost::asio::awaitable<void> sendCancelRequest(std::string host, std::uint16_t port,
                                               pgwire::BackendKeyData key,
                                               std::chrono::milliseconds timeout);

// Routes a client's CancelRequest: to the server backend `registry` maps `key` to, else (a key
// another agent issued) to every peer proxy in `routes` with the forwarded bit set, unless it was
// forwarded already. Each send is bounded by `timeout`.
boost::asio::awaitable<void> forwardCancelRequest(const CancelRegistry& registry,
                                                  const RouteTable& routes,
                                                  pgwire::BackendKeyData key,
                                                  std::chrono::milliseconds timeout);

}  // namespace keel::proxy
