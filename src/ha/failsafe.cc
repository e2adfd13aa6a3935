// failsafe_mode (Patroni's semantics): a primary that cannot reach the DCS keeps its role while
// every member it last listed in the failsafe key confirms it over the REST API. The timing
// argument is in LeaseKeeper (lease_keeper.h) and docs/ARCHITECTURE.md.

#include <spdlog/spdlog.h>

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
      failsafe_pending_.clear();  // the key holds exactly what this leader last wrote
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
  if (!body.is_object() || !body.contains("name") || !body["name"].is_string() ||
      body["name"].get<std::string>().empty()) {
    return {Status::bad_request,
            "failsafe: expected a JSON object with \"name\" (the primary's member name)"};
  }
  std::string leader = body["name"].get<std::string>();
  std::optional<ClusterView> view = lastView();
  if (!view || !failsafeModeEnabled(*view, config_->ha.failsafe_mode)) {
    return {Status::unavailable, "Failsafe mode is disabled on " + config_->name +
                                     " (failsafe_mode in the dynamic configuration)"};
  }
  if (leader == config_->name) {
    return {Status::conflict, "failsafe: " + leader + " is this member"};
  }
  // A request meant for another member, or another cluster (a reused address): not ours to
  // confirm.
  if (auto m = body.find("member");
      m != body.end() && m->is_string() && m->get<std::string>() != config_->name) {
    return {Status::conflict, "failsafe: the request is for member " + m->get<std::string>() +
                                  ", this is " + config_->name};
  }
  if (auto sc = body.find("scope");
      sc != body.end() && sc->is_string() && sc->get<std::string>() != config_->scope) {
    return {Status::conflict, "failsafe: the request is for cluster " + sc->get<std::string>() +
                                  ", this member belongs to " + config_->scope};
  }
  // Another member holds the lock by this member's view: the asker is no primary of ours.
  if (view->leader && view->leader->name != leader) {
    return {Status::conflict,
            "failsafe: " + view->leader->name + " holds the leader lock, not " + leader};
  }
  // The asker handed this member a switchover and stopped: confirming it now would let it
  // write on (after an aborted switchover) while this member takes the lock it handed over.
  if (view->failover && view->failover->leader == leader &&
      view->failover->candidate == config_->name && !view->failover->final_lsn.empty()) {
    return {Status::conflict,
            "failsafe: " + leader + " is handing its lock to " + config_->name + " (switchover)"};
  }
  auto promise = config_->ha.ttl;
  if (auto t = body.find("ttl_ms"); t != body.end() && t->is_number_integer()) {
    // Bounded: a promise of more than an hour is a mistake, not a configuration.
    auto asked = std::chrono::milliseconds(std::clamp<long long>(t->get<long long>(), 0, 3600000));
    promise = std::max(promise, asked);
  }
  {
    std::lock_guard lock(mu_);
    if (last_obs_.status && !last_obs_.status->in_recovery) {
      return {Status::conflict, "Running as a leader: " + config_->name +
                                    " runs PostgreSQL as a primary, so it cannot vouch for " +
                                    leader};
    }
    // Holding the lock, or on the way to take it (the cycle checked the promise and went on):
    // a confirmation now would let the asking primary write on while this member promotes.
    if (claiming_) {
      return {Status::conflict, "Running as a leader: " + config_->name +
                                    " holds or is taking the leader lock, so it cannot vouch "
                                    "for " +
                                    leader};
    }
    auto now = clock_.now();
    auto until = now + promise;
    if (!failsafe_holdoff_ || failsafe_holdoff_->leader != leader ||
        now >= failsafe_holdoff_->until) {
      spdlog::warn(
          "failsafe: {} asked to be confirmed as primary (its DCS is out of reach); not taking "
          "the leader lock for {} ms",
          leader, promise.count());
    }
    // A promise made earlier (to whichever primary) is kept to its end.
    if (failsafe_holdoff_ && failsafe_holdoff_->until > until)
      until = failsafe_holdoff_->until;
    failsafe_holdoff_ = LocalState::FailsafeHoldoff{leader, until};
  }
  return {Status::ok, "Accepted"};
}

}  // namespace keel::ha
