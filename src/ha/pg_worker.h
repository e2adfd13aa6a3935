#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <thread>
#include <utility>

namespace keel::ha {

// The one thread that runs blocking PostgreSQL work (processes, libpq) for the control plane,
// so the control io_context never blocks. Jobs run one at a time, in order: two PostgreSQL
// operations never overlap. The thread lives as long as the agent, which the postmaster's
// parent-death signal relies on (it follows the thread that forked it).
class PgWorker {
 public:
  PgWorker() : guard_(ctx_.get_executor()), thread_([this] { ctx_.run(); }) {}
  ~PgWorker() {
    guard_.reset();
    ctx_.stop();
    if (thread_.joinable())
      thread_.join();
  }
  PgWorker(const PgWorker&) = delete;
  PgWorker& operator=(const PgWorker&) = delete;

  // Runs `fn` on the worker thread; the awaiting coroutine resumes on its own executor.
  // Not a coroutine, and `fn` is a named object of the caller's: g++ 12 destroys non-trivial
  // temporaries of a co_await full-expression twice, so callers must not pass a temporary
  // lambda here. co_spawn keeps its own copy of `fn` in its frame.
  template <typename Fn>
  auto run(const Fn& fn) -> boost::asio::awaitable<decltype(fn())> {
    using R = decltype(fn());
    return boost::asio::co_spawn(
        ctx_, [fn]() mutable -> boost::asio::awaitable<R> { co_return fn(); },
        boost::asio::use_awaitable);
  }

 private:
  boost::asio::io_context ctx_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

}  // namespace keel::ha
