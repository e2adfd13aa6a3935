#pragma once

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/wal_position.h"
#include "ha/cluster_view.h"
#include "ha/decision.h"

namespace keel::ha {

// Synchronous replication: which standbys a primary's commits wait for, and the `sync` key
// that tells the other members which of them may be promoted without losing an acknowledged
// commit. Pure functions; the HA loop reads PostgreSQL and the DCS and carries out the steps.
//
// The invariant the leader keeps: whenever the sync key exists, every commit its leader has
// acknowledged is on at least `quorum` of its `voters` (flushed to their disks). So a member
// that can see |voters| - quorum + 1 voters (itself included) and holds at least as much WAL
// as each of them holds every acknowledged commit, and may be promoted. With quorum =
// |voters| ("on" mode) that is any single voter.
//
// A commit is acknowledged under the synchronous_standby_names in force when it is, so the
// leader changes PostgreSQL's setting and the key in an order that keeps the invariant true
// at every instant, for commits made before and after the change (see planSync).

enum class SyncMode { off, on, quorum };

struct SyncSettings {
  SyncMode mode = SyncMode::off;
  // Never acknowledge a commit that is on no standby: writes wait for a standby instead.
  bool strict = false;
  int node_count = 1;  // synchronous_node_count
};

const char* toString(SyncMode m);
std::optional<SyncMode> parseSyncMode(const std::string& text);

// The name no standby uses: synchronous_standby_names listing only it holds every commit.
inline constexpr const char* kNoStandbyName = "keel:no-standby";

// What the leader wants PostgreSQL to wait for.
struct SyncTarget {
  enum class Kind {
    async,     // synchronous_standby_names '': commits wait for nobody; no sync key
    sync,      // wait for `quorum` of `voters`
    blocking,  // strict with no standby to wait for: no commit is acknowledged
  } kind = Kind::async;
  std::vector<std::string> voters;  // sorted
  int quorum = 0;
  bool first = true;  // "FIRST n (...)" (mode on) rather than "ANY n (...)" (quorum)

  // The synchronous_standby_names value that makes PostgreSQL wait this way.
  std::string standbyNames() const;
  bool operator==(const SyncTarget&) const = default;
};

// One row of the leader's pg_stat_replication.
struct ReplicationRow {
  std::string application_name;  // the member name (Keel sets it in primary_conninfo)
  std::string state;             // "streaming", "catchup", ...
  WalPosition flush_lsn;
};

struct SyncTargetInput {
  SyncSettings settings;
  std::string self;
  const ClusterView& view;
  std::optional<SyncState> key;  // the current sync key if this member is its leader
  std::vector<ReplicationRow> rows;
  // Shortly after this member became primary: replicas with a member record count as
  // candidates before they stream from it (they are about to follow it), so commits wait for
  // them rather than going unreplicated in the first seconds.
  bool promotion_grace = false;
  // Standbys whose walsender says "streaming" but whose flush position has not moved for a
  // while although the primary wrote more: a cut link looks like this until
  // wal_sender_timeout, and commits waiting for such a standby would wait that long.
  std::set<std::string> stalled;
};

// The standbys to wait for: eligible members (not nosync, not nofailover, priority > 0) that
// stream from this primary, the current voters first (no churn), then the furthest ahead.
SyncTarget chooseSyncTarget(const SyncTargetInput& in);

// The next step toward `target`, given the key and the setting in force.
struct SyncStep {
  enum class Kind {
    none,          // at the target, or waiting (reason says for what)
    write_key,     // replace the sync key by `key` (nullopt: delete it)
    set_standbys,  // set synchronous_standby_names to `standby_names`
  } kind = Kind::none;
  std::optional<SyncState> key;
  std::string standby_names;
  std::string reason;
};

struct SyncPlanInput {
  std::string self;
  std::optional<SyncState> key;  // current sync key (any leader's), nullopt: absent
  std::string standby_names;     // synchronous_standby_names in force
  SyncTarget target;
  std::vector<ReplicationRow> rows;
  // The primary's WAL write position read at least `settle` after synchronous_standby_names
  // last changed (every walsender applies a new value by then); nullopt: not yet.
  std::optional<WalPosition> settled_position;
};

// Order of steps (each keeps the invariant above):
//  1. key first, to one true both for commits made under the old setting and under the
//     target: voters old ∪ new, quorum min(old, new) (delete it when going asynchronous);
//  2. then synchronous_standby_names;
//  3. then, once `quorum` target voters flushed past a position read after the change
//     (commits acknowledged under the old setting are on them), the target key.
SyncStep planSync(const SyncPlanInput& in);

// The key a member writes just before it promotes itself (PostgreSQL set to wait for
// nobody-yet, kNoStandbyName): what the old key says about the others, minus itself. nullopt:
// no key (asynchronous replication, or synchronous replication off and no key).
std::optional<SyncState> keyAtPromotion(const std::string& self,
                                        const std::optional<SyncState>& old_key, SyncMode mode,
                                        bool strict);

// Election rule under a sync key: why `self` may not take the leader lock, or nullopt.
// `peers` are this cycle's probes; `self_position` this member's WAL position.
std::optional<std::string> syncPromotionBlocker(const ClusterView& view, const std::string& self,
                                                WalPosition self_position,
                                                const std::vector<PeerProbe>& peers);

// Whether the sync key (if any) restricts who may be promoted.
bool syncRestricts(const ClusterView& view);

}  // namespace keel::ha
