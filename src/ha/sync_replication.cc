#include "ha/sync_replication.h"

#include <algorithm>
#include <map>
#include <set>

namespace keel::ha {
namespace {

std::string quoted(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"')
      out += '"';
    out += c;
  }
  return out + "\"";
}

std::string list(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names)
    out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

bool eligibleVoter(const MemberRecord& m) {
  return !m.nofailover && m.failover_priority > 0 && !m.nosync;
}

SyncState onlyLeader(const std::string& self) {
  return SyncState{.leader = self, .voters = {}, .quorum = 0};
}

std::string describe(const std::optional<SyncState>& k) {
  if (!k)
    return "no sync key (asynchronous)";
  return "leader " + k->leader + ", voters " + list(k->voters) + ", quorum " +
         std::to_string(k->quorum);
}

}  // namespace

const char* toString(SyncMode m) {
  switch (m) {
    case SyncMode::off:
      return "off";
    case SyncMode::on:
      return "on";
    case SyncMode::quorum:
      return "quorum";
  }
  return "off";
}

std::optional<SyncMode> parseSyncMode(const std::string& text) {
  if (text == "off" || text == "false")
    return SyncMode::off;
  if (text == "on" || text == "true")
    return SyncMode::on;
  if (text == "quorum")
    return SyncMode::quorum;
  return std::nullopt;
}

std::string SyncTarget::standbyNames() const {
  switch (kind) {
    case Kind::async:
      return "";
    case Kind::blocking:
      return "FIRST 1 (" + quoted(kNoStandbyName) + ")";
    case Kind::sync:
      break;
  }
  std::string names;
  for (const auto& v : voters)
    names += (names.empty() ? "" : ",") + quoted(v);
  return std::string(first ? "FIRST " : "ANY ") + std::to_string(quorum) + " (" + names + ")";
}

SyncTarget chooseSyncTarget(const SyncTargetInput& in) {
  SyncTarget t;
  if (in.settings.mode == SyncMode::off)
    return t;
  const bool mine = in.key && in.key->leader == in.self;
  std::map<std::string, WalPosition> flushed;
  std::vector<std::string> candidates;
  for (const auto& r : in.rows) {
    const MemberRecord* m = in.view.member(r.application_name);
    if (r.application_name == in.self || !m || !eligibleVoter(*m) || r.state != "streaming" ||
        in.stalled.count(r.application_name))
      continue;
    if (flushed.emplace(r.application_name, r.flush_lsn).second)
      candidates.push_back(r.application_name);
  }
  if (in.promotion_grace) {
    for (const auto& [name, m] : in.view.members) {
      if (name != in.self && eligibleVoter(m) && m.role == "replica" && !flushed.count(name) &&
          !in.stalled.count(name)) {
        flushed.emplace(name, WalPosition{});
        candidates.push_back(name);
      }
    }
  }
  auto current = [&](const std::string& n) { return mine && in.key->isVoter(n); };
  std::sort(candidates.begin(), candidates.end(), [&](const std::string& a, const std::string& b) {
    if (current(a) != current(b))
      return current(a);
    if (flushed[a] != flushed[b])
      return flushed[a] > flushed[b];
    return a < b;
  });
  int wanted = std::max(1, in.settings.node_count);
  t.first = in.settings.mode == SyncMode::on;
  if (t.first) {
    if (static_cast<int>(candidates.size()) > wanted)
      candidates.resize(static_cast<std::size_t>(wanted));
    t.voters = candidates;
    t.quorum = static_cast<int>(candidates.size());
  } else {
    t.voters = candidates;
    t.quorum = std::min(wanted, static_cast<int>(candidates.size()));
  }
  std::sort(t.voters.begin(), t.voters.end());
  if (!t.voters.empty()) {
    t.kind = SyncTarget::Kind::sync;
    return t;
  }
  if (!in.settings.strict) {
    t.kind = SyncTarget::Kind::async;
    t.quorum = 0;
    return t;
  }
  // Strict and no standby streams: keep waiting for the current voters (commits block until
  // one is back, and they stay promotable), or for nobody at all.
  if (mine && !in.key->voters.empty() && in.key->quorum > 0) {
    t.kind = SyncTarget::Kind::sync;
    t.voters = in.key->voters;
    t.quorum = in.key->quorum;
    t.first = in.key->quorum == static_cast<int>(in.key->voters.size());
    return t;
  }
  t.kind = SyncTarget::Kind::blocking;
  t.quorum = 0;
  return t;
}

