#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <cstddef>

#include "proxy/wire_io.h"

// Writes for the session relay's hot path. A completed async_write resumes its coroutine through
// the scheduler queue (and often an extra epoll_wait before it); a request or a response of a few
// hundred bytes nearly always fits in the socket's send buffer, so the relay first writes without
// waiting and uses async_write only for what the socket did not take.
namespace keel::proxy {

// Writes as much of `size` bytes at `data` as the socket (in non-blocking mode) takes now, and
// returns how much that was. `ec` is set only for a real failure, never for would_block.
inline std::size_t writeNow(boost::asio::ip::tcp::socket& socket, const char* data,
                            std::size_t size, boost::system::error_code& ec) {
  std::size_t n = socket.write_some(boost::asio::buffer(data, size), ec);
  if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
    ec.clear();
    return 0;
  }
  return ec ? 0 : n;
}

// Sends `size` bytes at `data` to a plain socket: at once when it takes them, without a trip
// through the scheduler, else the rest by async_write. False: the socket failed.
inline boost::asio::awaitable<bool> sendPlain(boost::asio::ip::tcp::socket& socket,
                                              const char* data, std::size_t size) {
  boost::system::error_code ec;
  std::size_t done = writeNow(socket, data, size, ec);
  if (ec) {
    co_return false;
  }
  if (done == size) {
    co_return true;
  }
  auto [wec, n] = co_await boost::asio::async_write(
      socket, boost::asio::buffer(data + done, size - done), kNoThrow);
  co_return !wec;
}

}  // namespace keel::proxy
