#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
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
    tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket>>(std::move(plain_), context);
    auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::server, kNoThrow);
    co_return ec;
  }
  bool tls() const { return tls_ != nullptr; }
  SSL* sslHandle() { return tls_ ? tls_->native_handle() : nullptr; }

  asio::ip::tcp::socket& socket() { return tls_ ? tls_->next_layer() : plain_; }

  template <typename Buffer, typename Token>
  auto async_read_some(const Buffer& buffer, Token&& token) {
    if (tls_) {
      return tls_->async_read_some(buffer, std::forward<Token>(token));
    }
    return plain_.async_read_some(buffer, std::forward<Token>(token));
  }

  // Writes all of `buffer`; the relay's hot path (no coroutine frame of its own).
  template <typename Buffer, typename Token>
  auto async_write_all(const Buffer& buffer, Token&& token) {
    if (tls_) {
      return asio::async_write(*tls_, buffer, std::forward<Token>(token));
    }
    return asio::async_write(plain_, buffer, std::forward<Token>(token));
  }

  asio::awaitable<ProxyResult<void>> write(std::string_view bytes, std::string_view peer) {
    if (tls_) {
      co_return co_await writeAll(*tls_, bytes, peer);
    }
    co_return co_await writeAll(plain_, bytes, peer);
  }

  // Ends the connection so that what was written last (a FATAL error) reaches the client: send
  // FIN, then read and drop whatever the client still sends until it closes or `linger` passes.
  // Closing with unread input would make the kernel answer with a reset, which can destroy the
  // client's copy of the error before it reads it.
  asio::awaitable<void> closeGracefully(std::chrono::milliseconds linger) {
    boost::system::error_code ec;
    socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    asio::steady_timer timer(socket().get_executor(), linger);
    timer.async_wait([this](const boost::system::error_code& e) {
      if (!e) {
        boost::system::error_code ignored;
        socket().cancel(ignored);
      }
    });
    char sink[4096];
    while (true) {
      auto [rec, n] = co_await socket().async_read_some(asio::buffer(sink, sizeof sink), kNoThrow);
      if (rec) {
        break;
      }
    }
    timer.cancel();
    close();
  }

  // Closes the TCP connection (no TLS close_notify: the client is being dropped).
  void close() {
    boost::system::error_code ec;
    socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    socket().close(ec);
  }

 private:
  asio::ip::tcp::socket plain_;
  // On the heap: most clients do without, and an idle client's memory counts.
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket>> tls_;
};

}  // namespace keel::proxy
