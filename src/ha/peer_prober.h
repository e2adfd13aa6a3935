#pragma once

#include "api/http_client.h"
#include "ha/ha_loop.h"

namespace keel::ha {

// PeerProber over the members' REST API: GET <api_url>/patroni, all members at once.
// `credentials` (this agent's restapi.authentication, shared by the cluster) go with the POST
// requests, which the members' APIs require them for.
class HttpPeerProber final : public PeerProber {
 public:
  explicit HttpPeerProber(std::optional<api::Credentials> credentials = std::nullopt)
      : credentials_(std::move(credentials)) {}

  boost::asio::awaitable<std::vector<PeerProbe>> probe(std::vector<MemberRecord> members,
                                                       std::chrono::milliseconds timeout) override;
  boost::asio::awaitable<std::optional<WalPosition>> replayPosition(
      MemberRecord member, std::chrono::milliseconds timeout) override;
  boost::asio::awaitable<std::map<std::string, std::string>> confirmFailsafe(
      std::map<std::string, std::string> members, nlohmann::json body,
      std::chrono::milliseconds timeout) override;

 private:
  std::optional<api::Credentials> credentials_;
};

// Reads a /patroni document into a probe (pure; unit-tested). Positions may be integers (as
// Patroni reports them) or "X/Y" strings.
PeerProbe probeFromPatroniJson(const std::string& name, const nlohmann::json& j);
std::optional<WalPosition> replayedFromPatroniJson(const nlohmann::json& j);

}  // namespace keel::ha
