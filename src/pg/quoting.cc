#include "pg/quoting.h"

#include <cctype>
#include <cstdio>

namespace keel::pg {

std::string quoteConninfoValue(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 2);
  out.push_back('\'');
  for (char c : value) {
    if (c == '\\' || c == '\'') {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string renderConninfo(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::string out;
  for (const auto& [key, value] : pairs) {
    if (!out.empty()) {
      out.push_back(' ');
    }
    out += key;
    out.push_back('=');
    out += quoteConninfoValue(value);
  }
  return out;
}

std::string quoteConfString(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 2);
  out.push_back('\'');
  for (char c : value) {
    switch (c) {
      case '\'':
        out += "''";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          // The scanner reads \ooo as an octal byte.
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\%03o", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('\'');
  return out;
}

bool validHbaName(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  for (char c : name) {
    if (c == '"' || c == '\n' || c == '\r' || c == '\0') {
      return false;
    }
  }
  return true;
}

std::string quoteHbaName(std::string_view name) {
  bool bare = !name.empty();
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) {
      bare = false;
    }
  }
  // Keywords keep their special meaning only when unquoted; a role really named "all" must be
  // quoted to mean itself.
  if (name == "all" || name == "sameuser" || name == "samerole" || name == "samegroup" ||
      name == "replication") {
    bare = false;
  }
  if (bare) {
    return std::string(name);
  }
  return "\"" + std::string(name) + "\"";
}

bool validParameterName(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  unsigned char first = static_cast<unsigned char>(name.front());
  if (!(std::isalpha(first) || first == '_')) {
    return false;
  }
  for (char c : name) {
    unsigned char u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

}  // namespace keel::pg
