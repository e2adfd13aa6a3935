#include "ha/agent_backend.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <cstdio>
#include <ctime>

#include "common/async.h"
#include "ha/sync_replication.h"

namespace keel::ha {

namespace asio = boost::asio;
using api::OpResult;
using nlohmann::json;
using Status = api::OpResult::Status;

namespace {

OpResult result(Status s, std::string message) {
  OpResult r;
  r.status = s;
  r.message = std::move(message);
  return r;
}

std::string describeIneligible(const std::map<std::string, std::string>& inelig,
                               const std::string& skip) {
  std::string out;
  for (const auto& [name, why] : inelig) {
    if (name == skip)
      continue;
    out += (out.empty() ? "" : "; ") + name + ": " + why;
  }
  return out;
}

}  // namespace

std::optional<double> parseIsoTime(const std::string& text) {
  int y, mo, d, h, mi;
  double s;
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%lf%n", &y, &mo, &d, &h, &mi, &s, &consumed) !=
      6) {
    return std::nullopt;
  }
  std::string zone = text.substr(static_cast<std::size_t>(consumed));
  double offset = 0;
  if (zone == "Z" || zone == "z" || zone.empty()) {
    offset = 0;
  } else {
    int oh, om;
    char sign;
    if (std::sscanf(zone.c_str(), "%c%2d:%2d", &sign, &oh, &om) != 3 ||
        (sign != '+' && sign != '-')) {
      return std::nullopt;
    }
    offset = (sign == '+' ? 1 : -1) * (oh * 3600.0 + om * 60.0);
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s < 0 || s >= 61) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = 0;
  return static_cast<double>(timegm(&tm)) + s - offset;
}

std::vector<std::string> validateDynamicConfig(const json& config) {
  std::vector<std::string> problems;
  if (!config.is_object()) {
    return {"the configuration must be a JSON object"};
  }
  for (const auto& [k, v] : config.items()) {
    if (k == "pause") {
      if (!v.is_boolean())
        problems.push_back("pause: expected true or false");
    } else if (k == "maximum_lag_on_failover") {
      if (!v.is_number_unsigned()) {
        problems.push_back("maximum_lag_on_failover: expected a number of bytes >= 0");
      }
    } else if (k == "synchronous_mode") {
      bool ok = v.is_boolean() || (v.is_string() && (v == "off" || v == "on" || v == "quorum"));
      if (!ok)
        problems.push_back("synchronous_mode: expected off, on or quorum (or true/false)");
    } else if (k == "failsafe_mode") {
      if (!v.is_boolean())
        problems.push_back("failsafe_mode: expected true or false");
    } else if (k == "synchronous_mode_strict") {
      if (!v.is_boolean())
        problems.push_back("synchronous_mode_strict: expected true or false");
    } else if (k == "synchronous_node_count") {
      if (!v.is_number_integer() || v.get<long long>() < 1 || v.get<long long>() > 1000)
        problems.push_back("synchronous_node_count: expected a whole number from 1 to 1000");
    } else if (k == "postgresql") {
      if (!v.is_object()) {
        problems.push_back("postgresql: expected an object with \"parameters\"");
        continue;
      }
      for (const auto& [pk, pv] : v.items()) {
        if (pk != "parameters") {
          problems.push_back("postgresql." + pk + ": unknown key; expected \"parameters\"");
        } else if (!pv.is_object()) {
          problems.push_back("postgresql.parameters: expected an object of name: value");
        } else {
          for (const auto& [name, val] : pv.items()) {
            if (!(val.is_string() || val.is_number() || val.is_boolean())) {
              problems.push_back("postgresql.parameters." + name +
                                 ": expected a string, number or boolean");
            }
            std::string lower = name;
            for (auto& ch : lower)
              ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            if (lower == "synchronous_standby_names") {
              problems.push_back("postgresql.parameters." + name +
                                 ": set by Keel from synchronous_mode and "
                                 "synchronous_node_count; set those instead");
            }
            for (std::string_view m : kManagedParameters) {
              if (lower == m) {
                problems.push_back("postgresql.parameters." + name +
                                   ": managed by Keel; set it in each member's config file");
              }
            }
          }
        }
      }
    } else {
      problems.push_back(k +
                         ": unknown key; expected pause, maximum_lag_on_failover, "
                         "synchronous_mode, synchronous_mode_strict, synchronous_node_count, "
                         "failsafe_mode or postgresql");
    }
  }
  return problems;
}

api::NodeSnapshot AgentBackend::snapshot() const {
  return loop_.snapshot();
}

