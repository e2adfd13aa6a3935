#include "pgwire/scram_server.h"

#include <cstring>
#include <utility>

namespace keel::pgwire {

using scram_detail::Attribute;

namespace {

constexpr std::string_view kClientFirst = "client-first-message";
constexpr std::string_view kClientFinal = "client-final-message";

}  // namespace

ScramServer::ScramServer(std::string user, ScramVerifier verifier, ScramServerOptions options)
    : user_(std::move(user)), verifier_(std::move(verifier)), options_(std::move(options)) {}

ScramServer ScramServer::withVerifier(std::string user, ScramVerifier verifier,
                                      ScramServerOptions options) {
  return ScramServer(std::move(user), std::move(verifier), std::move(options));
}

ScramServer ScramServer::withPassword(std::string user, std::string password, std::string salt,
                                      int iterations, ScramServerOptions options) {
  ScramVerifier verifier;
  verifier.iterations = iterations;
  verifier.salt = salt;
  ScramServer server(std::move(user), std::move(verifier), std::move(options));
  server.derivation_ = ScramDerivation{std::move(password), std::move(salt), iterations};
  return server;
}

ScramServer ScramServer::mock(std::string user, std::string_view mock_key,
                              ScramServerOptions options) {
  ScramVerifier verifier;
  verifier.iterations = kScramDefaultIterations;
  if (const auto digest = crypto::hmacSha256(mock_key, user)) {
    verifier.salt = std::string(crypto::asBytes(*digest).substr(0, kScramDefaultSaltSize));
  } else {
    verifier.salt = std::string(kScramDefaultSaltSize, '\0');
  }
  // Random keys so the doomed proof check costs what a real one does; mock_ fails it anyway.
  if (auto random = crypto::randomBytes(2 * crypto::kSha256Size)) {
    std::memcpy(verifier.stored_key.data(), random->data(), crypto::kSha256Size);
    std::memcpy(verifier.server_key.data(), random->data() + crypto::kSha256Size,
                crypto::kSha256Size);
  }
  ScramServer server(std::move(user), std::move(verifier), std::move(options));
  server.mock_ = true;
  return server;
}

const std::vector<std::string>& ScramServer::mechanisms() {
  static const std::vector<std::string> kMechanisms{std::string(kScramSha256)};
  return kMechanisms;
}

void ScramServer::provideKeys(const ScramKeys& keys) {
  verifier_.stored_key = keys.stored_key;
  verifier_.server_key = keys.server_key;
  derivation_.reset();
}

Failure<AuthErrc> ScramServer::failWith(AuthErrc code, std::string message) {
  state_ = State::failed;
  return fail(code, std::move(message));
}

Failure<AuthErrc> ScramServer::failMalformed(std::string_view what, std::string_view detail) {
  state_ = State::failed;
  return scram_detail::malformed(what, detail);
}

AuthResult<std::string> ScramServer::handleClientFirst(std::string_view mechanism,
                                                       std::string_view message) {
  if (state_ != State::awaiting_client_first) {
    return failWith(
        AuthErrc::out_of_order,
        "unexpected SASLInitialResponse: the SCRAM exchange " +
            std::string(state_ == State::failed ? "already failed" : "is past its first message"));
  }
  if (mechanism == kScramSha256Plus) {
    return failWith(AuthErrc::unsupported,
                    "client selected SCRAM-SHA-256-PLUS, which Keel did not offer: channel "
                    "binding is not supported; connect with channel_binding=prefer or disable");
  }
  if (mechanism != kScramSha256) {
    return failWith(AuthErrc::unsupported, "client selected SASL mechanism \"" +
                                               std::string(mechanism.substr(0, 64)) +
                                               "\"; Keel offers only SCRAM-SHA-256");
  }
  if (message.size() > kScramMaxMessageSize) {
    return failMalformed(kClientFirst, "longer than " + std::to_string(kScramMaxMessageSize));
  }

  // gs2-header = gs2-cbind-flag "," [ authzid ] ","
  const std::size_t flag_end = message.find(',');
  if (flag_end == std::string_view::npos)
    return failMalformed(kClientFirst, "no gs2 header");
  const std::string_view flag = message.substr(0, flag_end);
  if (flag.substr(0, 2) == "p=") {
    return failWith(AuthErrc::unsupported,
                    "client requested SCRAM channel binding (" + std::string(flag.substr(0, 32)) +
                        "), which Keel does not support; connect with channel_binding=prefer "
                        "or disable");
  }
  if (flag != "n" && flag != "y") {
    return failMalformed(kClientFirst, "channel binding flag must be n, y or p=");
  }
  const std::size_t authzid_end = message.find(',', flag_end + 1);
  if (authzid_end == std::string_view::npos) {
    return failMalformed(kClientFirst, "gs2 header does not end with ','");
  }
  const std::string_view authzid = message.substr(flag_end + 1, authzid_end - flag_end - 1);
  if (authzid.substr(0, 2) == "a=") {
    return failWith(AuthErrc::unsupported,
                    "client uses a SCRAM authorization identity (a=), which is not supported");
  }
  if (!authzid.empty())
    return failMalformed(kClientFirst, "authzid must be empty or a=...");
  const std::string_view bare = message.substr(authzid_end + 1);

  auto attributes = scram_detail::splitAttributes(bare, kClientFirst);
  if (!attributes)
    return failWith(attributes.code(), attributes.message());
  const std::vector<Attribute>& attrs = *attributes;
  if (attrs[0].name == 'm') {
    return failWith(AuthErrc::unsupported, "client requires an unsupported SCRAM extension (m=)");
  }
  if (attrs[0].name != 'n')
    return failMalformed(kClientFirst, "expected n= (username)");
  if (attrs.size() < 2 || attrs[1].name != 'r') {
    return failMalformed(kClientFirst, "expected r= (nonce) after n=");
  }
  if (!scram_detail::isPrintableNonce(attrs[1].value)) {
    return failMalformed(kClientFirst, "the nonce is empty or has non-printable characters");
  }
  // Further attributes are optional extensions (RFC 5802 section 5.1): ignored.

  std::string server_nonce;
  if (options_.server_nonce) {
    server_nonce = *options_.server_nonce;
  } else {
    auto random = makeScramNonce();
    if (!random)
      return failWith(random.code(), random.message());
    server_nonce = std::move(*random);
  }
  gs2_header_ = std::string(message.substr(0, authzid_end + 1));
  client_first_bare_ = std::string(bare);
  nonce_ = std::string(attrs[1].value) + server_nonce;
  server_first_ = "r=" + nonce_ + ",s=" + crypto::encodeBase64(verifier_.salt) +
                  ",i=" + std::to_string(verifier_.iterations);
  state_ = State::awaiting_client_final;
  return server_first_;
}

AuthResult<std::string> ScramServer::handleClientFinal(std::string_view message) {
  if (state_ != State::awaiting_client_final) {
    return failWith(AuthErrc::out_of_order,
                    "unexpected SASLResponse: no SCRAM server-first-message is outstanding");
  }
  if (derivation_) {
    return failWith(AuthErrc::out_of_order,
                    "SCRAM keys for user \"" + user_ +
                        "\" were not provided: run pendingDerivation() and provideKeys() first");
  }
  auto attributes = scram_detail::splitAttributes(message, kClientFinal);
  if (!attributes)
    return failWith(attributes.code(), attributes.message());
  const std::vector<Attribute>& attrs = *attributes;
  if (attrs.size() < 3 || attrs[0].name != 'c' || attrs[1].name != 'r' ||
      attrs.back().name != 'p') {
    return failMalformed(kClientFinal, "expected c=...,r=...,p=...");
  }

  const auto binding = crypto::decodeBase64(attrs[0].value);
  if (!binding)
    return failMalformed(kClientFinal, "c= is not valid base64");
  if (*binding != gs2_header_) {
    return failWith(AuthErrc::channel_binding_mismatch,
                    "SCRAM channel binding check failed: c= does not repeat the gs2 header of "
                    "the client-first-message");
  }
  if (attrs[1].value != nonce_) {
    return failWith(AuthErrc::nonce_mismatch,
                    "SCRAM nonce in the client-final-message does not match the exchange");
  }
  const auto proof = crypto::decodeBase64(attrs.back().value);
  if (!proof)
    return failMalformed(kClientFinal, "p= is not valid base64");
  if (proof->size() != crypto::kSha256Size) {
    return failMalformed(kClientFinal,
                         "the proof is " + std::to_string(proof->size()) + " bytes, expected 32");
  }

  // The proof is the last attribute: everything before ",p=" is signed.
  const std::size_t proof_at =
      static_cast<std::size_t>(attrs.back().value.data() - message.data()) - 3;
  const std::string auth_message =
      scram_detail::authMessage(client_first_bare_, server_first_, message.substr(0, proof_at));
  const auto client_signature =
      crypto::hmacSha256(crypto::asBytes(verifier_.stored_key), auth_message);
  if (!client_signature)
    return failWith(client_signature.code(), client_signature.message());
  ScramKey client_proof{};
  std::memcpy(client_proof.data(), proof->data(), client_proof.size());
  const ScramKey client_key = scram_detail::xorKeys(client_proof, *client_signature);
  const auto stored_key = crypto::sha256(crypto::asBytes(client_key));
  if (!stored_key)
    return failWith(stored_key.code(), stored_key.message());
  const bool verified = crypto::constantTimeEqual(crypto::asBytes(*stored_key),
                                                  crypto::asBytes(verifier_.stored_key));
  if (!verified || mock_) {
    return failWith(AuthErrc::wrong_password, passwordFailedMessage(user_));
  }

  const auto server_signature =
      crypto::hmacSha256(crypto::asBytes(verifier_.server_key), auth_message);
  if (!server_signature)
    return failWith(server_signature.code(), server_signature.message());
  passthrough_ =
      ScramPassthroughKeys{client_key, verifier_.server_key, verifier_.salt, verifier_.iterations};
  state_ = State::succeeded;
  return "v=" + crypto::encodeBase64(crypto::asBytes(*server_signature));
}

AuthResult<ScramServer> scramServerFor(std::string user, const Secret* secret,
                                       std::string_view mock_key, const ScramKeyCache& cache,
                                       ScramServerOptions options) {
  if (secret != nullptr) {
    if (const auto* verifier = std::get_if<ScramVerifier>(secret)) {
      return ScramServer::withVerifier(std::move(user), *verifier, std::move(options));
    }
    if (const auto* plain = std::get_if<PlaintextPassword>(secret)) {
      auto salt = cache.saltFor(user, plain->password);
      if (!salt)
        return salt.failure();
      const auto cached = cache.find(plain->password, *salt, kScramDefaultIterations);
      ScramServer server =
          ScramServer::withPassword(std::move(user), plain->password, std::move(*salt),
                                    kScramDefaultIterations, std::move(options));
      if (cached)
        server.provideKeys(*cached);
      return server;
    }
  }
  return ScramServer::mock(std::move(user), mock_key, std::move(options));
}

}  // namespace keel::pgwire
