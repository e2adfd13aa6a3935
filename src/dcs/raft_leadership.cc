#include "dcs/raft_leadership.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "dcs/http_exchange.h"

namespace keel::dcs {
namespace {

namespace asio = boost::asio;
using nlohmann::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

milliseconds remainingUntil(Clock::time_point deadline) {
  return std::max(milliseconds(0), std::chrono::ceil<milliseconds>(deadline - Clock::now()));
}

// POSTs `request` to `path` at `url` and returns the parsed JSON of a 200 answer.
asio::awaitable<DcsResult<json>> post(asio::any_io_executor ex, const std::string& url,
                                      const char* path, const json& request, milliseconds budget) {
  auto endpoint = http::parseEndpoint(url);
  if (!endpoint.error.empty()) {
    co_return fail(DcsErrc::unavailable, url + ": " + endpoint.error);
  }
  auto reply = co_await http::exchange(ex, endpoint, path, request.dump(), budget);
  if (!reply) {
    co_return fail(
        reply.code() == http::HttpErrc::timed_out ? DcsErrc::timeout : DcsErrc::unavailable,
        url + path + ": " + reply.message());
  }
  auto body = json::parse(reply->body, nullptr, false);
  if (reply->status != 200) {
    std::string why = "HTTP " + std::to_string(reply->status);
    if (auto err = etcd_json::parseGatewayError(body)) {
      why += ": " + err->message;
    }
    co_return fail(DcsErrc::rejected, url + path + " answered " + why);
  }
  if (body.is_discarded()) {
    co_return fail(DcsErrc::bad_response, url + path + " answered something that is not JSON");
  }
  co_return body;
}

}  // namespace

asio::awaitable<DcsResult<etcd_json::MemberStatus>> etcdMemberStatus(asio::any_io_executor ex,
                                                                     std::string client_url,
                                                                     milliseconds budget) {
  const json request = json::object();
  auto body = co_await post(ex, client_url, "/v3/maintenance/status", request, budget);
  if (!body) {
    co_return body.failure();
  }
  auto status = etcd_json::parseMemberStatus(*body);
  if (!status) {
    co_return fail(status.code(), client_url + ": " + status.message());
  }
  co_return *status;
}

asio::awaitable<DcsResult<std::optional<std::string>>> handOffRaftLeadership(
    asio::any_io_executor ex, std::string client_url, milliseconds budget) {
  const auto deadline = Clock::now() + budget;
  const milliseconds step = budget / 4;
  auto own = co_await etcdMemberStatus(ex, client_url, step);
  if (!own) {
    co_return own.failure();
  }
  if (own->leader_id == 0 || own->leader_id != own->member_id) {
    co_return std::optional<std::string>();
  }
  const json request = json::object();
  auto list_body = co_await post(ex, client_url, "/v3/cluster/member/list", request, step);
  if (!list_body) {
    co_return list_body.failure();
  }
  auto members = etcd_json::parseMemberList(*list_body);
  if (!members) {
    co_return fail(members.code(), client_url + ": " + members.message());
  }

  // The follower that has applied the most of our log takes over fastest.
  const etcd_json::Member* best = nullptr;
  std::uint64_t best_index = 0;
  for (const auto& m : *members) {
    if (m.id == own->member_id || m.learner || m.name.empty() || m.client_urls.empty()) {
      continue;
    }
    const milliseconds share = std::min(step, remainingUntil(deadline));
    const std::string url = m.client_urls.front();
    auto status = co_await etcdMemberStatus(ex, url, share);
    if (!status || status->leader_id != own->member_id) {
      continue;
    }
    if (best == nullptr || status->raft_index > best_index) {
      best = &m;
      best_index = status->raft_index;
    }
  }
  if (best == nullptr) {
    co_return std::optional<std::string>();
  }
  auto remaining = remainingUntil(deadline);
  if (remaining <= milliseconds(0)) {
    co_return fail(DcsErrc::timeout, "no time left to move raft leadership to " + best->name);
  }
  const json move = etcd_json::moveLeaderRequest(best->id);
  auto moved =
      co_await post(ex, client_url, "/v3/maintenance/transfer-leadership", move, remaining);
  if (!moved) {
    co_return fail(moved.code(),
                   "moving raft leadership to " + best->name + " failed: " + moved.message());
  }
  co_return std::optional<std::string>(best->name);
}

}  // namespace keel::dcs
