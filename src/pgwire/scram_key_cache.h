#pragma once

#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "pgwire/scram_secret.h"

namespace keel::pgwire {

// Bounded LRU cache of derived SCRAM keys keyed by (password, salt, iterations), so that only
// the first login of a user with a plaintext secret (Keel as server) or a plaintext server
// password (Keel as client of PostgreSQL) pays for PBKDF2.
//
// Thread-safe: one instance is shared by all proxy worker threads. find(), insert() and
// saltFor() are cheap and may run on I/O threads; getOrDerive() is EXPENSIVE on a miss. Two
// threads missing the same key at once both derive it; the second insert wins (same value).
// Entries are indexed by SHA-256 of the length-prefixed (password, salt, iterations), so the
// plaintext itself is not kept here; the cached ClientKey is password-equivalent for its salt.
class ScramKeyCache {
 public:
  explicit ScramKeyCache(std::size_t capacity = 1024);

  std::optional<ScramKeys> find(std::string_view password, std::string_view salt,
                                int iterations) const;
  void insert(std::string_view password, std::string_view salt, int iterations,
              const ScramKeys& keys);
  // find(), or deriveScramKeys() + insert(). EXPENSIVE on a miss.
  AuthResult<ScramKeys> getOrDerive(std::string_view password, std::string_view salt,
                                    int iterations);

  // A salt for a user whose stored secret is a plaintext password (Keel as SCRAM server): the
  // same (user, password) gets the same 16-byte salt for this cache's lifetime, as a stored
  // verifier would, so repeated logins hit the cache. Derived with HMAC from a random key made
  // at construction; fails only if the CSPRNG failed then.
  AuthResult<std::string> saltFor(std::string_view user, std::string_view password) const;

  std::size_t size() const;
  std::size_t capacity() const { return capacity_; }

 private:
  using Entry = std::pair<std::string, ScramKeys>;  // (index, keys), most recent first

  static std::optional<std::string> indexOf(std::string_view password, std::string_view salt,
                                            int iterations);

  const std::size_t capacity_;
  std::string salt_key_;  // random; empty if the CSPRNG failed at construction
  mutable std::mutex mutex_;
  mutable std::list<Entry> entries_;
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace keel::pgwire
