#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace keel {

// A PostgreSQL WAL location (LSN), printed as PostgreSQL does: "16/B374D848".
struct WalPosition {
  std::uint64_t value = 0;

  static std::optional<WalPosition> parse(std::string_view text);
  std::string str() const;
  auto operator<=>(const WalPosition&) const = default;
};

}  // namespace keel
