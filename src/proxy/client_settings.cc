// Client startup parameters as SET statements for a pooled server connection.

#include <strings.h>

#include <algorithm>
#include <cctype>

#include "pgwire/message_builder.h"
#include "proxy/client_session.h"

namespace keel::proxy {
namespace {

Failure<std::string> refusal(std::string message) {
  return Failure<std::string>{message, message};
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// PostgreSQL's GUC names: letters, digits, '_' and '.' (custom "ext.name" settings).
bool validName(std::string_view name) {
  return !name.empty() && name.size() < 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
  });
}

std::string quoteIdentifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') {
      out += '"';
    }
    out += c;
  }
  return out + "\"";
}

// E'...' escapes backslashes and quotes whatever standard_conforming_strings says.
std::string quoteLiteral(std::string_view value) {
  std::string out = "E'";
  for (char c : value) {
    if (c == '\\' || c == '\'') {
      out += '\\';
    }
    out += c;
  }
  return out + "'";
}

// "-c name=value --name=value" as PostgreSQL's `options` startup parameter spells them
// (backslash escapes a space).
Result<std::vector<std::pair<std::string, std::string>>, std::string> parseOptions(
    std::string_view options) {
  std::vector<std::string> words;
  std::string word;
  bool escaped = false;
  for (char c : options) {
    if (escaped) {
      word += c;
      escaped = false;
    } else if (c == '\\') {
      escaped = true;
    } else if (c == ' ' || c == '\t') {
      if (!word.empty()) {
        words.push_back(std::move(word));
        word.clear();
      }
    } else {
      word += c;
    }
  }
  if (!word.empty()) {
    words.push_back(std::move(word));
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    std::string setting;
    if (words[i] == "-c" && i + 1 < words.size()) {
      setting = words[++i];
    } else if (words[i].rfind("-c", 0) == 0 && words[i].size() > 2) {
      setting = words[i].substr(2);
    } else if (words[i].rfind("--", 0) == 0) {
      setting = words[i].substr(2);
    } else {
      return refusal(std::string("unsupported startup option \"") + words[i] +
                     "\": through Keel's proxy, options may only set run-time parameters "
                     "(-c name=value)");
    }
    auto eq = setting.find('=');
    if (eq == std::string::npos || eq == 0) {
      return refusal("startup option \"" + setting + "\" is not name=value");
    }
    std::string name = setting.substr(0, eq);
    std::replace(name.begin(), name.end(), '-', '_');
    out.emplace_back(name, setting.substr(eq + 1));
  }
  return out;
}

}  // namespace

Result<ClientSettings, std::string> clientSettingsFrom(
    const std::vector<std::pair<std::string, std::string>>& startup) {
  ClientSettings out;
  auto add = [&](const std::string& name, const std::string& value) -> std::optional<std::string> {
    if (!validName(name)) {
      return "invalid run-time parameter name \"" + name + "\" in the startup packet";
    }
    auto same = std::find_if(out.parameters.begin(), out.parameters.end(),
                             [&](const auto& p) { return equalsIgnoreCase(p.first, name); });
    if (same != out.parameters.end()) {
      same->second = value;
    } else {
      out.parameters.emplace_back(name, value);
    }
    return std::nullopt;
  };
  for (const auto& [name, value] : startup) {
    if (name == "user" || name == "database" || name.rfind("_pq_.", 0) == 0) {
      continue;
    }
    if (name == "replication") {
      if (value == "false" || value == "off" || value == "0" || value == "no") {
        continue;
      }
      return refusal(std::string(
          "replication connections are not supported through Keel's proxy; connect to the "
          "PostgreSQL port of a member directly"));
    }
    if (name == "options") {
      auto options = parseOptions(value);
      if (!options) {
        return options.failure();
      }
      for (const auto& [n, v] : *options) {
        if (auto problem = add(n, v)) {
          return refusal(*problem);
        }
      }
      continue;
    }
    if (auto problem = add(name, value)) {
      return refusal(*problem);
    }
  }
  return out;
}

std::string settingStatements(const ParameterSet& wanted, const ParameterMap& current,
                              const std::vector<std::string>& resettable) {
  // set_config() rather than SET: it reads the value as postgresql.conf and a startup option
  // do, so that a list such as search_path's `"$user", public` stays a list (SET x = '...'
  // would make it one quoted name).
  std::string sql;
  wanted.forEach([&](const std::string& name, const std::string& value) {
    auto it = current.find(name);
    if (it != current.end() && it->second == value) {
      return;
    }
    sql += sql.empty() ? "SELECT " : ", ";
    sql += "pg_catalog.set_config(" + quoteLiteral(name) + ", " + quoteLiteral(value) + ", false)";
  });
  if (!sql.empty()) {
    sql += ";";
  }
  for (const auto& name : resettable) {
    if (!wanted.contains(name) && current.count(name) != 0) {
      sql += "RESET " + quoteIdentifier(name) + ";";
    }
  }
  return sql;
}

