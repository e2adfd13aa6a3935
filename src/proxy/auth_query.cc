#include "proxy/auth_query.h"

#include <spdlog/spdlog.h>

#include <boost/asio/this_coro.hpp>

#include "common/async.h"
#include "pgwire/message_builder.h"
#include "proxy/wire_io.h"

namespace keel::proxy {
namespace {

using asio::ip::tcp;
using std::chrono::milliseconds;

// The login Keel uses for auth_user: its userlist secret.
std::optional<ServerSecret> authUserSecret(const ProxyContext& ctx) {
  auto users = ctx.users();
  const pgwire::Secret* secret = users ? users->find(ctx.proxy().auth_user) : nullptr;
  if (!secret) {
    return std::nullopt;
  }
  if (const auto* p = std::get_if<pgwire::PlaintextPassword>(secret)) {
    return ServerSecret(p->password);
  }
  if (const auto* m = std::get_if<pgwire::Md5Secret>(secret)) {
    return ServerSecret(*m);
  }
  return std::nullopt;  // a verifier alone cannot log in
}

// Runs auth_query with `user` as $1 on `socket` (extended protocol, one round trip); the second
// column of the first row, or nullopt when there is no row or it is NULL.
asio::awaitable<ProxyResult<std::optional<std::string>>> runLookup(tcp::socket& socket,
                                                                   const std::string& query,
                                                                   const std::string& user,
                                                                   const std::string& peer) {
  std::string out;
  pgwire::encode(out, pgwire::Parse{"", query, {}});
  pgwire::Bind bind;
  bind.parameters.push_back(std::string_view(user));
  pgwire::encode(out, bind);
  pgwire::encode(out, pgwire::Execute{"", 0});
  pgwire::encode(out, pgwire::Sync{});
  if (auto w = co_await writeAll(socket, out, peer); !w) {
    co_return w.failure();
  }
  pgwire::FrameDecoder decoder(pgwire::Source::backend);
  decoder.setAuthenticated();
  std::optional<std::string> secret;
  std::optional<std::string> error;
  bool got_row = false;
  while (true) {
    auto frame = co_await readFrame(socket, decoder, peer);
    if (!frame) {
      co_return frame.failure();
    }
    if (frame->type == pgwire::backend::kDataRow && !got_row) {
      got_row = true;
      auto row = pgwire::parseDataRow(frame->payload);
      if (!row || row->columns.size() < 2) {
        error = "proxy.auth_query must return two columns (user name, secret)";
      } else if (row->columns[1]) {
        secret = std::string(*row->columns[1]);
      }
    } else if (frame->type == pgwire::backend::kErrorResponse) {
      auto e = pgwire::parseErrorResponse(frame->payload);
      error = e ? std::string(e->message()) + " (SQLSTATE " + std::string(e->sqlstate()) + ")"
                : std::string("an unreadable error");
    } else if (frame->type == pgwire::backend::kReadyForQuery) {
      if (error) {
        co_return fail(ProxyErrc::server_error,
                       "proxy.auth_query failed on " + peer + ": " + *error);
      }
      co_return secret;
    }
  }
}

}  // namespace

asio::awaitable<ProxyResult<std::optional<pgwire::Secret>>> lookupSecret(ProxyContext& ctx,
                                                                         std::string user,
                                                                         std::string database) {
  const ProxyConfig& cfg = ctx.proxy();
  auto login_secret = authUserSecret(ctx);
  if (!login_secret) {
    co_return fail(ProxyErrc::refused,
                   "proxy.auth_user \"" + cfg.auth_user +
                       "\" needs a plaintext password or md5 hash in proxy.auth_file to run "
                       "proxy.auth_query");
  }
  auto routes = ctx.routes.current();
  if (!routes->leader) {
    co_return fail(ProxyErrc::unavailable,
                   "cannot look up user \"" + user +
                       "\" with proxy.auth_query: the cluster has no writable leader right now");
  }
  const RouteTarget target = *routes->leader;
  auto pool = ctx.pools.get(PoolKey{target.endpoint(), database, cfg.auth_user}, target);
  ServerPool::LoginSettings settings{cfg.server_connect_timeout, &ctx.keys, ctx.crypto};
  ServerLogin login{cfg.auth_user, database, *login_secret};
  std::string code;
  auto conn = co_await pool->acquire(login, cfg.query_wait_timeout, settings, &code, {});
  if (!conn) {
    co_return fail(conn.code(),
                   "cannot run proxy.auth_query as \"" + cfg.auth_user + "\": " + conn.message());
  }
  auto ex = co_await asio::this_coro::executor;
  tcp::socket& socket = (*conn)->attach(ex);
  const std::string peer = "server " + target.member;
  auto op = runLookup(socket, cfg.auth_query, user, peer);
  auto looked_up = co_await withTimeout(std::move(op), cfg.server_connect_timeout);
  if (!looked_up || !*looked_up) {
    (*conn)->discard();
    pool->dropLent();
    if (!looked_up) {
      co_return fail(ProxyErrc::timeout, "proxy.auth_query did not answer in time on " + peer);
    }
    co_return looked_up->failure();
  }
  pool->release(std::move(*conn));
  if (!**looked_up) {
    co_return std::optional<pgwire::Secret>();
  }
  auto secret = pgwire::parseSecret(***looked_up);
  if (!secret) {
    spdlog::warn("proxy: proxy.auth_query returned an unusable secret for user \"{}\": {}", user,
                 secret.message());
    co_return std::optional<pgwire::Secret>();
  }
  co_return std::optional<pgwire::Secret>(std::move(*secret));
}

}  // namespace keel::proxy
