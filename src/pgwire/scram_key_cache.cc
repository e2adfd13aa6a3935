#include "pgwire/scram_key_cache.h"

#include <cstdint>

namespace keel::pgwire {
namespace {

void appendLengthPrefixed(std::string& out, std::string_view field) {
  const std::uint64_t size = field.size();
  for (int shift = 56; shift >= 0; shift -= 8)
    out += static_cast<char>((size >> shift) & 0xff);
  out += field;
}

}  // namespace

ScramKeyCache::ScramKeyCache(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {
  if (auto key = crypto::randomBytes(32))
    salt_key_ = std::move(*key);
}

std::optional<std::string> ScramKeyCache::indexOf(std::string_view password, std::string_view salt,
                                                  int iterations) {
  std::string material;
  material.reserve(password.size() + salt.size() + 32);
  appendLengthPrefixed(material, password);
  appendLengthPrefixed(material, salt);
  appendLengthPrefixed(material, std::to_string(iterations));
  const auto digest = crypto::sha256(material);
  if (!digest)
    return std::nullopt;
  return std::string(crypto::asBytes(*digest));
}

std::optional<ScramKeys> ScramKeyCache::find(std::string_view password, std::string_view salt,
                                             int iterations) const {
  const auto index = indexOf(password, salt, iterations);
  if (!index)
    return std::nullopt;
  std::lock_guard lock(mutex_);
  const auto it = index_.find(*index);
  if (it == index_.end())
    return std::nullopt;
  entries_.splice(entries_.begin(), entries_, it->second);
  return it->second->second;
}

void ScramKeyCache::insert(std::string_view password, std::string_view salt, int iterations,
                           const ScramKeys& keys) {
  auto index = indexOf(password, salt, iterations);
  if (!index)
    return;
  std::lock_guard lock(mutex_);
  if (const auto it = index_.find(*index); it != index_.end()) {
    it->second->second = keys;
    entries_.splice(entries_.begin(), entries_, it->second);
    return;
  }
  entries_.emplace_front(*index, keys);
  index_.emplace(std::move(*index), entries_.begin());
  while (entries_.size() > capacity_) {
    index_.erase(entries_.back().first);
    entries_.pop_back();
  }
}

AuthResult<ScramKeys> ScramKeyCache::getOrDerive(std::string_view password, std::string_view salt,
                                                 int iterations) {
  if (auto cached = find(password, salt, iterations))
    return *cached;
  auto keys = deriveScramKeys(password, salt, iterations);
  if (keys)
    insert(password, salt, iterations, *keys);
  return keys;
}

AuthResult<std::string> ScramKeyCache::saltFor(std::string_view user,
                                               std::string_view password) const {
  if (salt_key_.empty()) {
    return fail(AuthErrc::crypto_failure,
                "no random key for SCRAM salts (the CSPRNG failed when the cache was made)");
  }
  std::string material;
  appendLengthPrefixed(material, user);
  appendLengthPrefixed(material, password);
  const auto digest = crypto::hmacSha256(salt_key_, material);
  if (!digest)
    return digest.failure();
  return std::string(crypto::asBytes(*digest).substr(0, kScramDefaultSaltSize));
}

std::size_t ScramKeyCache::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace keel::pgwire
