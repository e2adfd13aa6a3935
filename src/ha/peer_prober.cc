#include "ha/peer_prober.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>

namespace keel::ha {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

std::optional<WalPosition> position(const json& j) {
  if (j.is_number_unsigned())
    return WalPosition{j.get<std::uint64_t>()};
  if (j.is_string())
    return WalPosition::parse(j.get<std::string>());
  return std::nullopt;
}

std::optional<WalPosition> field(const json& xlog, const char* name) {
  if (!xlog.is_object())
    return std::nullopt;
  auto it = xlog.find(name);
  return it == xlog.end() ? std::nullopt : position(*it);
}

}  // namespace

PeerProbe probeFromPatroniJson(const std::string& name, const json& j) {
  PeerProbe p;
  p.name = name;
  if (!j.is_object())
    return p;
  p.reachable = true;
  std::string role = j.value("role", "");
  std::string state = j.value("state", "");
  p.pg_running = state == "running" || state == "streaming";
  p.in_recovery = role != "primary" && role != "master";
  json xlog = j.value("xlog", json::object());
  if (auto loc = field(xlog, "location")) {
    p.wal_position = *loc;
  } else {
    auto rec = field(xlog, "received_location");
    auto rep = field(xlog, "replayed_location");
    p.wal_position = std::max(rec.value_or(WalPosition{}), rep.value_or(WalPosition{}));
  }
  if (auto t = j.find("tags"); t != j.end() && t->is_object()) {
    if (auto nf = t->find("nofailover"); nf != t->end()) {
      p.nofailover = nf->is_boolean() ? nf->get<bool>() : *nf == "true";
    }
    if (auto fp = t->find("failover_priority"); fp != t->end() && fp->is_number_integer()) {
      p.failover_priority = fp->get<int>();
    }
  }
  return p;
}

std::optional<WalPosition> replayedFromPatroniJson(const json& j) {
  if (!j.is_object())
    return std::nullopt;
  return field(j.value("xlog", json::object()), "replayed_location");
}

asio::awaitable<std::vector<PeerProbe>> HttpPeerProber::probe(std::vector<MemberRecord> members,
                                                              std::chrono::milliseconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  api::HttpClient client(std::nullopt, timeout);
  std::vector<PeerProbe> out(members.size());
  // All members at once: an election must not wait timeout x members.
  auto one = [&client](MemberRecord m) -> asio::awaitable<PeerProbe> {
    auto r = co_await client.request("GET", m.api_url + "/patroni");
    if (!r || r->status == 0) {
      PeerProbe p;
      p.name = m.name;
      co_return p;
    }
    auto j = r->json();
    PeerProbe p = probeFromPatroniJson(m.name, j ? *j : json());
    // Tags from the DCS record when the API did not report them.
    if (!j || !j->contains("tags")) {
      p.nofailover = m.nofailover;
      p.failover_priority = m.failover_priority;
    }
    co_return p;
  };
  if (members.empty())
    co_return out;
  using Op = decltype(asio::co_spawn(ex, one(members[0]), asio::deferred));
  std::vector<Op> ops;
  for (const auto& m : members)
    ops.push_back(asio::co_spawn(ex, one(m), asio::deferred));
  auto [order, errors, results] =
      co_await asio::experimental::make_parallel_group(std::move(ops))
          .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (!errors[i]) {
      out[i] = results[i];
    } else {
      out[i].name = members[i].name;
    }
  }
  co_return out;
}

asio::awaitable<std::optional<WalPosition>> HttpPeerProber::replayPosition(
    MemberRecord member, std::chrono::milliseconds timeout) {
  api::HttpClient client(std::nullopt, timeout);
  auto r = co_await client.request("GET", member.api_url + "/patroni");
  if (!r)
    co_return std::nullopt;
  auto j = r->json();
  if (!j)
    co_return std::nullopt;
  co_return replayedFromPatroniJson(*j);
}

asio::awaitable<std::map<std::string, std::string>> HttpPeerProber::confirmFailsafe(
    std::map<std::string, std::string> members, json body, std::chrono::milliseconds timeout) {
  std::map<std::string, std::string> failures;
  if (members.empty())
    co_return failures;
  auto ex = co_await asio::this_coro::executor;
  api::HttpClient client(credentials_, timeout);
  // All members at once, like probe(): the confirmations must come back well within ttl.
  auto one = [&client, &body](std::string name, std::string url) -> asio::awaitable<std::string> {
    if (url.empty())
      co_return "no REST API address in the failsafe key";
    json mine = body;
    mine["member"] = name;  // the member refuses a request meant for another
    std::string target = url + "/failsafe";
    auto r = co_await client.request("POST", target, mine);
    if (!r)
      co_return r.message();
    std::string why;
    if (r->status != 200) {
      why = "answered " + std::to_string(r->status);
      if (!r->body.empty())
        why += ": " + r->body.substr(0, 200);
    }
    co_return why;
  };

  std::vector<std::string> names;
  using Op = decltype(asio::co_spawn(ex, one(std::string(), std::string()), asio::deferred));
  std::vector<Op> ops;
  for (const auto& [name, url] : members) {
    names.push_back(name);
    ops.push_back(asio::co_spawn(ex, one(name, url), asio::deferred));
  }
  auto [order, errors, results] =
      co_await asio::experimental::make_parallel_group(std::move(ops))
          .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (errors[i]) {
      failures[names[i]] = "the request failed";
    } else if (!results[i].empty()) {
      failures[names[i]] = results[i];
    }
  }
  co_return failures;
}

}  // namespace keel::ha
