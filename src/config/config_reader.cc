#include "config/config_reader.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <set>

namespace keel::config_detail {
namespace {

constexpr std::size_t kMaxQuotedLength = 80;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Optimal string alignment distance: Levenshtein plus adjacent transpositions ("tll" is one
// edit from "ttl"), the usual shape of a typo.
std::size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i)
    d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j)
    d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::string joinNames(const std::vector<std::string_view>& names) {
  std::string out;
  for (std::string_view name : names) {
    if (!out.empty())
      out += ", ";
    out += name;
  }
  return out;
}

std::string quote(std::string_view text) {
  std::string out = "\"";
  std::size_t n = 0;
  for (char c : text) {
    if (++n > kMaxQuotedLength) {
      out += "...";
      break;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += c == '\n' ? "\\n" : c == '\t' ? "\\t" : "?";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// The offset of the first byte that is not part of well-formed UTF-8 (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), or npos when `text` is UTF-8 throughout.
std::size_t invalidUtf8At(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<unsigned char>(text[i]);
    std::size_t extra = 0;
    unsigned char lo = 0x80;  // range of the second byte
    unsigned char hi = 0xbf;
    if (b < 0x80) {
      ++i;
      continue;
    }
    if (b >= 0xc2 && b <= 0xdf) {
      extra = 1;
    } else if (b >= 0xe0 && b <= 0xef) {
      extra = 2;
      lo = b == 0xe0 ? 0xa0 : 0x80;
      hi = b == 0xed ? 0x9f : 0xbf;
    } else if (b >= 0xf0 && b <= 0xf4) {
      extra = 3;
      lo = b == 0xf0 ? 0x90 : 0x80;
      hi = b == 0xf4 ? 0x8f : 0xbf;
    } else {
      return i;
    }
    if (text.size() - i <= extra)
      return i;
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xbf))
        return i;
    }
    i += extra + 1;
  }
  return std::string_view::npos;
}

}  // namespace

std::string joinPath(const std::string& parent, std::string_view key) {
  if (parent.empty())
    return std::string(key);
  return parent + "." + std::string(key);
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return quote(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
      return "nothing (null)";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

std::string closestName(std::string_view key, const std::vector<std::string_view>& allowed) {
  std::string wanted = lower(key);
  std::size_t best = std::numeric_limits<std::size_t>::max();
  std::string_view best_name;
  for (std::string_view name : allowed) {
    std::size_t d = editDistance(wanted, lower(name));
    if (d < best) {
      best = d;
      best_name = name;
    }
  }
  std::size_t limit = key.size() <= 3 ? 1 : 2;
  return best <= limit ? std::string(best_name) : std::string();
}

std::optional<YAML::Node> child(const YAML::Node& map, const char* key) {
  if (!map.IsMap())
    return std::nullopt;
  const YAML::Node value = map[key];
  if (!value.IsDefined() || value.IsNull())
    return std::nullopt;
  return value;
}

void ConfigReader::problem(std::string path, std::string message) {
  problems_.push_back(ConfigProblem{std::move(path), std::move(message)});
}

bool ConfigReader::failed(std::string_view path) const {
  return std::any_of(problems_.begin(), problems_.end(), [&](const ConfigProblem& p) {
    return p.path == path ||
           (p.path.size() > path.size() && p.path.compare(0, path.size(), path) == 0 &&
            (p.path[path.size()] == '.' || p.path[path.size()] == '['));
  });
}

bool ConfigReader::mapping(const YAML::Node& node, const std::string& path,
                           std::vector<std::string_view> allowed) {
  if (!node.IsMap()) {
    problem(path.empty() ? "(top level)" : path,
            "expected a mapping of \"key: value\" lines, got " + describe(node));
    return false;
  }
  std::set<std::string> seen;
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) {
      problem(path.empty() ? "(top level)" : path,
              "expected keys to be plain names, got " + describe(entry.first) + " as a key");
      continue;
    }
    const std::string& key = entry.first.Scalar();
    std::string key_path = joinPath(path, key);
    if (!seen.insert(key).second) {
      problem(key_path, "duplicate key \"" + key + "\"; give each key once");
      continue;
    }
    if (allowed.empty() || std::find(allowed.begin(), allowed.end(), key) != allowed.end()) {
      continue;
    }
    std::string message = "unknown key \"" + key + "\"";
    if (std::string suggestion = closestName(key, allowed); !suggestion.empty()) {
      message += " (did you mean \"" + suggestion + "\"?)";
    }
    message += path.empty() ? "; allowed top-level keys: " : "; allowed keys in " + path + ": ";
    message += joinNames(allowed);
    problem(key_path, std::move(message));
  }
  return true;
}

