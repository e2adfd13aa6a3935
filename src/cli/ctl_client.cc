#include "cli/ctl_client.h"

#include <algorithm>
#include <sstream>

namespace keel::cli {

std::optional<nlohmann::json> CtlResponse::json() const {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded())
    return std::nullopt;
  return j;
}

std::optional<CtlResponse> callUrl(const CtlTarget& target, const std::string& method,
                                   const std::string& url, const nlohmann::json& body,
                                   std::string* error) {
  // Operations such as a switchover wait for the cluster to carry them out.
  api::HttpClient client(target.credentials, std::chrono::seconds(60));
  auto r = client.requestSync(method, url, body);
  if (!r) {
    if (error)
      *error = r.message();
    return std::nullopt;
  }
  return CtlResponse{r->status, r->body, url};
}

std::optional<CtlResponse> callApi(const CtlTarget& target, const std::string& method,
                                   const std::string& path, const nlohmann::json& body,
                                   std::string* error) {
  std::string last;
  for (const auto& base : target.api_urls) {
    std::string url = base;
    while (!url.empty() && url.back() == '/')
      url.pop_back();
    auto r = callUrl(target, method, url + path, body, &last);
    if (r)
      return r;
  }
  if (error) {
    *error = target.api_urls.size() > 1 ? "no member API answered; last error: " + last : last;
  }
  return std::nullopt;
}

namespace {

std::string cell(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null())
    return "";
  if (it->is_string())
    return it->get<std::string>();
  return it->dump();
}

}  // namespace

std::string renderMemberTable(const nlohmann::json& cluster, const std::string& scope) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"Member", "Host", "Role", "State", "TL", "Lag (bytes)"});
  std::string leader;
  if (auto m = cluster.find("members"); m != cluster.end() && m->is_array()) {
    for (const auto& member : *m) {
      std::string role = cell(member, "role");
      if (role == "leader")
        leader = cell(member, "name");
      std::string lag = role == "leader" ? "" : cell(member, "lag");
      std::string tags;
      rows.push_back({cell(member, "name"), cell(member, "host") + ":" + cell(member, "port"),
                      role == "leader"           ? "Leader"
                      : role == "replica"        ? "Replica"
                      : role == "sync_standby"   ? "Sync Standby"
                      : role == "quorum_standby" ? "Quorum Standby"
                                                 : role,
                      cell(member, "state"), cell(member, "timeline"), lag});
    }
  }
  std::vector<std::size_t> width(rows[0].size(), 0);
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size(); ++i)
      width[i] = std::max(width[i], r[i].size());
  }
  std::ostringstream out;
  std::string sep = "+";
  for (auto w : width)
    sep += std::string(w + 2, '-') + "+";
  out << "Cluster: " << scope;
  if (!leader.empty())
    out << " (leader: " << leader << ")";
  if (cluster.value("pause", false))
    out << " [maintenance mode: paused]";
  out << "\n" << sep << "\n";
  for (std::size_t r = 0; r < rows.size(); ++r) {
    out << "|";
    for (std::size_t i = 0; i < rows[r].size(); ++i) {
      out << " " << rows[r][i] << std::string(width[i] - rows[r][i].size(), ' ') << " |";
    }
    out << "\n";
    if (r == 0)
      out << sep << "\n";
  }
  out << sep << "\n";
  if (auto s = cluster.find("scheduled_switchover"); s != cluster.end() && !s->is_null()) {
    out << "Pending switchover: " << s->dump() << "\n";
  }
  return out.str();
}

}  // namespace keel::cli
