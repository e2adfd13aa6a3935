#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pgwire/frame_decoder.h"
#include "proxy/client_stream.h"
#include "proxy/proxy_context.h"
#include "proxy/request_tracker.h"
#include "proxy/server_connection.h"
#include "proxy/server_pool.h"
#include "proxy/wakeup.h"

// Session pooling's relay: once a client is logged in and holds its server connection, bytes go
// both ways unchanged (whole frames, in spans) until one side ends. Runs on the session's thread.
namespace keel::proxy {

enum class RelayEnd { client_terminated, client_gone, server_gone, killed };

class SessionRelay {
 public:
  // `client_decoder` is authenticated and may hold bytes read already; `server` is `conn`'s
  // socket, non-blocking. All must outlive the relay.
  SessionRelay(ClientStream& stream, pgwire::FrameDecoder& client_decoder,
               boost::asio::ip::tcp::socket& server, ServerConnection& conn, PoolStats& stats,
               SessionHandle& handle, pgwire::FrameLimits server_limits);

  // Relays until the client terminates or goes away, the server goes away, or the session is
  // killed (SessionHandle::terminate()).
  boost::asio::awaitable<RelayEnd> run();

  // After run(): whether the connection stopped between transactions with nothing in flight, so
  // that it can be reset and pooled.
  bool idleAtBoundary() const;
  bool serverSentFatal() const { return server_sent_fatal_; }
  // Why the server side broke, when Keel saw it (empty: the connection just closed).
  const std::string& serverError() const { return server_error_; }

 private:
  // A run of whole frames to forward, contiguous in a decoder's buffer (valid until that
  // decoder's next prepare(), which comes only with the next read of that side).
  struct Span {
    const char* data = nullptr;
    std::size_t size = 0;
  };
  // Each direction is a pending read whose completion handler forwards what arrived with
  // writes the socket takes at once, then reads again. A write it does not take whole, or a
  // FATAL error to send, goes on in a coroutine (clientSlow/serverSlow), which then reads again.
  void readClient();
  void clientRead(boost::system::error_code ec, std::size_t n);
  boost::asio::awaitable<void> clientSlow(std::size_t from, std::string fatal, bool terminated);
  void readServer();
  void serverRead(boost::system::error_code ec, std::size_t n);
  boost::asio::awaitable<void> serverSlow(std::size_t from);
  // Appends a frame's bytes to `spans`, merging it with the last one when contiguous.
  static void addSpan(std::vector<Span>& spans, std::string_view raw);
  void noteServerMessage(const pgwire::Frame& f);
  // The relay ends (the first reason wins); the other direction's read is cancelled.
  void finish(RelayEnd end);
  // A direction stopped: run() returns once both have.
  void stopped();

  ClientStream& stream_;
  pgwire::FrameDecoder& client_dec_;
  boost::asio::ip::tcp::socket& server_;
  ServerConnection& conn_;
  PoolStats& stats_;
  SessionHandle& handle_;
  pgwire::FrameDecoder server_dec_;
  RequestTracker requests_;
  char tx_status_ = 'I';
  bool server_sent_fatal_ = false;
  std::string server_error_;
  std::vector<Span> to_server_;  // what the last client read brought, to forward
  std::vector<Span> to_client_;  // what the last server read brought, to forward
  std::optional<RelayEnd> end_;
  int running_ = 0;  // directions still reading or writing
  Wakeup stopped_;
};

}  // namespace keel::proxy
