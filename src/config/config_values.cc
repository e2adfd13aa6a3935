// Scalar value syntaxes shared by the config schema and other modules (durations, byte sizes,
// host:port), plus the small accessors declared on the config structs.

#include <cctype>
#include <cstdint>
#include <limits>
#include <string_view>

#include "config/config.h"

namespace keel {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Splits "1.5MB" into the unsigned decimal number in front ("1.5") and the rest ("MB"), with
// blanks between them dropped. The number must start with a digit: no sign, no ".5".
bool splitNumber(std::string_view text, std::string_view& number, std::string_view& unit) {
  text = trim(text);
  std::size_t i = 0;
  while (i < text.size() && isDigit(text[i]))
    ++i;
  if (i == 0)
    return false;
  if (i < text.size() && text[i] == '.') {
    std::size_t frac_start = ++i;
    while (i < text.size() && isDigit(text[i]))
      ++i;
    if (i == frac_start)
      return false;  // "1." is not a number
  }
  number = text.substr(0, i);
  unit = trim(text.substr(i));
  return true;
}

// number * multiplier, exactly: fails on overflow and when the product is not a whole number
// (so "1.5ms" or "0.5B" are rejected rather than silently rounded).
std::optional<std::uint64_t> scaleDecimal(std::string_view number, std::uint64_t multiplier) {
  constexpr std::size_t kMaxFractionDigits = 18;
  std::uint64_t whole = 0;
  std::size_t i = 0;
  for (; i < number.size() && number[i] != '.'; ++i) {
    if (__builtin_mul_overflow(whole, 10, &whole) ||
        __builtin_add_overflow(whole, static_cast<std::uint64_t>(number[i] - '0'), &whole)) {
      return std::nullopt;
    }
  }
  std::uint64_t result = 0;
  if (__builtin_mul_overflow(whole, multiplier, &result))
    return std::nullopt;
  if (i == number.size())
    return result;

  std::string_view digits = number.substr(i + 1);
  while (!digits.empty() && digits.back() == '0')
    digits.remove_suffix(1);
  if (digits.size() > kMaxFractionDigits)
    return std::nullopt;
  std::uint64_t fraction = 0;
  std::uint64_t scale = 1;
  for (char c : digits) {
    fraction = fraction * 10 + static_cast<std::uint64_t>(c - '0');
    scale *= 10;
  }
  // fraction * multiplier / scale must be whole; compute with 128 bits so large multipliers
  // with many fraction digits cannot overflow.
  unsigned __int128 product = static_cast<unsigned __int128>(fraction) * multiplier;
  if (product % scale != 0)
    return std::nullopt;
  unsigned __int128 total = static_cast<unsigned __int128>(result) + product / scale;
  if (total > std::numeric_limits<std::uint64_t>::max())
    return std::nullopt;
  return static_cast<std::uint64_t>(total);
}

bool validHostName(std::string_view host) {
  if (host.empty())
    return false;
  for (char c : host) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') {
      return false;
    }
  }
  return true;
}

bool validIpv6(std::string_view host) {
  if (host.find(':') == std::string_view::npos)
    return false;
  std::size_t zone = host.find('%');  // "fe80::1%eth0"
  std::string_view address = host.substr(0, zone);
  for (char c : address) {
    if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.')
      return false;
  }
  if (zone != std::string_view::npos)
    return validHostName(host.substr(zone + 1));
  return true;
}

}  // namespace

std::string HostPort::str() const {
  if (host.find(':') != std::string::npos)
    return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::optional<std::chrono::milliseconds> parseDuration(const std::string& text) {
  std::string_view number;
  std::string_view unit;
  if (!splitNumber(text, number, unit))
    return std::nullopt;
  std::uint64_t multiplier = 0;
  if (unit.empty() || unit == "s") {
    multiplier = 1000;
  } else if (unit == "ms") {
    multiplier = 1;
  } else if (unit == "m" || unit == "min") {
    multiplier = 60 * 1000;
  } else if (unit == "h") {
    multiplier = 60 * 60 * 1000;
  } else {
    return std::nullopt;
  }
  auto ms = scaleDecimal(number, multiplier);
  if (!ms || *ms > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return std::nullopt;
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(*ms));
}

std::optional<std::uint64_t> parseByteSize(const std::string& text) {
  std::string_view number;
  std::string_view unit;
  if (!splitNumber(text, number, unit))
    return std::nullopt;
  static constexpr std::pair<std::string_view, std::uint64_t> kUnits[] = {
      {"", 1},
      {"B", 1},
      {"kB", 1ULL << 10},
      {"MB", 1ULL << 20},
      {"GB", 1ULL << 30},
      {"TB", 1ULL << 40},
  };
  for (const auto& [name, multiplier] : kUnits) {
    if (equalsIgnoreCase(unit, name))
      return scaleDecimal(number, multiplier);
  }
  return std::nullopt;
}

std::optional<HostPort> parseHostPort(const std::string& text) {
  std::string_view s = text;
  std::string_view host;
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    std::size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      return std::nullopt;
    }
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
    if (!validIpv6(host))
      return std::nullopt;
  } else {
    std::size_t colon = s.rfind(':');
    if (colon == std::string_view::npos)
      return std::nullopt;
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    // A bare IPv6 address ("::1:5432") is ambiguous; it must be written "[::1]:5432".
    if (!validHostName(host))
      return std::nullopt;
  }
  if (port.empty() || port.size() > 5)
    return std::nullopt;
  unsigned value = 0;
  for (char c : port) {
    if (!isDigit(c))
      return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value < 1 || value > 65535)
    return std::nullopt;
  return HostPort{std::string(host), static_cast<std::uint16_t>(value)};
}

std::vector<std::string> EtcdConfig::client_urls() const {
  if (!endpoints.empty() || !embedded)
    return endpoints;
  std::vector<std::string> urls{"http://" + embedded->listen_client.str()};
  for (const auto& [member, url] : embedded->client_urls) {
    if (member != embedded->name)
      urls.push_back(url);
  }
  return urls;
}

}  // namespace keel