asio::awaitable<OpResult> AgentBackend::failsafe(json body) {
  co_return loop_.acceptFailsafe(body);
}

asio::awaitable<OpResult> AgentBackend::requestLeaderChange(FailoverRequest request,
                                                            std::string verb) {
  auto& dcs = loop_.dcs();
  const std::string fkey = loop_.key(keys::kFailover);
  dcs::Txn t;
  t.compare.push_back(dcs::Compare::absent(fkey));
  t.success.push_back(dcs::Operation::put(fkey, request.toJson().dump()));
  auto r = co_await dcs.txn(t);
  if (!r)
    co_return result(Status::unavailable, "cannot reach the DCS: " + r.message());
  if (!r->succeeded) {
    co_return result(Status::conflict,
                     "a switchover or failover is already pending; cancel it "
                     "with DELETE /switchover (keel ctl switchover --cancel)");
  }
  if (request.scheduled_at > 0) {
    co_return result(Status::accepted,
                     "Switchover scheduled at " + isoTimestamp(request.scheduled_at));
  }
  // Wait for the members to carry it out, as Patroni's API does.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(45);
  const std::string old_leader = request.leader;
  while (std::chrono::steady_clock::now() < deadline) {
    co_await sleepFor(std::chrono::milliseconds(200));
    auto cur = co_await dcs.get(loop_.config().dcs_prefix(), true);
    if (!cur)
      continue;
    std::optional<std::string> leader;
    bool pending = false;
    for (const auto& kv : cur->kvs) {
      if (kv.key == loop_.key(keys::kLeader))
        leader = kv.value;
      if (kv.key == fkey)
        pending = true;
    }
    if (leader &&
        (request.candidate.empty() ? *leader != old_leader : *leader == request.candidate) &&
        !pending) {
      co_return result(Status::ok, "Successfully " + verb + " to " + *leader);
    }
    if (!pending && leader && *leader == old_leader) {
      co_return result(Status::unavailable,
                       verb + " did not happen: the leader " + old_leader +
                           " cancelled it (see its log for why); the leader is unchanged");
    }
  }
  co_return result(Status::unavailable,
                   verb + " not finished after 45 s; check keel ctl list and the members' logs");
}

asio::awaitable<OpResult> AgentBackend::switchover(api::SwitchoverRequest request) {
  auto view = loop_.lastView();
  if (!view)
    co_return result(Status::unavailable, "this member has not read the DCS yet");
  if (!view->leader) {
    co_return result(Status::unavailable, "the cluster has no leader; use failover instead");
  }
  const std::string leader = view->leader->name;
  if (request.leader && !request.leader->empty() && *request.leader != leader) {
    co_return result(Status::precondition,
                     "leader name does not match: the current leader is " + leader);
  }
  const MemberRecord* lm = view->member(leader);
  std::uint64_t max_lag = loop_.config().ha.maximum_lag_on_failover;
  auto inelig = ineligibleMembers(*view, lm ? lm->wal_position : WalPosition{}, max_lag);
  std::string candidate = request.candidate.value_or("");
  if (!candidate.empty()) {
    if (candidate == leader) {
      co_return result(Status::precondition, "candidate " + candidate + " is already the leader");
    }
    if (!view->member(candidate)) {
      co_return result(Status::precondition, "candidate " + candidate + " is not a member");
    }
    if (auto it = inelig.find(candidate); it != inelig.end()) {
      co_return result(Status::precondition,
                       "candidate " + candidate + " is not eligible: " + it->second);
    }
  } else if (!pickSwitchoverCandidate(*view, leader, max_lag)) {
    co_return result(Status::precondition, "no member is eligible for a switchover: " +
                                               describeIneligible(inelig, leader));
  }
  FailoverRequest f;
  f.leader = leader;
  f.candidate = candidate;
  f.requested_at = wallClockSeconds();
  f.reason = "switchover requested through the API";
  if (request.scheduled_at && !request.scheduled_at->empty()) {
    auto at = parseIsoTime(*request.scheduled_at);
    if (!at) {
      co_return result(
          Status::bad_request,
          "scheduled_at: expected an ISO-8601 time such as 2026-11-23T18:00:00Z, got \"" +
              *request.scheduled_at + "\"");
    }
    if (*at < f.requested_at) {
      co_return result(Status::bad_request,
                       "scheduled_at: cannot schedule a switchover in the past");
    }
    f.scheduled_at = *at;
  }
  std::string verb = "switched over";
  co_return co_await requestLeaderChange(f, verb);
}

