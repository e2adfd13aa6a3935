// A deterministic, seeded simulation of three Keel members around one lease store with etcd
// semantics, with faults injected at random. After every step it asserts the property the HA
// design exists for: at most one PostgreSQL accepts writes. In fault-free stretches it asserts
// progress: a leader with a writable PostgreSQL exists.
//
// Model (what the HA loop promises and decide() relies on):
// - One clock for all members and the store (equal clock rates; jumps move everyone).
// - A renewal records its send time; etcd resets the TTL when it receives it, which is at or
//   after the send time. Renewals may be lost, delayed (up to a TTL), or their reply lost.
// - Each agent has a fence timer at fenceDeadline(): when it fires, PostgreSQL stops accepting
//   writes. The deadline counts only for the lease under which this agent made PostgreSQL
//   writable: an agent that finds a writable PostgreSQL it did not promote under its current
//   lease (it just restarted, or its lease was lost and replaced) fences at once, because it
//   cannot know when the earlier lease expires. Timers due at an instant fire before leases
//   expire at that instant.
// - A cycle reads the store (may fail), probes the other members' PostgreSQL (unless the
//   network between them is cut), calls decide() and applies the action at once.

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <random>
#include <sstream>

#include "common/clock.h"
#include "ha/decision.h"
#include "unit/ha/lease_store.h"

namespace keel::ha {
namespace {

using std::chrono::milliseconds;
using testing::LeaseStore;

constexpr milliseconds kTtl{2000};
constexpr milliseconds kMargin{500};
constexpr std::uint64_t kMaxLag = 1024 * 1024;
const std::string kPrefix = "/keel/sim/";
const std::string kLeaderKey = kPrefix + keys::kLeader;

struct FakePostgres {
  bool data = false;
  bool running = false;
  bool in_recovery = true;
  bool stopped_as_primary = false;
  std::uint64_t wal = 0;
  std::uint64_t sysid = 0;
  std::string upstream;

  bool writable() const { return running && !in_recovery; }
  void stop() {
    if (writable())
      stopped_as_primary = true;
    running = false;
  }
  void startStandby(const std::string& up) {
    running = true;
    in_recovery = true;
    stopped_as_primary = false;
    upstream = up;
  }
};

struct SimMember {
  std::string name;
  FakePostgres pg;
  bool agent_up = true;
  int down_steps = 0;
  bool dcs_cut = false;  // cannot reach the store
  bool net_cut = false;  // cannot reach the other members (probes, replication)
  std::int64_t lease = 0;
  std::optional<SteadyTime> last_renewal_sent;
  std::int64_t primary_lease = 0;  // the lease under which this agent made PostgreSQL writable

  LocalState local() const {
    LocalState l;
    l.name = name;
    l.data_initialized = pg.data;
    l.pg_running = pg.running;
    l.in_recovery = pg.in_recovery;
    l.stopped_as_primary = !pg.running && pg.stopped_as_primary;
    l.wal_position = WalPosition{pg.wal};
    l.timeline = 1;
    l.system_identifier = pg.data ? pg.sysid : 0;
    l.upstream = pg.running && pg.in_recovery ? pg.upstream : "";
    l.lease = lease;
    l.last_renewal_sent = last_renewal_sent;
    return l;
  }
  // The fence timer: the lease's deadline, or now when the agent cannot name one.
  std::optional<SteadyTime> fenceAt(SteadyTime now) const {
    if (!agent_up || !pg.writable())
      return std::nullopt;
    auto d = fenceDeadline(local(), kTtl, kMargin);
    return d && primary_lease == lease ? *d : now;
  }
  void becamePrimary() { primary_lease = lease; }
};

struct Renewal {
  std::size_t member;
  std::int64_t lease;
  SteadyTime sent;
  SteadyTime arrives;
  bool reply_lost;
};

class Simulation {
 public:
  explicit Simulation(std::uint64_t seed) : rng_(seed) {
    for (const char* n : {"a", "b", "c"}) {
      SimMember m;
      m.name = n;
      members_.push_back(m);
    }
  }

