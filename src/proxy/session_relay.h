#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <string>

#include "pgwire/frame_decoder.h"
#include "proxy/client_stream.h"
#include "proxy/proxy_context.h"
#include "proxy/request_tracker.h"
#include "proxy/server_connection.h"
#include "proxy/server_pool.h"

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
  boost::asio::awaitable<RelayEnd> clientToServer();
  boost::asio::awaitable<RelayEnd> serverToClient();
  boost::asio::awaitable<bool> sendToClient(boost::asio::ip::tcp::socket* plain, const char* data,
                                            std::size_t size);
  void noteServerMessage(const pgwire::Frame& f);

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
};

}  // namespace keel::proxy
