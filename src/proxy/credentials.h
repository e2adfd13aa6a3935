#pragma once

#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "config/config.h"
#include "pgwire/scram_secret.h"

namespace keel::proxy {

enum class ProxyErrc {
  io,            // a file or socket operation failed
  bad_input,     // a file or a peer sent something malformed
  refused,       // authentication or policy refused the client
  unavailable,   // no server to route to, or it cannot be reached
  timeout,       // a bounded wait ran out
  server_error,  // PostgreSQL answered with an error
};
template <typename T>
using ProxyResult = Result<T, ProxyErrc>;

// A PgBouncer-format auth_file: one `"user" "secret"` per line, a `"` inside a field written
// as `""`; blank lines and lines starting with ';' or '#' are ignored. Secrets are plaintext,
// "md5..." hashes or SCRAM-SHA-256 verifiers (pgwire::parseSecret). Immutable once loaded.
class Userlist {
 public:
  // Every malformed line is reported (path:line: what was expected), and nothing is loaded.
  static ProxyResult<std::shared_ptr<const Userlist>> load(const std::string& path);
  static ProxyResult<std::shared_ptr<const Userlist>> parse(std::string_view text,
                                                            const std::string& origin);

  const pgwire::Secret* find(const std::string& user) const;
  std::size_t size() const { return users_.size(); }

 private:
  std::map<std::string, pgwire::Secret> users_;
};

// The client's address as 16 bytes (IPv4 as ::ffff:a.b.c.d), for hba matching.
using ClientAddress = std::array<unsigned char, 16>;
ClientAddress clientAddressFromString(const std::string& ip);  // all zero when unparsable

struct HbaDecision {
  std::string method;  // scram-sha-256, md5, cert, trust, reject; "" when no rule matched
  const ProxyHbaRule* rule = nullptr;
};
// The first rule matching (tls, address, database, user); with no rules configured every
// client gets `auth_type`. Pure.
HbaDecision matchHba(const ProxyConfig& config, bool tls, const ClientAddress& address,
                     const std::string& database, const std::string& user);

// Whether a client may go on to authentication, by proxy.client_tls.sslmode and the hba rules.
struct Admission {
  std::string method;   // how to authenticate it, when admitted
  std::string refusal;  // when not: the message of its FATAL error (SQLSTATE 28000)
  std::string where;    // "host "...", user "...", database "...", SSL on|off", for messages
};
Admission admitClient(const ProxyConfig& config, bool tls, const std::string& address,
                      const std::string& database, const std::string& user);

}  // namespace keel::proxy
