#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "api/http_client.h"
#include "api/http_server.h"
#include "fake_backend.h"

namespace keel::api {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace testing;
using nlohmann::json;

const tcp::endpoint kLoopbackAnyPort{asio::ip::make_address("127.0.0.1"), 0};

// Runs `body` on a fresh io_context, bounded so a hang fails instead of blocking the suite.
template <typename Body>
void runAsync(Body body) {
  asio::io_context ctx;
  bool finished = false;
  std::exception_ptr error;
  asio::co_spawn(ctx, body(ctx), [&](std::exception_ptr e) {
    error = e;
    finished = true;
  });
  ctx.run_for(std::chrono::seconds(20));
  if (error) {
    std::rethrow_exception(error);
  }
  EXPECT_TRUE(finished) << "the exchange did not finish within 20 s";
}

// Sends raw bytes and reads until the server closes the connection.
asio::awaitable<std::string> rawExchange(std::uint16_t port, std::string bytes) {
  tcp::socket socket(co_await asio::this_coro::executor);
  co_await socket.async_connect({asio::ip::make_address("127.0.0.1"), port}, asio::use_awaitable);
  co_await asio::async_write(socket, asio::buffer(bytes), asio::use_awaitable);
  std::string reply;
  // Ends with EOF (or a reset) once the server closes; what arrived until then is the answer.
  co_await asio::async_read(socket, asio::dynamic_buffer(reply),
                            asio::as_tuple(asio::use_awaitable));
  co_return reply;
}

std::string url(std::uint16_t port, const std::string& path) {
  return "http://127.0.0.1:" + std::to_string(port) + path;
}

TEST(HttpEndToEnd, HealthAndAuthenticatedPost) {
  FakeBackend backend;
  backend.snap = leaderSnapshot();
  backend.next = {OpResult::Status::ok, "Successfully switched over to \"node2\""};
  Credentials creds{"admin", "pw"};
  Router router(backend, creds);
  runAsync([&](asio::io_context& ctx) -> asio::awaitable<void> {
    HttpServer server(ctx.get_executor(), router, kLoopbackAnyPort);
    auto started = server.start();
    EXPECT_TRUE(started.ok()) << (started.ok() ? "" : started.message());
    std::uint16_t port = server.port();
    EXPECT_NE(port, 0);

    HttpClient anonymous(std::nullopt, std::chrono::seconds(5));
    auto health = co_await anonymous.request("GET", url(port, "/health"));
    EXPECT_TRUE(health.ok()) << (health.ok() ? "" : health.message());
    if (health.ok()) {
      EXPECT_EQ(health->status, 200);
      EXPECT_EQ(health->content_type, "application/json");
      auto j = health->json();
      EXPECT_TRUE(j && (*j)["role"] == "primary") << health->body;
    }

    json body = {{"leader", "node1"}, {"candidate", "node2"}};
    auto denied = co_await anonymous.request("POST", url(port, "/switchover"), body);
    EXPECT_TRUE(denied.ok());
    if (denied.ok()) {
      EXPECT_EQ(denied->status, 401);
      EXPECT_EQ(denied->headers["www-authenticate"], "Basic realm=\"Keel\"");
    }

    HttpClient admin(creds, std::chrono::seconds(5));
    auto done = co_await admin.request("POST", url(port, "/switchover"), body);
    EXPECT_TRUE(done.ok());
    if (done.ok()) {
      EXPECT_EQ(done->status, 200);
      EXPECT_EQ(done->body, "Successfully switched over to \"node2\"");
    }
    EXPECT_EQ(backend.calls, std::vector<std::string>{"switchover"});

    auto head = co_await anonymous.request("HEAD", url(port, "/replica"));
    EXPECT_TRUE(head.ok() && head->status == 503);
    server.stop();
  });
}

TEST(HttpEndToEnd, KeepAliveServesSeveralRequests) {
  FakeBackend backend;
  backend.snap = leaderSnapshot();
  Router router(backend, std::nullopt);
  runAsync([&](asio::io_context& ctx) -> asio::awaitable<void> {
    HttpServer server(ctx.get_executor(), router, kLoopbackAnyPort);
    EXPECT_TRUE(server.start().ok());
    std::string reply =
        co_await rawExchange(server.port(),
                             "GET /primary HTTP/1.1\r\nHost: x\r\n\r\n"
                             "GET /replica HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_NE(reply.find("HTTP/1.1 200 OK"), std::string::npos) << reply;
    EXPECT_NE(reply.find("HTTP/1.1 503 Service Unavailable"), std::string::npos) << reply;
    EXPECT_NE(reply.find("Server: Keel"), std::string::npos) << reply;
    server.stop();
  });
}

TEST(HttpEndToEnd, OversizedAndMalformedRequests) {
  FakeBackend backend;
  backend.snap = leaderSnapshot();
  Router router(backend, std::nullopt);
  runAsync([&](asio::io_context& ctx) -> asio::awaitable<void> {
    HttpServer server(ctx.get_executor(), router, kLoopbackAnyPort);
    EXPECT_TRUE(server.start().ok());
    std::string big = co_await rawExchange(
        server.port(), "PATCH /config HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n");
    EXPECT_EQ(big.rfind("HTTP/1.1 413", 0), 0u) << big;
    std::string junk = co_await rawExchange(server.port(), "NOT HTTP AT ALL\r\n\r\n");
    EXPECT_EQ(junk.rfind("HTTP/1.1 400", 0), 0u) << junk;
    EXPECT_TRUE(backend.calls.empty());
    server.stop();
  });
}

TEST(HttpEndToEnd, StopClosesIdleConnections) {
  FakeBackend backend;
  backend.snap = leaderSnapshot();
  Router router(backend, std::nullopt);
  runAsync([&](asio::io_context& ctx) -> asio::awaitable<void> {
    HttpServer server(ctx.get_executor(), router, kLoopbackAnyPort);
    EXPECT_TRUE(server.start().ok());
    tcp::socket idle(ctx);
    co_await idle.async_connect({asio::ip::make_address("127.0.0.1"), server.port()},
                                asio::use_awaitable);
    // A request on the connection proves the session is registered before stop().
    std::string req = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    co_await asio::async_write(idle, asio::buffer(req), asio::use_awaitable);
    char byte;
    co_await asio::async_read(idle, asio::buffer(&byte, 1), asio::use_awaitable);
    server.stop();
    // The server closed its side: reading drains the rest of the reply, then hits EOF.
    std::string rest;
    auto [ec, n] = co_await asio::async_read(idle, asio::dynamic_buffer(rest),
                                             asio::as_tuple(asio::use_awaitable));
    EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
  });
}

TEST(HttpEndToEnd, TakenPortIsAClearError) {
  FakeBackend backend;
  Router router(backend, std::nullopt);
  asio::io_context ctx;
  HttpServer first(ctx.get_executor(), router, kLoopbackAnyPort);
  ASSERT_TRUE(first.start().ok());
  HttpServer second(ctx.get_executor(), router,
                    {asio::ip::make_address("127.0.0.1"), first.port()});
  auto r = second.start();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), "cannot listen on 127.0.0.1:" + std::to_string(first.port()) +
                             ": address already in use; set restapi.listen to a free port");
  first.stop();
  ctx.run();
}

