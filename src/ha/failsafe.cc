// failsafe_mode (Patroni's semantics): a primary that cannot reach the DCS keeps its role while
// every member it last listed in the failsafe key confirms it over the REST API. The timing
// argument is in LeaseKeeper (lease_keeper.h) and docs/ARCHITECTURE.md.

#include <spdlog/spdlog.h>

#include "ha/failsafe_rules.h"
#include "ha/ha_loop.h"

namespace keel::ha {

namespace asio = boost::asio;
using nlohmann::json;

namespace {
// How long a member whose record vanished stays in the failsafe key (see manageFailsafeKey).
constexpr auto kFailsafeKeepVanished = std::chrono::seconds(30);
}  // namespace

asio::awaitable<void> HaLoop::manageFailsafeKey(const ClusterView& view) {
  const bool on = failsafeModeEnabled(view, config_->ha.failsafe_mode);
  const std::string fkey = key(keys::kFailsafe);
  const std::string leader_key = key(keys::kLeader);
  auto ls = lease_.state();
  dcs::Txn t;
  // Only while this member still holds the lock: a leader that lost it must not rewrite the
  // list the next leader keeps.
  t.compare.push_back(dcs::Compare::valueIs(leader_key, config_->name));
  t.compare.push_back(dcs::Compare::leaseIs(leader_key, ls.lease));
  if (on) {
    // Members join the list at once. A member whose record vanished stays listed for a while:
    // after the DCS itself was out of reach every record expired, and a list rewritten from
    // the few republished so far would leave out members that are still there.
    auto wanted = failsafeMembers(view);
    wanted[config_->name] = "http://" + config_->restapi.connect_address.str();
    auto now = clock_.now();
    if (view.failsafe) {
      for (const auto& [name, url] : *view.failsafe) {
        if (wanted.count(name)) {
          failsafe_absent_since_.erase(name);
          continue;
        }
        auto [it, fresh] = failsafe_absent_since_.emplace(name, now);
        if (now - it->second < kFailsafeKeepVanished)
          wanted[name] = url;
      }
    }
    std::erase_if(failsafe_absent_since_, [&](const auto& entry) {
      return !view.failsafe || !view.failsafe->count(entry.first);
    });
    if (view.failsafe && *view.failsafe == wanted) {
      // The key holds exactly what this leader last wrote. (A write that timed out and is
      // applied only after this read would escape this: a narrow window, left as is.)
      failsafe_pending_.clear();
      co_return;
    }
    json doc = json::object();
    for (const auto& [name, url] : wanted)
      doc[name] = url;
    // Until a read shows what the key holds, the DCS may hold this list or the last one read:
    // the confirmations ask the members of both (confirmFailsafe).
    for (const auto& [name, url] : wanted)
      failsafe_pending_[name] = url;
    t.success.push_back(dcs::Operation::put(fkey, doc.dump()));
    auto r = co_await dcs_.txn(t);
    if (!r) {
      spdlog::warn("cannot write the failsafe key: {}", r.message());
    } else if (r->succeeded) {
      spdlog::info("failsafe key lists {} member(s): {}", wanted.size(), doc.dump());
    }
    co_return;
  }
  failsafe_pending_.clear();
  if (!view.failsafe && view.failsafe_mod_revision == 0)
    co_return;
  t.success.push_back(dcs::Operation::del(fkey));
  auto r = co_await dcs_.txn(t);
  if (!r) {
    spdlog::warn("cannot delete the failsafe key (failsafe_mode is off): {}", r.message());
  } else if (r->succeeded) {
    spdlog::info("failsafe_mode is off: failsafe key deleted");
  }
}

asio::awaitable<bool> HaLoop::confirmFailsafe() {
  std::optional<ClusterView> view = lastView();
  std::string outcome;
  bool confirmed = false;
  if (!view || !failsafeModeEnabled(*view, config_->ha.failsafe_mode)) {
    co_return false;
  }
  std::map<std::string, std::string> listed;
  if (view->failsafe)
    listed = *view->failsafe;
  for (const auto& [name, url] : failsafe_pending_)
    listed.emplace(name, url);
  if (!listed.count(config_->name)) {
    outcome =
        "failsafe_mode is on but the failsafe key was not written with this member in it before "
        "the DCS went out of reach: nobody can vouch for this primary";
  } else {
    std::map<std::string, std::string> others = std::move(listed);
    others.erase(config_->name);
    // The prober adds "member" (whom each request is for); ttl_ms lets a member with a shorter
    // ttl of its own promise long enough for this primary's deadline.
    json body{
        {"name", config_->name},
        {"scope", config_->scope},
        {"ttl_ms", config_->ha.ttl.count()},
        {"api_url", "http://" + config_->restapi.connect_address.str()},
        {"conn_url", "postgres://" + config_->postgresql.connect_address.str() + "/postgres"}};
    // Within one round of LeaseKeeper::runFailsafe (ttl/8), so a member that does not answer
    // costs no more than a round.
    auto timeout = std::clamp(config_->ha.ttl / 8, std::chrono::milliseconds(100),
                              std::chrono::milliseconds(1000));
    std::size_t asked = others.size();
    auto failures = co_await prober_.confirmFailsafe(std::move(others), body, timeout);
    if (failures.empty()) {
      confirmed = true;
      outcome = "the DCS is out of reach; all " + std::to_string(asked) +
                " other member(s) of the failsafe key confirmed this primary (failsafe_mode): "
                "it keeps accepting writes";
    } else {
      outcome =
          "the DCS is out of reach and not every member of the failsafe key confirmed this "
          "primary (failsafe_mode):";
      for (const auto& [name, why] : failures)
        outcome += " " + name + ": " + why + ";";
      outcome += " it stops accepting writes when its lease and the last confirmations run out";
    }
  }
  if (outcome != last_failsafe_outcome_) {
    if (confirmed) {
      spdlog::warn("{}", outcome);
    } else {
      spdlog::error("{}", outcome);
    }
    last_failsafe_outcome_ = outcome;
  }
  co_return confirmed;
}

api::OpResult HaLoop::acceptFailsafe(const json& body) {
  using Status = api::OpResult::Status;
  std::optional<ClusterView> view = lastView();
  std::lock_guard lock(mu_);
  FailsafeRequestInput in{
      .body = body,
      .self = config_->name,
      .scope = config_->scope,
      .ttl = config_->ha.ttl,
      .view = view,
      .failsafe_mode = view && failsafeModeEnabled(*view, config_->ha.failsafe_mode),
      .running_as_primary = last_obs_.status && !last_obs_.status->in_recovery,
      .claiming = claiming_};
  FailsafeAnswer a = answerFailsafe(in);
  switch (a.kind) {
    case FailsafeAnswer::Kind::bad_request:
      return {Status::bad_request, a.message};
    case FailsafeAnswer::Kind::disabled:
      return {Status::unavailable, a.message};
    case FailsafeAnswer::Kind::conflict:
      return {Status::conflict, a.message};
    case FailsafeAnswer::Kind::accept:
      break;
  }
  auto now = clock_.now();
  auto until = now + a.promise;
  if (!failsafe_holdoff_ || failsafe_holdoff_->leader != a.leader ||
      now >= failsafe_holdoff_->until) {
    spdlog::warn(
        "failsafe: {} asked to be confirmed as primary (its DCS is out of reach); not taking "
        "the leader lock for {} ms",
        a.leader, a.promise.count());
  }
  // A promise made earlier (to whichever primary) is kept to its end.
  if (failsafe_holdoff_ && failsafe_holdoff_->until > until)
    until = failsafe_holdoff_->until;
  failsafe_holdoff_ = LocalState::FailsafeHoldoff{a.leader, until};
  return {Status::ok, a.message};
}

}  // namespace keel::ha
