#include "proxy/client_auth.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include "pgwire/md5_auth.h"
#include "pgwire/message_builder.h"
#include "pgwire/scram_server.h"
#include "proxy/auth_query.h"
#include "proxy/tls_context.h"

namespace keel::proxy {
namespace {

using Refusal = Failure<ClientRefusal>;
using AuthOutcome = Result<ServerSecret, ClientRefusal>;

Failure<ClientRefusal> refuse(std::string_view sqlstate, std::string message) {
  return Failure<ClientRefusal>{ClientRefusal{std::string(sqlstate), message}, message};
}

Failure<ClientRefusal> wrongPassword(const std::string& user) {
  return refuse(pgwire::sqlstate::kInvalidPassword, pgwire::passwordFailedMessage(user));
}

Failure<ClientRefusal> broken(const std::string& what) {
  return refuse(pgwire::sqlstate::kProtocolViolation, what);
}

// The login Keel can use towards PostgreSQL from the stored secret.
ServerSecret serverSecretFrom(const pgwire::Secret* secret) {
  if (!secret) {
    return std::monostate{};
  }
  if (const auto* p = std::get_if<pgwire::PlaintextPassword>(secret)) {
    return p->password;
  }
  if (const auto* m = std::get_if<pgwire::Md5Secret>(secret)) {
    return *m;
  }
  return std::monostate{};  // a verifier alone cannot log in; SCRAM pass-through can
}

// The next 'p' message, or a refusal when the client sent something else or went away.
asio::awaitable<Result<pgwire::Frame, ClientRefusal>> readAuthResponse(
    ClientStream& stream, pgwire::FrameDecoder& decoder) {
  auto frame = co_await readFrame(stream, decoder, "the client");
  if (!frame) {
    co_return broken(frame.message());
  }
  if (frame->type != pgwire::frontend::kAuthResponse) {
    co_return broken("expected a password or SASL response during authentication, got message '" +
                     std::string(1, frame->type) + "'");
  }
  co_return *frame;
}

asio::awaitable<AuthOutcome> runScram(ClientStream& stream, pgwire::FrameDecoder& decoder,
                                      const std::string& user, const pgwire::Secret* secret,
                                      ProxyContext& ctx) {
  auto made = pgwire::scramServerFor(user, secret, ctx.mock_key, ctx.keys);
  if (!made) {
    co_return refuse(pgwire::sqlstate::kInternalError, made.message());
  }
  pgwire::ScramServer server = std::move(*made);
  std::vector<std::string_view> mechanisms(pgwire::ScramServer::mechanisms().begin(),
                                           pgwire::ScramServer::mechanisms().end());
  std::string out;
  pgwire::encode(out, pgwire::Authentication::sasl(mechanisms));
  if (auto w = co_await stream.write(out, "the client"); !w) {
    co_return broken(w.message());
  }
  auto first = co_await readAuthResponse(stream, decoder);
  if (!first) {
    co_return first.failure();
  }
  auto initial = pgwire::parseSaslInitialResponse(first->payload);
  if (!initial) {
    co_return broken(initial.message());
  }
  std::string mechanism(initial->mechanism);
  std::string client_first(initial->initial_response.value_or(""));
  auto server_first = server.handleClientFirst(mechanism, client_first);
  if (!server_first) {
    co_return refuse(pgwire::sqlstateFor(server_first.code()), server_first.message());
  }
  out.clear();
  pgwire::encode(out, pgwire::Authentication::saslContinue(*server_first));
  if (auto w = co_await stream.write(out, "the client"); !w) {
    co_return broken(w.message());
  }
  if (server.pendingDerivation()) {
    auto derivation = *server.pendingDerivation();
    auto keys = co_await deriveScramKeysOffThread(derivation, ctx.keys, ctx.crypto);
    if (!keys) {
      co_return refuse(pgwire::sqlstate::kInternalError, keys.message());
    }
    server.provideKeys(*keys);
  }
  auto second = co_await readAuthResponse(stream, decoder);
  if (!second) {
    co_return second.failure();
  }
  auto response = pgwire::parseSaslResponse(second->payload);
  if (!response) {
    co_return broken(response.message());
  }
  std::string client_final(response->data);
  auto server_final = server.handleClientFinal(client_final);
  if (!server_final) {
    co_return refuse(pgwire::sqlstateFor(server_final.code()), server_final.message());
  }
  out.clear();
  pgwire::encode(out, pgwire::Authentication::saslFinal(*server_final));
  if (auto w = co_await stream.write(out, "the client"); !w) {
    co_return broken(w.message());
  }
  if (secret && std::holds_alternative<pgwire::ScramVerifier>(*secret) &&
      server.passthroughKeys()) {
    co_return ServerSecret(*server.passthroughKeys());
  }
  co_return serverSecretFrom(secret);
}

asio::awaitable<AuthOutcome> runMd5(ClientStream& stream, pgwire::FrameDecoder& decoder,
                                    const std::string& user, const pgwire::Secret* secret) {
  auto salt = pgwire::makeMd5Salt();
  if (!salt) {
    co_return refuse(pgwire::sqlstate::kInternalError, salt.message());
  }
  std::array<char, 4> wire_salt;
  std::memcpy(wire_salt.data(), salt->data(), 4);
  std::string out;
  pgwire::encode(out, pgwire::Authentication::md5(wire_salt));
  if (auto w = co_await stream.write(out, "the client"); !w) {
    co_return broken(w.message());
  }
  auto frame = co_await readAuthResponse(stream, decoder);
  if (!frame) {
    co_return frame.failure();
  }
  auto password = pgwire::parsePasswordMessage(frame->payload);
  if (!password) {
    co_return broken(password.message());
  }
  if (!secret) {
    co_return wrongPassword(user);
  }
  auto verified = pgwire::verifyMd5Response(*secret, user, *salt, password->password);
  if (!verified) {
    co_return wrongPassword(user);
  }
  co_return serverSecretFrom(secret);
}

}  // namespace

asio::awaitable<AuthOutcome> authenticateClient(ClientStream& stream, pgwire::FrameDecoder& decoder,
                                                const std::string& user,
                                                const std::string& database,
                                                const std::string& method, ProxyContext& ctx) {
  auto users = ctx.users();
  const pgwire::Secret* secret = users ? users->find(user) : nullptr;
  std::optional<pgwire::Secret> looked_up;
  if (!secret && !ctx.proxy().auth_user.empty() && user != ctx.proxy().auth_user) {
    auto found = co_await lookupSecret(ctx, user, database);
    if (!found) {
      spdlog::warn("proxy: {}", found.message());
      co_return refuse(pgwire::sqlstate::kCannotConnectNow, found.message());
    }
    looked_up = std::move(*found);
    if (looked_up) {
      secret = &*looked_up;
    }
  }
  if (method == "trust") {
    co_return serverSecretFrom(secret);
  }
  if (method == "cert") {
    auto cn = peerCertificateCommonName(stream.sslHandle());
    if (!cn) {
      co_return refuse(pgwire::sqlstate::kInvalidAuthorizationSpecification,
                       "certificate authentication failed for user \"" + user +
                           "\": the client sent no valid certificate signed by "
                           "proxy.client_tls.ca_file");
    }
    if (*cn != user) {
      co_return refuse(pgwire::sqlstate::kInvalidAuthorizationSpecification,
                       "certificate authentication failed for user \"" + user +
                           "\": the certificate is for \"" + *cn + "\"");
    }
    co_return serverSecretFrom(secret);
  }
  if (method == "md5" && !(secret && std::holds_alternative<pgwire::ScramVerifier>(*secret))) {
    co_return co_await runMd5(stream, decoder, user, secret);
  }
  co_return co_await runScram(stream, decoder, user, secret, ctx);
}

}  // namespace keel::proxy
