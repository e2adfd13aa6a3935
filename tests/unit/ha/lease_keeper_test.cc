#include "ha/lease_keeper.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <climits>
#include <functional>
#include <vector>

#include "dcs/fake_dcs.h"

namespace keel::ha {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// Runs the io_context until `done` holds (the renewal loop sleeps on real timers between
// rounds, ttl/4 here), for at most 10 s.
bool runUntil(boost::asio::io_context& io, const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    io.run_one_for(10ms);
  }
  return true;
}

std::int64_t nanos(SteadyTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// What keel_fence enforces comes from here: the sink must get the watchdog's own deadline
// (send time of the last successful renewal + ttl - fence_margin), 0 when there is no lease
// to vouch for, and "no limit" only in maintenance mode.
TEST(LeaseKeeperTest, TheDeadlineSinkFollowsRenewalsExpiryAndPause) {
  ManualClock clock;
  dcs::FakeDcs dcs(clock);
  std::vector<std::string> fenced;
  LeaseKeeper keeper(dcs, clock, 2s, 500ms, [&](std::string why) { fenced.push_back(why); });
  std::vector<std::int64_t> got;
  keeper.setDeadlineSink([&](std::int64_t v) { got.push_back(v); });

  keeper.setPaused(true);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got.back(), INT64_MAX);
  keeper.setPaused(true);  // no change, nothing sent
  EXPECT_EQ(got.size(), 1u);
  keeper.setPaused(false);
  EXPECT_EQ(got.back(), 0) << "no lease yet: nothing may commit";

  boost::asio::io_context io;
  boost::asio::co_spawn(io, keeper.runRenewals(), boost::asio::detached);
  // The first round grants a lease at once; the next comes ttl/4 (500 ms) later.
  const SteadyTime granted = clock.now();
  ASSERT_TRUE(runUntil(io, [&] { return got.back() != 0; }));
  ASSERT_NE(keeper.state().lease, 0);
  EXPECT_EQ(got.back(), nanos(granted + 1500ms));

  // A renewal sent later moves the deadline by its send time.
  clock.advance(1s);
  const SteadyTime renewed = clock.now();
  EXPECT_TRUE(runUntil(io, [&] { return got.back() == nanos(renewed + 1500ms); }))
      << "last deadline " << got.back();

  // The lease expires in the DCS (no renewal reached it): the next round learns it, and until
  // a new lease is granted the sink says nothing may commit.
  clock.advance(5s);
  EXPECT_TRUE(runUntil(io, [&] { return got.back() == 0; }))
      << "the expired lease's deadline was kept: " << got.back();
  keeper.stop();
  io.run_for(700ms);
  EXPECT_TRUE(fenced.empty()) << "the watchdog was not running";
}

