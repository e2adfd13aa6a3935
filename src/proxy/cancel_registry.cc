#include "proxy/cancel_registry.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>

#include "common/async.h"
#include "pgwire/message_builder.h"
#include "proxy/wire_io.h"

namespace keel::proxy {

using asio::ip::tcp;

std::uint64_t CancelRegistry::index(const pgwire::BackendKeyData& key) {
  auto pid = static_cast<std::uint32_t>(key.process_id) & ~kForwardedBit;
  return (static_cast<std::uint64_t>(pid) << 32) | static_cast<std::uint32_t>(key.secret_key);
}

void CancelSlot::set(const std::string& host, std::uint16_t port,
                     const pgwire::BackendKeyData& key) {
  std::lock_guard lock(mu_);
  target_.host.assign(host);  // keeps its buffer from one transaction to the next
  target_.port = port;
  target_.server_key = key;
  set_ = true;
}

void CancelSlot::clear() {
  std::lock_guard lock(mu_);
  set_ = false;
}

std::optional<CancelTarget> CancelSlot::get() const {
  std::lock_guard lock(mu_);
  if (!set_) {
    return std::nullopt;
  }
  return target_;
}

pgwire::BackendKeyData CancelRegistry::issue() {
  auto slot = std::make_shared<CancelSlot>();
  while (true) {
    std::uint32_t words[2] = {0, 0};
    if (RAND_bytes(reinterpret_cast<unsigned char*>(words), sizeof words) != 1) {
      // No CSPRNG: keys stay unique (the map refuses duplicates) but guessable; cancel only.
      static std::atomic<std::uint32_t> counter{1};
      words[0] = counter++;
      words[1] = words[0] * 2654435761u;
    }
    pgwire::BackendKeyData key{static_cast<std::int32_t>(words[0] & ~kForwardedBit),
                               static_cast<std::int32_t>(words[1])};
    if (key.process_id == 0) {
      continue;
    }
    std::lock_guard lock(mu_);
    if (keys_.emplace(index(key), slot).second) {
      return key;
    }
  }
}

std::shared_ptr<CancelSlot> CancelRegistry::slot(const pgwire::BackendKeyData& key) const {
  std::lock_guard lock(mu_);
  auto it = keys_.find(index(key));
  return it == keys_.end() ? nullptr : it->second;
}

void CancelRegistry::set(const pgwire::BackendKeyData& key, const CancelTarget& target) {
  if (auto s = slot(key)) {
    s->set(target.host, target.port, target.server_key);
  }
}

void CancelRegistry::clear(const pgwire::BackendKeyData& key) {
  if (auto s = slot(key)) {
    s->clear();
  }
}

void CancelRegistry::remove(const pgwire::BackendKeyData& key) {
  std::shared_ptr<CancelSlot> removed;  // released outside the lock
  std::lock_guard lock(mu_);
  if (auto it = keys_.find(index(key)); it != keys_.end()) {
    removed = std::move(it->second);
    keys_.erase(it);
  }
}

std::optional<CancelTarget> CancelRegistry::find(const pgwire::BackendKeyData& key) const {
  auto s = slot(key);
  if (!s) {
    return std::nullopt;
  }
  return s->get();
}

std::size_t CancelRegistry::size() const {
  std::lock_guard lock(mu_);
  return keys_.size();
}

namespace {

asio::awaitable<std::string> cancelOnce(std::string host, std::uint16_t port,
                                        pgwire::BackendKeyData key) {
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  const std::string service = std::to_string(port);
  auto [rec, results] = co_await resolver.async_resolve(host, service, kNoThrow);
  if (rec) {
    co_return "cannot resolve: " + rec.message();
  }
  tcp::socket socket(ex);
  auto [cec, endpoint] = co_await asio::async_connect(socket, results, kNoThrow);
  if (cec) {
    co_return "cannot connect: " + cec.message();
  }
  std::string out;
  pgwire::encode(out, pgwire::CancelRequest{key.process_id, key.secret_key});
  auto w = co_await writeAll(socket, out, host);
  if (!w) {
    co_return w.message();
  }
  // The server closes the connection once it has handled the request.
  char byte;
  co_await socket.async_read_some(asio::buffer(&byte, 1), kNoThrow);
  co_return "";
}

}  // namespace

asio::awaitable<void> sendCancelRequest(std::string host, std::uint16_t port,
                                        pgwire::BackendKeyData key,
                                        std::chrono::milliseconds timeout) {
  auto op = cancelOnce(host, port, key);
  auto r = co_await withTimeout(std::move(op), timeout);
  if (!r) {
    spdlog::warn("cancel request to {}:{} timed out after {} ms", host, port, timeout.count());
  } else if (!r->empty()) {
    spdlog::warn("cancel request to {}:{} failed: {}", host, port, *r);
  }
}

namespace {
// "host:port" or "[v6]:port" of a peer proxy.
std::optional<std::pair<std::string, std::uint16_t>> splitHostPort(const std::string& hp) {
  auto colon = hp.rfind(':');
  if (colon == std::string::npos) {
    return std::nullopt;
  }
  std::string host = hp.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int port = std::atoi(hp.c_str() + colon + 1);
  if (port <= 0 || port > 65535) {
    return std::nullopt;
  }
  return std::make_pair(host, static_cast<std::uint16_t>(port));
}
}  // namespace

asio::awaitable<void> forwardCancelRequest(const CancelRegistry& registry, const RouteTable& routes,
                                           pgwire::BackendKeyData key,
                                           std::chrono::milliseconds timeout) {
  if (auto target = registry.find(key)) {
    co_await sendCancelRequest(target->host, target->port, target->server_key, timeout);
    co_return;
  }
  if (static_cast<std::uint32_t>(key.process_id) & CancelRegistry::kForwardedBit) {
    co_return;  // forwarded by another agent and not ours: nobody has it
  }
  pgwire::BackendKeyData forwarded{
      static_cast<std::int32_t>(static_cast<std::uint32_t>(key.process_id) |
                                CancelRegistry::kForwardedBit),
      key.secret_key};
  for (const auto& peer : routes.peer_proxies) {
    if (auto hp = splitHostPort(peer)) {
      co_await sendCancelRequest(hp->first, hp->second, forwarded, timeout);
    }
  }
}

}  // namespace keel::proxy
