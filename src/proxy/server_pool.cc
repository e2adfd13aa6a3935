#include "proxy/server_pool.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <limits>

#include "proxy/wire_io.h"

namespace keel::proxy {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {
// An idle connection used longer ago than this is probed before it is lent.
constexpr milliseconds kAliveCheckDelay{1000};
// release(): a waiter of the connection's own thread goes first while it has waited at least
// this share of what the longest waiter of another thread has (or nearly as long).
constexpr int kSameThreadSharePercent = 75;
constexpr milliseconds kSameThreadSlack{2};
}  // namespace

void ServerPool::WaiterQueues::push(WaiterPtr w) {
  const auto& ex = w->ex;
  for (Queue& q : queues_) {
    if (q.ex == ex) {
      q.waiters.push_back(std::move(w));
      ++count_;
      return;
    }
  }
  queues_.push_back(Queue{ex, {}});
  queues_.back().waiters.push_back(std::move(w));
  ++count_;
}

ServerPool::WaiterQueues::Queue* ServerPool::WaiterQueues::oldestQueue() {
  Queue* oldest = nullptr;
  for (Queue& q : queues_) {
    if (!q.waiters.empty() &&
        (oldest == nullptr || q.waiters.front()->since < oldest->waiters.front()->since)) {
      oldest = &q;
    }
  }
  return oldest;
}

ServerPool::WaiterPtr ServerPool::WaiterQueues::popOldest() {
  Queue* q = oldestQueue();
  WaiterPtr w = std::move(q->waiters.front());
  q->waiters.pop_front();
  --count_;
  return w;
}

ServerPool::WaiterPtr ServerPool::WaiterQueues::popFor(const ServerConnection& conn,
                                                       Clock::time_point now) {
  Queue* own = nullptr;
  Queue* other = nullptr;
  for (Queue& q : queues_) {
    if (q.waiters.empty()) {
      continue;
    }
    if (own == nullptr && conn.attachedTo(q.ex)) {
      own = &q;
    } else if (other == nullptr || q.waiters.front()->since < other->waiters.front()->since) {
      other = &q;
    }
  }
  Queue* pick = own != nullptr ? own : other;
  if (own != nullptr && other != nullptr) {
    const auto own_wait = now - own->waiters.front()->since;
    const auto other_wait = now - other->waiters.front()->since;
    if ((own_wait + kSameThreadSlack) * 100 < other_wait * kSameThreadSharePercent) {
      pick = other;
    }
  }
  WaiterPtr w = std::move(pick->waiters.front());
  pick->waiters.pop_front();
  --count_;
  return w;
}

void ServerPool::WaiterQueues::remove(const WaiterPtr& w) {
  for (Queue& q : queues_) {
    auto it = std::find(q.waiters.begin(), q.waiters.end(), w);
    if (it != q.waiters.end()) {
      q.waiters.erase(it);
      --count_;
      return;
    }
  }
}

std::vector<ServerPool::WaiterPtr> ServerPool::WaiterQueues::takeExpired(Clock::time_point now) {
  std::vector<WaiterPtr> out;
  for (Queue& q : queues_) {
    auto keep = std::stable_partition(q.waiters.begin(), q.waiters.end(),
                                      [&](const WaiterPtr& w) { return w->deadline >= now; });
    for (auto it = keep; it != q.waiters.end(); ++it) {
      out.push_back(std::move(*it));
    }
    q.waiters.erase(keep, q.waiters.end());
  }
  count_ -= out.size();
  return out;
}

Clock::time_point ServerPool::WaiterQueues::oldestSince() const {
  return const_cast<WaiterQueues*>(this)->oldestQueue()->waiters.front()->since;
}

void PoolStats::recordLatency(std::uint64_t micros) {
  query_microseconds += micros;
  std::size_t i = 0;
  while (i < kBuckets.size() && micros > kBuckets[i]) {
    ++i;
  }
  latency[i]++;
}

ServerPool::ServerPool(PoolKey key, RouteTarget target, int max_size, milliseconds lifetime)
    : key_(std::move(key)), target_(std::move(target)), max_size_(max_size), lifetime_(lifetime) {}

void ServerPool::countWait(const Waiter& w, Clock::time_point now) {
  stats_.wait_microseconds += static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(now - w.since).count());
}