asio::awaitable<OpResult> AgentBackend::cancelSwitchover() {
  auto& dcs = loop_.dcs();
  auto cur = co_await dcs.get(loop_.key(keys::kFailover));
  if (!cur)
    co_return result(Status::unavailable, "cannot reach the DCS: " + cur.message());
  if (cur->kvs.empty())
    co_return result(Status::precondition, "no switchover is scheduled");
  dcs::Txn t;
  t.compare.push_back(
      dcs::Compare::modRevisionIs(loop_.key(keys::kFailover), cur->kvs.front().mod_revision));
  t.success.push_back(dcs::Operation::del(loop_.key(keys::kFailover)));
  auto r = co_await dcs.txn(t);
  if (!r)
    co_return result(Status::unavailable, "cannot reach the DCS: " + r.message());
  if (!r->succeeded) {
    co_return result(Status::conflict, "the switchover changed meanwhile; check keel ctl list");
  }
  co_return result(Status::ok, "scheduled switchover deleted");
}

asio::awaitable<OpResult> AgentBackend::failover(std::string candidate) {
  auto view = loop_.lastView();
  if (!view)
    co_return result(Status::unavailable, "this member has not read the DCS yet");
  const MemberRecord* cm = view->member(candidate);
  if (!cm)
    co_return result(Status::precondition, "candidate " + candidate + " is not a member");
  if (view->leader && view->leader->name == candidate) {
    co_return result(Status::precondition, "candidate " + candidate + " is already the leader");
  }
  if (cm->role != "replica" || (cm->state != "streaming" && cm->state != "running")) {
    co_return result(
        Status::precondition,
        "candidate " + candidate + " is not a running replica (state " + cm->state + ")");
  }
  // Without a leader the candidate takes the lock itself, so under synchronous replication it
  // must be one the sync key vouches for (with a leader, the request runs as a switchover).
  if (!view->leader && syncRestricts(*view)) {
    bool vouched = view->sync && (view->sync->leader == candidate ||
                                  (view->sync->quorum > 0 && view->sync->isVoter(candidate)));
    if (!vouched) {
      co_return result(Status::precondition,
                       "candidate " + candidate +
                           " is not a synchronous standby: under synchronous replication only " +
                           (view->sync ? view->sync->leader : std::string("the former leader")) +
                           " or the members its sync key names may be promoted without losing "
                           "acknowledged commits");
    }
  }
  FailoverRequest f;
  f.candidate = candidate;
  f.requested_at = wallClockSeconds();
  f.reason = "manual failover requested through the API";
  if (view->leader)
    f.leader = "";
  std::string verb = "failed over";
  co_return co_await requestLeaderChange(f, verb);
}

asio::awaitable<OpResult> AgentBackend::restart(api::RestartRequest request) {
  auto snap = loop_.snapshot();
  if (request.role) {
    std::string role = *request.role == "master" ? "primary" : *request.role;
    if (role != "primary" && role != "replica") {
      co_return result(Status::bad_request, "role: expected \"primary\" or \"replica\"");
    }
    bool is_primary = snap.is_leader;
    if ((role == "primary") != is_primary) {
      co_return result(Status::precondition, "restart skipped: this member is not a " + role);
    }
  }
  if (request.restart_pending && !snap.self.pending_restart) {
    co_return result(Status::precondition, "restart skipped: no parameter needs a restart");
  }
  bool leader = snap.is_leader;
  std::optional<pg::PgEndpoint> upstream;
  if (!leader)
    upstream = loop_.endpointOf(loop_.currentUpstream());
  auto& pg = loop_.postgres();
  std::string slot = pg::slotNameFor(loop_.config().name);
  auto restart_postgres = [&pg, leader, upstream, slot]() -> pg::PgResult<void> {
    if (auto s = pg.stop(pg::Postgres::StopMode::fast); !s)
      return s;
    if (leader)
      return pg.startPrimary();
    return pg.startStandby(upstream.value_or(pg::PgEndpoint{}), slot);
  };
  auto r = co_await loop_.worker().run(restart_postgres);
  if (!r)
    co_return result(Status::unavailable, "restart failed: " + r.message());
  co_return result(Status::ok, "restarted successfully");
}

asio::awaitable<OpResult> AgentBackend::reload() {
  auto& pg = loop_.postgres();
  auto reload_postgres = [&pg] { return pg.reload(); };
  auto r = co_await loop_.worker().run(reload_postgres);
  if (!r)
    co_return result(Status::unavailable, "reload failed: " + r.message());
  co_return result(Status::ok, "reload scheduled");
}

