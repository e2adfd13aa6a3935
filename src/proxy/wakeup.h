#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <chrono>
#include <memory>

#include "proxy/wire_io.h"

namespace keel::proxy {

// Wakes a coroutine of the same thread that waits for a condition: wait in a loop that checks
// the condition first. The timer is made by the first wait: most owners never wait.
class Wakeup {
 public:
  boost::asio::awaitable<void> wait() {
    if (!timer_) {
      auto ex = co_await boost::asio::this_coro::executor;
      timer_ = std::make_unique<boost::asio::steady_timer>(ex);
    }
    timer_->expires_at(std::chrono::steady_clock::time_point::max());
    co_await timer_->async_wait(kNoThrow);
  }
  void notify() {
    if (timer_) {
      timer_->cancel();
    }
  }

 private:
  std::unique_ptr<boost::asio::steady_timer> timer_;
};

}  // namespace keel::proxy