void ServerPool::wake(const WaiterPtr& w, Clock::time_point now) {
  countWait(*w, now);
  // The waiter belongs to its worker thread: it goes on there.
  asio::post(w->ex, [w] { w->wake(); });
}

void ServerPool::freeSlotLocked() {
  if (!waiters_.empty()) {
    auto w = waiters_.popOldest();
    w->slot = true;  // total_ unchanged: the slot passes to the waiter
    wake(w, Clock::now());
  } else {
    --total_;
  }
}

void ServerPool::returnSlot() {
  std::lock_guard lock(mu_);
  freeSlotLocked();
}

void ServerPool::expireWaiters(Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (waiters_.empty()) {
    return;
  }
  for (const auto& w : waiters_.takeExpired(now)) {
    wake(w, now);  // neither a connection nor a slot: refused
  }
}

void ServerPool::dropWaiters() {
  std::vector<WaiterPtr> dropped;
  {
    std::lock_guard lock(mu_);
    dropped = waiters_.takeExpired(Clock::time_point::max());
  }
  for (const auto& w : dropped) {
    w->abandon();
  }
}

std::unique_ptr<ServerConnection> ServerPool::tryAcquire(const asio::any_io_executor& ex,
                                                         const WaiterPtr& queue, bool* full) {
  std::vector<std::unique_ptr<ServerConnection>> stale;  // closed outside the lock
  std::lock_guard lock(mu_);
  const auto now = Clock::now();
  if (auto conn = takeIdleLocked(ex, now, stale)) {
    return conn;
  }
  *full = total_ >= max_size_.load();
  if (queue && *full) {
    stats_.waits++;
    queue->since = now;
    waiters_.push(queue);
  }
  return nullptr;
}

Failure<ProxyErrc> ServerPool::waitTimedOut(milliseconds wait) const {
  return fail(ProxyErrc::timeout, "no server connection to " + target_.member + " for database \"" +
                                      key_.database + "\" and user \"" + key_.user +
                                      "\" became free within " + std::to_string(wait.count()) +
                                      " ms (proxy.query_wait_timeout; the pool holds "
                                      "proxy.default_pool_size = " +
                                      std::to_string(max_size_.load()) + " connections)");
}

std::unique_ptr<ServerConnection> ServerPool::takeIdleLocked(
    const asio::any_io_executor& ex, Clock::time_point now,
    std::vector<std::unique_ptr<ServerConnection>>& stale) {
  while (!idle_.empty()) {
    // Most recently used first, preferring one whose socket this thread already watches.
    for (auto it = idle_.rbegin(); it != idle_.rend(); ++it) {
      if ((*it)->attachedTo(ex)) {
        std::swap(*it, idle_.back());
        break;
      }
    }
    auto conn = std::move(idle_.back());
    idle_.pop_back();
    // A connection used a moment ago is not probed (PgBouncer's server_check_delay does the
    // same): a server that went away meanwhile fails the transaction's first read.
    bool probe = now - conn->last_used >= kAliveCheckDelay;
    if ((probe && !conn->looksAlive()) || now - conn->created > lifetime_.load()) {
      stale.push_back(std::move(conn));
      --total_;
      continue;
    }
    ++lent_;
    return conn;
  }
  return nullptr;
}

