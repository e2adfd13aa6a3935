#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "dcs/dcs.h"

namespace keel::dcs {

// In-memory DCS with etcd semantics, for tests: one global revision counter (starting at 1, as
// in etcd), create/mod revisions and versions, leases whose TTL runs on an injected Clock, and a
// history of events for watches.
//
// Lease expiry is observed, not timed: every operation first calls expireLeases(), which revokes
// each lease whose deadline is at or before clock.now() (deleting its keys in one revision, with
// delete events). Advance a ManualClock and call any method to make leases expire.
//
// watch() never waits: it returns the pending events at or after start_revision at once, or an
// empty result right away when there are none (max_wait is ignored), so tests stay
// deterministic. The *Sync methods are the same operations without an io_context, for
// simulation tests; the awaitable methods wrap them.
//
// Fault injection: setAvailable(false) makes every call fail with unavailable; failNext(n, errc)
// makes the next n calls fail with errc (neither applies the operation).
//
// Thread-safe (one mutex). `clock` must outlive the FakeDcs.
class FakeDcs final : public Dcs {
 public:
  explicit FakeDcs(const Clock& clock);

  // --- synchronous API
  DcsResult<LeaseGrant> grantLeaseSync(std::chrono::seconds ttl);
  DcsResult<std::chrono::seconds> keepAliveSync(LeaseId id);
  DcsResult<void> revokeLeaseSync(LeaseId id);
  DcsResult<RangeResult> getSync(const std::string& key, bool prefix = false);
  DcsResult<std::int64_t> putSync(const std::string& key, const std::string& value,
                                  LeaseId lease = 0);
  DcsResult<std::int64_t> delSync(const std::string& key, bool prefix = false);
  DcsResult<TxnResult> txnSync(const Txn& txn);
  DcsResult<WatchResult> watchSync(const std::string& prefix, std::int64_t start_revision);

  // --- Dcs
  boost::asio::awaitable<DcsResult<LeaseGrant>> grantLease(std::chrono::seconds ttl) override;
  boost::asio::awaitable<DcsResult<std::chrono::seconds>> keepAlive(LeaseId id) override;
  boost::asio::awaitable<DcsResult<void>> revokeLease(LeaseId id) override;
  boost::asio::awaitable<DcsResult<RangeResult>> get(std::string key, bool prefix) override;
  boost::asio::awaitable<DcsResult<std::int64_t>> put(std::string key, std::string value,
                                                      LeaseId lease) override;
  boost::asio::awaitable<DcsResult<std::int64_t>> del(std::string key, bool prefix) override;
  boost::asio::awaitable<DcsResult<TxnResult>> txn(Txn txn) override;
  boost::asio::awaitable<DcsResult<WatchResult>> watch(std::string prefix,
                                                       std::int64_t start_revision,
                                                       std::chrono::milliseconds max_wait) override;
  std::string describe() const override { return "fake DCS (in memory)"; }

  // --- test controls
  void expireLeases();
  void setAvailable(bool available);
  void failNext(int n, DcsErrc code);
  // Forgets history before `revision`; a watch from earlier reports compacted.
  void compact(std::int64_t revision);
  std::int64_t revision() const;
  // Lease ids alive now (after expiry), for assertions.
  std::vector<LeaseId> leases() const;

 private:
  struct Lease {
    std::chrono::seconds ttl{0};
    SteadyTime deadline;
  };
  struct HistoryEntry {
    std::int64_t revision;
    WatchEvent event;
  };

  // All private helpers expect mu_ held.
  std::optional<Failure<DcsErrc>> injectedFailureLocked();
  void expireLeasesLocked();
  std::vector<std::string> keysInLocked(const std::string& key, bool prefix) const;
  std::vector<KeyValue> rangeLocked(const std::string& key, bool prefix) const;
  bool compareLocked(const Compare& c) const;
  // Applies one operation at revision_ + 1 (the caller bumps revision_ when anything changed).
  bool applyLocked(const Operation& op, std::int64_t rev, std::vector<KeyValue>* range_out);
  void deleteKeyLocked(const std::string& key, std::int64_t rev);
  std::optional<Failure<DcsErrc>> checkLeaseLocked(LeaseId lease) const;

  const Clock& clock_;
  mutable std::mutex mu_;
  std::map<std::string, KeyValue> kvs_;
  std::map<LeaseId, Lease> leases_;
  std::vector<HistoryEntry> history_;
  std::int64_t revision_ = 1;
  std::int64_t compacted_ = 0;
  LeaseId next_lease_ = 0x694d0001;
  bool available_ = true;
  int fail_next_ = 0;
  DcsErrc fail_code_ = DcsErrc::unavailable;
};

}  // namespace keel::dcs
