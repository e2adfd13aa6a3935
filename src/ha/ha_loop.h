#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/backend.h"
#include "common/clock.h"
#include "config/config.h"
#include "dcs/dcs.h"
#include "ha/cluster_view.h"
#include "ha/decision.h"
#include "ha/lease_keeper.h"
#include "ha/pg_worker.h"
#include "ha/sync_replication.h"
#include "pg/postgres.h"

namespace keel::ha {

// Reads other members' state through their REST API (GET /patroni) when the leader lock is
// free, so an election compares fresh WAL positions, not ones published a cycle ago.
class PeerProber {
 public:
  virtual ~PeerProber() = default;
  virtual boost::asio::awaitable<std::vector<PeerProbe>> probe(
      std::vector<MemberRecord> members, std::chrono::milliseconds timeout) = 0;
  // A candidate's replay position, for switchover: nullopt when it cannot be read.
  virtual boost::asio::awaitable<std::optional<WalPosition>> replayPosition(
      MemberRecord member, std::chrono::milliseconds timeout) = 0;
  // failsafe_mode: POST `body` to <api_url>/failsafe of every member (name -> api_url), all at
  // once. Returns why each member that did not answer 200 did not (empty: all confirmed).
  virtual boost::asio::awaitable<std::map<std::string, std::string>> confirmFailsafe(
      std::map<std::string, std::string> members, nlohmann::json body,
      std::chrono::milliseconds timeout) = 0;
};

// What the local PostgreSQL looked like at the start of a cycle (read on the worker thread).
struct LocalObservation {
  bool data_initialized = false;
  bool running = false;
  std::optional<pg::PgStatus> status;      // when running and readable
  std::optional<pg::ControlData> control;  // when stopped and initialized
  // Running but its status could not be read (overloaded, slow): the last reading of this
  // postmaster, which the member record keeps showing meanwhile (a leader busy for a moment
  // stays routed to; the decision core still sees it as unresponsive).
  std::optional<pg::PgStatus> last_status;
  std::string error;  // why status could not be read
};

// The HA loop of one member. All methods except snapshot() run on the control-plane
// io_context thread; PostgreSQL work goes through the PgWorker.
class HaLoop {
 public:
  HaLoop(std::shared_ptr<const Config> config, dcs::Dcs& dcs, pg::Postgres& postgres,
         PeerProber& prober, const Clock& clock);
  ~HaLoop();

  // Runs until stop(): the lease keeper, the fence watchdog and the cycle.
  boost::asio::awaitable<void> run();
  void stop();
  // Clean shutdown: stop PostgreSQL (fast), delete our member key and release the leader
  // lock by revoking the lease, so the others elect at once instead of waiting for the TTL.
  boost::asio::awaitable<void> shutdown();

  // Called on the control-plane thread with every cluster view the loop reads from the DCS
  // (each cycle, and at once when the watch sees a change); the proxy's routes follow it.
  // Set before run().
  // See LeaseKeeper::setDeadlineSink. Before run().
  void setFenceDeadlineSink(std::function<void(std::int64_t)> sink) {
    lease_.setDeadlineSink(std::move(sink));
  }
  void setViewObserver(std::function<void(const ClusterView&)> observer) {
    view_observer_ = std::move(observer);
  }

  // Thread-safe copy of what the API serves.
  api::NodeSnapshot snapshot() const;
  // POST /failsafe from a primary whose DCS is out of reach (failsafe_mode): confirms it unless
  // failsafe_mode is off here or this member runs as primary itself, and then promises not to
  // take the leader lock for ttl (LocalState::failsafe_holdoff). Control-plane thread.
  api::OpResult acceptFailsafe(const nlohmann::json& body);

  // Used by the API backend (control-plane thread).
  dcs::Dcs& dcs() { return dcs_; }
  PgWorker& worker() { return worker_; }
  pg::Postgres& postgres() { return pg_; }
  const Config& config() const { return *config_; }
  std::string key(const std::string& rel) const { return config_->dcs_prefix() + rel; }
  std::optional<ClusterView> lastView() const;
  std::string lastDecisionReason() const;
  // Upstream bookkeeping for restarts done by the API backend.
  std::string currentUpstream() const { return upstream_; }
  PgWorker& pgWorker() { return worker_; }
  std::optional<pg::PgEndpoint> endpointOf(const std::string& member) const;

