#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>

#include "api/router.h"
#include "common/result.h"

namespace keel::api {

enum class ServerErrc { listen };

// The REST API's HTTP/1.1 server: one coroutine per connection, keep-alive, a 30 s read
// timeout, 16 KiB of headers and kMaxBodyBytes of body at most. Each request goes to the
// Router; an exception in a connection is logged and closes that connection only.
//
// Threading: everything runs on `executor` (the agent's control-plane io_context). start()
// must be called on that executor's thread or before the io_context runs; stop() may be
// called from any thread. `router` must outlive the server's connections; destroy the server
// before its io_context.
class HttpServer {
 public:
  HttpServer(boost::asio::any_io_executor executor, Router& router,
             boost::asio::ip::tcp::endpoint endpoint);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens, then accepts on the executor. A taken port fails with a message that
  // names the address and what to change.
  Result<void, ServerErrc> start();

  // Stops accepting and closes open connections (their in-flight requests are abandoned).
  void stop();

  // The bound port (useful after binding port 0); 0 before start().
  std::uint16_t port() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace keel::api
