#pragma once

#include <array>
#include <string>
#include <string_view>

#include "pgwire/auth_errc.h"
#include "pgwire/scram_secret.h"

// md5 password authentication (PostgreSQL docs 55.2.1 "Start-up", AuthenticationMD5Password):
// the server sends a 4-byte salt, the client answers in a PasswordMessage with
//   "md5" + md5hex(md5hex(password + user) + salt)
// where md5hex(password + user) is what pg_authid stores for an md5 role (without "md5").
// All functions are cheap, pure and thread-safe. MD5 may be disabled by an OpenSSL FIPS
// configuration; then they fail with crypto_failure.
namespace keel::pgwire {

inline constexpr std::size_t kMd5SaltSize = 4;
using Md5Salt = std::array<unsigned char, kMd5SaltSize>;

// A random salt for AuthenticationMD5Password. Use a fresh one for every attempt, also for
// users that do not exist (then fail the response), as PostgreSQL does.
AuthResult<Md5Salt> makeMd5Salt();

// The stored md5 secret: "md5" + md5hex(password + user).
AuthResult<std::string> md5Secret(std::string_view password, std::string_view user);

// The client's response from an md5 secret ("md5" + 32 lowercase hex). The secret is
// password-equivalent for md5 authentication, which is how a pooler holding only md5 hashes
// logs in to PostgreSQL.
AuthResult<std::string> md5ResponseFromSecret(std::string_view md5_secret, const Md5Salt& salt);

// The client's response from the plaintext password.
AuthResult<std::string> md5Response(std::string_view password, std::string_view user,
                                    const Md5Salt& salt);

// Keel as client of PostgreSQL: the response computed from whatever secret the userlist holds.
// A SCRAM verifier cannot produce one (incompatible_secret).
AuthResult<std::string> md5ResponseForSecret(const Secret& secret, std::string_view user,
                                             const Md5Salt& salt);

// Keel as server: checks a client's PasswordMessage against the stored secret (plaintext or
// md5) in constant time. A mismatch fails with wrong_password and PostgreSQL's message. A SCRAM
// verifier cannot verify an md5 response (incompatible_secret); PostgreSQL in that case runs
// SCRAM instead of md5 when pg_hba says md5, and the proxy should do the same.
AuthResult<void> verifyMd5Response(const Secret& secret, std::string_view user, const Md5Salt& salt,
                                   std::string_view response);

}  // namespace keel::pgwire