 private:
  boost::asio::awaitable<void> cycle();
  boost::asio::awaitable<void> waitForChange(std::int64_t revision);
  // Which DCS changes are worth a new cycle (or new routes), given the view last read.
  struct ChangeFilter {
    std::string own_member, members, status, history;
    std::string leader_member;
    std::optional<MemberRecord> leader_record;
    bool matters(const dcs::WatchEvent& ev) const;
  };
  ChangeFilter changeFilter(const ClusterView* view) const;
  // While an action runs (until *active turns false): calls the view observer with every
  // view that changed in a way worth it, so the proxy's routes do not wait for the action.
  boost::asio::awaitable<void> followRoutes(std::shared_ptr<const bool> active, ClusterView view);
  boost::asio::awaitable<std::optional<ClusterView>> readView();
  LocalState localState(const LocalObservation& obs) const;
  boost::asio::awaitable<void> execute(const Decision& d, const ClusterView& view,
                                       const LocalState& local);
  boost::asio::awaitable<void> publish(LocalObservation obs);
  boost::asio::awaitable<LocalObservation> observe();
  // Caller passes `fenced` (guarded by mu_), so snapshot() can call this under the lock.
  MemberRecord memberRecord(const LocalObservation& obs, bool fenced) const;
  // Sets local.leader_fork_lsn for a standby on an older timeline than its leader's that has
  // not streamed for a while (see LocalState), reading the leader's timeline history.
  boost::asio::awaitable<void> checkDivergence(const ClusterView& view, const LocalObservation& obs,
                                               LocalState& local);
  boost::asio::awaitable<void> leaderHousekeeping(const ClusterView& view,
                                                  const LocalObservation& obs);
  boost::asio::awaitable<void> applyDynamicConfig(const ClusterView& view);
  // failsafe_mode (failsafe.cc). Leader, each cycle: keeps the failsafe key listing the
  // members while the mode is on, deletes it when off.
  boost::asio::awaitable<void> manageFailsafeKey(const ClusterView& view);
  // The lease keeper's FailsafeConfirm: asks the members of the last known failsafe key.
  boost::asio::awaitable<bool> confirmFailsafe();

  // Synchronous replication (sync_actions.cc).
  // The settings in force: the config file's, overridden by the cluster's dynamic config.
  SyncSettings syncSettings(const ClusterView& view) const;
  // Leader, each cycle: moves synchronous_standby_names and the sync key toward the standbys
  // to wait for, one safe step at a time (see planSync).
  boost::asio::awaitable<void> manageSync(const ClusterView& view);
  // Just before this member promotes itself: the sync key it inherits (keyAtPromotion) and
  // synchronous_standby_names waiting for no standby yet, so no commit is acknowledged before
  // manageSync chose whom to wait for. False when PostgreSQL could not be set: do not promote.
  boost::asio::awaitable<bool> prepareSyncForPromotion(const ClusterView& view);
  // Replaces the sync key (nullopt: deletes it) if this member still holds the leader key and
  // the sync key is still as last known. False when it was not written.
  boost::asio::awaitable<bool> writeSyncKey(std::optional<SyncState> key, std::string why);
  // The sync key as this member last knew it: the view's, or the one it wrote since.
  std::optional<SyncState> currentSyncKey(const ClusterView& view) const;

  // Actions (ha_actions.cc).
  boost::asio::awaitable<void> bootstrap(const ClusterView& view, const LocalState& local);
  boost::asio::awaitable<bool> acquireLeader(const ClusterView& view, const LocalState& local,
                                             std::string reason);
  // Rewinds (when needed, or always with force_rewind) the stopped data directory against
  // `leader` and starts it as its standby.
  boost::asio::awaitable<void> rejoin(const ClusterView& view, std::string leader,
                                      bool force_rewind);
  boost::asio::awaitable<void> switchover(const ClusterView& seen, std::string candidate,
                                          std::string reason);
  // Switchover, before the primary stops: marks the request paused, so that every proxy stops
  // lending read-write server connections for new transactions, waits for the other proxies to
  // confirm and for the transactions in flight to end (ha.switchover_drain_timeout).
  boost::asio::awaitable<void> pauseClients(ClusterView& view);
  // Replaces the failover request (CAS on the revision in `view`) and records the new one in
  // `view`. False, with a warning, when it changed meanwhile or the DCS failed.
  boost::asio::awaitable<bool> updateFailover(ClusterView& view, FailoverRequest request);
  boost::asio::awaitable<void> clearFailover(const ClusterView& view, std::string reason);
  boost::asio::awaitable<void> appendHistory(HistoryRecord record);
  boost::asio::awaitable<void> releaseLeader();
  void fenceNow(const std::string& why);