asio::awaitable<OpResult> AgentBackend::reinitialize(bool force) {
  auto view = loop_.lastView();
  if (!view)
    co_return result(Status::unavailable, "this member has not read the DCS yet");
  const std::string me = loop_.config().name;
  if (view->leader && view->leader->name == me) {
    co_return result(Status::precondition,
                     "this member holds the leader lock; its data is never wiped. Switch over "
                     "first (keel ctl switchover), then reinitialize it");
  }
  if (!view->leader) {
    co_return result(Status::unavailable, "the cluster has no leader to clone from");
  }
  if (!view->history.empty() && view->history.back().new_leader == me) {
    co_return result(Status::precondition,
                     "this member was the last leader; its data is never wiped");
  }
  auto snap = loop_.snapshot();
  if (snap.self.state == "streaming" && !force) {
    co_return result(Status::precondition,
                     "this replica is streaming normally; pass force to reinitialize anyway");
  }
  auto& pg = loop_.postgres();
  auto wipe_data = [&pg]() -> pg::PgResult<void> {
    if (pg.running()) {
      if (auto s = pg.stop(pg::Postgres::StopMode::immediate); !s)
        return s;
    }
    return pg.removeDataDirectory();
  };
  auto r = co_await loop_.worker().run(wipe_data);
  if (!r)
    co_return result(Status::unavailable, "reinitialize failed: " + r.message());
  co_return result(Status::ok,
                   "reinitialize started: data removed, cloning from " + view->leader->name);
}

asio::awaitable<OpResult> AgentBackend::storeConfig(json config) {
  auto problems = validateDynamicConfig(config);
  if (!problems.empty()) {
    std::string msg;
    for (const auto& p : problems)
      msg += (msg.empty() ? "" : "\n") + p;
    co_return result(Status::bad_request, msg);
  }
  auto& dcs = loop_.dcs();
  auto r = co_await dcs.put(loop_.key(keys::kConfig), config.dump());
  if (!r)
    co_return result(Status::unavailable, "cannot reach the DCS: " + r.message());
  OpResult ok = result(Status::ok, "configuration updated");
  ok.body = config;
  co_return ok;
}

asio::awaitable<OpResult> AgentBackend::patchConfig(json patch) {
  if (!patch.is_object()) {
    co_return result(Status::bad_request, "expected a JSON object to merge into the config");
  }
  auto& dcs = loop_.dcs();
  // Read-merge-write guarded by the key's revision, retried if someone else wrote meanwhile.
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto cur = co_await dcs.get(loop_.key(keys::kConfig));
    if (!cur)
      co_return result(Status::unavailable, "cannot reach the DCS: " + cur.message());
    json config = json::object();
    std::int64_t rev = 0;
    if (!cur->kvs.empty()) {
      rev = cur->kvs.front().mod_revision;
      auto j = json::parse(cur->kvs.front().value, nullptr, false);
      if (j.is_object())
        config = j;
    }
    config.merge_patch(patch);
    auto problems = validateDynamicConfig(config);
    if (!problems.empty()) {
      std::string msg;
      for (const auto& p : problems)
        msg += (msg.empty() ? "" : "\n") + p;
      co_return result(Status::bad_request, msg);
    }
    dcs::Txn t;
    t.compare.push_back(rev == 0 ? dcs::Compare::absent(loop_.key(keys::kConfig))
                                 : dcs::Compare::modRevisionIs(loop_.key(keys::kConfig), rev));
    t.success.push_back(dcs::Operation::put(loop_.key(keys::kConfig), config.dump()));
    auto r = co_await dcs.txn(t);
    if (!r)
      co_return result(Status::unavailable, "cannot reach the DCS: " + r.message());
    if (r->succeeded) {
      OpResult ok = result(Status::ok, "configuration updated");
      ok.body = config;
      co_return ok;
    }
  }
  co_return result(Status::conflict, "the configuration kept changing; try again");
}

asio::awaitable<OpResult> AgentBackend::replaceConfig(json config) {
  co_return co_await storeConfig(std::move(config));
}

asio::awaitable<OpResult> AgentBackend::setPaused(bool paused) {
  json patch = json::object();
  patch["pause"] = paused ? json(true) : json(nullptr);
  auto r = co_await patchConfig(std::move(patch));
  if (r.status == Status::ok) {
    r.message = paused ? "cluster paused: members observe but do not act"
                       : "cluster resumed: automatic failover is active";
  }
  co_return r;
}

}  // namespace keel::ha