  // Runs `steps` steps: faulty stretches of 70 steps, each followed by 30 fault-free ones.
  // Returns false (after recording a failure) when an invariant broke.
  bool run(int steps) {
    for (step_ = 0; step_ < steps; ++step_) {
      faults_ = step_ % 100 < 70;
      if (!faults_ && step_ % 100 == 70)
        heal();
      if (!step())
        return false;
      if (step_ % 100 == 99 && !leaderExists()) {
        ADD_FAILURE() << "no leader after a fault-free stretch\n" << dump();
        return false;
      }
    }
    return true;
  }

  const std::map<std::string, int>& actionCounts() const { return action_counts_; }

 private:
  std::uint64_t below(std::uint64_t n) { return rng_() % n; }
  bool chance(double p) { return static_cast<double>(rng_() >> 11) * 0x1.0p-53 < p; }
  SteadyTime now() const { return clock_.now(); }

  void note(const std::string& what) {
    std::ostringstream os;
    os << "step " << step_ << " t=+"
       << std::chrono::duration_cast<milliseconds>(now() - SteadyTime{}).count() << "ms " << what;
    log_.push_back(os.str());
    if (log_.size() > 60)
      log_.pop_front();
  }

  std::string dump() const {
    std::ostringstream os;
    for (const auto& m : members_) {
      os << m.name << ": agent " << (m.agent_up ? "up" : "down") << ", pg "
         << (m.pg.running ? (m.pg.in_recovery ? "standby" : "PRIMARY") : "stopped") << " wal "
         << m.pg.wal << ", lease " << m.lease << (m.dcs_cut ? ", dcs cut" : "")
         << (m.net_cut ? ", net cut" : "") << "\n";
    }
    const RawKey* l = store_.get(kLeaderKey);
    os << "leader key: " << (l ? l->value + " lease " + std::to_string(l->lease) : "none") << "\n";
    for (const auto& e : log_)
      os << "  " << e << "\n";
    return os.str();
  }

  bool checkAtMostOnePrimary(const char* after) {
    int writable = 0;
    for (const auto& m : members_)
      writable += m.pg.writable() ? 1 : 0;
    if (writable <= 1)
      return true;
    ADD_FAILURE() << "two writable primaries after " << after << " at step " << step_ << "\n"
                  << dump();
    return false;
  }

  bool leaderExists() const {
    const RawKey* l = store_.get(kLeaderKey);
    if (!l)
      return false;
    for (const auto& m : members_) {
      if (m.name == l->value)
        return m.pg.writable();
    }
    return false;
  }

  void heal() {
    for (auto& m : members_) {
      m.dcs_cut = false;
      m.net_cut = false;
      if (!m.agent_up)
        restartAgent(m);
    }
    note("faults healed");
  }

  void restartAgent(SimMember& m) {
    m.agent_up = true;
    m.lease = 0;
    m.last_renewal_sent.reset();
    m.primary_lease = 0;
    note(m.name + " agent restarts");
  }

  void injectFaults() {
    for (auto& m : members_) {
      if (chance(0.03)) {
        m.dcs_cut = !m.dcs_cut;
        note(m.name + (m.dcs_cut ? " loses" : " regains") + " the DCS");
      }
      if (chance(0.03)) {
        m.net_cut = !m.net_cut;
        note(m.name + (m.net_cut ? " cut off from" : " reconnected to") + " its peers");
      }
      if (m.agent_up && chance(0.01)) {
        // Host crash: PostgreSQL dies with the agent; back after a while.
        m.agent_up = false;
        m.down_steps = 1 + static_cast<int>(below(20));
        m.pg.stop();
        note(m.name + " host crashes");
      } else if (m.agent_up && chance(0.01)) {
        // Agent restart: PostgreSQL survives; the new agent knows nothing of the old lease.
        note(m.name + " agent crashes, PostgreSQL keeps running");
        restartAgent(m);
      } else if (!m.agent_up && --m.down_steps <= 0) {
        restartAgent(m);
      }
    }
  }

