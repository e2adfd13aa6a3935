#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "proxy/wire_io.h"

namespace keel::proxy {

// A client's connection: plain TCP, upgraded in place to TLS after an accepted SSLRequest.
// Used by the one session coroutine that owns it.
class ClientStream {
 public:
  explicit ClientStream(asio::ip::tcp::socket socket) : plain_(std::move(socket)) {}

  // Runs the server side of the TLS handshake; afterwards all I/O is encrypted.
  asio::awaitable<boost::system::error_code> startTls(asio::ssl::context& context) {
    tls_.emplace(std::move(plain_), context);
    auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::server, kNoThrow);
    co_return ec;
  }
  bool tls() const { return tls_.has_value(); }
  SSL* sslHandle() { return tls_ ? tls_->native_handle() : nullptr; }

  asio::ip::tcp::socket& socket() { return tls_ ? tls_->next_layer() : plain_; }

  template <typename Buffer, typename Token>
  auto async_read_some(const Buffer& buffer, Token&& token) {
    if (tls_) {
      return tls_->async_read_some(buffer, std::forward<Token>(token));
    }
    return plain_.async_read_some(buffer, std::forward<Token>(token));
  }

  asio::awaitable<ProxyResult<void>> write(std::string_view bytes, std::string_view peer) {
    if (tls_) {
      co_return co_await writeAll(*tls_, bytes, peer);
    }
    co_return co_await writeAll(plain_, bytes, peer);
  }

  // Closes the TCP connection (no TLS close_notify: the client is being dropped).
  void close() {
    boost::system::error_code ec;
    socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    socket().close(ec);
  }

 private:
  asio::ip::tcp::socket plain_;
  std::optional<asio::ssl::stream<asio::ip::tcp::socket>> tls_;
};

}  // namespace keel::proxy