  std::shared_ptr<const Config> config_;
  dcs::Dcs& dcs_;
  pg::Postgres& pg_;
  PeerProber& prober_;
  const Clock& clock_;
  PgWorker worker_;
  LeaseKeeper lease_;

  // Control-thread state.
  std::function<void(const ClusterView&)> view_observer_;
  std::int64_t observed_revision_ = 0;  // of the latest view the cycle gave the observer
  bool stopping_ = false;
  std::string upstream_;  // member our standby follows, as we configured it
  // The lease under which this agent last made PostgreSQL a primary (bootstrap, promote,
  // start_primary). A writable PostgreSQL under any other lease is one whose lock this agent
  // cannot vouch for (left over from an earlier run): it is fenced at once.
  std::int64_t primary_lease_ = 0;
  // Since when the postmaster has been running without answering queries (control thread).
  std::optional<SteadyTime> unresponsive_since_;
  // Since when PostgreSQL has not been running while this member holds the leader key.
  std::optional<SteadyTime> primary_down_since_;
  void markPrimary();
  // Until ttl after this agent started: the promise its previous run may have made (see
  // cycle()); nullopt past that.
  std::optional<LocalState::FailsafeHoldoff> startupHoldoff() const;
  const SteadyTime started_at_;
  std::string last_reason_;
  std::string last_seen_leader_;  // for history: who led before a change
  std::optional<HistoryRecord> pending_history_;
  nlohmann::json applied_parameters_ = nullptr;
  std::string published_member_;  // last JSON we wrote for our member key
  std::string published_status_;
  std::map<std::string, SteadyTime> slot_grace_;  // slots of vanished members, first seen gone
  // Since when our standby has been on an older timeline than the leader and not streaming.
  std::optional<SteadyTime> not_streaming_since_;
  // The leader's timeline history as last read (it never changes for a given timeline).
  struct LeaderHistory {
    std::string leader;
    int timeline = 0;
    std::vector<std::pair<int, WalPosition>> forks;
  };
  std::optional<LeaderHistory> leader_history_;
  // A former leader whose member record was gone when this member took the lock: its slot is
  // created all the same, so it can stream as soon as it rejoins (see leaderHousekeeping).
  std::string former_leader_;
  std::optional<pg::PgStatus> worker_last_status_;  // worker thread only: see observe()
  // Synchronous replication (control thread).
  struct SyncKeyCache {
    std::int64_t revision = 0;  // DCS revision at which `key` was written (0: none)
    std::optional<SyncState> key;
  } sync_cache_;
  std::optional<SteadyTime> sync_changed_at_;  // synchronous_standby_names last set
  // synchronous_standby_names as last read or set on this primary; nullopt: unknown. With
  // synchronous replication off, no sync key and this empty, manageSync does not query.
  std::optional<std::string> standby_names_seen_;
  // This member last became primary (promoted, or its PostgreSQL started as primary).
  std::optional<SteadyTime> promoted_at_;
  std::string last_sync_reason_;
  // Per standby: the flush position last seen and since when it has not moved while behind.
  struct FlushProgress {
    WalPosition flushed;
    SteadyTime since;
  };
  std::map<std::string, FlushProgress> standby_progress_;
  std::string activity_;  // long action under way ("cloning", "rewinding"), published as state
  // The switchover pause (FailoverRequest::paused_at) the view observer (the proxy) last
  // applied, published in the member record; read by snapshot() too.
  std::atomic<double> proxy_paused_at_{0};
  std::string last_failsafe_outcome_;  // last logged result of confirmFailsafe (control thread)
  // Members of the failsafe key without a member record, and since when (control thread).
  std::map<std::string, SteadyTime> failsafe_absent_since_;
  // Members of failsafe lists this leader wrote since it last read the key back (control
  // thread): the key may hold any of them, so confirmFailsafe asks them too.
  std::map<std::string, std::string> failsafe_pending_;

  mutable std::mutex mu_;  // guards the fields below, read by snapshot() from other threads
  std::optional<ClusterView> view_;
  LocalObservation last_obs_;
  Decision last_decision_;
  double last_loop_epoch_ = 0;
  std::string dcs_error_;
  bool fenced_ = false;
  std::optional<LocalState::FailsafeHoldoff> failsafe_holdoff_;  // see acceptFailsafe
  // This member holds the leader key by the last view, or is taking it this cycle: it
  // confirms no other primary (acceptFailsafe). Set before the DCS write that takes the lock,
  // after the last look at failsafe_holdoff_, with no suspension in between.
  bool claiming_ = false;
};

}  // namespace keel::ha
