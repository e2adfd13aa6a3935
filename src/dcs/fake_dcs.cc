#include "dcs/fake_dcs.h"

#include <algorithm>

namespace keel::dcs {
namespace {

bool hasPrefix(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

template <typename T>
bool compareNumbers(T actual, Compare::Op op, T expected) {
  switch (op) {
    case Compare::Op::equal:
      return actual == expected;
    case Compare::Op::not_equal:
      return actual != expected;
    case Compare::Op::greater:
      return actual > expected;
    case Compare::Op::less:
      return actual < expected;
  }
  return false;
}

Failure<DcsErrc> leaseNotFound(LeaseId id) {
  return fail(DcsErrc::lease_not_found,
              "lease " + std::to_string(id) + " expired or was revoked; grant a new one");
}

}  // namespace

FakeDcs::FakeDcs(const Clock& clock) : clock_(clock) {}

void FakeDcs::setAvailable(bool available) {
  std::lock_guard lock(mu_);
  available_ = available;
}

void FakeDcs::failNext(int n, DcsErrc code) {
  std::lock_guard lock(mu_);
  fail_next_ = n;
  fail_code_ = code;
}

void FakeDcs::compact(std::int64_t revision) {
  std::lock_guard lock(mu_);
  compacted_ = std::max(compacted_, revision);
  std::erase_if(history_, [&](const HistoryEntry& e) { return e.revision < compacted_; });
}

std::int64_t FakeDcs::revision() const {
  std::lock_guard lock(mu_);
  return revision_;
}

std::vector<LeaseId> FakeDcs::leases() const {
  std::lock_guard lock(mu_);
  std::vector<LeaseId> out;
  for (const auto& [id, lease] : leases_) {
    out.push_back(id);
  }
  return out;
}

void FakeDcs::expireLeases() {
  std::lock_guard lock(mu_);
  expireLeasesLocked();
}

std::optional<Failure<DcsErrc>> FakeDcs::injectedFailureLocked() {
  if (!available_) {
    return fail(DcsErrc::unavailable, "fake DCS is unavailable (setAvailable(false))");
  }
  if (fail_next_ > 0) {
    --fail_next_;
    return fail(fail_code_, "fake DCS injected failure (failNext)");
  }
  return std::nullopt;
}

void FakeDcs::expireLeasesLocked() {
  const auto now = clock_.now();
  for (auto it = leases_.begin(); it != leases_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    const LeaseId id = it->first;
    it = leases_.erase(it);
    bool changed = false;
    for (auto kv = kvs_.begin(); kv != kvs_.end();) {
      if (kv->second.lease != id) {
        ++kv;
        continue;
      }
      std::string key = kv->first;
      ++kv;
      deleteKeyLocked(key, revision_ + 1);
      changed = true;
    }
    if (changed) {
      ++revision_;
    }
  }
}

void FakeDcs::deleteKeyLocked(const std::string& key, std::int64_t rev) {
  kvs_.erase(key);
  WatchEvent event{.type = WatchEvent::Type::del};
  event.kv.key = key;
  event.kv.mod_revision = rev;
  history_.push_back(HistoryEntry{rev, std::move(event)});
}

std::vector<std::string> FakeDcs::keysInLocked(const std::string& key, bool prefix) const {
  std::vector<std::string> keys;
  if (!prefix) {
    if (kvs_.count(key)) {
      keys.push_back(key);
    }
    return keys;
  }
  for (auto it = kvs_.lower_bound(key); it != kvs_.end() && hasPrefix(it->first, key); ++it) {
    keys.push_back(it->first);
  }
  return keys;
}

std::vector<KeyValue> FakeDcs::rangeLocked(const std::string& key, bool prefix) const {
  std::vector<KeyValue> out;
  for (const auto& k : keysInLocked(key, prefix)) {
    out.push_back(kvs_.at(k));
  }
  return out;
}

bool FakeDcs::compareLocked(const Compare& c) const {
  auto it = kvs_.find(c.key);
  const KeyValue absent{};
  const KeyValue& kv = it == kvs_.end() ? absent : it->second;
  switch (c.target) {
    case Compare::Target::value:
      // etcd: a value comparison against a missing key is false.
      return it != kvs_.end() && compareNumbers<std::string>(kv.value, c.op, c.value);
    case Compare::Target::version:
      return compareNumbers(kv.version, c.op, c.number);
    case Compare::Target::create_revision:
      return compareNumbers(kv.create_revision, c.op, c.number);
    case Compare::Target::mod_revision:
      return compareNumbers(kv.mod_revision, c.op, c.number);
    case Compare::Target::lease:
      return compareNumbers(kv.lease, c.op, c.number);
  }
  return false;
}

std::optional<Failure<DcsErrc>> FakeDcs::checkLeaseLocked(LeaseId lease) const {
  if (lease != 0 && !leases_.count(lease)) {
    return leaseNotFound(lease);
  }
  return std::nullopt;
}

bool FakeDcs::applyLocked(const Operation& op, std::int64_t rev, std::vector<KeyValue>* range_out) {
  switch (op.kind) {
    case Operation::Kind::get:
      if (range_out) {
        *range_out = rangeLocked(op.key, op.prefix);
      }
      return false;
    case Operation::Kind::del: {
      auto keys = keysInLocked(op.key, op.prefix);
      for (const auto& k : keys) {
        deleteKeyLocked(k, rev);
      }
      return !keys.empty();
    }
    case Operation::Kind::put: {
      KeyValue& kv = kvs_[op.key];
      if (kv.version == 0) {
        kv.key = op.key;
        kv.create_revision = rev;
      }
      kv.value = op.value;
      kv.mod_revision = rev;
      kv.version += 1;
      kv.lease = op.lease;
      history_.push_back(HistoryEntry{rev, WatchEvent{.type = WatchEvent::Type::put, .kv = kv}});
      return true;
    }
  }
  return false;
}

DcsResult<LeaseGrant> FakeDcs::grantLeaseSync(std::chrono::seconds ttl) {
  std::lock_guard lock(mu_);
  if (auto f = injectedFailureLocked())
    return *f;
  expireLeasesLocked();
  ttl = std::max(ttl, std::chrono::seconds(1));
  LeaseId id = next_lease_++;
  leases_[id] = Lease{ttl, clock_.now() + ttl};
  return LeaseGrant{.id = id, .ttl = ttl};
}

DcsResult<std::chrono::seconds> FakeDcs::keepAliveSync(LeaseId id) {
  std::lock_guard lock(mu_);
  if (auto f = injectedFailureLocked())
    return *f;
  expireLeasesLocked();
  auto it = leases_.find(id);
  if (it == leases_.end()) {
    return leaseNotFound(id);
  }
  it->second.deadline = clock_.now() + it->second.ttl;
  return it->second.ttl;
}

DcsResult<void> FakeDcs::revokeLeaseSync(LeaseId id) {
  std::lock_guard lock(mu_);
  if (auto f = injectedFailureLocked())
    return *f;
  expireLeasesLocked();
  auto it = leases_.find(id);
  if (it == leases_.end()) {
    return leaseNotFound(id);
  }
  // Expire it now through the common path, so the deletes and events match expiry.
  it->second.deadline = SteadyTime::min();
  expireLeasesLocked();
  return {};
}

DcsResult<RangeResult> FakeDcs::getSync(const std::string& key, bool prefix) {
  std::lock_guard lock(mu_);
  if (auto f = injectedFailureLocked())
    return *f;
  expireLeasesLocked();
  return RangeResult{.kvs = rangeLocked(key, prefix), .revision = revision_};
}

DcsResult<std::int64_t> FakeDcs::putSync(const std::string& key, const std::string& value,
                                         LeaseId lease) {
  std::lock_guard lock(mu_);
  if (auto f = injectedFailureLocked())
    return *f;
  expireLeasesLocked();
  if (auto f = checkLeaseLocked(lease))
    return *f;
  applyLocked(Operation::put(key, value, lease), ++revision_, nullptr);
  return revision_;
}

DcsResult<std::int64_t> FakeDcs::delSync(const std::string& key, bool prefix) {
  std::lock_guard lock(mu_);
  if (auto f = injectedFailureLocked())
    return *f;
  expireLeasesLocked();
  if (applyLocked(Operation::del(key, prefix), revision_ + 1, nullptr)) {
    ++revision_;
  }
  return revision_;
}

DcsResult<TxnResult> FakeDcs::txnSync(const Txn& txn) {
  std::lock_guard lock(mu_);
  if (auto f = injectedFailureLocked())
    return *f;
  expireLeasesLocked();
  TxnResult result;
  result.succeeded = std::all_of(txn.compare.begin(), txn.compare.end(),
                                 [&](const Compare& c) { return compareLocked(c); });
  const auto& ops = result.succeeded ? txn.success : txn.failure;
  // etcd rejects the whole transaction when a put names an unknown lease.
  for (const auto& op : ops) {
    if (op.kind == Operation::Kind::put) {
      if (auto f = checkLeaseLocked(op.lease))
        return *f;
    }
  }
  bool changed = false;
  for (const auto& op : ops) {
    std::vector<KeyValue> range;
    changed = applyLocked(op, revision_ + 1, &range) || changed;
    result.ranges.push_back(std::move(range));
  }
  if (changed) {
    ++revision_;
  }
  result.revision = revision_;
  return result;
}

DcsResult<WatchResult> FakeDcs::watchSync(const std::string& prefix, std::int64_t start_revision) {
  std::lock_guard lock(mu_);
  if (auto f = injectedFailureLocked())
    return *f;
  expireLeasesLocked();
  if (start_revision > 0 && start_revision < compacted_) {
    return WatchResult{.revision = compacted_, .compacted = true};
  }
  WatchResult result;
  if (start_revision > 0) {
    for (const auto& entry : history_) {
      if (entry.revision >= start_revision && hasPrefix(entry.event.kv.key, prefix)) {
        result.events.push_back(entry.event);
      }
    }
  }
  result.revision = result.events.empty() ? std::max(revision_, start_revision - 1)
                                          : result.events.back().kv.mod_revision;
  return result;
}

boost::asio::awaitable<DcsResult<LeaseGrant>> FakeDcs::grantLease(std::chrono::seconds ttl) {
  co_return grantLeaseSync(ttl);
}

boost::asio::awaitable<DcsResult<std::chrono::seconds>> FakeDcs::keepAlive(LeaseId id) {
  co_return keepAliveSync(id);
}

boost::asio::awaitable<DcsResult<void>> FakeDcs::revokeLease(LeaseId id) {
  co_return revokeLeaseSync(id);
}

boost::asio::awaitable<DcsResult<RangeResult>> FakeDcs::get(std::string key, bool prefix) {
  co_return getSync(key, prefix);
}

boost::asio::awaitable<DcsResult<std::int64_t>> FakeDcs::put(std::string key, std::string value,
                                                             LeaseId lease) {
  co_return putSync(key, value, lease);
}

boost::asio::awaitable<DcsResult<std::int64_t>> FakeDcs::del(std::string key, bool prefix) {
  co_return delSync(key, prefix);
}

boost::asio::awaitable<DcsResult<TxnResult>> FakeDcs::txn(Txn txn) {
  co_return txnSync(txn);
}

boost::asio::awaitable<DcsResult<WatchResult>> FakeDcs::watch(std::string prefix,
                                                              std::int64_t start_revision,
                                                              std::chrono::milliseconds) {
  co_return watchSync(prefix, start_revision);
}

}  // namespace keel::dcs