bool ConfigReader::utf8(const std::string& text, const std::string& path, bool key) {
  const std::size_t at = invalidUtf8At(text);
  if (at == std::string_view::npos)
    return true;
  static constexpr char kHex[] = "0123456789abcdef";
  const auto byte = static_cast<unsigned char>(text[at]);
  // The text itself is left out: its bytes are what cannot be shown.
  problem(path, std::string("expected UTF-8 text") + ", got byte 0x" + kHex[byte >> 4] +
                    kHex[byte & 0xf] + " at position " + std::to_string(at + 1) +
                    (key ? " of a key" : "") +
                    ", which is not UTF-8 there; save the file as UTF-8");
  return false;
}

std::optional<std::string> ConfigReader::scalar(const YAML::Node& node, const std::string& path,
                                                std::string_view expected) {
  if (node.IsScalar())
    return utf8(node.Scalar(), path) ? std::optional<std::string>(node.Scalar()) : std::nullopt;
  problem(path, "expected " + std::string(expected) + ", got " + describe(node));
  return std::nullopt;
}

bool ConfigReader::text(const YAML::Node& map, const std::string& path, const char* key,
                        std::string& out) {
  auto node = child(map, key);
  if (!node)
    return false;
  auto value = scalar(*node, joinPath(path, key), "a string");
  if (!value)
    return false;
  out = std::move(*value);
  return true;
}

bool ConfigReader::flag(const YAML::Node& map, const std::string& path, const char* key,
                        bool& out) {
  auto node = child(map, key);
  if (!node)
    return false;
  std::string field = joinPath(path, key);
  constexpr std::string_view kExpected = "a boolean (true or false)";
  auto value = scalar(*node, field, kExpected);
  if (!value)
    return false;
  std::string v = lower(*value);
  if (v == "true" || v == "yes" || v == "on") {
    out = true;
    return true;
  }
  if (v == "false" || v == "no" || v == "off") {
    out = false;
    return true;
  }
  problem(field, "expected " + std::string(kExpected) + ", got " + describe(*node));
  return false;
}

bool ConfigReader::integer(const YAML::Node& map, const std::string& path, const char* key,
                           long long min, long long max, int& out) {
  auto node = child(map, key);
  if (!node)
    return false;
  std::string field = joinPath(path, key);
  std::string expected =
      max >= std::numeric_limits<int>::max()
          ? "an integer >= " + std::to_string(min)
          : "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  auto value = scalar(*node, field, expected);
  if (!value)
    return false;
  long long parsed = 0;
  const char* first = value->data();
  const char* last = value->data() + value->size();
  auto [end, ec] = std::from_chars(first, last, parsed);
  if (ec != std::errc() || end != last || parsed < min || parsed > max) {
    problem(field, "expected " + expected + ", got " + describe(*node));
    return false;
  }
  out = static_cast<int>(parsed);
  return true;
}

bool ConfigReader::duration(const YAML::Node& map, const std::string& path, const char* key,
                            std::chrono::milliseconds& out) {
  auto node = child(map, key);
  if (!node)
    return false;
  std::string field = joinPath(path, key);
  constexpr std::string_view kExpected =
      "a duration such as \"2s\", \"500ms\", \"1.5s\", \"1m\" or a number of seconds";
  auto value = scalar(*node, field, kExpected);
  if (!value)
    return false;
  auto parsed = parseDuration(*value);
  if (!parsed) {
    problem(field, "expected " + std::string(kExpected) + ", got " + describe(*node));
    return false;
  }
  out = *parsed;
  return true;
}

bool ConfigReader::byteSize(const YAML::Node& map, const std::string& path, const char* key,
                            std::uint64_t& out) {
  auto node = child(map, key);
  if (!node)
    return false;
  std::string field = joinPath(path, key);
  constexpr std::string_view kExpected =
      "a size in bytes such as 1048576 or \"1MB\" (units B, kB, MB, GB, TB; 1024-based)";
  auto value = scalar(*node, field, kExpected);
  if (!value)
    return false;
  auto parsed = parseByteSize(*value);
  if (!parsed) {
    problem(field, "expected " + std::string(kExpected) + ", got " + describe(*node));
    return false;
  }
  out = *parsed;
  return true;
}

