#include "ha/lease_keeper.h"

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

}  // namespace
}  // namespace keel::ha
