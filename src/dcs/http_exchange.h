#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"

// Minimal HTTP/1.1 client for etcd's JSON gateway: one connection per request, a deadline on
// every step (beast::tcp_stream::expires_after). Plain http only.
namespace keel::dcs::http {

// "http://host:port" (a missing scheme means http). IPv6 hosts in brackets.
struct Endpoint {
  std::string url;  // as configured, for messages
  std::string host;
  std::string port;
  std::string error;  // set when the URL cannot be used; requests to it fail with this
};
Endpoint parseEndpoint(const std::string& url);

enum class HttpErrc {
  connect_failed,  // nothing was sent
  timed_out_before_send,
  timed_out,  // the request was sent; its outcome is unknown
  io_error,   // the connection broke after the request was sent
  cancelled,
};

struct Reply {
  unsigned status = 0;
  std::string body;
};

// POSTs `body` (JSON) to `target` or GETs it when body is empty and `get` is set. Messages say
// what failed without naming the endpoint ("connection refused", "timed out after 300 ms").
boost::asio::awaitable<Result<Reply, HttpErrc>> exchange(boost::asio::any_io_executor ex,
                                                         const Endpoint& endpoint,
                                                         std::string target, std::string body,
                                                         std::chrono::milliseconds budget,
                                                         bool get = false);

// A POST whose response body is read as it arrives (etcd's watch stream).
class StreamingExchange {
 public:
  static boost::asio::awaitable<Result<std::unique_ptr<StreamingExchange>, HttpErrc>> open(
      boost::asio::any_io_executor ex, const Endpoint& endpoint, std::string target,
      std::string body, std::chrono::milliseconds budget);

  unsigned status() const { return status_; }
  // Appends the next body bytes to `out`. Returns false at the end of the body. Failures:
  // timed_out when `budget` passed with nothing new, io_error, cancelled.
  boost::asio::awaitable<Result<bool, HttpErrc>> readSome(std::string& out,
                                                          std::chrono::milliseconds budget);

  StreamingExchange(boost::beast::tcp_stream stream) : stream_(std::move(stream)) {}

 private:
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  boost::beast::http::response_parser<boost::beast::http::buffer_body> parser_;
  unsigned status_ = 0;
};

}  // namespace keel::dcs::http