bool ConfigReader::hostPort(const YAML::Node& map, const std::string& path, const char* key,
                            HostPort& out) {
  auto node = child(map, key);
  if (!node)
    return false;
  std::string field = joinPath(path, key);
  constexpr std::string_view kExpected = "\"host:port\" with a port 1-65535";
  auto value = scalar(*node, field, kExpected);
  if (!value)
    return false;
  auto parsed = parseHostPort(*value);
  if (!parsed) {
    problem(field, "expected " + std::string(kExpected) + ", got " + describe(*node));
    return false;
  }
  out = std::move(*parsed);
  return true;
}

bool ConfigReader::textList(const YAML::Node& map, const std::string& path, const char* key,
                            std::vector<std::string>& out) {
  auto node = child(map, key);
  if (!node)
    return false;
  std::string field = joinPath(path, key);
  if (!node->IsSequence()) {
    problem(field, "expected a list of strings, got " + describe(*node));
    return false;
  }
  std::vector<std::string> items;
  bool ok = true;
  std::size_t index = 0;
  for (const auto& item : *node) {
    std::string item_path = field + "[" + std::to_string(index++) + "]";
    auto value = scalar(item, item_path, "a string");
    if (value) {
      items.push_back(std::move(*value));
    } else {
      ok = false;
    }
  }
  if (ok)
    out = std::move(items);
  return ok;
}

bool ConfigReader::textMap(const YAML::Node& map, const std::string& path, const char* key,
                           std::map<std::string, std::string>& out, bool bools_as_on_off) {
  auto node = child(map, key);
  if (!node)
    return false;
  std::string field = joinPath(path, key);
  if (!mapping(*node, field, {}))
    return false;
  std::map<std::string, std::string> values;
  bool ok = true;
  for (const auto& entry : *node) {
    if (!entry.first.IsScalar())
      continue;  // reported by mapping()
    const std::string& name = entry.first.Scalar();
    std::string entry_path = joinPath(field, name);
    if (!utf8(name, field, true)) {
      ok = false;
      continue;
    }
    if (!entry.second.IsScalar()) {
      problem(entry_path,
              "expected a single value (string, number or boolean), got " + describe(entry.second));
      ok = false;
      continue;
    }
    std::string value = entry.second.Scalar();
    if (!utf8(value, entry_path)) {
      ok = false;
      continue;
    }
    // yaml-cpp tags plain scalars "?" and quoted ones "!": only an unquoted true/false is a
    // YAML boolean.
    if (bools_as_on_off && entry.second.Tag() == "?") {
      std::string v = lower(value);
      if (v == "true")
        value = "on";
      if (v == "false")
        value = "off";
    }
    values.emplace(name, std::move(value));
  }
  // Keep the good entries even when some failed, so later checks still see them.
  out = std::move(values);
  return ok;
}

std::optional<YAML::Node> ConfigReader::section(const YAML::Node& map, const std::string& path,
                                                const char* key,
                                                std::vector<std::string_view> allowed) {
  auto node = child(map, key);
  if (!node)
    return std::nullopt;
  if (!mapping(*node, joinPath(path, key), std::move(allowed)))
    return std::nullopt;
  return node;
}

void ConfigReader::reject(const YAML::Node& map, const std::string& path, const char* key,
                          std::string_view expected) {
  auto node = child(map, key);
  problem(joinPath(path, key), "expected " + std::string(expected) + ", got " +
                                   (node ? describe(*node) : std::string("nothing")));
}

std::string formatDuration(std::chrono::milliseconds value) {
  if (value.count() != 0 && value.count() % 1000 == 0) {
    return std::to_string(value.count() / 1000) + "s";
  }
  return std::to_string(value.count()) + "ms";
}

std::optional<HostPort> parseHttpUrl(const std::string& text) {
  constexpr std::string_view kScheme = "http://";
  if (text.compare(0, kScheme.size(), kScheme) != 0)
    return std::nullopt;
  std::string rest = text.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/')
    rest.pop_back();
  return parseHostPort(rest);
}

bool isWildcard(const HostPort& address) {
  return address.host == "0.0.0.0" || address.host == "::";
}

bool isAbsolutePath(const std::string& path) {
  return !path.empty() && path.front() == '/';
}

}  // namespace keel::config_detail