void noteSettingsApplied(const ParameterSet& wanted, ParameterMap& current,
                         const std::vector<std::string>& resettable) {
  wanted.forEach([&](const std::string& name, const std::string& value) {
    current[name] = value;  // unreported settings: remember ours
  });
  for (const auto& name : resettable) {
    if (!wanted.contains(name)) {
      current.erase(name);  // back at the connection's default, whatever that is
    }
  }
}

std::string readSettingsQuery(const std::vector<std::string>& names) {
  std::string sql = "SELECT ";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) {
      sql += ", ";
    }
    sql += "pg_catalog.current_setting(" + quoteLiteral(names[i]) + ", true)";
  }
  return sql;
}

namespace {
// The run-time parameters PostgreSQL reports with ParameterStatus (GUC_REPORT) that a client
// commonly changes: in transaction pooling Keel carries them from server to server.
constexpr std::string_view kTrackedParameters[] = {"application_name",
                                                   "client_encoding",
                                                   "DateStyle",
                                                   "IntervalStyle",
                                                   "standard_conforming_strings",
                                                   "TimeZone"};

bool sameName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}
}  // namespace

bool trackedParameter(std::string_view name) {
  for (auto t : kTrackedParameters) {
    if (sameName(t, name)) {
      return true;
    }
  }
  return false;
}

bool extraParameter(std::string_view name, const std::vector<std::string>& extra) {
  for (const auto& e : extra) {
    if (sameName(e, name)) {
      return true;
    }
  }
  return false;
}

bool reportedParameter(std::string_view name) {
  static constexpr std::string_view kReported[] = {"application_name",
                                                   "client_encoding",
                                                   "DateStyle",
                                                   "default_transaction_read_only",
                                                   "in_hot_standby",
                                                   "integer_datetimes",
                                                   "IntervalStyle",
                                                   "is_superuser",
                                                   "server_encoding",
                                                   "server_version",
                                                   "session_authorization",
                                                   "standard_conforming_strings",
                                                   "TimeZone"};
  for (auto r : kReported) {
    if (sameName(r, name)) {
      return true;
    }
  }
  return false;
}

void addTrackedDefaults(ParameterSet& settings, const ParameterMap& login,
                        const std::vector<std::string>& extra) {
  for (const auto& [name, value] : login) {
    if ((trackedParameter(name) || extraParameter(name, extra)) && !settings.contains(name)) {
      settings.set(name, value);
    }
  }
}

bool isListenCommand(std::string_view sql) {
  std::size_t i = 0;
  while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) {
    ++i;
  }
  constexpr std::string_view kListen = "listen";
  if (sql.size() - i < kListen.size() || !sameName(sql.substr(i, kListen.size()), kListen)) {
    return false;
  }
  i += kListen.size();
  return i < sql.size() && (std::isspace(static_cast<unsigned char>(sql[i])) || sql[i] == '"');
}

void reportServerParameters(ServerConnection& server, ParameterSet& seen, std::string& out) {
  const auto* seen_list = seen.sharedList();
  const ParameterEntries* seen_raw = seen_list != nullptr ? seen_list->get() : nullptr;
  if (server.synced_seen.matches(seen_raw, nullptr, server.parametersVersion())) {
    return;
  }
  for (const auto& [name, value] : server.parameters) {
    if (server.login_parameters.count(name) == 0) {
      continue;  // set by Keel, not reported by PostgreSQL
    }
    const std::string* told = seen.find(name);
    if (told == nullptr || *told != value) {
      pgwire::encode(out, pgwire::ParameterStatus{name, value});
      seen.set(name, value);
    }
  }
  if (seen.sharedList() == seen_list && seen_list != nullptr) {
    server.synced_seen = {*seen_list, nullptr, server.parametersVersion()};
  }
}

pgwire::Frame listenRefusal() {
  static const std::string message = [] {
    std::string m;
    pgwire::encode(
        m, pgwire::Query{"DO $keel$BEGIN RAISE EXCEPTION USING ERRCODE = '0A000', MESSAGE = "
                         "'LISTEN is not supported in transaction pooling mode (proxy.pool_mode "
                         "is transaction): notifications would go to whichever client holds the "
                         "server connection', HINT = 'connect through a proxy whose pool_mode is "
                         "session, or to PostgreSQL directly, to use LISTEN'; END$keel$"});
    return m;
  }();
  return pgwire::Frame{.kind = pgwire::FrameKind::message,
                       .type = pgwire::frontend::kQuery,
                       .payload = std::string_view(message).substr(5),
                       .raw = message,
                       .length = static_cast<std::uint32_t>(message.size() - 1)};
}

}  // namespace keel::proxy
