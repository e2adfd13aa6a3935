#include "proxy/server_connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>

#include "common/async.h"
#include "pgwire/md5_auth.h"
#include "pgwire/message_builder.h"
#include "pgwire/scram_client.h"
#include "proxy/wire_io.h"

namespace keel::proxy {
namespace {

using asio::ip::tcp;
using std::chrono::milliseconds;

std::atomic<std::uint64_t> next_connection_id{1};

std::string serverName(const RouteTarget& t) {
  return "server " + t.member + " (" + t.endpoint() + ")";
}

Failure<ProxyErrc> serverError(const RouteTarget& t, const pgwire::ErrorResponse& e,
                               std::string* sqlstate) {
  if (sqlstate) {
    *sqlstate = std::string(e.sqlstate());
  }
  return fail(ProxyErrc::server_error, serverName(t) +
                                           " refused the login: " + std::string(e.message()) +
                                           " (SQLSTATE " + std::string(e.sqlstate()) + ")");
}

asio::awaitable<ProxyResult<void>> authenticate(tcp::socket& socket, pgwire::FrameDecoder& decoder,
                                                const RouteTarget& target, const ServerLogin& login,
                                                const pgwire::Authentication& request,
                                                pgwire::ScramKeyCache& cache,
                                                asio::any_io_executor crypto,
                                                std::string* sqlstate) {
  const std::string peer = serverName(target);
  const auto* password = std::get_if<std::string>(&login.secret);
  std::string out;
  switch (request.request) {
    case pgwire::AuthRequest::cleartext_password: {
      if (!password) {
        co_return fail(
            ProxyErrc::refused,
            peer + " asks for the password of user \"" + login.user +
                "\" in clear text, and Keel only has " +
                (std::holds_alternative<std::monostate>(login.secret) ? std::string("no secret")
                                                                      : std::string("a hash")) +
                " for it; put the plaintext password in proxy.auth_file");
      }
      pgwire::encode(out, pgwire::PasswordMessage{*password});
      co_return co_await writeAll(socket, out, peer);
    }
    case pgwire::AuthRequest::md5_password: {
      pgwire::Md5Salt salt;
      std::memcpy(salt.data(), request.md5_salt.data(), salt.size());
      pgwire::AuthResult<std::string> response = fail(pgwire::AuthErrc::incompatible_secret, "");
      if (password) {
        response = pgwire::md5Response(*password, login.user, salt);
      } else if (const auto* md5 = std::get_if<pgwire::Md5Secret>(&login.secret)) {
        response = pgwire::md5ResponseFromSecret(md5->hash, salt);
      } else {
        co_return fail(ProxyErrc::refused,
                       peer + " asks for md5 authentication of user \"" + login.user +
                           "\", and Keel has no plaintext password or md5 hash for it; put one "
                           "in proxy.auth_file");
      }
      if (!response) {
        co_return fail(ProxyErrc::refused, peer + ": " + response.message());
      }
      pgwire::encode(out, pgwire::PasswordMessage{*response});
      co_return co_await writeAll(socket, out, peer);
    }
    case pgwire::AuthRequest::sasl:
      break;
    default:
      co_return fail(ProxyErrc::refused,
                     peer + " asks for an authentication method Keel does not speak (request " +
                         std::to_string(static_cast<int>(request.request)) +
                         "); use scram-sha-256 or md5 for proxy connections in pg_hba.conf");
  }

  std::vector<std::string> offered(request.sasl_mechanisms.begin(), request.sasl_mechanisms.end());
  auto mechanism = pgwire::ScramClient::chooseMechanism(offered);
  if (!mechanism) {
    co_return fail(ProxyErrc::refused, peer + ": " + mechanism.message());
  }
  std::optional<pgwire::ScramClient> client;
  if (password) {
    client.emplace(pgwire::ScramClient::withPassword(*password));
  } else if (const auto* keys = std::get_if<pgwire::ScramPassthroughKeys>(&login.secret)) {
    client.emplace(pgwire::ScramClient::withKeys(*keys));
  } else {
    co_return fail(ProxyErrc::refused,
                   peer + " asks for SCRAM authentication of user \"" + login.user +
                       "\", and Keel has neither its plaintext password nor SCRAM keys from the "
                       "client's own SCRAM login; put the password or PostgreSQL's SCRAM "
                       "verifier in proxy.auth_file, or use scram-sha-256 towards clients");
  }
  auto first = client->clientFirstMessage();
  if (!first) {
    co_return fail(ProxyErrc::refused, peer + ": " + first.message());
  }
  pgwire::encode(out, pgwire::SaslInitialResponse{*mechanism, std::string_view(*first)});
  if (auto w = co_await writeAll(socket, out, peer); !w) {
    co_return w;
  }
  while (true) {
    auto frame = co_await readFrame(socket, decoder, peer);
    if (!frame) {
      co_return frame.failure();
    }
    if (frame->type == pgwire::backend::kErrorResponse) {
      auto e = pgwire::parseErrorResponse(frame->payload);
      if (!e) {
        co_return fail(ProxyErrc::bad_input, peer + ": " + e.message());
      }
      co_return serverError(target, *e, sqlstate);
    }
    if (frame->type != pgwire::backend::kAuthentication) {
      co_return fail(ProxyErrc::bad_input, peer + " sent message '" + std::string(1, frame->type) +
                                               "' during SCRAM authentication");
    }
    auto auth = pgwire::parseAuthentication(frame->payload);
    if (!auth) {
      co_return fail(ProxyErrc::bad_input, peer + ": " + auth.message());
    }
    if (auth->request == pgwire::AuthRequest::sasl_continue) {
      std::string data(auth->data);
      auto handled = client->handleServerFirst(data);
      if (!handled) {
        co_return fail(ProxyErrc::refused, peer + ": " + handled.message());
      }
      if (client->pendingDerivation()) {
        auto derivation = *client->pendingDerivation();
        auto keys = co_await deriveScramKeysOffThread(derivation, cache, crypto);
        if (!keys) {
          co_return fail(ProxyErrc::refused, peer + ": " + keys.message());
        }
        client->provideKeys(*keys);
      }
      auto final_message = client->clientFinalMessage();
      if (!final_message) {
        co_return fail(ProxyErrc::refused, peer + ": " + final_message.message());
      }
      out.clear();
      pgwire::encode(out, pgwire::SaslResponse{std::string_view(*final_message)});
      if (auto w = co_await writeAll(socket, out, peer); !w) {
        co_return w;
      }
    } else if (auth->request == pgwire::AuthRequest::sasl_final) {
      std::string data(auth->data);
      auto verified = client->handleServerFinal(data);
      if (!verified) {
        co_return fail(ProxyErrc::refused, peer + ": " + verified.message());
      }
      co_return ProxyResult<void>();
    } else {
      co_return fail(ProxyErrc::bad_input, peer + " sent an unexpected authentication request " +
                                               std::to_string(static_cast<int>(auth->request)) +
                                               " during SCRAM");
    }
  }
}

asio::awaitable<ProxyResult<std::unique_ptr<ServerConnection>>> login(RouteTarget target,
                                                                      ServerLogin login,
                                                                      pgwire::ScramKeyCache& cache,
                                                                      asio::any_io_executor crypto,
                                                                      std::string* sqlstate) {
  const std::string peer = serverName(target);
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  const std::string service = std::to_string(target.port);
  auto [rec, results] = co_await resolver.async_resolve(target.host, service, kNoThrow);
  if (rec) {
    co_return fail(ProxyErrc::unavailable, "cannot resolve " + peer + ": " + rec.message());
  }
  tcp::socket socket(ex);
  auto [cec, endpoint] = co_await asio::async_connect(socket, results, kNoThrow);
  if (cec) {
    co_return fail(ProxyErrc::unavailable, "cannot connect to " + peer + ": " + cec.message());
  }
  socket.set_option(tcp::no_delay(true));
  socket.set_option(asio::socket_base::keep_alive(true));

  std::string out;
  pgwire::StartupMessage startup;
  startup.parameters = {{"user", login.user}, {"database", login.database}};
  pgwire::encode(out, startup);
  if (auto w = co_await writeAll(socket, out, peer); !w) {
    co_return w.failure();
  }
  pgwire::FrameDecoder decoder(pgwire::Source::backend);
  auto conn = std::make_unique<ServerConnection>(-1, endpoint.address().is_v6(), target);
  while (true) {
    auto frame = co_await readFrame(socket, decoder, peer);
    if (!frame) {
      co_return frame.failure();
    }
    switch (frame->type) {
      case pgwire::backend::kAuthentication: {
        auto auth = pgwire::parseAuthentication(frame->payload);
        if (!auth) {
          co_return fail(ProxyErrc::bad_input, peer + ": " + auth.message());
        }
        if (auth->request == pgwire::AuthRequest::ok) {
          break;
        }
        pgwire::Authentication request = *auth;
        auto done =
            co_await authenticate(socket, decoder, target, login, request, cache, crypto, sqlstate);
        if (!done) {
          co_return done.failure();
        }
        break;
      }
      case pgwire::backend::kParameterStatus: {
        auto p = pgwire::parseParameterStatus(frame->payload);
        if (p) {
          conn->changeParameters()[std::string(p->name)] = std::string(p->value);
          conn->login_parameters[std::string(p->name)] = std::string(p->value);
        }
        break;
      }
      case pgwire::backend::kBackendKeyData: {
        auto k = pgwire::parseBackendKeyData(frame->payload);
        if (k) {
          conn->key = *k;
        }
        break;
      }
      case pgwire::backend::kErrorResponse: {
        auto e = pgwire::parseErrorResponse(frame->payload);
        if (!e) {
          co_return fail(ProxyErrc::bad_input, peer + ": " + e.message());
        }
        co_return serverError(target, *e, sqlstate);
      }
      case pgwire::backend::kReadyForQuery:
        if (decoder.buffered() != 0) {
          co_return fail(ProxyErrc::bad_input, peer + " sent data after ReadyForQuery at login");
        }
        conn->created = conn->last_used = std::chrono::steady_clock::now();
        conn->adopt(socket);
        co_return std::move(conn);
      default:  // NoticeResponse, NegotiateProtocolVersion: nothing to do at login
        break;
    }
  }
}

}  // namespace

asio::awaitable<pgwire::AuthResult<pgwire::ScramKeys>> deriveScramKeysOffThread(
    pgwire::ScramDerivation derivation, pgwire::ScramKeyCache& cache,
    asio::any_io_executor crypto) {
  if (auto hit = cache.find(derivation.password, derivation.salt, derivation.iterations)) {
    co_return *hit;
  }
  auto home = co_await asio::this_coro::executor;
  co_await asio::post(crypto, asio::use_awaitable);
  auto keys = cache.getOrDerive(derivation.password, derivation.salt, derivation.iterations);
  co_await asio::post(home, asio::use_awaitable);
  co_return keys;
}

ServerConnection::ServerConnection(int fd, bool ipv6, RouteTarget target)
    : fd_(fd), ipv6_(ipv6), target_(std::move(target)), id_(next_connection_id++) {}

ServerConnection::~ServerConnection() {
  if (int fd = this->fd(); fd >= 0) {
    static constexpr char kTerminate[] = {'X', 0, 0, 0, 4};
    [[maybe_unused]] auto n =
        ::send(fd, kTerminate, sizeof kTerminate, MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  if (socket_) {
    boost::system::error_code ignored;
    socket_->close(ignored);
  } else if (fd_ >= 0) {
    ::close(fd_);
  }
}

int ServerConnection::fd() const {
  return socket_ ? socket_->native_handle() : fd_;
}

std::uint64_t ServerConnection::nextId() {
  return next_connection_id.load();
}

tcp::socket& ServerConnection::attach(asio::any_io_executor ex) {
  if (socket_ && socket_->get_executor() != ex) {
    // Last used on another thread: take the descriptor out of that thread's reactor.
    boost::system::error_code ec;
    fd_ = socket_->release(ec);
    if (ec) {
      fd_ = -1;
    }
    socket_.reset();
  }
  if (!socket_) {
    socket_.emplace(ex);
    boost::system::error_code ec;
    socket_->assign(ipv6_ ? tcp::v6() : tcp::v4(), fd_, ec);
    if (!ec) {
      fd_ = -1;
      socket_->non_blocking(true, ec);
    }
  }
  return *socket_;
}

bool ServerConnection::attachedTo(const asio::any_io_executor& ex) const {
  return socket_ && socket_->get_executor() == ex;
}

void ServerConnection::adopt(tcp::socket& socket) {
  boost::system::error_code ec;
  fd_ = socket.release(ec);
  if (ec) {
    fd_ = -1;
  }
}

bool ServerConnection::looksAlive() const {
  const int fd = this->fd();
  if (fd < 0) {
    return false;
  }
  char byte;
  auto n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void ServerConnection::discard() {
  if (socket_) {
    boost::system::error_code ignored;
    socket_->close(ignored);
    socket_.reset();
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

asio::awaitable<ProxyResult<std::unique_ptr<ServerConnection>>> connectServer(
    RouteTarget target, ServerLogin login_info, milliseconds timeout, pgwire::ScramKeyCache& cache,
    asio::any_io_executor crypto, std::string* sqlstate) {
  const std::string peer = serverName(target);
  auto op = login(target, std::move(login_info), cache, crypto, sqlstate);
  auto r = co_await withTimeout(std::move(op), timeout);
  if (!r) {
    co_return fail(ProxyErrc::unavailable, "connecting to " + peer + " took longer than " +
                                               std::to_string(timeout.count()) +
                                               " ms (proxy.server_connect_timeout)");
  }
  co_return std::move(*r);
}

asio::awaitable<ProxyResult<void>> runServerQuery(tcp::socket& socket, ServerConnection& conn,
                                                  std::string sql, milliseconds timeout) {
  const std::string peer = serverName(conn.target());
  std::string out;
  pgwire::encode(out, pgwire::Query{sql});
  if (auto w = co_await writeAll(socket, out, peer); !w) {
    co_return w;
  }
  pgwire::FrameDecoder decoder(pgwire::Source::backend);
  std::optional<std::string> error;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::ceil<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left <= milliseconds(0)) {
      co_return fail(ProxyErrc::timeout, peer + " did not finish \"" + sql + "\" in time");
    }
    auto read = readFrame(socket, decoder, peer);
    auto frame = co_await withTimeout(std::move(read), left);
    if (!frame) {
      co_return fail(ProxyErrc::timeout, peer + " did not finish \"" + sql + "\" in time");
    }
    if (!*frame) {
      co_return frame->failure();
    }
    const pgwire::Frame& f = **frame;
    if (f.type == pgwire::backend::kParameterStatus) {
      if (auto p = pgwire::parseParameterStatus(f.payload)) {
        conn.changeParameters()[std::string(p->name)] = std::string(p->value);
      }
    } else if (f.type == pgwire::backend::kErrorResponse) {
      auto e = pgwire::parseErrorResponse(f.payload);
      error = e ? std::string(e->message()) + " (SQLSTATE " + std::string(e->sqlstate()) + ")"
                : std::string("an unreadable error");
    } else if (f.type == pgwire::backend::kReadyForQuery) {
      if (decoder.buffered() != 0) {
        co_return fail(ProxyErrc::bad_input, peer + " sent data after ReadyForQuery");
      }
      if (error) {
        co_return fail(ProxyErrc::server_error, peer + " refused \"" + sql + "\": " + *error);
      }
      auto rfq = pgwire::parseReadyForQuery(f.payload);
      if (!rfq || rfq->status != pgwire::TransactionStatus::idle) {
        co_return fail(ProxyErrc::server_error, peer + " is not idle after \"" + sql + "\"");
      }
      co_return ProxyResult<void>();
    }
  }
}

}  // namespace keel::proxy