// The DCS goes out of reach of a serving primary: every member's confirmation moves the
// deadline (watchdog and keel_fence alike) to its send time + ttl - margin; without them the
// watchdog fences at the lease's deadline or the last confirmation's, whichever is later.
TEST(FailsafeLeaseKeeperTest, ConfirmationsExtendTheDeadlineAndTheirEndFences) {
  ManualClock clock;
  dcs::FakeDcs dcs(clock);
  std::vector<std::string> fenced;
  LeaseKeeper keeper(dcs, clock, 2s, 500ms, [&](std::string why) { fenced.push_back(why); });
  std::vector<std::int64_t> sink;
  keeper.setDeadlineSink([&](std::int64_t v) { sink.push_back(v); });
  bool answer = true;
  std::vector<SteadyTime> asked;
  keeper.setFailsafe([&]() -> boost::asio::awaitable<bool> {
    asked.push_back(clock.now());
    co_return answer;
  });
  boost::asio::io_context io;
  boost::asio::co_spawn(io, keeper.runRenewals(), boost::asio::detached);
  boost::asio::co_spawn(io, keeper.runFailsafe(), boost::asio::detached);
  ASSERT_TRUE(runUntil(io, [&] { return keeper.state().lease != 0; }));
  const SteadyTime renewed = *keeper.state().last_renewal_sent;
  keeper.setServingPrimary(true);
  io.run_for(600ms);
  EXPECT_TRUE(asked.empty()) << "asked the members while renewals succeed";

  dcs.setAvailable(false);
  clock.advance(1s);
  ASSERT_TRUE(runUntil(io, [&] { return !asked.empty(); }));
  const SteadyTime sent = asked.back();
  ASSERT_TRUE(keeper.state().failsafe_until);
  EXPECT_EQ(*keeper.state().failsafe_until, sent + 1500ms);
  EXPECT_EQ(keeper.writeDeadline(), sent + 1500ms);
  EXPECT_GT(*keeper.writeDeadline(), renewed + 1500ms);
  EXPECT_EQ(sink.back(), nanos(sent + 1500ms));

  // The members stop confirming: the last confirmation's deadline holds, then the watchdog
  // fences.
  answer = false;
  boost::asio::co_spawn(io, keeper.runWatchdog(), boost::asio::detached);
  clock.advance(1s);
  io.run_for(700ms);
  EXPECT_TRUE(fenced.empty()) << fenced.front();
  EXPECT_EQ(keeper.writeDeadline(), sent + 1500ms);
  clock.set(sent + 1500ms);
  ASSERT_TRUE(runUntil(io, [&] { return !fenced.empty(); }));
  EXPECT_THAT(fenced.front(), HasSubstr("no failsafe confirmation by every member"));
  EXPECT_FALSE(keeper.state().failsafe_until) << "kept after the primary stopped serving";
  keeper.stop();
  io.run_for(700ms);
}

// The lease expires in the DCS while the members vouch for the primary, and a new one is
// granted: the leader key went with the old lease, so the new lease extends nothing until the
// agent holds the lock under it.
TEST(FailsafeLeaseKeeperTest, ALeaseGrantedWhileServingCountsOnlyOnceTheLockIsTakenAgain) {
  ManualClock clock;
  dcs::FakeDcs dcs(clock);
  LeaseKeeper keeper(dcs, clock, 2s, 500ms, [](std::string) {});
  keeper.setFailsafe([]() -> boost::asio::awaitable<bool> { co_return true; });
  boost::asio::io_context io;
  boost::asio::co_spawn(io, keeper.runRenewals(), boost::asio::detached);
  boost::asio::co_spawn(io, keeper.runFailsafe(), boost::asio::detached);
  ASSERT_TRUE(runUntil(io, [&] { return keeper.state().lease != 0; }));
  const dcs::LeaseId first = keeper.state().lease;
  keeper.setServingPrimary(true);
  dcs.setAvailable(false);
  clock.advance(3s);  // the first lease is past its TTL in the DCS
  ASSERT_TRUE(runUntil(io, [&] { return keeper.state().failsafe_until.has_value(); }));
  const SteadyTime vouched = *keeper.state().failsafe_until;
  dcs.setAvailable(true);
  ASSERT_TRUE(runUntil(io, [&] {
    auto st = keeper.state();
    return st.lease != 0 && st.lease != first && st.last_error.empty();
  }));
  auto st = keeper.state();
  ASSERT_TRUE(st.last_renewal_sent);
  EXPECT_EQ(keeper.writeDeadline(), vouched)
      << "the new lease extended a primary whose leader key it never held";
  keeper.servingUnderCurrentLease();
  EXPECT_EQ(keeper.writeDeadline(), std::max(vouched, *keeper.state().last_renewal_sent + 1500ms));
  // From here on the renewals carry it, as before the outage.
  clock.advance(300ms);
  ASSERT_TRUE(runUntil(io, [&] { return keeper.state().last_renewal_sent == clock.now(); }));
  EXPECT_EQ(keeper.writeDeadline(), clock.now() + 1500ms);
  keeper.stop();
  io.run_for(700ms);
}

}  // namespace
}  // namespace keel::ha
