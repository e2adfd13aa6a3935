#include "proxy/client_output.h"

#include "proxy/relay_io.h"

namespace keel::proxy {

namespace {
// Client-bound bytes queued before the server reader waits for the client to take them.
constexpr std::size_t kClientBacklog = 1024 * 1024;
}  // namespace

bool ClientOutput::flushNow() {
  if (writing_) {
    return pending.size() <= kClientBacklog || failed_;
  }
  if (failed_) {
    pending.clear();
    return true;
  }
  if (pending.empty()) {
    return true;
  }
  if (stream_.tls()) {
    return false;
  }
  boost::system::error_code ec;
  const std::size_t n = writeNow(stream_.socket(), pending.data(), pending.size(), ec);
  if (ec) {
    failed_ = true;
    pending.clear();
    return true;
  }
  if (n == pending.size()) {
    pending.clear();
    return true;
  }
  pending.erase(0, n);
  return false;
}

asio::awaitable<void> ClientOutput::flush() {
  if (flushNow()) {
    co_return;
  }
  if (writing_) {
    while (writing_ && pending.size() > kClientBacklog && !failed_) {
      co_await drained_.wait();
    }
    co_return;
  }
  writing_ = true;
  while (!pending.empty() && !failed_) {
    std::string chunk;
    chunk.swap(pending);
    auto [ec, n] = co_await stream_.async_write_all(asio::buffer(chunk), kNoThrow);
    if (ec) {
      failed_ = true;
    }
    drained_.notify();
  }
  if (failed_) {
    pending.clear();
  }
  writing_ = false;
  drained_.notify();
}

}  // namespace keel::proxy