  // Moves the clock to `to`, firing events in time order. At one instant: fence timers first,
  // then lease expiries, then renewals reaching the store.
  bool advanceTo(SteadyTime to) {
    while (true) {
      std::optional<SteadyTime> next;
      auto consider = [&](std::optional<SteadyTime> t) {
        if (t && (!next || *t < *next))
          next = t;
      };
      for (const auto& m : members_)
        consider(m.fenceAt(now()));
      consider(store_.nextExpiry());
      for (const auto& r : inflight_)
        consider(r.arrives);
      if (!next || *next > to)
        break;
      clock_.set(std::max(now(), *next));
      fireFenceTimers();
      for (std::int64_t id : store_.expire(now()))
        note("lease " + std::to_string(id) + " expires");
      deliverRenewals();
      if (!checkAtMostOnePrimary("time advance"))
        return false;
    }
    clock_.set(to);
    return true;
  }

  void fireFenceTimers() {
    for (auto& m : members_) {
      if (auto at = m.fenceAt(now()); at && *at <= now()) {
        m.pg.stop();
        ++action_counts_["fence timer"];
        note(m.name + " fence timer fires: PostgreSQL stopped");
      }
    }
  }

  void deliverRenewals() {
    for (auto it = inflight_.begin(); it != inflight_.end();) {
      if (it->arrives > now()) {
        ++it;
        continue;
      }
      Renewal r = *it;
      it = inflight_.erase(it);
      bool ok = store_.keepAlive(r.lease, now());
      SimMember& m = members_[r.member];
      if (r.reply_lost || !m.agent_up || m.lease != r.lease)
        continue;
      if (ok) {
        if (!m.last_renewal_sent || *m.last_renewal_sent < r.sent)
          m.last_renewal_sent = r.sent;
      } else {
        note(m.name + " learns lease " + std::to_string(r.lease) + " is gone");
        m.lease = 0;
        m.last_renewal_sent.reset();
      }
    }
  }

  void renew(std::size_t i) {
    SimMember& m = members_[i];
    if (m.dcs_cut || (faults_ && chance(0.1)))
      return;  // lost on the way
    if (m.lease == 0) {
      m.lease = store_.grant(now());
      m.last_renewal_sent = now();
      note(m.name + " granted lease " + std::to_string(m.lease));
      return;
    }
    Renewal r{i, m.lease, now(), now(), faults_ && chance(0.05)};
    if (faults_ && chance(0.15))
      r.arrives += milliseconds(below(kTtl.count()));
    inflight_.push_back(r);
    deliverRenewals();
  }

  std::vector<PeerProbe> probe(std::size_t i) const {
    std::vector<PeerProbe> peers;
    for (std::size_t j = 0; j < members_.size(); ++j) {
      if (j == i)
        continue;
      const SimMember& o = members_[j];
      PeerProbe p;
      p.name = o.name;
      p.reachable = o.agent_up && !o.net_cut && !members_[i].net_cut;
      p.pg_running = o.pg.running;
      p.in_recovery = o.pg.in_recovery;
      p.wal_position = WalPosition{o.pg.wal};
      peers.push_back(p);
    }
    return peers;
  }

  SimMember* byName(const std::string& name) {
    for (auto& m : members_) {
      if (m.name == name)
        return &m;
    }
    return nullptr;
  }

