#include "common/wal_position.h"

#include <charconv>
#include <cstdio>

namespace keel {

std::optional<WalPosition> WalPosition::parse(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size() || slash > 8 ||
      text.size() - slash - 1 > 8) {
    return std::nullopt;
  }
  std::uint32_t hi = 0, lo = 0;
  auto h = std::from_chars(text.data(), text.data() + slash, hi, 16);
  auto l = std::from_chars(text.data() + slash + 1, text.data() + text.size(), lo, 16);
  if (h.ec != std::errc{} || h.ptr != text.data() + slash || l.ec != std::errc{} ||
      l.ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return WalPosition{(static_cast<std::uint64_t>(hi) << 32) | lo};
}

std::string WalPosition::str() const {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(value >> 32),
                static_cast<unsigned>(value & 0xffffffffu));
  return buf;
}

}  // namespace keel
