#include "pgwire/md5_auth.h"

#include <cstring>

#include "pgwire/auth_crypto.h"

namespace keel::pgwire {
namespace {

constexpr std::size_t kMd5SecretSize = 35;

std::string_view saltBytes(const Md5Salt& salt) {
  return {reinterpret_cast<const char*>(salt.data()), salt.size()};
}

}  // namespace

AuthResult<Md5Salt> makeMd5Salt() {
  const auto bytes = crypto::randomBytes(kMd5SaltSize);
  if (!bytes)
    return bytes.failure();
  Md5Salt salt{};
  std::memcpy(salt.data(), bytes->data(), salt.size());
  return salt;
}

AuthResult<std::string> md5Secret(std::string_view password, std::string_view user) {
  std::string material(password);
  material += user;
  auto hex = crypto::md5Hex(material);
  if (!hex)
    return hex.failure();
  return "md5" + *hex;
}

AuthResult<std::string> md5ResponseFromSecret(std::string_view md5_secret, const Md5Salt& salt) {
  if (md5_secret.size() != kMd5SecretSize || md5_secret.substr(0, 3) != "md5") {
    return fail(AuthErrc::bad_secret, "malformed md5 secret: expected \"md5\" and 32 hex digits");
  }
  std::string material(md5_secret.substr(3));
  material += saltBytes(salt);
  auto hex = crypto::md5Hex(material);
  if (!hex)
    return hex.failure();
  return "md5" + *hex;
}

AuthResult<std::string> md5Response(std::string_view password, std::string_view user,
                                    const Md5Salt& salt) {
  const auto secret = md5Secret(password, user);
  if (!secret)
    return secret.failure();
  return md5ResponseFromSecret(*secret, salt);
}

AuthResult<std::string> md5ResponseForSecret(const Secret& secret, std::string_view user,
                                             const Md5Salt& salt) {
  if (const auto* plain = std::get_if<PlaintextPassword>(&secret)) {
    return md5Response(plain->password, user, salt);
  }
  if (const auto* md5 = std::get_if<Md5Secret>(&secret)) {
    return md5ResponseFromSecret(md5->hash, salt);
  }
  return fail(AuthErrc::incompatible_secret,
              "PostgreSQL asks for md5 authentication of user \"" + std::string(user) +
                  "\", but Keel holds only its SCRAM-SHA-256 verifier, which cannot answer md5; "
                  "store the plaintext or md5 secret, or switch the server to scram-sha-256");
}

AuthResult<void> verifyMd5Response(const Secret& secret, std::string_view user, const Md5Salt& salt,
                                   std::string_view response) {
  if (std::holds_alternative<ScramVerifier>(secret)) {
    return fail(AuthErrc::incompatible_secret,
                "user \"" + std::string(user) +
                    "\" has a SCRAM-SHA-256 secret, which cannot verify an md5 response; use "
                    "scram-sha-256 authentication for this user");
  }
  const auto expected = md5ResponseForSecret(secret, user, salt);
  if (!expected)
    return expected.failure();
  if (!crypto::constantTimeEqual(*expected, response)) {
    return fail(AuthErrc::wrong_password, passwordFailedMessage(user));
  }
  return {};
}

}  // namespace keel::pgwire
