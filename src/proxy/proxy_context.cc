#include "proxy/proxy_context.h"

#include <openssl/rand.h>

#include <algorithm>
#include <boost/asio/post.hpp>

namespace keel::proxy {

const char* toString(Listener l) {
  return l == Listener::rw ? "rw" : "ro";
}

void SessionHandle::terminate(std::string reason) {
  // Runs on the session's thread, where server_socket_ is set and cleared.
  boost::asio::post(ex_, [self = shared_from_this(), reason = std::move(reason)] {
    if (!self->kill_reason_.empty()) {
      return;
    }
    self->kill_reason_ = reason;
    if (self->server_socket_) {
      boost::system::error_code ec;
      self->server_socket_->cancel(ec);
    }
  });
}

void SessionRegistry::add(const std::shared_ptr<SessionHandle>& s) {
  std::lock_guard lock(mu_);
  sessions_.push_back(s);
}

void SessionRegistry::remove(std::uint64_t id) {
  std::lock_guard lock(mu_);
  sessions_.erase(std::remove_if(sessions_.begin(), sessions_.end(),
                                 [id](const auto& s) { return s->id() == id; }),
                  sessions_.end());
}

std::vector<std::shared_ptr<SessionHandle>> SessionRegistry::all() const {
  std::lock_guard lock(mu_);
  return sessions_;
}

std::size_t SessionRegistry::size() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

ProxyContext::ProxyContext(std::shared_ptr<const Config> cfg, boost::asio::any_io_executor ex)
    : config(cfg),
      pools(cfg->proxy.default_pool_size, cfg->proxy.server_lifetime),
      crypto(std::move(ex)) {
  retained_.push_back(cfg);
  current_.store(cfg.get(), std::memory_order_release);
  unsigned char key[32];
  if (RAND_bytes(key, sizeof key) == 1) {
    mock_key.assign(reinterpret_cast<const char*>(key), sizeof key);
  }
}

void ProxyContext::retainConfig(std::shared_ptr<const Config> next) {
  {
    std::lock_guard lock(retained_mu_);
    retained_.push_back(next);
  }
  current_.store(next.get(), std::memory_order_release);
  config.store(std::move(next));
}

}  // namespace keel::proxy
