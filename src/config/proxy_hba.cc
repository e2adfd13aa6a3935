// Parsing of the proxy's hba-style rules (config.h, ProxyHbaRule).

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <sstream>

#include "config/config.h"

namespace keel {
namespace {

std::vector<std::string> splitList(const std::string& field) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(field);
  while (std::getline(in, item, ',')) {
    if (!item.empty()) {
      out.push_back(item);
    }
  }
  return out;
}

Failure<ConfigErrc> bad(const std::string& text, const std::string& why) {
  return fail(ConfigErrc::invalid, "rule \"" + text + "\": " + why);
}

}  // namespace

Result<ProxyHbaRule, ConfigErrc> parseProxyHbaRule(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> fields;
  for (std::string f; in >> f;) {
    fields.push_back(f);
  }
  if (fields.size() != 5) {
    return bad(text,
               "expected 5 fields \"host|hostssl|hostnossl DATABASES USERS ADDRESS METHOD\", "
               "got " +
                   std::to_string(fields.size()));
  }
  ProxyHbaRule rule;
  rule.text = text;
  if (fields[0] == "host") {
    rule.connection = ProxyHbaRule::Connection::host;
  } else if (fields[0] == "hostssl") {
    rule.connection = ProxyHbaRule::Connection::hostssl;
  } else if (fields[0] == "hostnossl") {
    rule.connection = ProxyHbaRule::Connection::hostnossl;
  } else {
    return bad(text,
               "connection type: expected host, hostssl or hostnossl, got \"" + fields[0] + "\"");
  }
  if (fields[1] != "all") {
    rule.databases = splitList(fields[1]);
  }
  if (fields[2] != "all") {
    rule.users = splitList(fields[2]);
  }
  rule.address = fields[3];
  if (fields[3] != "all") {
    std::string host = fields[3];
    int bits = -1;
    if (auto slash = host.find('/'); slash != std::string::npos) {
      std::string b = host.substr(slash + 1);
      host.resize(slash);
      if (b.empty() || b.size() > 3 || b.find_first_not_of("0123456789") != std::string::npos) {
        return bad(text, "address: expected a prefix length after '/', got \"" + fields[3] + "\"");
      }
      bits = std::stoi(b);
    }
    in_addr v4{};
    in6_addr v6{};
    if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
      if (bits > 32) {
        return bad(text,
                   "address: expected an IPv4 prefix length 0-32, got " + std::to_string(bits));
      }
      rule.network[10] = 0xff;
      rule.network[11] = 0xff;
      std::memcpy(&rule.network[12], &v4, 4);
      rule.prefix_bits = 96 + (bits < 0 ? 32 : bits);
    } else if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
      if (bits > 128) {
        return bad(text,
                   "address: expected an IPv6 prefix length 0-128, got " + std::to_string(bits));
      }
      std::memcpy(rule.network.data(), &v6, 16);
      rule.prefix_bits = bits < 0 ? 128 : bits;
    } else {
      return bad(text,
                 "address: expected \"all\" or an IP address with an optional /prefix, "
                 "got \"" +
                     fields[3] + "\"");
    }
  }
  static constexpr std::string_view kMethods[] = {"scram-sha-256", "md5", "cert", "trust",
                                                  "reject"};
  rule.method = fields[4];
  if (std::find(std::begin(kMethods), std::end(kMethods), rule.method) == std::end(kMethods)) {
    return bad(text, "method: expected scram-sha-256, md5, cert, trust or reject, got \"" +
                         rule.method + "\"");
  }
  if (rule.method == "cert" && rule.connection != ProxyHbaRule::Connection::hostssl) {
    return bad(text, "method cert needs a hostssl rule (a certificate only exists over TLS)");
  }
  return rule;
}

}  // namespace keel
