#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pgwire/auth_errc.h"

// Thin, allocation-light wrappers over OpenSSL 3 used by SCRAM and md5. Every function is pure
// and thread-safe. Byte strings are std::string holding raw octets.
namespace keel::pgwire::crypto {

inline constexpr std::size_t kSha256Size = 32;
using Sha256Digest = std::array<unsigned char, kSha256Size>;

// RFC 4648 base64 with padding. decodeBase64 is strict: it rejects characters outside the
// alphabet, whitespace, missing padding and non-zero trailing bits, returning nullopt.
std::string encodeBase64(std::string_view bytes);
std::optional<std::string> decodeBase64(std::string_view text);

AuthResult<Sha256Digest> sha256(std::string_view data);
AuthResult<Sha256Digest> hmacSha256(std::string_view key, std::string_view data);

// Hi() of RFC 5802 (PBKDF2 with HMAC-SHA-256, one output block). EXPENSIVE: `iterations` HMAC
// computations (about 2 ms for PostgreSQL's default 4096); never call it on an I/O thread.
AuthResult<Sha256Digest> pbkdf2Sha256(std::string_view password, std::string_view salt,
                                      int iterations);

// Lowercase hex of MD5(data). Fails with crypto_failure when the OpenSSL configuration forbids
// MD5 (FIPS mode).
AuthResult<std::string> md5Hex(std::string_view data);

// `count` bytes from OpenSSL's CSPRNG.
AuthResult<std::string> randomBytes(std::size_t count);

// Constant-time equality for secrets: the time taken depends only on the sizes.
bool constantTimeEqual(std::string_view a, std::string_view b);

inline std::string_view asBytes(const Sha256Digest& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

}  // namespace keel::pgwire::crypto
