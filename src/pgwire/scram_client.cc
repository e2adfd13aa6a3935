#include "pgwire/scram_client.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <utility>

namespace keel::pgwire {

using scram_detail::Attribute;

namespace {

constexpr std::string_view kServerFirst = "server-first-message";
constexpr std::string_view kServerFinal = "server-final-message";
// base64("n,,"): no channel binding, no authzid.
constexpr std::string_view kChannelBinding = "biws";

// Server-sent text for an error message: printable ASCII only, bounded.
std::string printable(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, 200)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : '?';
  }
  return out;
}

std::string saslName(std::string_view user) {
  std::string out;
  for (const char c : user) {
    if (c == ',') {
      out += "=2C";
    } else if (c == '=') {
      out += "=3D";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

ScramClient ScramClient::withPassword(std::string password, ScramClientOptions options) {
  ScramClient client(std::move(options));
  client.password_ = std::move(password);
  return client;
}

ScramClient ScramClient::withKeys(ScramPassthroughKeys keys, ScramClientOptions options) {
  ScramClient client(std::move(options));
  client.passthrough_ = std::move(keys);
  return client;
}

AuthResult<std::string> ScramClient::chooseMechanism(const std::vector<std::string>& offered) {
  if (std::find(offered.begin(), offered.end(), kScramSha256) != offered.end()) {
    return std::string(kScramSha256);
  }
  std::string list;
  for (const auto& name : offered)
    list += (list.empty() ? "" : ", ") + printable(name);
  return fail(AuthErrc::unsupported,
              "the server offers SASL mechanisms [" + list +
                  "] but Keel supports only SCRAM-SHA-256 (no channel binding); check "
                  "channel_binding and password_encryption on the server");
}

Failure<AuthErrc> ScramClient::failWith(AuthErrc code, std::string message) {
  state_ = State::failed;
  return fail(code, std::move(message));
}

AuthResult<std::string> ScramClient::clientFirstMessage() {
  if (state_ != State::initial) {
    return failWith(AuthErrc::out_of_order, "the SCRAM client-first-message was already sent");
  }
  if (options_.client_nonce) {
    client_nonce_ = *options_.client_nonce;
  } else {
    auto nonce = makeScramNonce();
    if (!nonce)
      return failWith(nonce.code(), nonce.message());
    client_nonce_ = std::move(*nonce);
  }
  client_first_bare_ = "n=" + saslName(options_.sasl_user) + ",r=" + client_nonce_;
  state_ = State::awaiting_server_first;
  return "n,," + client_first_bare_;
}

AuthResult<void> ScramClient::handleServerFirst(std::string_view message) {
  if (state_ != State::awaiting_server_first) {
    return failWith(AuthErrc::out_of_order, "unexpected SCRAM server-first-message");
  }
  auto attributes = scram_detail::splitAttributes(message, kServerFirst);
  if (!attributes)
    return failWith(attributes.code(), attributes.message());
  const std::vector<Attribute>& attrs = *attributes;
  if (attrs[0].name == 'm') {
    return failWith(AuthErrc::unsupported, "the server requires an unsupported SCRAM extension");
  }
  if (attrs.size() < 3 || attrs[0].name != 'r' || attrs[1].name != 's' || attrs[2].name != 'i') {
    return failWith(AuthErrc::malformed_message,
                    "malformed SCRAM message: server-first-message: expected r=...,s=...,i=...");
  }
  const std::string_view nonce = attrs[0].value;
  if (nonce.size() <= client_nonce_.size() ||
      nonce.substr(0, client_nonce_.size()) != client_nonce_ ||
      !scram_detail::isPrintableNonce(nonce)) {
    return failWith(AuthErrc::nonce_mismatch,
                    "the server's SCRAM nonce does not extend the client nonce");
  }
  auto salt = crypto::decodeBase64(attrs[1].value);
  if (!salt) {
    return failWith(AuthErrc::malformed_message,
                    "malformed SCRAM message: server-first-message: the salt is not valid base64");
  }
  if (salt->empty() || salt->size() > kScramMaxSaltSize) {
    return failWith(AuthErrc::malformed_message,
                    "malformed SCRAM message: server-first-message: the salt is " +
                        std::to_string(salt->size()) + " bytes (expected 1 to " +
                        std::to_string(kScramMaxSaltSize) + ")");
  }
  const std::string_view count = attrs[2].value;
  long long iterations = 0;
  const bool digits = !count.empty() && std::all_of(count.begin(), count.end(),
                                                    [](char c) { return c >= '0' && c <= '9'; });
  const auto parsed = std::from_chars(count.data(), count.data() + count.size(), iterations);
  if (!digits || parsed.ec != std::errc() || iterations < 1 ||
      iterations > options_.max_iterations) {
    return failWith(AuthErrc::bad_iteration_count,
                    "the server asks for SCRAM iteration count \"" +
                        printable(count.substr(0, 24)) + "\"; Keel accepts 1 to " +
                        std::to_string(options_.max_iterations) +
                        " (raise the limit if the server's scram_iterations is really that high)");
  }
  nonce_ = std::string(nonce);
  salt_ = std::move(*salt);
  iterations_ = static_cast<int>(iterations);
  server_first_ = std::string(message);

  if (passthrough_) {
    if (passthrough_->salt != salt_ || passthrough_->iterations != iterations_) {
      return failWith(AuthErrc::incompatible_secret,
                      "PostgreSQL's SCRAM verifier for this user has a different salt or iteration "
                      "count than the one Keel checked the client against; copy pg_authid's "
                      "rolpassword into Keel's userlist or use auth_query");
    }
    ScramKeys keys;
    keys.client_key = passthrough_->client_key;
    keys.server_key = passthrough_->server_key;
    const auto stored = crypto::sha256(crypto::asBytes(keys.client_key));
    if (!stored)
      return failWith(stored.code(), stored.message());
    keys.stored_key = *stored;
    keys_ = keys;
    state_ = State::ready;
    return {};
  }
  derivation_ = ScramDerivation{password_.value_or(""), salt_, iterations_};
  state_ = State::keys_needed;
  return {};
}

void ScramClient::provideKeys(const ScramKeys& keys) {
  if (state_ != State::keys_needed)
    return;
  keys_ = keys;
  derivation_.reset();
  state_ = State::ready;
}

AuthResult<std::string> ScramClient::clientFinalMessage() {
  if (state_ == State::keys_needed) {
    return failWith(AuthErrc::out_of_order,
                    "SCRAM keys were not provided: run pendingDerivation() and provideKeys() "
                    "before clientFinalMessage()");
  }
  if (state_ != State::ready || !keys_) {
    return failWith(AuthErrc::out_of_order,
                    "the SCRAM client-final-message needs a server-first-message first");
  }
  const std::string without_proof = "c=" + std::string(kChannelBinding) + ",r=" + nonce_;
  const std::string auth_message =
      scram_detail::authMessage(client_first_bare_, server_first_, without_proof);
  const auto client_signature =
      crypto::hmacSha256(crypto::asBytes(keys_->stored_key), auth_message);
  if (!client_signature)
    return failWith(client_signature.code(), client_signature.message());
  const auto server_signature =
      crypto::hmacSha256(crypto::asBytes(keys_->server_key), auth_message);
  if (!server_signature)
    return failWith(server_signature.code(), server_signature.message());
  expected_server_signature_ = *server_signature;
  const ScramKey proof = scram_detail::xorKeys(keys_->client_key, *client_signature);
  state_ = State::awaiting_server_final;
  return without_proof + ",p=" + crypto::encodeBase64(crypto::asBytes(proof));
}

AuthResult<void> ScramClient::handleServerFinal(std::string_view message) {
  if (state_ != State::awaiting_server_final) {
    return failWith(AuthErrc::out_of_order, "unexpected SCRAM server-final-message");
  }
  auto attributes = scram_detail::splitAttributes(message, kServerFinal);
  if (!attributes)
    return failWith(attributes.code(), attributes.message());
  const Attribute& first = attributes->front();
  if (first.name == 'e') {
    return failWith(AuthErrc::server_error,
                    "the server rejected the SCRAM exchange: " + printable(first.value));
  }
  if (first.name != 'v') {
    return failWith(AuthErrc::malformed_message,
                    "malformed SCRAM message: server-final-message: expected v= or e=");
  }
  const auto signature = crypto::decodeBase64(first.value);
  if (!signature || signature->size() != crypto::kSha256Size) {
    return failWith(AuthErrc::malformed_message,
                    "malformed SCRAM message: server-final-message: the signature is not 32 "
                    "bytes of base64");
  }
  if (!crypto::constantTimeEqual(*signature, crypto::asBytes(expected_server_signature_))) {
    return failWith(AuthErrc::wrong_password,
                    "the server's SCRAM signature does not verify: it does not hold this user's "
                    "verifier (wrong server, or its password changed)");
  }
  state_ = State::succeeded;
  return {};
}

}  // namespace keel::pgwire
