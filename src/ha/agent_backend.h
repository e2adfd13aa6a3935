#pragma once

#include <functional>
#include <string>

#include "api/backend.h"
#include "ha/ha_loop.h"

namespace keel::ha {

// The agent's answers to the REST API: state from the HA loop's last cycle, operations as DCS
// writes that the loops of the members carry out (switchover, failover, config) or as local
// PostgreSQL work on the loop's worker thread (restart, reload, reinitialize).
// Runs on the control-plane io_context.
class AgentBackend final : public api::Backend {
 public:
  explicit AgentBackend(HaLoop& loop) : loop_(loop) {}

  api::NodeSnapshot snapshot() const override;
  boost::asio::awaitable<api::OpResult> switchover(api::SwitchoverRequest request) override;
  boost::asio::awaitable<api::OpResult> cancelSwitchover() override;
  boost::asio::awaitable<api::OpResult> failover(std::string candidate) override;
  boost::asio::awaitable<api::OpResult> restart(api::RestartRequest request) override;
  boost::asio::awaitable<api::OpResult> reload() override;
  boost::asio::awaitable<api::OpResult> reinitialize(bool force) override;
  boost::asio::awaitable<api::OpResult> patchConfig(nlohmann::json patch) override;
  boost::asio::awaitable<api::OpResult> replaceConfig(nlohmann::json config) override;
  boost::asio::awaitable<api::OpResult> setPaused(bool paused) override;
  boost::asio::awaitable<api::OpResult> failsafe(nlohmann::json body) override;
  std::string extraMetrics() const override { return extra_metrics_ ? extra_metrics_() : ""; }

  // What extraMetrics() appends to /metrics (the proxy's metrics). Set before the control
  // io_context runs; `fn` is called on it.
  void setExtraMetrics(std::function<std::string()> fn) { extra_metrics_ = std::move(fn); }

 private:
  boost::asio::awaitable<api::OpResult> requestLeaderChange(FailoverRequest request,
                                                            std::string verb);
  boost::asio::awaitable<api::OpResult> storeConfig(nlohmann::json config);

  HaLoop& loop_;
  std::function<std::string()> extra_metrics_;
};

// Checks a dynamic configuration document; returns one line per problem (empty when valid).
std::vector<std::string> validateDynamicConfig(const nlohmann::json& config);

// Parses "2026-11-23T15:33:59Z" / "...+01:00" / "....123Z" into epoch seconds.
std::optional<double> parseIsoTime(const std::string& text);

}  // namespace keel::ha
