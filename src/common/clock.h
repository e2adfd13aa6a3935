#pragma once

#include <chrono>
#include <string>

namespace keel {

using SteadyTime = std::chrono::steady_clock::time_point;
using Millis = std::chrono::milliseconds;

// Monotonic time source. Code that makes timing decisions (lease deadlines, fencing) reads
// time only through a Clock, so tests substitute ManualClock and never sleep.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  SteadyTime now() const override { return std::chrono::steady_clock::now(); }
};

// A clock that moves only when told to. Thread-compatible, not thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(SteadyTime start = SteadyTime{} + std::chrono::hours(1)) : now_(start) {}
  SteadyTime now() const override { return now_; }
  void advance(std::chrono::steady_clock::duration d) { now_ += d; }
  void set(SteadyTime t) { now_ = t; }

 private:
  SteadyTime now_;
};

// Wall-clock seconds since the epoch, for records people read (history, member status).
double wallClockSeconds();
// ISO-8601 UTC timestamp with milliseconds, e.g. "2026-11-23T15:33:59.123Z".
std::string isoTimestamp(double epoch_seconds);

}  // namespace keel
