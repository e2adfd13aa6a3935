#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "proxy/server_connection.h"

namespace keel::proxy {

struct PoolKey {
  std::string endpoint;  // "host:port" of the server
  std::string database;
  std::string user;
  // Transaction-pooling connections never get server_reset_query and carry prepared statements,
  // so they live in pools of their own.
  bool transaction = false;
  auto operator<=>(const PoolKey&) const = default;
};

// Counters of one pool, for SHOW POOLS/STATS and /metrics. Updated by sessions on any thread.
struct PoolStats {
  std::atomic<std::uint64_t> queries{0};            // Query, and Sync of the extended protocol
  std::atomic<std::uint64_t> transactions{0};       // ReadyForQuery that ended a transaction
  std::atomic<std::uint64_t> bytes_received{0};     // from clients
  std::atomic<std::uint64_t> bytes_sent{0};         // to clients
  std::atomic<std::uint64_t> wait_microseconds{0};  // clients waiting for a server, summed
  std::atomic<std::uint64_t> waits{0};
  std::atomic<std::uint64_t> logins{0};  // server connections opened
  std::atomic<std::uint64_t> login_failures{0};
  std::atomic<std::uint64_t> query_microseconds{0};  // request to ReadyForQuery, summed
  // Transaction pooling: TransactionRelayCounters of the pool's clients, summed.
  std::atomic<std::uint64_t> server_parses{0};
  std::atomic<std::uint64_t> injected_parses{0};
  std::atomic<std::uint64_t> statement_evictions{0};
  std::atomic<std::uint64_t> client_statement_evictions{0};
  std::atomic<std::uint64_t> synthesized_responses{0};
  std::atomic<std::uint64_t> shared_statements{0};
  // Latency histogram of request -> ReadyForQuery, upper bounds in microseconds.
  static constexpr std::array<std::uint64_t, 12> kBuckets = {
      100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 1000000, 10000000};
  std::array<std::atomic<std::uint64_t>, kBuckets.size() + 1> latency{};
  void recordLatency(std::uint64_t micros);
};

// The server connections of one (server, database, user): at most `max_size` exist at once
// (idle + lent + being opened). Shared by every worker thread; a mutex guards the lists.
//
// acquire() lends an idle connection (most recently used first, skipping ones PostgreSQL has
// closed or that outlived server_lifetime), opens a new one while under max_size, or queues
// the caller until a connection is returned or a slot frees up, for at most `wait`.
class ServerPool : public std::enable_shared_from_this<ServerPool> {
 public:
  // Distinct statement definitions a transaction-mode pool names (StatementNames' bound).
  static constexpr std::size_t kPooledStatementNames = 10000;
  ServerPool(PoolKey key, RouteTarget target, int max_size,
             std::chrono::milliseconds server_lifetime);

  struct LoginSettings {
    std::chrono::milliseconds connect_timeout;
    pgwire::ScramKeyCache* cache;
    boost::asio::any_io_executor crypto;
  };
  // A client waiting for a connection. The pool hands it a connection (`conn`, counted as lent)
  // or a slot to open one with (`slot`), or neither once `deadline` has passed (the janitor's
  // expireWaiters()), then posts wake() to `ex`, the waiter's worker thread.
  struct Waiter {
    explicit Waiter(boost::asio::any_io_executor e) : ex(std::move(e)) {}
    virtual ~Waiter() = default;
    virtual void wake() = 0;
    // The pool is going away (shutdown) with this waiter queued: drop what it owns.
    virtual void abandon() {}
    boost::asio::any_io_executor ex;
    std::unique_ptr<ServerConnection> conn;
    bool slot = false;
    std::chrono::steady_clock::time_point since;
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  };
  using WaiterPtr = std::shared_ptr<Waiter>;
  // What a queued waiter was handed, for acquire() to go on with.
  struct Grant {
    bool slot = false;       // open a new connection in this slot
    bool timed_out = false;  // waited past its deadline: fail as acquire() does
  };

