#include "api/credentials.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <array>
#include <cctype>
#include <vector>

namespace keel::api {

namespace {

std::string base64Encode(std::string_view in) {
  std::vector<unsigned char> out(4 * ((in.size() + 2) / 3) + 1);
  int n = EVP_EncodeBlock(out.data(), reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  return std::string(reinterpret_cast<const char*>(out.data()), static_cast<std::size_t>(n));
}

std::optional<std::string> base64Decode(std::string_view in) {
  if (in.empty() || in.size() % 4 != 0 || in.size() > 8192) {
    return std::nullopt;
  }
  std::vector<unsigned char> out(3 * (in.size() / 4) + 1);
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) {
    return std::nullopt;
  }
  // EVP_DecodeBlock counts the bytes that '=' padding stands for; drop them.
  std::size_t len = static_cast<std::size_t>(n);
  for (std::size_t i = in.size(); i > 0 && in[i - 1] == '=' && len > 0; --i) {
    --len;
  }
  return std::string(reinterpret_cast<const char*>(out.data()), len);
}

std::array<unsigned char, SHA256_DIGEST_LENGTH> digest(std::string_view text) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> out{};
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

}  // namespace

std::string basicAuthorization(const Credentials& credentials) {
  return "Basic " + base64Encode(credentials.username + ":" + credentials.password);
}

std::optional<Credentials> parseBasicAuthorization(std::string_view header) {
  while (!header.empty() && std::isspace(static_cast<unsigned char>(header.front()))) {
    header.remove_prefix(1);
  }
  constexpr std::string_view kScheme = "basic";
  if (header.size() <= kScheme.size()) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) {
      return std::nullopt;
    }
  }
  header.remove_prefix(kScheme.size());
  if (!std::isspace(static_cast<unsigned char>(header.front()))) {
    return std::nullopt;
  }
  while (!header.empty() && std::isspace(static_cast<unsigned char>(header.front()))) {
    header.remove_prefix(1);
  }
  while (!header.empty() && std::isspace(static_cast<unsigned char>(header.back()))) {
    header.remove_suffix(1);
  }
  auto decoded = base64Decode(header);
  if (!decoded) {
    return std::nullopt;
  }
  auto colon = decoded->find(':');
  if (colon == std::string::npos) {
    return std::nullopt;
  }
  return Credentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

bool authorizationMatches(std::string_view header, const Credentials& expected) {
  auto given = parseBasicAuthorization(header);
  // Always hash and compare, even for a malformed header, so failures take the same time.
  std::string given_pair = given ? given->username + ":" + given->password : std::string{};
  auto a = digest(given_pair);
  auto b = digest(expected.username + ":" + expected.password);
  bool same = CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
  return given.has_value() && same;
}

}  // namespace keel::api
