#include "pgwire/scram_secret.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstring>

namespace keel::pgwire {
namespace {

constexpr std::string_view kScramPrefix = "SCRAM-SHA-256$";
constexpr std::string_view kVerifierShape =
    "expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>";
constexpr std::size_t kMd5SecretSize = 35;  // "md5" + 32 hex digits

Failure<AuthErrc> badVerifier(std::string_view what) {
  return fail(AuthErrc::bad_secret, "malformed SCRAM-SHA-256 verifier: " + std::string(what));
}

AuthResult<ScramKey> decodeKey(std::string_view text, std::string_view name) {
  const auto bytes = crypto::decodeBase64(text);
  if (!bytes)
    return badVerifier(std::string(name) + " is not valid base64");
  if (bytes->size() != crypto::kSha256Size) {
    return badVerifier(std::string(name) + " decodes to " + std::to_string(bytes->size()) +
                       " bytes, expected " + std::to_string(crypto::kSha256Size));
  }
  ScramKey key{};
  std::memcpy(key.data(), bytes->data(), key.size());
  return key;
}

bool isHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

}  // namespace

AuthResult<ScramVerifier> parseScramVerifier(std::string_view text) {
  if (text.substr(0, kScramPrefix.size()) != kScramPrefix) {
    return badVerifier("it does not start with SCRAM-SHA-256$; " + std::string(kVerifierShape));
  }
  text.remove_prefix(kScramPrefix.size());
  const auto colon1 = text.find(':');
  const auto dollar = text.find('$');
  if (colon1 == std::string_view::npos || dollar == std::string_view::npos || dollar < colon1) {
    return badVerifier(std::string(kVerifierShape));
  }
  const auto colon2 = text.find(':', dollar);
  if (colon2 == std::string_view::npos)
    return badVerifier(std::string(kVerifierShape));

  const std::string_view iterations_text = text.substr(0, colon1);
  const std::string_view salt_text = text.substr(colon1 + 1, dollar - colon1 - 1);
  const std::string_view stored_text = text.substr(dollar + 1, colon2 - dollar - 1);
  const std::string_view server_text = text.substr(colon2 + 1);

  ScramVerifier verifier;
  const std::string shown(iterations_text.substr(0, 24));
  if (iterations_text.empty() || !std::all_of(iterations_text.begin(), iterations_text.end(),
                                              [](char c) { return c >= '0' && c <= '9'; })) {
    return badVerifier("iteration count \"" + shown + "\" is not a positive integer");
  }
  long long iterations = 0;
  const auto [end, ec] = std::from_chars(
      iterations_text.data(), iterations_text.data() + iterations_text.size(), iterations);
  if (ec != std::errc() || iterations < 1 || iterations > INT_MAX) {
    return badVerifier("iteration count " + shown + " is out of range (1 to " +
                       std::to_string(INT_MAX) + ")");
  }
  verifier.iterations = static_cast<int>(iterations);

  auto salt = crypto::decodeBase64(salt_text);
  if (!salt)
    return badVerifier("salt is not valid base64");
  if (salt->empty())
    return badVerifier("salt is empty");
  if (salt->size() > kScramMaxSaltSize) {
    return badVerifier("salt is " + std::to_string(salt->size()) + " bytes, more than " +
                       std::to_string(kScramMaxSaltSize));
  }
  verifier.salt = std::move(*salt);

  auto stored = decodeKey(stored_text, "StoredKey");
  if (!stored)
    return stored.failure();
  verifier.stored_key = *stored;
  auto server = decodeKey(server_text, "ServerKey");
  if (!server)
    return server.failure();
  verifier.server_key = *server;
  return verifier;
}

std::string formatScramVerifier(const ScramVerifier& verifier) {
  return std::string(kScramPrefix) + std::to_string(verifier.iterations) + ":" +
         crypto::encodeBase64(verifier.salt) + "$" +
         crypto::encodeBase64(crypto::asBytes(verifier.stored_key)) + ":" +
         crypto::encodeBase64(crypto::asBytes(verifier.server_key));
}

AuthResult<Secret> parseSecret(std::string_view value) {
  if (value.empty()) {
    return fail(AuthErrc::bad_secret, "the stored password is empty; set a password or a secret");
  }
  if (value.substr(0, kScramPrefix.size()) == kScramPrefix) {
    auto verifier = parseScramVerifier(value);
    if (!verifier)
      return verifier.failure();
    return Secret{std::move(*verifier)};
  }
  if (value.size() == kMd5SecretSize && value.substr(0, 3) == "md5") {
    std::string hash(value);
    std::transform(hash.begin() + 3, hash.end(), hash.begin() + 3, [](char c) {
      return (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c;
    });
    if (!std::all_of(hash.begin() + 3, hash.end(), isHex)) {
      return fail(AuthErrc::bad_secret,
                  "malformed md5 secret: \"md5\" must be followed by 32 hex digits");
    }
    return Secret{Md5Secret{std::move(hash)}};
  }
  return Secret{PlaintextPassword{std::string(value)}};
}

std::string_view secretKindName(const Secret& secret) {
  if (std::holds_alternative<PlaintextPassword>(secret))
    return "plaintext";
  if (std::holds_alternative<Md5Secret>(secret))
    return "md5";
  return "SCRAM-SHA-256";
}

std::string saslPrep(std::string_view password) {
  return std::string(password);
}

AuthResult<ScramKey> scramSaltedPassword(std::string_view password, std::string_view salt,
                                         int iterations) {
  return crypto::pbkdf2Sha256(saslPrep(password), salt, iterations);
}

AuthResult<ScramKeys> scramKeysFromSaltedPassword(const ScramKey& salted_password) {
  ScramKeys keys;
  const auto client = crypto::hmacSha256(crypto::asBytes(salted_password), "Client Key");
  if (!client)
    return client.failure();
  keys.client_key = *client;
  const auto stored = crypto::sha256(crypto::asBytes(keys.client_key));
  if (!stored)
    return stored.failure();
  keys.stored_key = *stored;
  const auto server = crypto::hmacSha256(crypto::asBytes(salted_password), "Server Key");
  if (!server)
    return server.failure();
  keys.server_key = *server;
  return keys;
}

AuthResult<ScramKeys> deriveScramKeys(std::string_view password, std::string_view salt,
                                      int iterations) {
  const auto salted = scramSaltedPassword(password, salt, iterations);
  if (!salted)
    return salted.failure();
  return scramKeysFromSaltedPassword(*salted);
}

AuthResult<ScramVerifier> makeScramVerifier(std::string_view password, std::string_view salt,
                                            int iterations) {
  if (salt.empty() || salt.size() > kScramMaxSaltSize) {
    return fail(AuthErrc::bad_secret, "salt must be 1 to " + std::to_string(kScramMaxSaltSize) +
                                          " bytes, got " + std::to_string(salt.size()));
  }
  const auto keys = deriveScramKeys(password, salt, iterations);
  if (!keys)
    return keys.failure();
  return ScramVerifier{iterations, std::string(salt), keys->stored_key, keys->server_key};
}

AuthResult<ScramVerifier> makeScramVerifier(std::string_view password) {
  const auto salt = crypto::randomBytes(kScramDefaultSaltSize);
  if (!salt)
    return salt.failure();
  return makeScramVerifier(password, *salt, kScramDefaultIterations);
}

}  // namespace keel::pgwire
