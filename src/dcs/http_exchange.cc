#include "dcs/http_exchange.h"

#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/version.hpp>

namespace keel::dcs::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;
using std::chrono::milliseconds;

constexpr std::size_t kBodyLimit = 64 * 1024 * 1024;

std::string millisText(milliseconds ms) {
  return std::to_string(ms.count()) + " ms";
}

// Classifies a failed step. `sent` tells whether the request may have reached the server.
// (Plain function: GCC 12 miscompiles co_await inside a short-circuit condition.)
Failure<HttpErrc> stepFailure(const boost::system::error_code& ec, bool sent,
                              asio::cancellation_type cancelled, milliseconds budget,
                              const char* step) {
  if (ec == beast::error::timeout) {
    return fail(sent ? HttpErrc::timed_out : HttpErrc::timed_out_before_send,
                "timed out after " + millisText(budget) + " (" + step + ")");
  }
  if (ec == asio::error::operation_aborted && cancelled != asio::cancellation_type::none) {
    return fail(HttpErrc::cancelled, "cancelled");
  }
  return fail(sent ? HttpErrc::io_error : HttpErrc::connect_failed,
              std::string(step) + " failed: " + ec.message());
}

// Resolves and connects within the stream's current expiry.
asio::awaitable<boost::system::error_code> connect(beast::tcp_stream& stream,
                                                   const Endpoint& endpoint) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(endpoint.host, ec);
  if (!ec) {
    unsigned long port = std::stoul(endpoint.port);
    co_await stream.async_connect(tcp::endpoint(address, static_cast<unsigned short>(port)),
                                  asio::redirect_error(asio::use_awaitable, ec));
    co_return ec;
  }
  // Name resolution is not bounded by the stream's expiry; names are expected to resolve
  // locally (/etc/hosts) for DCS endpoints.
  tcp::resolver resolver(stream.get_executor());
  ec = {};
  auto results = co_await resolver.async_resolve(endpoint.host, endpoint.port,
                                                 asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    co_return ec;
  }
  co_await stream.async_connect(results, asio::redirect_error(asio::use_awaitable, ec));
  co_return ec;
}

bhttp::request<bhttp::string_body> makeRequest(const Endpoint& endpoint, std::string target,
                                               std::string body, bool get) {
  bhttp::request<bhttp::string_body> req(get ? bhttp::verb::get : bhttp::verb::post, target, 11);
  req.set(bhttp::field::host, endpoint.host + ":" + endpoint.port);
  req.set(bhttp::field::user_agent, "keel");
  if (!get) {
    req.set(bhttp::field::content_type, "application/json");
    req.body() = std::move(body);
  }
  req.keep_alive(false);
  req.prepare_payload();
  return req;
}

}  // namespace

Endpoint parseEndpoint(const std::string& url) {
  Endpoint ep;
  ep.url = url;
  std::string rest = url;
  auto scheme = rest.find("://");
  if (scheme != std::string::npos) {
    std::string s = rest.substr(0, scheme);
    if (s != "http") {
      ep.error = "uses scheme " + s + "://, but Keel talks to etcd over plain http:// only";
      return ep;
    }
    rest = rest.substr(scheme + 3);
  }
  while (!rest.empty() && rest.back() == '/') {
    rest.pop_back();
  }
  std::string host;
  std::string port;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos) {
      ep.error = "has an unterminated IPv6 address";
      return ep;
    }
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') {
      port = rest.substr(close + 2);
    }
  } else {
    auto colon = rest.rfind(':');
    host = rest.substr(0, colon);
    if (colon != std::string::npos) {
      port = rest.substr(colon + 1);
    }
  }
  if (port.empty()) {
    port = "2379";
  }
  bool digits = port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos;
  if (host.empty() || !digits || std::stoul(port) == 0 || std::stoul(port) > 65535) {
    ep.error = "is not a valid http://host:port URL";
    return ep;
  }
  ep.host = host;
  ep.port = port;
  return ep;
}

asio::awaitable<Result<Reply, HttpErrc>> exchange(asio::any_io_executor ex,
                                                  const Endpoint& endpoint, std::string target,
                                                  std::string body, milliseconds budget, bool get) {
  if (!endpoint.error.empty()) {
    co_return fail(HttpErrc::connect_failed, endpoint.error);
  }
  beast::tcp_stream stream(ex);
  stream.expires_after(budget);
  auto ec = co_await connect(stream, endpoint);
  if (ec) {
    co_return stepFailure(ec, false, (co_await asio::this_coro::cancellation_state).cancelled(),
                          budget, "connect");
  }
  auto req = makeRequest(endpoint, std::move(target), std::move(body), get);
  co_await bhttp::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    co_return stepFailure(ec, true, (co_await asio::this_coro::cancellation_state).cancelled(),
                          budget, "sending the request");
  }
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(kBodyLimit);
  co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    co_return stepFailure(ec, true, (co_await asio::this_coro::cancellation_state).cancelled(),
                          budget, "reading the response");
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  auto& res = parser.get();
  co_return Reply{.status = res.result_int(), .body = std::move(res.body())};
}

asio::awaitable<Result<std::unique_ptr<StreamingExchange>, HttpErrc>> StreamingExchange::open(
    asio::any_io_executor ex, const Endpoint& endpoint, std::string target, std::string body,
    milliseconds budget) {
  if (!endpoint.error.empty()) {
    co_return fail(HttpErrc::connect_failed, endpoint.error);
  }
  auto self = std::make_unique<StreamingExchange>(beast::tcp_stream(ex));
  self->stream_.expires_after(budget);
  auto ec = co_await connect(self->stream_, endpoint);
  if (ec) {
    co_return stepFailure(ec, false, (co_await asio::this_coro::cancellation_state).cancelled(),
                          budget, "connect");
  }
  auto req = makeRequest(endpoint, std::move(target), std::move(body), false);
  co_await bhttp::async_write(self->stream_, req, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    co_return stepFailure(ec, true, (co_await asio::this_coro::cancellation_state).cancelled(),
                          budget, "sending the request");
  }
  self->parser_.body_limit(boost::none);
  co_await bhttp::async_read_header(self->stream_, self->buffer_, self->parser_,
                                    asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    co_return stepFailure(ec, true, (co_await asio::this_coro::cancellation_state).cancelled(),
                          budget, "reading the response header");
  }
  self->status_ = self->parser_.get().result_int();
  co_return self;
}

asio::awaitable<Result<bool, HttpErrc>> StreamingExchange::readSome(std::string& out,
                                                                    milliseconds budget) {
  if (parser_.is_done()) {
    co_return false;
  }
  stream_.expires_after(budget);
  char chunk[8192];
  for (;;) {
    auto& b = parser_.get().body();
    b.data = chunk;
    b.size = sizeof chunk;
    boost::system::error_code ec;
    co_await bhttp::async_read_some(stream_, buffer_, parser_,
                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec == bhttp::error::need_buffer) {
      ec = {};
    }
    if (ec) {
      co_return stepFailure(ec, true, (co_await asio::this_coro::cancellation_state).cancelled(),
                            budget, "reading the stream");
    }
    std::size_t got = sizeof chunk - parser_.get().body().size;
    out.append(chunk, got);
    if (got > 0 || parser_.is_done()) {
      co_return !parser_.is_done() || got > 0;
    }
  }
}

}  // namespace keel::dcs::http
