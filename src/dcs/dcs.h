#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace keel::dcs {

// The distributed configuration store Keel keeps its cluster state in: etcd v3 semantics
// (revisions, leases, transactions, watches). Implementations: EtcdDcs (real etcd through the
// v3 JSON gateway) and FakeDcs (in memory, for tests). tests/unit/dcs/contract_test runs one
// suite against both.

enum class DcsErrc {
  unavailable,      // no endpoint answered in time: retry later
  timeout,          // the request's deadline passed; its outcome is unknown
  lease_not_found,  // the lease expired or was revoked
  bad_response,     // an endpoint answered something that is not etcd's v3 API
  rejected,         // etcd refused the request (message says why)
  cancelled,
};

template <typename T>
using DcsResult = Result<T, DcsErrc>;

using LeaseId = std::int64_t;

struct KeyValue {
  std::string key;
  std::string value;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t version = 0;
  LeaseId lease = 0;
};

struct RangeResult {
  std::vector<KeyValue> kvs;
  std::int64_t revision = 0;  // store revision the read saw
};

struct LeaseGrant {
  LeaseId id = 0;
  std::chrono::seconds ttl{0};  // as granted (etcd may raise it to its minimum)
};

// One comparison of a transaction's guard, as in etcd's Compare message.
struct Compare {
  enum class Target { value, version, create_revision, mod_revision, lease };
  enum class Op { equal, not_equal, greater, less };
  std::string key;
  Target target = Target::version;
  Op op = Op::equal;
  std::string value;        // for Target::value
  std::int64_t number = 0;  // for every other target

  // Helpers for the common guards.
  static Compare absent(std::string key);  // version == 0
  static Compare valueIs(std::string key, std::string value);
  static Compare modRevisionIs(std::string key, std::int64_t rev);
  static Compare leaseIs(std::string key, LeaseId lease);
};

struct Operation {
  enum class Kind { put, del, get };
  Kind kind = Kind::get;
  std::string key;
  std::string value;    // put
  LeaseId lease = 0;    // put
  bool prefix = false;  // del/get over every key starting with `key`

  static Operation put(std::string key, std::string value, LeaseId lease = 0);
  static Operation del(std::string key, bool prefix = false);
  static Operation get(std::string key, bool prefix = false);
};

struct Txn {
  std::vector<Compare> compare;
  std::vector<Operation> success;
  std::vector<Operation> failure;
};

struct TxnResult {
  bool succeeded = false;
  std::int64_t revision = 0;
  // One entry per operation of the branch that ran; filled for `get` operations only.
  std::vector<std::vector<KeyValue>> ranges;
};

struct WatchEvent {
  enum class Type { put, del };
  Type type = Type::put;
  KeyValue kv;  // for del: key and mod_revision only
};

struct WatchResult {
  std::vector<WatchEvent> events;  // empty when the deadline passed with no change
  std::int64_t revision = 0;       // pass revision + 1 as the next start_revision
  bool compacted = false;          // start_revision was compacted: re-read with get() and resume
};

// Every method runs on the caller's executor and completes within the implementation's
// request timeout (or the given deadline for watch); none throws for DCS-side failures.
class Dcs {
 public:
  virtual ~Dcs() = default;

  virtual boost::asio::awaitable<DcsResult<LeaseGrant>> grantLease(std::chrono::seconds ttl) = 0;
  // Refreshes the lease; returns the remaining TTL etcd reports. lease_not_found if expired.
  virtual boost::asio::awaitable<DcsResult<std::chrono::seconds>> keepAlive(LeaseId id) = 0;
  virtual boost::asio::awaitable<DcsResult<void>> revokeLease(LeaseId id) = 0;

  // Reads one key, or every key starting with `key` when prefix is set (sorted by key).
  virtual boost::asio::awaitable<DcsResult<RangeResult>> get(std::string key,
                                                             bool prefix = false) = 0;
  virtual boost::asio::awaitable<DcsResult<std::int64_t>> put(std::string key, std::string value,
                                                              LeaseId lease = 0) = 0;
  virtual boost::asio::awaitable<DcsResult<std::int64_t>> del(std::string key,
                                                              bool prefix = false) = 0;
  virtual boost::asio::awaitable<DcsResult<TxnResult>> txn(Txn txn) = 0;

  // Waits for changes to keys starting with `prefix` at or after `start_revision`, returning as
  // soon as at least one event is available or when `max_wait` has passed (empty events).
  virtual boost::asio::awaitable<DcsResult<WatchResult>> watch(
      std::string prefix, std::int64_t start_revision, std::chrono::milliseconds max_wait) = 0;

  // Human-readable description of where this DCS is, for logs and /patroni ("etcd
  // http://127.0.0.1:2379 (1 of 3)").
  virtual std::string describe() const = 0;
};

}  // namespace keel::dcs
