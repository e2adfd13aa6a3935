#include "ha/failsafe_rules.h"

#include <algorithm>

namespace keel::ha {

FailsafeAnswer answerFailsafe(const FailsafeRequestInput& in) {
  using Kind = FailsafeAnswer::Kind;
  const auto& body = in.body;
  auto text = [&body](const char* field) -> std::optional<std::string> {
    auto it = body.find(field);
    if (it == body.end() || !it->is_string())
      return std::nullopt;
    return it->get<std::string>();
  };
  auto name = body.is_object() ? text("name") : std::nullopt;
  if (!name || name->empty()) {
    return {Kind::bad_request,
            "failsafe: expected a JSON object with \"name\" (the primary's member name)"};
  }
  const std::string& leader = *name;
  if (!in.view || !in.failsafe_mode) {
    return {Kind::disabled, "Failsafe mode is disabled on " + in.self +
                                " (failsafe_mode in the dynamic configuration)"};
  }
  if (leader == in.self)
    return {Kind::conflict, "failsafe: " + leader + " is this member"};
  // A request meant for another member, or another cluster (a reused address): not ours to
  // confirm.
  if (auto member = text("member"); member && *member != in.self) {
    return {Kind::conflict,
            "failsafe: the request is for member " + *member + ", this is " + in.self};
  }
  if (auto scope = text("scope"); scope && *scope != in.scope) {
    return {Kind::conflict, "failsafe: the request is for cluster " + *scope +
                                ", this member belongs to " + in.scope};
  }
  if (in.running_as_primary) {
    return {Kind::conflict, "Running as a leader: " + in.self +
                                " runs PostgreSQL as a primary, so it cannot vouch for " + leader};
  }
  // Holding the lock, or on the way to take it (the cycle checked its promises and went on):
  // a confirmation now would let the asking primary write on while this member promotes.
  if (in.claiming) {
    return {Kind::conflict, "Running as a leader: " + in.self +
                                " holds or is taking the leader lock, so it cannot vouch for " +
                                leader};
  }
  const ClusterView& v = *in.view;
  // Another member holds the lock by this member's view: the asker is no primary of ours.
  if (v.leader && v.leader->name != leader) {
    return {Kind::conflict,
            "failsafe: " + v.leader->name + " holds the leader lock, not " + leader};
  }
  // The asker handed this member a switchover and stopped: confirming it now would let it
  // write on (after an aborted switchover) while this member takes the lock handed to it.
  if (v.failover && v.failover->leader == leader && v.failover->candidate == in.self &&
      !v.failover->final_lsn.empty()) {
    return {Kind::conflict,
            "failsafe: " + leader + " is handing its lock to " + in.self + " (switchover)"};
  }
  auto promise = in.ttl;
  if (auto t = body.find("ttl_ms"); t != body.end() && t->is_number_integer()) {
    // Bounded: a promise of more than an hour is a mistake, not a configuration.
    auto asked =
        std::chrono::milliseconds(std::clamp<long long>(t->get<long long>(), 0, 3'600'000));
    promise = std::max(promise, asked);
  }
  return {Kind::accept, "Accepted", leader, promise};
}

}  // namespace keel::ha
