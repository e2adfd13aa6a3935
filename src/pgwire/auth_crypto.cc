#include "pgwire/auth_crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <climits>

namespace keel::pgwire::crypto {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64Value(char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

Failure<AuthErrc> opensslFailure(std::string_view what) {
  return fail(AuthErrc::crypto_failure,
              "OpenSSL refused " + std::string(what) + "; check the OpenSSL configuration");
}

}  // namespace

std::string encodeBase64(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const auto b0 = static_cast<unsigned char>(bytes[i]);
    const auto b1 = static_cast<unsigned char>(bytes[i + 1]);
    const auto b2 = static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[b0 >> 2];
    out += kAlphabet[((b0 & 0x03) << 4) | (b1 >> 4)];
    out += kAlphabet[((b1 & 0x0f) << 2) | (b2 >> 6)];
    out += kAlphabet[b2 & 0x3f];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const auto b0 = static_cast<unsigned char>(bytes[i]);
    out += kAlphabet[b0 >> 2];
    out += kAlphabet[(b0 & 0x03) << 4];
    out += "==";
  } else if (rest == 2) {
    const auto b0 = static_cast<unsigned char>(bytes[i]);
    const auto b1 = static_cast<unsigned char>(bytes[i + 1]);
    out += kAlphabet[b0 >> 2];
    out += kAlphabet[((b0 & 0x03) << 4) | (b1 >> 4)];
    out += kAlphabet[(b1 & 0x0f) << 2];
    out += '=';
  }
  return out;
}

std::optional<std::string> decodeBase64(std::string_view text) {
  if (text.size() % 4 != 0)
    return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int v[4];
    int padding = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text[i + k];
      if (c == '=' && last && k >= 2) {
        v[k] = 0;
        ++padding;
        continue;
      }
      // A data character after '=' ("ab=c") is as malformed as a foreign character.
      if (padding > 0)
        return std::nullopt;
      v[k] = base64Value(c);
      if (v[k] < 0)
        return std::nullopt;
    }
    const unsigned triple = (static_cast<unsigned>(v[0]) << 18) |
                            (static_cast<unsigned>(v[1]) << 12) |
                            (static_cast<unsigned>(v[2]) << 6) | static_cast<unsigned>(v[3]);
    // Canonical encodings only: bits beyond the last whole byte must be zero.
    if (padding == 2 && (triple & 0xffff) != 0)
      return std::nullopt;
    if (padding == 1 && (triple & 0xff) != 0)
      return std::nullopt;
    out += static_cast<char>((triple >> 16) & 0xff);
    if (padding < 2)
      out += static_cast<char>((triple >> 8) & 0xff);
    if (padding < 1)
      out += static_cast<char>(triple & 0xff);
  }
  return out;
}

AuthResult<Sha256Digest> sha256(std::string_view data) {
  Sha256Digest digest{};
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1 ||
      length != digest.size()) {
    return opensslFailure("SHA-256");
  }
  return digest;
}

AuthResult<Sha256Digest> hmacSha256(std::string_view key, std::string_view data) {
  if (key.size() > INT_MAX)
    return fail(AuthErrc::crypto_failure, "HMAC key too long");
  Sha256Digest digest{};
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data(),
           &length) == nullptr ||
      length != digest.size()) {
    return opensslFailure("HMAC-SHA-256");
  }
  return digest;
}

AuthResult<Sha256Digest> pbkdf2Sha256(std::string_view password, std::string_view salt,
                                      int iterations) {
  if (iterations < 1) {
    return fail(AuthErrc::bad_iteration_count,
                "iteration count " + std::to_string(iterations) + " is not positive");
  }
  if (password.size() > INT_MAX || salt.size() > INT_MAX) {
    return fail(AuthErrc::bad_secret, "password or salt too long for PBKDF2");
  }
  Sha256Digest out{};
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()),
                        static_cast<int>(salt.size()), iterations, EVP_sha256(),
                        static_cast<int>(out.size()), out.data()) != 1) {
    return opensslFailure("PBKDF2-HMAC-SHA-256");
  }
  return out;
}

AuthResult<std::string> md5Hex(std::string_view data) {
  EVP_MD* md5 = EVP_MD_fetch(nullptr, "MD5", nullptr);
  if (md5 == nullptr) {
    return fail(AuthErrc::crypto_failure,
                "MD5 is not available in this OpenSSL configuration (FIPS mode?); use "
                "scram-sha-256 authentication instead");
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  const int rc = EVP_Digest(data.data(), data.size(), digest, &length, md5, nullptr);
  EVP_MD_free(md5);
  if (rc != 1 || length != 16)
    return opensslFailure("MD5");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(32);
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0x0f];
  }
  return hex;
}

AuthResult<std::string> randomBytes(std::size_t count) {
  std::string out(count, '\0');
  if (count > INT_MAX ||
      RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(count)) != 1) {
    return opensslFailure("to produce random bytes");
  }
  return out;
}

bool constantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace keel::pgwire::crypto