asio::awaitable<ProxyResult<std::unique_ptr<ServerConnection>>> ServerPool::acquire(
    const ServerLogin& login, milliseconds wait, LoginSettings settings, std::string* sqlstate,
    Grant grant) {
  auto ex = co_await asio::this_coro::executor;
  std::vector<std::unique_ptr<ServerConnection>> stale;  // closed outside the lock
  std::shared_ptr<TimerWaiter> waiter;
  bool open_new = grant.slot;
  if (grant.timed_out) {
    co_return waitTimedOut(wait);
  }
  if (!open_new) {
    std::lock_guard lock(mu_);
    const auto now = Clock::now();
    if (auto conn = takeIdleLocked(ex, now, stale)) {
      co_return std::move(conn);
    }
    if (total_ < max_size_.load()) {
      ++total_;
      open_new = true;
    } else {
      waiter = std::make_shared<TimerWaiter>(ex);
      waiter->since = now;
      waiters_.push(waiter);
      stats_.waits++;
    }
  }
  stale.clear();

  if (waiter) {
    waiter->timer.expires_after(wait);
    co_await waiter->timer.async_wait(kNoThrow);
    std::lock_guard lock(mu_);
    if (waiter->conn) {
      co_return std::move(waiter->conn);  // counted as lent by the pool
    }
    if (!waiter->slot) {
      waiters_.remove(waiter);
      stats_.wait_microseconds += static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - waiter->since)
              .count());
      co_return waitTimedOut(wait);
    }
    open_new = true;  // a slot was handed over
  }

  if (open_new) {
    {
      std::lock_guard lock(mu_);
      last_login_ = login;  // for topUp()
    }
    auto opened = co_await connectServer(target_, login, settings.connect_timeout, *settings.cache,
                                         settings.crypto, sqlstate);
    std::lock_guard lock(mu_);
    if (!opened) {
      stats_.login_failures++;
      freeSlotLocked();
      co_return opened.failure();
    }
    stats_.logins++;
    ++lent_;
    co_return std::move(*opened);
  }
  co_return fail(ProxyErrc::unavailable, "no server connection");  // not reached
}

asio::awaitable<void> ServerPool::topUp(int min_size, LoginSettings settings) {
  while (true) {
    ServerLogin login;
    {
      std::lock_guard lock(mu_);
      if (!last_login_ || total_ >= std::min(min_size, max_size_.load()) || !waiters_.empty()) {
        co_return;
      }
      login = *last_login_;
      ++total_;
    }
    std::string sqlstate;
    auto opened = co_await connectServer(target_, std::move(login), settings.connect_timeout,
                                         *settings.cache, settings.crypto, &sqlstate);
    std::lock_guard lock(mu_);
    if (!opened) {
      stats_.login_failures++;
      freeSlotLocked();
      co_return;
    }
    stats_.logins++;
    if (!waiters_.empty()) {
      auto w = waiters_.popOldest();
      w->conn = std::move(*opened);
      ++lent_;
      wake(w, Clock::now());
    } else {
      idle_.push_back(std::move(*opened));
    }
  }
}

void ServerPool::setLimits(int max_size, milliseconds server_lifetime) {
  max_size_ = max_size;
  lifetime_ = server_lifetime;
  std::vector<std::unique_ptr<ServerConnection>> closing;
  std::lock_guard lock(mu_);
  // Slots freed by a larger size go to queued clients at once.
  while (!waiters_.empty() && total_ < max_size) {
    ++total_;
    auto w = waiters_.popOldest();
    w->slot = true;
    wake(w, Clock::now());
  }
  while (total_ > max_size && !idle_.empty()) {
    closing.push_back(std::move(idle_.back()));
    idle_.pop_back();
    --total_;
  }
}

void ServerPool::release(std::unique_ptr<ServerConnection> conn, HandOff hand_off) {
  std::unique_ptr<ServerConnection> closing;
  WaiterPtr here;  // a waiter of this thread: woken at once, once the lock is released
  {
    std::lock_guard lock(mu_);
    --lent_;
    conn->last_used = Clock::now();
    if (conn->id() < retire_before_id_ || total_ > max_size_.load()) {
      closing = std::move(conn);
      freeSlotLocked();
    } else if (!waiters_.empty()) {
      const auto now = conn->last_used;
      auto w = waiters_.popFor(*conn, now);
      // The connection's socket is on the releasing session's thread: a waiter of that thread
      // goes on right here, as PgBouncer hands a server to a waiting client, with no trip
      // through the scheduler while the server sits idle.
      const bool same_thread = hand_off == HandOff::here && conn->attachedTo(w->ex);
      w->conn = std::move(conn);
      ++lent_;
      if (same_thread) {
        countWait(*w, now);
        here = std::move(w);
      } else {
        wake(w, now);
      }
    } else {
      idle_.push_back(std::move(conn));
    }
  }
  if (here) {
    here->wake();
  }
}

