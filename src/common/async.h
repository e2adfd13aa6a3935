#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <optional>
#include <variant>

namespace keel {

namespace asio = boost::asio;

// Bookworm's Asio has no cancel_after; every deadline goes through here. The operation is
// cancelled (through its cancellation slot) when the timer fires first.
template <typename T>
asio::awaitable<std::optional<T>> withTimeout(asio::awaitable<T> op,
                                              std::chrono::steady_clock::duration timeout) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
  auto r = co_await (std::move(op) || timer.async_wait(asio::use_awaitable));
  if (r.index() == 0) {
    co_return std::move(std::get<0>(r));
  }
  co_return std::nullopt;
}

// Sleeps on the calling coroutine's executor.
inline asio::awaitable<void> sleepFor(std::chrono::steady_clock::duration d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(asio::use_awaitable);
}

}  // namespace keel
