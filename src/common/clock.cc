#include "common/clock.h"

#include <cmath>
#include <cstdio>
#include <ctime>

namespace keel {

double wallClockSeconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string isoTimestamp(double epoch_seconds) {
  std::time_t secs = static_cast<std::time_t>(std::floor(epoch_seconds));
  int millis = static_cast<int>((epoch_seconds - static_cast<double>(secs)) * 1000.0);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

}  // namespace keel
