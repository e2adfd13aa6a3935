#include "pg/control_data.h"

#include <charconv>
#include <map>
#include <string>

namespace keel::pg {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

template <typename Int>
bool parseInt(std::string_view s, Int& out) {
  s = trim(s);
  if (s.empty()) {
    return false;
  }
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

Failure<PgErrc> malformed(const std::string& what) {
  return fail(PgErrc::command_failed,
              "pg_controldata output is not as expected (" + what +
                  "); check that pg_controldata belongs to PostgreSQL 15 and that the data "
                  "directory is intact");
}

}  // namespace

PgResult<ControlData> parseControlData(std::string_view text) {
  std::map<std::string, std::string, std::less<>> fields;
  while (!text.empty()) {
    auto eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    // Keys never contain ':' but values may ("pg_control last modified: ... 03:33:59 PM").
    auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      continue;
    }
    fields.emplace(std::string(trim(line.substr(0, colon))),
                   std::string(trim(line.substr(colon + 1))));
  }
  auto get = [&](std::string_view key) -> const std::string* {
    auto it = fields.find(key);
    return it == fields.end() ? nullptr : &it->second;
  };
  auto lsn = [&](std::string_view key, WalPosition& out) -> bool {
    const std::string* v = get(key);
    if (!v) {
      return false;
    }
    auto p = WalPosition::parse(*v);
    if (!p) {
      return false;
    }
    out = *p;
    return true;
  };

  ControlData cd;
  const std::string* sysid = get("Database system identifier");
  if (!sysid || !parseInt(*sysid, cd.system_identifier)) {
    return malformed("no valid 'Database system identifier'");
  }
  const std::string* state = get("Database cluster state");
  if (!state || state->empty()) {
    return malformed("no 'Database cluster state'");
  }
  cd.cluster_state = *state;
  if (!lsn("Latest checkpoint location", cd.checkpoint_location)) {
    return malformed("no valid 'Latest checkpoint location'");
  }
  if (!lsn("Latest checkpoint's REDO location", cd.redo_location)) {
    return malformed("no valid 'Latest checkpoint's REDO location'");
  }
  const std::string* tli = get("Latest checkpoint's TimeLineID");
  if (!tli || !parseInt(*tli, cd.timeline)) {
    return malformed("no valid 'Latest checkpoint's TimeLineID'");
  }
  // Optional: absent in some outputs, and 0/0 with timeline 0 on a primary.
  lsn("Minimum recovery ending location", cd.min_recovery_end);
  if (const std::string* v = get("Min recovery ending loc's timeline")) {
    parseInt(*v, cd.min_recovery_end_timeline);
  }
  return cd;
}

PgResult<std::vector<std::pair<int, WalPosition>>> parseTimelineHistory(std::string_view text) {
  std::vector<std::pair<int, WalPosition>> out;
  int line_no = 0;
  while (!text.empty()) {
    auto eol = text.find('\n');
    std::string_view line = trim(text.substr(0, eol));
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    ++line_no;
    if (line.empty() || line.front() == '#') {
      continue;
    }
    auto tab1 = line.find_first_of("\t ");
    if (tab1 == std::string_view::npos) {
      return fail(PgErrc::query_failed, "timeline history line " + std::to_string(line_no) +
                                            " has no switch point: '" + std::string(line) +
                                            "'; the history file is damaged");
    }
    std::string_view tli_text = line.substr(0, tab1);
    std::string_view rest = trim(line.substr(tab1 + 1));
    std::string_view lsn_text = rest.substr(0, rest.find_first_of("\t "));
    int tli = 0;
    auto lsn = WalPosition::parse(lsn_text);
    if (!parseInt(tli_text, tli) || tli <= 0 || !lsn) {
      return fail(PgErrc::query_failed, "timeline history line " + std::to_string(line_no) +
                                            " is not 'timeline<TAB>LSN<TAB>reason': '" +
                                            std::string(line) + "'; the history file is damaged");
    }
    out.emplace_back(tli, *lsn);
  }
  return out;
}

}  // namespace keel::pg