void ServerPool::dropLent() {
  std::lock_guard lock(mu_);
  --lent_;
  freeSlotLocked();
}

void ServerPool::closeIdle(bool retire_lent) {
  std::vector<std::unique_ptr<ServerConnection>> closing;
  std::lock_guard lock(mu_);
  for (auto& c : idle_) {
    closing.push_back(std::move(c));
    --total_;
  }
  idle_.clear();
  if (retire_lent) {
    retire_before_id_ = ServerConnection::nextId();
  }
}

void ServerPool::expire(Clock::time_point now, milliseconds idle_timeout) {
  std::vector<std::unique_ptr<ServerConnection>> closing;
  std::lock_guard lock(mu_);
  auto keep = std::partition(idle_.begin(), idle_.end(), [&](const auto& c) {
    return now - c->last_used < idle_timeout && now - c->created < lifetime_.load() &&
           c->looksAlive();
  });
  for (auto it = keep; it != idle_.end(); ++it) {
    closing.push_back(std::move(*it));
    --total_;
  }
  idle_.erase(keep, idle_.end());
}

int ServerPool::lent() const {
  std::lock_guard lock(mu_);
  return lent_;
}
int ServerPool::idle() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(idle_.size());
}
int ServerPool::waiting() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(waiters_.size());
}
int ServerPool::total() const {
  std::lock_guard lock(mu_);
  return total_;
}
std::chrono::microseconds ServerPool::longestWait(Clock::time_point now) const {
  std::lock_guard lock(mu_);
  if (waiters_.empty()) {
    return std::chrono::microseconds(0);
  }
  return std::chrono::duration_cast<std::chrono::microseconds>(now - waiters_.oldestSince());
}

std::vector<ServerPool::IdleServer> ServerPool::idleServers() const {
  std::lock_guard lock(mu_);
  std::vector<IdleServer> out;
  out.reserve(idle_.size());
  for (const auto& c : idle_) {
    out.push_back(IdleServer{c->id(), c->key.process_id, c->created, c->last_used});
  }
  return out;
}

std::uint64_t ServerPool::retireBefore() const {
  std::lock_guard lock(mu_);
  return retire_before_id_;
}

std::shared_ptr<ServerPool> PoolRegistry::get(const PoolKey& key, const RouteTarget& target) {
  std::lock_guard lock(mu_);
  auto& pool = pools_[key];
  if (!pool) {
    pool = std::make_shared<ServerPool>(key, target, max_size_.load(), lifetime_.load());
  }
  return pool;
}

void PoolRegistry::setLimits(int max_size, milliseconds server_lifetime) {
  max_size_ = max_size;
  lifetime_ = server_lifetime;
  for (const auto& p : all()) {
    p->setLimits(max_size, server_lifetime);
  }
}

void PoolRegistry::clear() {
  std::map<PoolKey, std::shared_ptr<ServerPool>> dropped;
  {
    std::lock_guard lock(mu_);
    dropped.swap(pools_);
  }
  // A queued transaction-mode session is owned by its waiter (and holds its pool).
  for (const auto& [key, pool] : dropped) {
    pool->dropWaiters();
  }
}

std::vector<std::shared_ptr<ServerPool>> PoolRegistry::all() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<ServerPool>> out;
  for (const auto& [k, p] : pools_) {
    out.push_back(p);
  }
  return out;
}

int PoolRegistry::lentTo(const std::string& endpoint) const {
  int n = 0;
  for (const auto& p : all()) {
    if (p->key().endpoint == endpoint) {
      n += p->lent();
    }
  }
  return n;
}

void PoolRegistry::closeIdleExcept(const std::vector<std::string>& keep) {
  for (const auto& p : all()) {
    if (std::find(keep.begin(), keep.end(), p->key().endpoint) == keep.end()) {
      p->closeIdle(false);
    }
  }
}

}  // namespace keel::proxy