  // Runs on the caller's executor. `login` is how to log in if a new connection is needed; it
  // must stay valid until the returned awaitable completes. `grant`: what the caller, queued
  // with tryAcquire(), was handed (no connection: the caller takes that one directly).
  boost::asio::awaitable<ProxyResult<std::unique_ptr<ServerConnection>>> acquire(
      const ServerLogin& login, std::chrono::milliseconds wait, LoginSettings settings,
      std::string* sqlstate, Grant grant);
  // acquire() without a coroutine: an idle connection at once if there is one (null if not).
  // Else `*full` says whether the pool is at its size, and then `queue`, if set, joins the
  // queue. When it is not full, a new connection may be opened: call acquire().
  std::unique_ptr<ServerConnection> tryAcquire(const boost::asio::any_io_executor& ex,
                                               const WaiterPtr& queue, bool* full);
  // A slot granted to a waiter that no longer needs it.
  void returnSlot();
  // Hands the waiters past their deadline their refusal (the janitor, about once a second).
  void expireWaiters(std::chrono::steady_clock::time_point now);
  // Drops every queued waiter without waking it (shutdown, workers stopped): abandon().
  void dropWaiters();
  // Opens connections until the pool holds `min_size` (proxy.min_pool_size), with the login of
  // the last client that borrowed from it; nothing before a client has. Runs on the caller's
  // executor (the janitor); stops at the first failure, to try again on its next round.
  boost::asio::awaitable<void> topUp(int min_size, LoginSettings settings);

  // A lent connection comes back, idle and reset. Called on the thread its socket is on; a
  // waiter of that thread it goes to runs its wake() before this returns, so the caller must
  // be done with the connection and ready for other sessions of its thread to run.
  // `posted`: the waiter runs later, as one of another thread always does (for a caller that
  // may be such a wake() itself, so that wakes do not nest).
  enum class HandOff { here, posted };
  void release(std::unique_ptr<ServerConnection> conn, HandOff hand_off = HandOff::here);
  // A lent connection was closed instead of returned: its slot is free.
  void dropLent();
  // Closes every idle connection (failover, RECONNECT); lent ones close when returned if
  // `retire_lent` is set.
  void closeIdle(bool retire_lent);
  // Closes idle connections unused for `idle_timeout` or older than the lifetime.
  void expire(std::chrono::steady_clock::time_point now, std::chrono::milliseconds idle_timeout);

  const PoolKey& key() const { return key_; }
  const RouteTarget& target() const { return target_; }
  int lent() const;
  int idle() const;
  int waiting() const;
  int total() const;
  std::chrono::microseconds longestWait(std::chrono::steady_clock::time_point now) const;
  PoolStats& stats() { return stats_; }
  // Transaction pooling: the pool-wide names of prepared statements.
  StatementNames& statementNames() { return names_; }
  int maxSize() const { return max_size_.load(); }
  // A reload changed default_pool_size or server_lifetime. A smaller size lets the
  // connections above it close as they come back.
  void setLimits(int max_size, std::chrono::milliseconds server_lifetime);

  // The idle connections, for SHOW SERVERS. Any thread.
  struct IdleServer {
    std::uint64_t id = 0;
    std::int32_t remote_pid = 0;  // from the server's BackendKeyData
    std::chrono::steady_clock::time_point created;
    std::chrono::steady_clock::time_point last_used;
  };
  std::vector<IdleServer> idleServers() const;
  // Lent connections with an id below this close when returned (RECONNECT, failover).
  std::uint64_t retireBefore() const;

