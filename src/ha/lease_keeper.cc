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
  serving_primary_ = serving;
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
    } else if (state_.lease != 0 && state_.last_renewal_sent) {
      value = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  (*state_.last_renewal_sent + ttl_ - fence_margin_).time_since_epoch())
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
      if (state_.last_renewal_sent) {
        deadline = *state_.last_renewal_sent + ttl_ - fence_margin_;
      }
    }
    if (!deadline || clock_.now() >= *deadline) {
      setServingPrimary(false);
      fence_("no successful lease renewal within ttl - fence_margin (" +
             std::to_string((ttl_ - fence_margin_).count()) + " ms)");
    }
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