TEST(HttpClient, RefusedConnectionNamesTheUrl) {
  asio::io_context ctx;
  tcp::acceptor probe(ctx, kLoopbackAnyPort);
  std::uint16_t port = probe.local_endpoint().port();
  probe.close();  // nothing listens there now
  HttpClient client(std::nullopt, std::chrono::seconds(5));
  auto r = client.requestSync("GET", url(port, "/patroni"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), ClientErrc::unreachable);
  EXPECT_EQ(r.message(), "cannot reach " + url(port, "/patroni") +
                             ": connection refused; is the agent running?");
}

TEST(HttpClient, SilentServerTimesOut) {
  // A listener that never accepts: the connection completes in the kernel backlog, then the
  // client waits for an answer that never comes. The timeout is short, not a sleep.
  asio::io_context ctx;
  tcp::acceptor silent(ctx, kLoopbackAnyPort);
  HttpClient client(std::nullopt, std::chrono::milliseconds(200));
  auto r = client.requestSync("GET", url(silent.local_endpoint().port(), "/patroni"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), ClientErrc::timeout);
  EXPECT_NE(r.message().find("within 200 ms"), std::string::npos) << r.message();
}

TEST(HttpClient, ParsesUrls) {
  auto u = parseHttpUrl("http://127.0.0.1:8008/patroni?x=1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 8008);
  EXPECT_EQ(u->target, "/patroni?x=1");
  u = parseHttpUrl("http://[::1]:9000");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 9000);
  EXPECT_EQ(u->target, "/");
  u = parseHttpUrl("http://localhost");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->port, 80);
  for (const char* bad : {"https://h:1/", "ftp://h", "http://", "http://h:0/", "http://h:99999",
                          "http://h:x/", "http://u:p@h:1/", "http://[::1", "127.0.0.1:8008"}) {
    auto r = parseHttpUrl(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.code(), ClientErrc::invalid_request);
      EXPECT_NE(r.message().find(bad), std::string::npos) << r.message();
    }
  }
  HttpClient client;
  auto r = client.requestSync("GET", "localhost:8008/patroni");
  EXPECT_FALSE(r.ok());
  r = client.requestSync("BREW", "http://127.0.0.1:1/");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), ClientErrc::invalid_request);
}

}  // namespace
}  // namespace keel::api
