#include "api/http_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <map>

#include "api/beast_request.h"

namespace keel::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kReadTimeout = std::chrono::seconds(30);
constexpr auto kWriteTimeout = std::chrono::seconds(30);
constexpr auto kAsTuple = asio::as_tuple(asio::use_awaitable);

std::string endpointText(const tcp::endpoint& ep) {
  std::string addr = ep.address().to_string();
  if (ep.address().is_v6()) {
    addr = "[" + addr + "]";
  }
  return addr + ":" + std::to_string(ep.port());
}

http::response<http::string_body> toResponse(const HttpResponse& r, unsigned version,
                                             bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "Keel");
  res.set(http::field::content_type, r.content_type);
  for (const auto& [name, value] : r.headers) {
    res.set(name, value);
  }
  res.keep_alive(keep_alive);
  res.body() = r.body;
  res.prepare_payload();
  return res;
}

}  // namespace

struct HttpServer::State : std::enable_shared_from_this<HttpServer::State> {
  State(asio::any_io_executor ex, Router& r, tcp::endpoint ep)
      : executor(ex), router(r), endpoint(ep), acceptor(ex) {}

  asio::any_io_executor executor;
  Router& router;
  tcp::endpoint endpoint;
  tcp::acceptor acceptor;
  std::uint16_t bound_port = 0;
  bool stopped = false;
  std::uint64_t next_session = 0;
  std::map<std::uint64_t, beast::tcp_stream*> sessions;  // open connections, for stop()

  asio::awaitable<void> acceptLoop();
  asio::awaitable<void> session(tcp::socket socket);
  asio::awaitable<void> serve(beast::tcp_stream& stream);
  void closeAll();
};

asio::awaitable<void> HttpServer::State::acceptLoop() {
  auto self = shared_from_this();
  while (!stopped && acceptor.is_open()) {
    auto [ec, socket] = co_await acceptor.async_accept(kAsTuple);
    if (stopped || ec == asio::error::operation_aborted) {
      break;
    }
    if (ec) {
      // Out of descriptors and the like: back off instead of spinning.
      spdlog::warn("api: accept on {} failed: {}", endpointText(endpoint), ec.message());
      asio::steady_timer pause(executor, std::chrono::milliseconds(100));
      co_await pause.async_wait(kAsTuple);
      continue;
    }
    asio::co_spawn(executor, session(std::move(socket)), [](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("api: connection failed: {}", ex.what());
        }
      }
    });
  }
}

asio::awaitable<void> HttpServer::State::session(tcp::socket socket) {
  auto self = shared_from_this();
  if (stopped) {
    co_return;  // accepted just before stop(); the socket closes as it goes out of scope
  }
  beast::tcp_stream stream(std::move(socket));
  std::uint64_t id = next_session++;
  sessions[id] = &stream;
  struct Unregister {
    State& state;
    std::uint64_t id;
    ~Unregister() { state.sessions.erase(id); }
  } unregister{*this, id};
  try {
    co_await serve(stream);
  } catch (const std::exception& e) {
    spdlog::warn("api: closing connection after an error: {}", e.what());
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream.socket().close(ignored);
}

asio::awaitable<void> HttpServer::State::serve(beast::tcp_stream& stream) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kMaxHeaderBytes);
    parser.body_limit(kMaxBodyBytes);
    stream.expires_after(kReadTimeout);
    auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, kAsTuple);
    if (!hec && parser.get()[http::field::expect] == "100-continue") {
      http::response<http::empty_body> cont{http::status::continue_, parser.get().version()};
      auto [cec, cn] = co_await http::async_write(stream, cont, kAsTuple);
      if (cec) {
        co_return;
      }
    }
    beast::error_code ec = hec;
    if (!ec && !parser.is_done()) {
      auto [bec, bn] = co_await http::async_read(stream, buffer, parser, kAsTuple);
      ec = bec;
    }
    if (ec) {
      std::optional<HttpResponse> reply;
      if (ec == http::error::body_limit) {
        reply = HttpResponse{.status = 413,
                             .content_type = "text/plain; charset=utf-8",
                             .body = "request body exceeds the limit of " +
                                     std::to_string(kMaxBodyBytes) + " bytes"};
      } else if (ec == http::error::header_limit) {
        reply = HttpResponse{
            .status = 431,
            .content_type = "text/plain; charset=utf-8",
            .body = "request headers exceed " + std::to_string(kMaxHeaderBytes) + " bytes"};
      } else if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
                 ec != http::error::end_of_stream && ec != http::error::partial_message) {
        reply = HttpResponse{.status = 400,
                             .content_type = "text/plain; charset=utf-8",
                             .body = "malformed HTTP request: " + ec.message()};
      }
      if (reply) {
        auto res = toResponse(*reply, 11, false);
        stream.expires_after(kWriteTimeout);
        co_await http::async_write(stream, res, kAsTuple);
      }
      co_return;  // end of stream, timeout, reset, or a reply that closes the connection
    }

    auto& req = parser.get();
    bool keep_alive = req.keep_alive();
    unsigned version = req.version();
    HttpRequest request = fromBeastRequest(req);
    HttpResponse reply = co_await router.handle(std::move(request));
    if (stopped) {
      co_return;
    }
    auto res = toResponse(reply, version, keep_alive);
    stream.expires_after(kWriteTimeout);
    auto [wec, wn] = co_await http::async_write(stream, res, kAsTuple);
    if (wec || !keep_alive) {
      co_return;
    }
  }
}

void HttpServer::State::closeAll() {
  stopped = true;
  beast::error_code ignored;
  acceptor.close(ignored);
  for (auto& [id, stream] : sessions) {
    stream->socket().close(ignored);
  }
}

HttpServer::HttpServer(asio::any_io_executor executor, Router& router, tcp::endpoint endpoint)
    : state_(std::make_shared<State>(executor, router, endpoint)) {}

HttpServer::~HttpServer() {
  stop();
}

Result<void, ServerErrc> HttpServer::start() {
  auto& s = *state_;
  beast::error_code ec;
  auto failed = [&]() {
    std::string hint;
    if (ec == asio::error::address_in_use) {
      hint = "; set restapi.listen to a free port";
    } else if (ec == asio::error::access_denied) {
      hint = "; use a port above 1023 or run with the needed privilege";
    } else if (ec == boost::system::errc::address_not_available) {
      hint = "; restapi.listen must be an address of this host";
    }
    beast::error_code ignored;
    s.acceptor.close(ignored);
    std::string cause = ec.message();
    if (!cause.empty()) {
      cause[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(cause[0])));
    }
    return fail(ServerErrc::listen,
                "cannot listen on " + endpointText(s.endpoint) + ": " + cause + hint);
  };
  s.acceptor.open(s.endpoint.protocol(), ec);
  if (ec) {
    return failed();
  }
  s.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) {
    return failed();
  }
  s.acceptor.bind(s.endpoint, ec);
  if (ec) {
    return failed();
  }
  s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return failed();
  }
  s.bound_port = s.acceptor.local_endpoint(ec).port();
  spdlog::info("api: listening on {}",
               endpointText(tcp::endpoint(s.endpoint.address(), s.bound_port)));
  asio::co_spawn(s.executor, s.acceptLoop(), [](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("api: accept loop stopped: {}", ex.what());
      }
    }
  });
  return {};
}

void HttpServer::stop() {
  asio::dispatch(state_->executor, [state = state_] { state->closeAll(); });
}

std::uint16_t HttpServer::port() const {
  return state_->bound_port;
}

}  // namespace keel::api
