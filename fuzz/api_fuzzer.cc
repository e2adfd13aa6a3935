// libFuzzer target: the REST API from the bytes a client sends to the Router's answer. The input
// is what arrives on a connection (fuzz/corpus/api/ holds real requests: switchover, failover,
// restart, config PATCH/PUT, health checks with query filters, basic auth): up to four
// keep-alive requests, each parsed by Beast with the HttpServer's limits, converted with
// fromBeastRequest() and handled by two Routers, one open on a leader and one that requires
// credentials on a replica. Handlers parse the JSON bodies (request_body.cc) and call a fake
// backend that merges config patches as the agent does.
//
// Checked: no request makes a handler throw (the Router would answer 500); every answer has a
// status, a content type and, for 4xx, a message; JSON answers are valid JSON; 401 and 405
// carry their WWW-Authenticate and Allow headers. A broken check aborts.
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api/beast_request.h"
#include "api/credentials.h"
#include "api/router.h"
#include "unit/api/fake_backend.h"

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using keel::api::HttpRequest;
using keel::api::HttpResponse;
using keel::api::OpResult;
using keel::api::Router;
using nlohmann::json;

[[noreturn]] void broken(const std::string& what, const HttpRequest& request,
                         const HttpResponse& response) {
  std::fprintf(stderr, "api fuzzer: invariant broken: %s\n  request: %s %s\n  answer: %d %s\n",
               what.c_str(), request.method.c_str(), request.path.c_str(), response.status,
               response.body.substr(0, 400).c_str());
  std::abort();
}

// The agent's config handling in miniature: merge (RFC 7386), store as text, read back.
class FuzzBackend : public keel::api::testing::FakeBackend {
 public:
  json stored = json::object();

  asio::awaitable<OpResult> patchConfig(json patch) override {
    json config = stored;
    config.merge_patch(patch);
    co_return store(std::move(config));
  }
  asio::awaitable<OpResult> replaceConfig(json config) override {
    co_return store(std::move(config));
  }

 private:
  OpResult store(json config) {
    const std::string text = config.dump();
    stored = json::parse(text);
    OpResult ok{OpResult::Status::ok, "configuration updated"};
    ok.body = stored;
    return ok;
  }
};

HttpResponse call(const Router& router, HttpRequest request) {
  asio::io_context ctx;
  HttpResponse out;
  bool threw = false;
  asio::co_spawn(ctx, router.handle(std::move(request)), [&](std::exception_ptr e, HttpResponse r) {
    threw = e != nullptr;
    out = std::move(r);
  });
  ctx.run();
  if (threw) {
    out.status = 500;
    out.body = "Router::handle threw";
  }
  return out;
}

void checkAnswer(const HttpRequest& request, const HttpResponse& r) {
  if (r.status == 500) {
    broken("a handler failed with an exception", request, r);
  }
  if (r.status < 200 || r.status > 599) {
    broken("status outside 200..599", request, r);
  }
  if (r.content_type.empty()) {
    broken("an answer without a content type", request, r);
  }
  if (r.status >= 400 && r.status < 500 && r.body.empty()) {
    broken("a client error without a message", request, r);
  }
  if (r.content_type == "application/json" && !r.body.empty() && !json::accept(r.body)) {
    broken("a JSON answer that is not valid JSON", request, r);
  }
  if (r.status == 401 && !r.headers.contains("WWW-Authenticate")) {
    broken("401 without WWW-Authenticate", request, r);
  }
  if (r.status == 405 && !r.headers.contains("Allow")) {
    broken("405 without Allow", request, r);
  }
}

struct Routers {
  FuzzBackend leader_backend;
  FuzzBackend replica_backend;
  Router open;
  Router guarded;

  Routers()
      : open(leader_backend, std::nullopt, [] { return keel::api::testing::kNow; }),
        guarded(replica_backend, keel::api::Credentials{"keel", "secret"},
                [] { return keel::api::testing::kNow; }) {
    leader_backend.snap = keel::api::testing::leaderSnapshot();
    leader_backend.snap.self.tags = json{{"zone", "a"}, {"clonefrom", true}};
    replica_backend.snap = keel::api::testing::replicaSnapshot(4096);
    replica_backend.snap.members = {leader_backend.snap.self, replica_backend.snap.self};
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Routers routers;
  // Each input starts from an empty stored config, so a crash replays from its input alone.
  routers.leader_backend.stored = json::object();
  routers.replica_backend.stored = json::object();
  routers.leader_backend.calls.clear();
  routers.replica_backend.calls.clear();
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  for (int n = 0; n < 4 && !rest.empty(); ++n) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(keel::api::kMaxHeaderBytes);
    parser.body_limit(keel::api::kMaxBodyBytes);
    parser.eager(true);
    boost::beast::error_code ec;
    while (!parser.is_done() && !rest.empty()) {
      const std::size_t used = parser.put(asio::buffer(rest.data(), rest.size()), ec);
      rest.remove_prefix(used);
      if (ec || used == 0) {
        break;
      }
    }
    if (ec == http::error::need_more && rest.empty()) {
      ec = {};
      parser.put_eof(ec);  // the connection closes here
    }
    if (ec || !parser.is_done()) {
      return 0;  // the server answers 400/413/431 itself or closes; nothing reaches the Router
    }
    HttpRequest request = keel::api::fromBeastRequest(parser.get());
    if (auto authorization = request.header("authorization")) {
      // Credentials read from a header write back to a header that reads the same.
      if (auto parsed = keel::api::parseBasicAuthorization(*authorization)) {
        const std::string again = keel::api::basicAuthorization(*parsed);
        auto reparsed = keel::api::parseBasicAuthorization(again);
        if (!reparsed || reparsed->username != parsed->username ||
            reparsed->password != parsed->password ||
            !keel::api::authorizationMatches(again, *parsed)) {
          broken("basic credentials do not survive a round trip", request, HttpResponse{});
        }
      }
    }
    checkAnswer(request, call(routers.open, request));
    checkAnswer(request, call(routers.guarded, request));
  }
  return 0;
}
