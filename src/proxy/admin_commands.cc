#include "proxy/admin_commands.h"

#include <algorithm>
#include <cctype>

#include "pgwire/message_builder.h"

namespace keel::proxy {

const char* const kAdminCommandList =
    "SHOW POOLS|CLIENTS|SERVERS|STATS|STATS_TOTALS|STATS_AVERAGES|DATABASES|CONFIG|STATE|LISTS|"
    "VERSION|HELP, PAUSE [db], RESUME [db], RECONNECT [db], KILL [db], KILL_CLIENT id, RELOAD";

namespace {

constexpr std::uint32_t kText = 25;  // pg_type OIDs
constexpr std::uint32_t kInt8 = 20;

const char* const kShowSubjects[] = {"POOLS",        "CLIENTS",        "SERVERS",   "STATS",
                                     "STATS_TOTALS", "STATS_AVERAGES", "DATABASES", "CONFIG",
                                     "STATE",        "LISTS",          "VERSION",   "HELP"};

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Splits into words; a double-quoted word keeps its case and may hold spaces ("" is a quote).
Result<std::vector<std::string>, AdminErrc> words(std::string_view sql) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < sql.size()) {
    if (isSpace(sql[i])) {
      ++i;
      continue;
    }
    std::string word;
    if (sql[i] == '"') {
      ++i;
      bool closed = false;
      while (i < sql.size()) {
        if (sql[i] == '"') {
          if (i + 1 < sql.size() && sql[i + 1] == '"') {
            word += '"';
            i += 2;
            continue;
          }
          ++i;
          closed = true;
          break;
        }
        word += sql[i++];
      }
      if (!closed) {
        return fail(AdminErrc::syntax,
                    std::string("unterminated quoted identifier in admin command"));
      }
      if (word.empty()) {
        return fail(AdminErrc::syntax,
                    std::string("zero-length quoted identifier in admin command"));
      }
    } else {
      while (i < sql.size() && !isSpace(sql[i]) && sql[i] != '"') {
        word += sql[i++];
      }
    }
    out.push_back(std::move(word));
  }
  return out;
}

}  // namespace

Result<AdminCommand, AdminErrc> parseAdminCommand(std::string_view sql) {
  while (!sql.empty() && (isSpace(sql.back()) || sql.back() == ';')) {
    sql.remove_suffix(1);
  }
  auto split = words(sql);
  if (!split) {
    return split.failure();
  }
  const std::vector<std::string>& w = *split;
  if (w.empty()) {
    return AdminCommand{};
  }
  const std::string verb = upper(w[0]);
  auto unknown = [&] {
    return fail(AdminErrc::syntax, "unknown admin command \"" + std::string(sql) +
                                       "\"; the admin console supports: " + kAdminCommandList);
  };
  if (verb == "SHOW") {
    if (w.size() != 2) {
      return unknown();
    }
    std::string subject = upper(w[1]);
    for (const char* known : kShowSubjects) {
      if (subject == known) {
        return AdminCommand{AdminVerb::show, subject};
      }
    }
    return unknown();
  }
  struct Named {
    const char* name;
    AdminVerb verb;
  };
  static const Named kDatabaseCommands[] = {{"PAUSE", AdminVerb::pause},
                                            {"RESUME", AdminVerb::resume},
                                            {"RECONNECT", AdminVerb::reconnect},
                                            {"KILL", AdminVerb::kill}};
  for (const auto& c : kDatabaseCommands) {
    if (verb == c.name) {
      if (w.size() > 2) {
        return unknown();
      }
      return AdminCommand{c.verb, w.size() == 2 ? w[1] : std::string()};
    }
  }
  if (verb == "KILL_CLIENT") {
    if (w.size() != 2 || w[1].empty() || w[1].size() > 19 ||
        !std::all_of(w[1].begin(), w[1].end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; })) {
      return fail(AdminErrc::syntax,
                  std::string("KILL_CLIENT takes the id of a client (the id column of SHOW "
                              "CLIENTS), e.g. KILL_CLIENT 42"));
    }
    return AdminCommand{AdminVerb::kill_client, w[1]};
  }
  if (verb == "RELOAD" && w.size() == 1) {
    return AdminCommand{AdminVerb::reload, ""};
  }
  return unknown();
}

void encodeResultSet(std::string& out, const ResultSet& result) {
  if (!result.columns.empty()) {
    pgwire::RowDescription desc;
    for (const auto& c : result.columns) {
      pgwire::FieldDescription f;
      f.name = c.name;
      f.type = c.numeric ? kInt8 : kText;
      f.type_size = c.numeric ? 8 : -1;
      f.type_modifier = -1;
      desc.fields.push_back(f);
    }
    pgwire::encode(out, desc);
    for (const auto& row : result.rows) {
      pgwire::DataRow data;
      for (const auto& v : row) {
        data.columns.push_back(v ? pgwire::NullableBytes(std::string_view(*v)) : std::nullopt);
      }
      pgwire::encode(out, data);
    }
  }
  pgwire::encode(out, pgwire::CommandComplete{result.tag});
}

}  // namespace keel::proxy
