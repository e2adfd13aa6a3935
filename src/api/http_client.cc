#include "api/http_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <cctype>

#include "common/async.h"

namespace keel::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kAsTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::uint64_t kMaxResponseBytes = 64ull * 1024 * 1024;

struct Exchange {
  std::string method;
  std::string url;
  nlohmann::json body;
  std::optional<Credentials> credentials;
  std::chrono::milliseconds timeout;
};

std::string lowerFirst(std::string text) {
  if (!text.empty()) {
    text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  }
  return text;
}

Failure<ClientErrc> unreachable(const std::string& url, const beast::error_code& ec) {
  return fail(ClientErrc::unreachable,
              "cannot reach " + url + ": " + lowerFirst(ec.message()) + "; is the agent running?");
}

Failure<ClientErrc> timedOut(const std::string& url, std::chrono::milliseconds timeout) {
  return fail(ClientErrc::timeout, "no answer from " + url + " within " +
                                       std::to_string(timeout.count()) +
                                       " ms; is the agent running and reachable?");
}

Failure<ClientErrc> broken(const std::string& url, const beast::error_code& ec) {
  return fail(ClientErrc::io, "request to " + url + " failed: " + lowerFirst(ec.message()));
}

asio::awaitable<Result<ClientResponse, ClientErrc>> perform(Exchange x) {
  auto url = parseHttpUrl(x.url);
  if (!url) {
    co_return url.failure();
  }
  auto verb = http::string_to_verb(x.method);
  if (verb == http::verb::unknown) {
    co_return fail(ClientErrc::invalid_request,
                   "unknown HTTP method \"" + x.method + "\" for " + x.url);
  }
  auto deadline = std::chrono::steady_clock::now() + x.timeout;
  auto ex = co_await asio::this_coro::executor;

  tcp::resolver resolver(ex);
  auto resolved = co_await withTimeout(
      resolver.async_resolve(url->host, std::to_string(url->port), kAsTuple), x.timeout);
  if (!resolved) {
    co_return timedOut(x.url, x.timeout);
  }
  auto& [rec, endpoints] = *resolved;
  if (rec) {
    co_return unreachable(x.url, rec);
  }

  beast::tcp_stream stream(ex);
  stream.expires_at(deadline);
  auto [cec, connected] = co_await stream.async_connect(endpoints, kAsTuple);
  if (cec == beast::error::timeout) {
    co_return timedOut(x.url, x.timeout);
  }
  if (cec) {
    co_return unreachable(x.url, cec);
  }

  http::request<http::string_body> req{verb, url->target, 11};
  req.set(http::field::host, url->host + ":" + std::to_string(url->port));
  req.set(http::field::user_agent, "keel");
  req.set(http::field::accept, "application/json, text/plain");
  req.keep_alive(false);
  if (x.credentials) {
    req.set(http::field::authorization, basicAuthorization(*x.credentials));
  }
  if (!x.body.is_null()) {
    req.set(http::field::content_type, "application/json");
    req.body() = x.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  req.prepare_payload();
  auto [wec, written] = co_await http::async_write(stream, req, kAsTuple);
  if (wec == beast::error::timeout) {
    co_return timedOut(x.url, x.timeout);
  }
  if (wec) {
    co_return broken(x.url, wec);
  }

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxResponseBytes);
  if (verb == http::verb::head) {
    parser.skip(true);
  }
  auto [rdec, read] = co_await http::async_read(stream, buffer, parser, kAsTuple);
  if (rdec == beast::error::timeout) {
    co_return timedOut(x.url, x.timeout);
  }
  if (rdec) {
    co_return broken(x.url, rdec);
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);

  auto& res = parser.get();
  ClientResponse out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& field : res) {
    std::string name(field.name_string());
    for (auto& c : name) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    out.headers[name] = std::string(field.value());
  }
  if (auto it = out.headers.find("content-type"); it != out.headers.end()) {
    out.content_type = it->second;
  }
  out.body = std::move(res.body());
  co_return out;
}

// Exceptions (allocation failure, resolver internals) become values here, at the top of the
// coroutine, so callers see only Results.
asio::awaitable<Result<ClientResponse, ClientErrc>> performSafely(Exchange x) {
  std::string url = x.url;
  try {
    co_return co_await perform(std::move(x));
  } catch (const std::exception& e) {
    co_return fail(ClientErrc::io, "request to " + url + " failed: " + e.what());
  }
}

}  // namespace

std::optional<nlohmann::json> ClientResponse::json() const {
  auto parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_discarded()) {
    return std::nullopt;
  }
  return parsed;
}

Result<HttpUrl, ClientErrc> parseHttpUrl(const std::string& url) {
  auto bad = [&](const std::string& why) {
    return fail(ClientErrc::invalid_request,
                "invalid URL \"" + url + "\": " + why + "; expected http://host:port/path");
  };
  constexpr std::string_view kScheme = "http://";
  if (url.rfind("https://", 0) == 0) {
    return bad("https is not supported by this client");
  }
  if (url.rfind(kScheme, 0) != 0) {
    return bad("it does not start with http://");
  }
  std::string_view rest = std::string_view(url).substr(kScheme.size());
  auto slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  HttpUrl out;
  if (slash != std::string_view::npos) {
    out.target = std::string(rest.substr(slash));
    if (out.target.front() == '?') {
      out.target = "/" + out.target;
    }
  }
  if (auto hash = out.target.find('#'); hash != std::string::npos) {
    out.target.resize(hash);
  }
  if (authority.find('@') != std::string_view::npos) {
    return bad("credentials in the URL are not supported; configure them instead");
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return bad("unterminated [ in the host");
    }
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return bad("unexpected text after ]");
      }
      port_text = after.substr(1);
    }
  } else {
    auto colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
    }
  }
  if (out.host.empty()) {
    return bad("the host is empty");
  }
  if (!port_text.empty() || authority.back() == ':') {
    unsigned long port = 0;
    if (port_text.empty() || port_text.size() > 5) {
      return bad("the port is not a number from 1 to 65535");
    }
    for (char c : port_text) {
      if (!std::isdigit(static_cast<unsigned char>(c))) {
        return bad("the port is not a number from 1 to 65535");
      }
      port = port * 10 + static_cast<unsigned long>(c - '0');
    }
    if (port == 0 || port > 65535) {
      return bad("the port is not a number from 1 to 65535");
    }
    out.port = static_cast<std::uint16_t>(port);
  }
  return out;
}

asio::awaitable<Result<ClientResponse, ClientErrc>> HttpClient::request(std::string method,
                                                                        std::string url,
                                                                        nlohmann::json body) const {
  // Not a coroutine itself: the settings are copied now, so the client may go away before
  // the returned awaitable is run.
  return performSafely(
      Exchange{std::move(method), std::move(url), std::move(body), credentials_, timeout_});
}

Result<ClientResponse, ClientErrc> HttpClient::requestSync(std::string method, std::string url,
                                                           nlohmann::json body) const {
  asio::io_context ctx;
  std::optional<Result<ClientResponse, ClientErrc>> out;
  Exchange x{std::move(method), url, std::move(body), credentials_, timeout_};
  asio::co_spawn(
      ctx,
      [&out, x = std::move(x)]() mutable -> asio::awaitable<void> {
        out.emplace(co_await performSafely(std::move(x)));
      },
      asio::detached);
  ctx.run();
  if (!out) {
    return fail(ClientErrc::io, "request to " + url + " did not complete");
  }
  return std::move(*out);
}

}  // namespace keel::api
