#pragma once

#include "api/http_client.h"
#include "ha/ha_loop.h"

namespace keel::ha {

// PeerProber over the members' REST API: GET <api_url>/patroni, all members at once.
class HttpPeerProber final : public PeerProber {
 public:
  boost::asio::awaitable<std::vector<PeerProbe>> probe(std::vector<MemberRecord> members,
                                                       std::chrono::milliseconds timeout) override;
  boost::asio::awaitable<std::optional<WalPosition>> replayPosition(
      MemberRecord member, std::chrono::milliseconds timeout) override;
};

// Reads a /patroni document into a probe (pure; unit-tested). Positions may be integers (as
// Patroni reports them) or "X/Y" strings.
PeerProbe probeFromPatroniJson(const std::string& name, const nlohmann::json& j);
std::optional<WalPosition> replayedFromPatroniJson(const nlohmann::json& j);

}  // namespace keel::ha
