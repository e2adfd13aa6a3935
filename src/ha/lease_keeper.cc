#include "ha/lease_keeper.h"

#include <spdlog/spdlog.h>

#include "common/async.h"

namespace keel::ha {

LeaseKeeper::LeaseKeeper(dcs::Dcs& dcs, const Clock& clock, std::chrono::milliseconds ttl,
                         std::chrono::milliseconds fence_margin,
                         std::function<void(std::string)> fence)
    : dcs_(dcs), clock_(clock), ttl_(ttl), fence_margin_(fence_margin), fence_(std::move(fence)) {}

LeaseKeeper::State LeaseKeeper::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

void LeaseKeeper::setServingPrimary(bool serving) {
  std::lock_guard lock(mu_);
  if (serving && !serving_primary_)
    serving_lease_ = state_.lease;
  if (!serving)
    state_.failsafe_until.reset();  // confirmations vouched for the primary that stopped
  serving_primary_ = serving;
}

void LeaseKeeper::servingUnderCurrentLease() {
  {
    std::lock_guard lock(mu_);
    serving_lease_ = state_.lease;
    serving_primary_ = true;
  }
  publishDeadline();
}

std::optional<SteadyTime> LeaseKeeper::writeDeadlineLocked() const {
  std::optional<SteadyTime> deadline;
  bool lease_counts = !serving_primary_ || state_.lease == serving_lease_;
  if (state_.lease != 0 && state_.last_renewal_sent && lease_counts)
    deadline = *state_.last_renewal_sent + ttl_ - fence_margin_;
  if (state_.failsafe_until && (!deadline || *state_.failsafe_until > *deadline))
    deadline = state_.failsafe_until;
  return deadline;
}

std::optional<SteadyTime> LeaseKeeper::writeDeadline() const {
  std::lock_guard lock(mu_);
  return writeDeadlineLocked();
}

bool LeaseKeeper::servingPrimary() const {
  std::lock_guard lock(mu_);
  return serving_primary_;
}

void LeaseKeeper::setPaused(bool paused) {
  {
    std::lock_guard lock(mu_);
    if (paused_ == paused) {
      return;
    }
    paused_ = paused;
  }
  publishDeadline();
}

void LeaseKeeper::setDeadlineSink(std::function<void(std::int64_t)> sink) {
  deadline_sink_ = std::move(sink);
}

void LeaseKeeper::publishDeadline() {
  if (!deadline_sink_) {
    return;
  }
  std::int64_t value = 0;
  {
    std::lock_guard lock(mu_);
    if (paused_) {
      value = INT64_MAX;
    } else if (auto deadline = writeDeadlineLocked()) {
      value = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline->time_since_epoch())
                  .count();
    }
  }
  deadline_sink_(value);
}

boost::asio::awaitable<void> LeaseKeeper::renewOnce() {
  dcs::LeaseId lease;
  {
    std::lock_guard lock(mu_);
    lease = state_.lease;
  }
  SteadyTime sent = clock_.now();
  if (lease == 0) {
    auto ttl_s = std::chrono::duration_cast<std::chrono::seconds>(ttl_);
    auto grant = co_await dcs_.grantLease(ttl_s);
    std::lock_guard lock(mu_);
    if (grant) {
      state_.lease = grant->id;
      state_.last_renewal_sent = sent;
      state_.last_error.clear();
      spdlog::info("lease {:x} granted (ttl {} s)", grant->id, grant->ttl.count());
    } else {
      state_.last_error = "cannot grant a lease: " + grant.message();
    }
    co_return;
  }
  auto r = co_await dcs_.keepAlive(lease);
  std::lock_guard lock(mu_);
  if (r) {
    state_.last_renewal_sent = sent;
    if (!state_.last_error.empty()) {
      spdlog::info("lease {:x} renewed again", lease);
    }
    state_.last_error.clear();
  } else if (r.code() == dcs::DcsErrc::lease_not_found) {
    spdlog::warn("lease {:x} expired in the DCS; granting a new one", lease);
    state_.lease = 0;
    state_.last_renewal_sent.reset();
    state_.last_error = "lease expired";
  } else {
    if (state_.last_error.empty()) {
      spdlog::warn("cannot renew lease {:x}: {}", lease, r.message());
    }
    state_.last_error = "cannot renew the lease: " + r.message();
  }
}

boost::asio::awaitable<void> LeaseKeeper::runRenewals() {
  const auto period = std::max(ttl_ / 4, std::chrono::milliseconds(100));
  while (!stopping_) {
    SteadyTime started = clock_.now();
    co_await renewOnce();
    publishDeadline();
    auto spent = clock_.now() - started;
    // A failed renewal is retried sooner: the fence deadline does not wait.
    auto next = state().last_error.empty() ? period : period / 2;
    if (spent < next) {
      co_await sleepFor(next - spent);
    }
  }
}

boost::asio::awaitable<void> LeaseKeeper::runWatchdog() {
  while (!stopping_) {
    co_await sleepFor(std::chrono::milliseconds(50));
    std::optional<SteadyTime> deadline;
    {
      std::lock_guard lock(mu_);
      if (!serving_primary_ || paused_) {
        continue;
      }
      deadline = writeDeadlineLocked();
    }
    if (!deadline || clock_.now() >= *deadline) {
      setServingPrimary(false);
      fence_("no successful lease renewal within ttl - fence_margin (" +
             std::to_string((ttl_ - fence_margin_).count()) + " ms)" +
             (failsafe_confirm_ ? ", and no failsafe confirmation by every member since" : ""));
    }
  }
}

boost::asio::awaitable<void> LeaseKeeper::runFailsafe() {
  if (!failsafe_confirm_)
    co_return;
  // Renewals go out every ttl/4 and normally succeed in milliseconds; one that has not
  // succeeded for half the time to the deadline is late (a failing one may take the whole
  // DCS request timeout to say so). The members are asked from then on, every ttl/8, so
  // several rounds fit before the deadline.
  const auto period = std::max(ttl_ / 8, std::chrono::milliseconds(50));
  const auto late = (ttl_ - fence_margin_) / 2;
  while (!stopping_) {
    SteadyTime started = clock_.now();
    bool wanted;
    {
      std::lock_guard lock(mu_);
      // Only a primary whose lease cannot vouch for it needs the members' word; a paused
      // cluster never fences anyway.
      bool lease_lags = !state_.last_error.empty() || !state_.last_renewal_sent ||
                        state_.lease != serving_lease_ ||
                        started - *state_.last_renewal_sent >= late;
      wanted = serving_primary_ && !paused_ && lease_lags;
    }
    if (wanted) {
      SteadyTime sent = clock_.now();
      bool confirmed = co_await failsafe_confirm_();
      if (confirmed) {
        {
          std::lock_guard lock(mu_);
          if (serving_primary_)
            state_.failsafe_until = sent + ttl_ - fence_margin_;
        }
        publishDeadline();
      }
    }
    auto spent = clock_.now() - started;
    if (spent < period)
      co_await sleepFor(period - spent);
  }
}

boost::asio::awaitable<void> LeaseKeeper::revoke() {
  dcs::LeaseId lease;
  {
    std::lock_guard lock(mu_);
    lease = state_.lease;
    state_.lease = 0;
    state_.last_renewal_sent.reset();
  }
  publishDeadline();
  if (lease != 0) {
    auto r = co_await dcs_.revokeLease(lease);
    if (!r)
      spdlog::warn("cannot revoke lease {:x}: {}", lease, r.message());
  }
}

}  // namespace keel::ha
