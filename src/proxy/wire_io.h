#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <string>
#include <string_view>

#include "pgwire/frame_decoder.h"
#include "proxy/credentials.h"

// Reading frames from and writing messages to a stream (a tcp::socket or a TLS stream), as
// coroutines that report failures as values.
namespace keel::proxy {

namespace asio = boost::asio;
inline constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// The next frame from `stream` through `decoder`; the frame's views stay valid until the next
// read on this decoder. `peer` names the other side in messages ("the client", "server n1").
template <typename Stream>
asio::awaitable<ProxyResult<pgwire::Frame>> readFrame(Stream& stream, pgwire::FrameDecoder& decoder,
                                                      std::string_view peer) {
  while (true) {
    auto next = decoder.next();
    if (!next) {
      co_return fail(ProxyErrc::bad_input,
                     std::string(peer) + " broke the protocol: " + next.message());
    }
    if (*next) {
      co_return std::move(**next);
    }
    auto space = decoder.prepare(std::max<std::size_t>(decoder.bytesWanted(), 8192));
    auto [ec, n] =
        co_await stream.async_read_some(asio::buffer(space.data(), space.size()), kNoThrow);
    if (ec) {
      co_return fail(ProxyErrc::io, std::string(peer) + " closed the connection" +
                                        (ec == asio::error::eof ? "" : ": " + ec.message()));
    }
    decoder.commit(n);
  }
}

template <typename Stream>
asio::awaitable<ProxyResult<void>> writeAll(Stream& stream, std::string_view bytes,
                                            std::string_view peer) {
  auto [ec, n] =
      co_await asio::async_write(stream, asio::buffer(bytes.data(), bytes.size()), kNoThrow);
  if (ec) {
    co_return fail(ProxyErrc::io, "cannot write to " + std::string(peer) + ": " + ec.message());
  }
  co_return ProxyResult<void>();
}

}  // namespace keel::proxy