  void cycle(std::size_t i) {
    SimMember& m = members_[i];
    if (m.dcs_cut || (faults_ && chance(0.05)))
      return;  // read failed: skip the cycle
    if (view_revision_ != store_.revision()) {
      std::vector<std::string> problems;
      view_ = decodeClusterView(kPrefix, store_.range(), store_.revision(), &problems);
      view_revision_ = store_.revision();
      EXPECT_TRUE(problems.empty()) << problems.front();
    }
    const ClusterView& view = view_;
    LocalState local = m.local();
    std::vector<PeerProbe> peers = view.leader ? std::vector<PeerProbe>{} : probe(i);
    DecisionInput in{.view = view,
                     .local = local,
                     .peers = peers,
                     .now = now(),
                     .now_epoch = 0,
                     .ttl = kTtl,
                     .fence_margin = kMargin,
                     .maximum_lag_on_failover = kMaxLag};
    Decision d = decide(in);
    ++action_counts_[toString(d.action)];
    EXPECT_NE(d.action, Action::refuse) << d.reason;
    if (d.action != Action::none)
      note(m.name + " " + toString(d.action) + ": " + d.reason);
    apply(m, d);
    publish(m);
  }

  void apply(SimMember& m, const Decision& d) {
    FakePostgres& pg = m.pg;
    SimMember* target = d.target.empty() ? nullptr : byName(d.target);
    switch (d.action) {
      case Action::bootstrap:
        if (!store_.get(kPrefix + keys::kInitialize) &&
            store_.createIfAbsent(kLeaderKey, m.name, m.lease)) {
          if (!pg.data) {
            pg.data = true;
            pg.sysid = 7000 + below(1000);
            pg.wal = 100;
          }
          store_.put(kPrefix + keys::kInitialize, std::to_string(pg.sysid), 0);
          pg.running = true;
          pg.in_recovery = false;
          m.becamePrimary();
        }
        break;
      case Action::acquire_leader:
        if (store_.createIfAbsent(kLeaderKey, m.name, m.lease) && pg.running) {
          if (!pg.writable())
            m.becamePrimary();
          pg.in_recovery = false;
        }
        break;
      case Action::promote:
        pg.in_recovery = false;
        m.becamePrimary();
        break;
      case Action::start_primary:
        m.becamePrimary();
        pg.running = true;
        pg.in_recovery = false;
        pg.stopped_as_primary = false;
        break;
      case Action::start_standby:
        pg.startStandby(d.target);
        break;
      case Action::follow:
        pg.upstream = d.target;
        break;
      case Action::rejoin:
        if (target && target->pg.running)
          pg.wal = std::min(pg.wal, target->pg.wal);
        pg.startStandby(d.target);
        break;
      case Action::demote:
      case Action::rewind:
        pg.stop();
        pg.startStandby(d.target);
        break;
      case Action::clone:
        if (target && target->pg.running && !target->net_cut && !m.net_cut) {
          pg.data = true;
          pg.sysid = target->pg.sysid;
          pg.wal = target->pg.wal;
          pg.running = false;
          pg.stopped_as_primary = false;
        }
        break;
      case Action::fence:
        pg.stop();
        break;
      case Action::release_leader:
        store_.deleteIfValue(kLeaderKey, m.name);
        break;
      case Action::none:
      case Action::switchover:
      case Action::clear_failover:
      case Action::refuse:
        break;
    }
  }

  void publish(SimMember& m) {
    MemberRecord r;
    r.role = !m.pg.data ? "uninitialized" : m.pg.writable() ? "primary" : "replica";
    r.state = !m.pg.running ? "stopped" : m.pg.in_recovery ? "streaming" : "running";
    r.host = "127.0.0.1";
    r.port = static_cast<std::uint16_t>(5432 + m.name[0] - 'a');
    r.wal_position = WalPosition{m.pg.wal};
    r.upstream = m.pg.running && m.pg.in_recovery ? m.pg.upstream : "";
    r.replication_state = r.upstream.empty() ? "" : "streaming";
    r.system_identifier = m.pg.sysid;
    // An unchanged record is not rewritten, so unchanged stores keep their decoded view.
    const std::string key = kPrefix + keys::kMembers + m.name;
    std::string value = r.toJson().dump();
    const RawKey* old = store_.get(key);
    if (!old || old->value != value || old->lease != m.lease)
      store_.put(key, value, m.lease);
    const RawKey* l = store_.get(kLeaderKey);
    if (l && l->value == m.name && m.pg.writable()) {
      std::string status = nlohmann::json{{"optime", WalPosition{m.pg.wal}.str()}}.dump();
      const RawKey* old_status = store_.get(kPrefix + keys::kStatus);
      if (!old_status || old_status->value != status) {
        store_.put(kPrefix + keys::kStatus, status, 0);
      }
    }
  }

