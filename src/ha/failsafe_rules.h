#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "ha/cluster_view.h"

namespace keel::ha {

// failsafe_mode, the member's side (pure): whether to confirm a primary that asks through
// POST /failsafe, and for how long to promise not to take the leader lock then. HaLoop gathers
// the input and keeps the promise (acceptFailsafe); docs/ARCHITECTURE.md, step 7, has why each
// refusal is needed.
struct FailsafeRequestInput {
  const nlohmann::json& body;  // {"name", "member", "scope", "ttl_ms", "api_url", "conn_url"}
  const std::string& self;
  const std::string& scope;
  std::chrono::milliseconds ttl;  // this member's
  // This member's last view of the cluster; nullopt before its first successful read.
  const std::optional<ClusterView>& view;
  bool failsafe_mode = false;  // in force by that view (failsafeModeEnabled)
  bool running_as_primary = false;
  bool claiming = false;  // holds the leader key by its view, or is taking it this cycle
};

struct FailsafeAnswer {
  enum class Kind { accept, bad_request, disabled, conflict } kind = Kind::accept;
  std::string message;                   // "Accepted", or why not
  std::string leader;                    // the asking primary (when accepted)
  std::chrono::milliseconds promise{0};  // how long not to take the lock (when accepted)
};

FailsafeAnswer answerFailsafe(const FailsafeRequestInput& in);

}  // namespace keel::ha