SyncStep planSync(const SyncPlanInput& in) {
  SyncStep step;
  const SyncTarget& t = in.target;
  const std::string wanted_names = t.standbyNames();
  if (in.key && in.key->leader != in.self) {
    // A key about another leader says nothing true about this member's commits.
    step.kind = SyncStep::Kind::write_key;
    step.key = onlyLeader(in.self);
    step.reason = "the sync key describes former leader " + in.key->leader +
                  "; replacing it with one naming this member only";
    return step;
  }
  if (in.standby_names != wanted_names) {
    std::optional<SyncState> between = in.key;
    switch (t.kind) {
      case SyncTarget::Kind::async:
        between.reset();
        break;
      case SyncTarget::Kind::blocking:
        break;  // no commit is acknowledged under the target: the key stays true
      case SyncTarget::Kind::sync:
        if (in.key) {
          std::set<std::string> all(in.key->voters.begin(), in.key->voters.end());
          all.insert(t.voters.begin(), t.voters.end());
          between = SyncState{.leader = in.self,
                              .voters = {all.begin(), all.end()},
                              .quorum = std::min(in.key->quorum, t.quorum)};
          if (between->quorum == 0)
            between->voters.clear();
        }
        break;
    }
    bool same = between.has_value() == in.key.has_value() && (!between || *between == *in.key);
    if (!same) {
      step.kind = SyncStep::Kind::write_key;
      step.key = between;
      step.reason = "before synchronous_standby_names changes to '" + wanted_names +
                    "', the sync key becomes one true under both: " + describe(between);
      return step;
    }
    step.kind = SyncStep::Kind::set_standbys;
    step.standby_names = wanted_names;
    step.reason = "synchronous_standby_names '" + in.standby_names + "' -> '" + wanted_names + "'";
    return step;
  }
  std::optional<SyncState> final_key;
  switch (t.kind) {
    case SyncTarget::Kind::async:
      break;
    case SyncTarget::Kind::blocking:
      final_key = in.key ? *in.key : onlyLeader(in.self);
      break;
    case SyncTarget::Kind::sync:
      final_key = SyncState{.leader = in.self, .voters = t.voters, .quorum = t.quorum};
      break;
  }
  bool same = final_key.has_value() == in.key.has_value() && (!final_key || *final_key == *in.key);
  if (same)
    return step;  // at the target
  if (t.kind == SyncTarget::Kind::sync) {
    if (!in.settled_position) {
      step.reason = "waiting for synchronous_standby_names to take effect";
      return step;
    }
    int caught_up = 0;
    for (const auto& r : in.rows) {
      if (std::find(t.voters.begin(), t.voters.end(), r.application_name) != t.voters.end() &&
          r.flush_lsn >= *in.settled_position)
        ++caught_up;
    }
    if (caught_up < t.quorum) {
      step.reason = "waiting for " + std::to_string(t.quorum) + " of " + list(t.voters) +
                    " to flush WAL up to " + in.settled_position->str() + " (" +
                    std::to_string(caught_up) + " did)";
      return step;
    }
  }
  step.kind = SyncStep::Kind::write_key;
  step.key = final_key;
  step.reason = "synchronous replication in force: sync key " + describe(final_key);
  return step;
}

std::optional<SyncState> keyAtPromotion(const std::string& self,
                                        const std::optional<SyncState>& old_key, SyncMode mode,
                                        bool strict) {
  if (!old_key) {
    if (mode != SyncMode::off && strict)
      return onlyLeader(self);
    return std::nullopt;
  }
  if (old_key->leader == self)
    return old_key;
  SyncState k{.leader = self, .voters = {}, .quorum = 0};
  for (const auto& v : old_key->voters) {
    if (v != self)
      k.voters.push_back(v);
  }
  // Every commit of the old leader is on `quorum` of its voters; with this member out of the
  // list, on one fewer of the rest. This member's own commits wait for nobody-yet.
  k.quorum = old_key->isVoter(self) ? std::max(0, old_key->quorum - 1) : old_key->quorum;
  k.quorum = std::min(k.quorum, static_cast<int>(k.voters.size()));
  if (k.quorum == 0)
    k.voters.clear();
  return k;
}

bool syncRestricts(const ClusterView& view) {
  return view.sync_unreadable || view.sync.has_value();
}

std::optional<std::string> syncPromotionBlocker(const ClusterView& view, const std::string& self,
                                                WalPosition self_position,
                                                const std::vector<PeerProbe>& peers) {
  if (view.sync_unreadable) {
    return "the sync key cannot be read, so no member can tell whether it holds every "
           "acknowledged commit; fix or delete the key (keel ctl) to allow a promotion";
  }
  if (!view.sync)
    return std::nullopt;
  const SyncState& k = *view.sync;
  if (k.leader == self)
    return std::nullopt;  // its own commits: it holds them all
  if (k.quorum == 0 || !k.isVoter(self)) {
    return "synchronous replication: only " + k.leader + " or its synchronous standbys (" +
           list(k.voters) + ") are known to hold every acknowledged commit";
  }
  const int need = static_cast<int>(k.voters.size()) - k.quorum + 1;
  int seen = 1;
  for (const auto& p : peers) {
    if (p.name == self || !p.reachable || !k.isVoter(p.name))
      continue;
    ++seen;
    if (p.wal_position > self_position) {
      return "synchronous standby " + p.name + " has a higher WAL position (" +
             p.wal_position.str() + " > " + self_position.str() + ")";
    }
  }
  if (seen < need) {
    return "synchronous replication (quorum " + std::to_string(k.quorum) + " of " + list(k.voters) +
           "): sees " + std::to_string(seen) + " of the " + std::to_string(need) +
           " synchronous standbys needed to be sure it holds every "
           "acknowledged commit";
  }
  return std::nullopt;
}

}  // namespace keel::ha