  void replicate() {
    for (auto& m : members_) {
      if (m.pg.writable() && chance(0.7))
        m.pg.wal += below(64 * 1024);
    }
    for (auto& m : members_) {
      if (!m.pg.running || !m.pg.in_recovery || m.net_cut)
        continue;
      SimMember* up = byName(m.pg.upstream);
      if (!up || !up->pg.running || up->net_cut || up->pg.wal <= m.pg.wal)
        continue;
      std::uint64_t behind = up->pg.wal - m.pg.wal;
      m.pg.wal += faults_ && chance(0.3) ? below(behind + 1) : behind;
    }
  }

  bool step() {
    if (faults_)
      injectFaults();
    std::vector<std::pair<std::size_t, bool>> ops;  // (member, renew?)
    for (std::size_t i = 0; i < members_.size(); ++i) {
      ops.emplace_back(i, true);
      ops.emplace_back(i, false);
    }
    std::shuffle(ops.begin(), ops.end(), rng_);
    for (const auto& [i, is_renewal] : ops) {
      if (!members_[i].agent_up || (faults_ && chance(0.15)))
        continue;
      if (is_renewal) {
        renew(i);
      } else {
        cycle(i);
      }
      // Anything the op did is subject to the fence timer at once (a lease lost just now).
      fireFenceTimers();
      if (!checkAtMostOnePrimary(is_renewal ? "renewal" : "cycle"))
        return false;
    }
    replicate();
    milliseconds dt{100 + below(600)};
    if (faults_ && chance(0.03)) {
      dt = milliseconds(below(3 * kTtl.count()));
      note("clock jumps " + std::to_string(dt.count()) + "ms");
    }
    return advanceTo(now() + dt);
  }

  std::mt19937_64 rng_;
  ManualClock clock_;
  LeaseStore store_{kTtl};
  std::vector<SimMember> members_;
  std::vector<Renewal> inflight_;
  std::deque<std::string> log_;
  std::map<std::string, int> action_counts_;
  ClusterView view_;
  std::int64_t view_revision_ = -1;
  int step_ = 0;
  bool faults_ = true;
};

TEST(SplitBrainSimulationTest, AtMostOneWritablePrimaryUnderFaults) {
  constexpr std::uint64_t kSeeds = 200;
  constexpr int kSteps = 400;
  std::map<std::string, int> totals;
  ::testing::Test::RecordProperty("seeds", "1.." + std::to_string(kSeeds));
  ::testing::Test::RecordProperty("steps_per_seed", kSteps);
  for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Simulation sim(seed);
    bool ok = sim.run(kSteps);
    for (const auto& [a, n] : sim.actionCounts())
      totals[a] += n;
    if (!ok) {
      ::testing::Test::RecordProperty("failing_seed", std::to_string(seed));
      break;
    }
  }
  // The run must have exercised the interesting paths, or it proves nothing.
  for (const char* a : {"bootstrap", "acquire_leader", "fence", "start_primary", "start_standby",
                        "clone", "rejoin", "follow"}) {
    EXPECT_GT(totals[a], 0) << a << " never decided";
  }
  std::ostringstream os;
  for (const auto& [a, n] : totals)
    os << a << "=" << n << " ";
  ::testing::Test::RecordProperty("actions", os.str());
}

}  // namespace
}  // namespace keel::ha