 private:
  // acquire()'s own waiter: wakes the coroutine, which times out by its timer.
  struct TimerWaiter final : Waiter {
    explicit TimerWaiter(boost::asio::any_io_executor e) : Waiter(e), timer(std::move(e)) {}
    void wake() override { timer.cancel(); }
    boost::asio::steady_timer timer;
  };
  // Clients waiting for a connection, one FIFO queue per worker thread (the executor of the
  // waiter's timer). A returned connection goes to a waiter of the thread whose reactor has its
  // socket, unless another thread's first waiter has waited clearly longer: a hand-over within a
  // thread moves no socket and wakes no other thread, and comparing waits keeps the threads'
  // shares of the connections fair.
  class WaiterQueues {
   public:
    void push(WaiterPtr w);
    bool empty() const { return count_ == 0; }
    std::size_t size() const { return count_; }
    // The one that has waited longest. Precondition: !empty().
    WaiterPtr popOldest();
    // The waiter `conn` goes to. Precondition: !empty().
    WaiterPtr popFor(const ServerConnection& conn, std::chrono::steady_clock::time_point now);
    void remove(const WaiterPtr& w);
    // Takes out the waiters whose deadline is before `now`, or all of them.
    std::vector<WaiterPtr> takeExpired(std::chrono::steady_clock::time_point now);
    // When the longest-waiting one started. Precondition: !empty().
    std::chrono::steady_clock::time_point oldestSince() const;

   private:
    struct Queue {
      boost::asio::any_io_executor ex;
      std::deque<WaiterPtr> waiters;
    };
    Queue* oldestQueue();
    std::vector<Queue> queues_;  // one per thread that ever waited here: a handful
    std::size_t count_ = 0;
  };
  // An idle connection to lend (counted as lent), or null; unusable ones go to `stale`, to be
  // closed once mu_ (held by the caller) is released.
  std::unique_ptr<ServerConnection> takeIdleLocked(
      const boost::asio::any_io_executor& ex, std::chrono::steady_clock::time_point now,
      std::vector<std::unique_ptr<ServerConnection>>& stale);
  // acquire()'s refusal after waiting `wait`.
  Failure<ProxyErrc> waitTimedOut(std::chrono::milliseconds wait) const;
  void countWait(const Waiter& w, std::chrono::steady_clock::time_point now);
  // Posts w->wake() to its thread and counts its wait. Caller holds mu_.
  void wake(const WaiterPtr& w, std::chrono::steady_clock::time_point now);
  void freeSlotLocked();  // total_--, or hand the slot to a waiter

  const PoolKey key_;
  const RouteTarget target_;
  std::atomic<int> max_size_;
  std::atomic<std::chrono::milliseconds> lifetime_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<ServerConnection>> idle_;
  WaiterQueues waiters_;
  int total_ = 0;
  int lent_ = 0;
  std::uint64_t retire_before_id_ = 0;
  std::optional<ServerLogin>
      last_login_;  // for topUp()  // lent connections with a smaller id close on return
  PoolStats stats_;
  StatementNames names_{kPooledStatementNames};
};

// Every pool of the proxy, by key. Thread-safe.
class PoolRegistry {
 public:
  PoolRegistry(int max_size, std::chrono::milliseconds server_lifetime)
      : max_size_(max_size), lifetime_(server_lifetime) {}
  void setLimits(int max_size, std::chrono::milliseconds server_lifetime);
  std::shared_ptr<ServerPool> get(const PoolKey& key, const RouteTarget& target);
  std::vector<std::shared_ptr<ServerPool>> all() const;
  void clear();  // at shutdown
  // Server connections lent out to clients, summed over the pools of `endpoint`.
  int lentTo(const std::string& endpoint) const;
  // Closes the idle connections of every pool whose server is not in `keep` (endpoints).
  void closeIdleExcept(const std::vector<std::string>& keep);

 private:
  std::atomic<int> max_size_;
  std::atomic<std::chrono::milliseconds> lifetime_;
  mutable std::mutex mu_;
  std::map<PoolKey, std::shared_ptr<ServerPool>> pools_;
};

}  // namespace keel::proxy
