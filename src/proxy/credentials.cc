#include "proxy/credentials.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

namespace keel::proxy {
namespace {

// One quoted field starting at `pos` (which must be '"'); advances `pos` past it.
std::optional<std::string> quotedField(std::string_view line, std::size_t& pos) {
  if (pos >= line.size() || line[pos] != '"') {
    return std::nullopt;
  }
  std::string out;
  for (std::size_t i = pos + 1; i < line.size(); ++i) {
    if (line[i] == '"') {
      if (i + 1 < line.size() && line[i + 1] == '"') {
        out.push_back('"');
        ++i;
        continue;
      }
      pos = i + 1;
      return out;
    }
    out.push_back(line[i]);
  }
  return std::nullopt;
}

void skipBlanks(std::string_view line, std::size_t& pos) {
  while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t' || line[pos] == '\r')) {
    ++pos;
  }
}

bool listMatches(const std::vector<std::string>& list, const std::string& value) {
  return list.empty() || std::find(list.begin(), list.end(), value) != list.end();
}

bool addressMatches(const ProxyHbaRule& rule, const ClientAddress& address) {
  int bits = rule.prefix_bits;
  for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    unsigned char mask = bits >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - bits));
    if ((address[i] & mask) != (rule.network[i] & mask)) {
      return false;
    }
  }
  return true;
}

}  // namespace

ProxyResult<std::shared_ptr<const Userlist>> Userlist::parse(std::string_view text,
                                                             const std::string& origin) {
  auto list = std::make_shared<Userlist>();
  std::vector<std::string> problems;
  std::size_t number = 0;
  while (!text.empty()) {
    ++number;
    auto eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    std::size_t pos = 0;
    skipBlanks(line, pos);
    if (pos == line.size() || line[pos] == ';' || line[pos] == '#') {
      continue;
    }
    std::string where = origin + ":" + std::to_string(number) + ": ";
    auto user = quotedField(line, pos);
    skipBlanks(line, pos);
    auto secret = user ? quotedField(line, pos) : std::nullopt;
    if (!user || !secret) {
      problems.push_back(where +
                         "expected \"user\" \"secret\" (each in double quotes, a quote "
                         "inside written as \"\")");
      continue;
    }
    if (user->empty()) {
      problems.push_back(where + "expected a non-empty user name");
      continue;
    }
    auto parsed = pgwire::parseSecret(*secret);
    if (!parsed) {
      problems.push_back(where + "user \"" + *user + "\": " + parsed.message());
      continue;
    }
    if (!list->users_.emplace(*user, std::move(*parsed)).second) {
      problems.push_back(where + "user \"" + *user + "\" is listed twice");
    }
  }
  if (!problems.empty()) {
    std::string message;
    for (const auto& p : problems) {
      message += (message.empty() ? "" : "\n") + p;
    }
    return fail(ProxyErrc::bad_input, message);
  }
  return std::shared_ptr<const Userlist>(std::move(list));
}

ProxyResult<std::shared_ptr<const Userlist>> Userlist::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(ProxyErrc::io, "cannot read proxy.auth_file " + path + ": " + std::strerror(errno) +
                                   "; create it or fix the path");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

const pgwire::Secret* Userlist::find(const std::string& user) const {
  auto it = users_.find(user);
  return it == users_.end() ? nullptr : &it->second;
}

ClientAddress clientAddressFromString(const std::string& ip) {
  ClientAddress out{};
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, ip.c_str(), &v4) == 1) {
    out[10] = 0xff;
    out[11] = 0xff;
    std::memcpy(&out[12], &v4, 4);
  } else if (inet_pton(AF_INET6, ip.c_str(), &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
  }
  return out;
}

HbaDecision matchHba(const ProxyConfig& config, bool tls, const ClientAddress& address,
                     const std::string& database, const std::string& user) {
  if (config.hba.empty()) {
    return {config.auth_type, nullptr};
  }
  for (const auto& rule : config.hba) {
    if ((rule.connection == ProxyHbaRule::Connection::hostssl && !tls) ||
        (rule.connection == ProxyHbaRule::Connection::hostnossl && tls)) {
      continue;
    }
    if (!listMatches(rule.databases, database) || !listMatches(rule.users, user) ||
        !addressMatches(rule, address)) {
      continue;
    }
    return {rule.method, &rule};
  }
  return {"", nullptr};
}

Admission admitClient(const ProxyConfig& config, bool tls, const std::string& address,
                      const std::string& database, const std::string& user) {
  Admission a;
  a.where = "host \"" + address + "\", user \"" + user + "\", database \"" + database + "\", " +
            (tls ? "SSL on" : "SSL off");
  const std::string& sslmode = config.client_tls.sslmode;
  if (!tls && (sslmode == "require" || sslmode == "verify-ca" || sslmode == "verify-full")) {
    a.refusal = "Keel's proxy accepts only TLS connections (proxy.client_tls.sslmode is " +
                sslmode + "); connect with sslmode=require";
    return a;
  }
  a.method = matchHba(config, tls, clientAddressFromString(address), database, user).method;
  if (a.method.empty()) {
    a.refusal = "no proxy.hba entry for " + a.where;
  } else if (a.method == "reject") {
    a.refusal = "proxy.hba rejects connection for " + a.where;
    a.method.clear();
  }
  return a;
}

}  // namespace keel::proxy
