#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "ha/cluster_view.h"

namespace keel::ha::testing {

// An in-memory key-value store with etcd v3 lease semantics, driven by a simulated clock:
// a lease expires `ttl` after the store *received* its grant or last keep-alive, and expiring
// it deletes every key attached to it. Writes attached to a lease that is gone are rejected,
// as etcd rejects them. Time is passed in by the caller; the store never reads a clock.
class LeaseStore {
 public:
  explicit LeaseStore(std::chrono::milliseconds ttl) : ttl_(ttl) {}

  std::int64_t grant(SteadyTime received) {
    std::int64_t id = next_lease_++;
    leases_[id] = received + ttl_;
    return id;
  }
  // False when the lease is unknown (expired or never granted): etcd answers "lease not found".
  bool keepAlive(std::int64_t id, SteadyTime received) {
    auto it = leases_.find(id);
    if (it == leases_.end())
      return false;
    it->second = received + ttl_;
    return true;
  }
  bool alive(std::int64_t id) const { return id == 0 || leases_.count(id) > 0; }
  std::optional<SteadyTime> nextExpiry() const {
    std::optional<SteadyTime> next;
    for (const auto& [id, at] : leases_) {
      if (!next || at < *next)
        next = at;
    }
    return next;
  }
  // Expires every lease due at or before `now` and deletes its keys. Returns the expired ids.
  std::vector<std::int64_t> expire(SteadyTime now) {
    std::vector<std::int64_t> gone;
    for (auto it = leases_.begin(); it != leases_.end();) {
      if (it->second <= now) {
        gone.push_back(it->first);
        it = leases_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = kv_.begin(); it != kv_.end();) {
      if (it->second.lease != 0 && !alive(it->second.lease)) {
        it = kv_.erase(it);
        ++revision_;
      } else {
        ++it;
      }
    }
    return gone;
  }

  // Txn: compare create_revision(key) == 0, then put. etcd's "create if absent".
  bool createIfAbsent(const std::string& key, const std::string& value, std::int64_t lease) {
    if (kv_.count(key) || !alive(lease))
      return false;
    put(key, value, lease);
    return true;
  }
  bool put(const std::string& key, const std::string& value, std::int64_t lease) {
    if (!alive(lease))
      return false;
    ++revision_;
    kv_[key] = RawKey{key, value, revision_, lease};
    return true;
  }
  bool deleteIfValue(const std::string& key, const std::string& value) {
    auto it = kv_.find(key);
    if (it == kv_.end() || it->second.value != value)
      return false;
    kv_.erase(it);
    ++revision_;
    return true;
  }
  const RawKey* get(const std::string& key) const {
    auto it = kv_.find(key);
    return it == kv_.end() ? nullptr : &it->second;
  }
  std::vector<RawKey> range() const {
    std::vector<RawKey> out;
    out.reserve(kv_.size());
    for (const auto& [k, v] : kv_)
      out.push_back(v);
    return out;
  }
  std::int64_t revision() const { return revision_; }

 private:
  std::chrono::milliseconds ttl_;
  std::map<std::int64_t, SteadyTime> leases_;
  std::map<std::string, RawKey> kv_;
  std::int64_t revision_ = 1;
  std::int64_t next_lease_ = 100;
};

}  // namespace keel::ha::testing
