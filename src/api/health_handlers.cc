#include <algorithm>
#include <cctype>
#include <limits>
#include <map>
#include <variant>

#include "api/handlers.h"

namespace keel::api::detail {

namespace {

const std::map<std::string_view, HealthCheck>& healthPaths() {
  static const std::map<std::string_view, HealthCheck> paths = {
      {"/", HealthCheck::primary},
      {"/primary", HealthCheck::primary},
      {"/master", HealthCheck::primary},
      {"/read-write", HealthCheck::primary},
      {"/leader", HealthCheck::leader},
      {"/standby-leader", HealthCheck::standby_leader},
      {"/standby_leader", HealthCheck::standby_leader},
      {"/replica", HealthCheck::replica},
      {"/read-only", HealthCheck::read_only},
      {"/health", HealthCheck::health},
      {"/liveness", HealthCheck::liveness},
      {"/readiness", HealthCheck::readiness},
      {"/sync", HealthCheck::sync},
      {"/synchronous", HealthCheck::sync},
      {"/read-only-sync", HealthCheck::read_only_sync},
      {"/quorum", HealthCheck::quorum},
      {"/read-only-quorum", HealthCheck::read_only_quorum},
      {"/async", HealthCheck::async},
      {"/asynchronous", HealthCheck::async},
  };
  return paths;
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Filters a health check takes from its query string. Every parameter Keel does not know is a
// tag filter, as in Patroni's `?tag_key=value`.
struct Filters {
  std::optional<std::uint64_t> max_lag;
  std::optional<std::string> replication_state;
  std::map<std::string, std::string> tags;
};

// Parses the query or explains the bad parameter.
std::variant<Filters, std::string> parseFilters(const HttpRequest& request, HealthCheck check) {
  Filters f;
  for (const auto& [key, value] : request.query) {
    if (key == "lag") {
      f.max_lag = parseByteSize(value);
      if (!f.max_lag) {
        return "query parameter lag=\"" + value +
               "\" is not a size; give bytes (1048576) or a size with a unit (16kB, 1MB, 1GB)";
      }
    } else if (key == "replication_state") {
      f.replication_state = value;
    } else if (key == "mode" && check == HealthCheck::readiness) {
      // Keel tracks one replica position, so "apply" and "write" are checked the same way.
      if (value != "apply" && value != "write") {
        return "query parameter mode=\"" + value + "\" is not supported; use apply or write";
      }
    } else {
      f.tags[key] = value;
    }
  }
  return f;
}

std::string tagText(const nlohmann::json& tag) {
  return lower(tag.is_string() ? tag.get<std::string>() : tag.dump());
}

// A filter `tag_zone=a` matches a tag named "zone" (Patroni's form) or one literally named
// "tag_zone"; any other name must match a tag of that name. A missing tag never matches.
bool tagMatches(const nlohmann::json& tags, const std::string& key, const std::string& value) {
  if (!tags.is_object()) {
    return false;
  }
  auto it = tags.find(key);
  if (it == tags.end() && key.rfind("tag_", 0) == 0) {
    it = tags.find(key.substr(4));
  }
  return it != tags.end() && tagText(*it) == lower(value);
}

bool tagsMatch(const NodeSnapshot& s, const Filters& f) {
  return std::all_of(f.tags.begin(), f.tags.end(),
                     [&](const auto& kv) { return tagMatches(s.self.tags, kv.first, kv.second); });
}

bool lagWithin(const NodeSnapshot& s, const Filters& f) {
  if (!f.max_lag) {
    return true;
  }
  return s.self.lag_bytes.has_value() && *s.self.lag_bytes <= *f.max_lag;
}

bool replicationStateMatches(const NodeSnapshot& s, const Filters& f) {
  return !f.replication_state || s.self.replication_state == *f.replication_state;
}

bool runningReplica(const NodeSnapshot& s) {
  return s.postgres_running && s.in_recovery && !s.is_leader;
}

bool replicaServes(const NodeSnapshot& s, const Filters& f) {
  return runningReplica(s) && !s.noloadbalance && lagWithin(s, f) &&
         replicationStateMatches(s, f) && tagsMatch(s, f);
}

bool evaluate(HealthCheck check, const NodeSnapshot& s, const Filters& f, double now) {
  switch (check) {
    case HealthCheck::primary:
      return s.writable && s.is_leader;
    case HealthCheck::leader:
      return s.is_leader;
    case HealthCheck::standby_leader:
      return s.is_leader && s.postgres_running && s.in_recovery;
    case HealthCheck::replica:
      return replicaServes(s, f);
    case HealthCheck::async:
      return replicaServes(s, f) && !s.sync_standby && !s.quorum_standby;
    case HealthCheck::read_only:
      return (s.is_leader && s.postgres_running && tagsMatch(s, f)) || replicaServes(s, f);
    case HealthCheck::health:
      return s.postgres_running;
    case HealthCheck::liveness: {
      // An agent that has not set a deadline gets Patroni's default ttl.
      double deadline = s.loop_deadline_seconds > 0 ? s.loop_deadline_seconds : 30.0;
      return s.last_loop_epoch > 0 && now - s.last_loop_epoch <= deadline;
    }
    case HealthCheck::readiness:
      if (s.is_leader) {
        return s.writable;
      }
      return runningReplica(s) && s.self.replication_state == "streaming" && lagWithin(s, f);
    case HealthCheck::sync:
      return replicaServes(s, f) && s.sync_standby;
    case HealthCheck::quorum:
      return replicaServes(s, f) && s.quorum_standby;
    case HealthCheck::read_only_sync:
      return (s.writable && tagsMatch(s, f)) || (replicaServes(s, f) && s.sync_standby);
    case HealthCheck::read_only_quorum:
      return (s.writable && tagsMatch(s, f)) || (replicaServes(s, f) && s.quorum_standby);
  }
  return false;
}

}  // namespace

std::optional<HealthCheck> healthCheckFor(std::string_view path) {
  const auto& paths = healthPaths();
  auto it = paths.find(path);
  if (it == paths.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::optional<std::uint64_t> parseByteSize(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) {
    ++digits;
  }
  if (digits == 0 || digits > 19) {
    return std::nullopt;
  }
  std::uint64_t number = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    number = number * 10 + static_cast<std::uint64_t>(text[i] - '0');
  }
  std::string unit = lower(text.substr(digits));
  static const std::map<std::string, std::uint64_t> kUnits = {
      {"", 1},
      {"b", 1},
      {"kb", 1ull << 10},
      {"mb", 1ull << 20},
      {"gb", 1ull << 30},
      {"tb", 1ull << 40},
  };
  auto it = kUnits.find(unit);
  if (it == kUnits.end()) {
    return std::nullopt;
  }
  if (number > std::numeric_limits<std::uint64_t>::max() / it->second) {
    return std::nullopt;
  }
  return number * it->second;
}

HttpResponse handleHealth(HealthCheck check, const HttpRequest& request,
                          const NodeSnapshot& snapshot, double now) {
  auto filters = parseFilters(request, check);
  if (auto* problem = std::get_if<std::string>(&filters)) {
    return textResponse(400, *problem);
  }
  bool healthy = evaluate(check, snapshot, std::get<Filters>(filters), now);
  HttpResponse response;
  response.status = healthy ? 200 : 503;
  response.content_type = "application/json";
  if (request.method == "GET") {
    response.body = patroniStatus(snapshot).dump();
  }
  return response;
}

}  // namespace keel::api::detail
