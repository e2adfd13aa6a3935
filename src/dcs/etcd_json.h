#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dcs/dcs.h"

// The JSON form of etcd's v3 API as its gRPC gateway (etcd 3.4, /v3/...) speaks it: keys and
// values are base64, int64 fields are decimal strings, and absent fields mean zero/false (proto3
// JSON mapping). Pure functions: no I/O. Parsers never throw; a message that does not have the
// expected shape is a bad_response Failure whose message says which field was wrong (the caller
// adds the endpoint and the raw body).
namespace keel::dcs::etcd_json {

std::string base64Encode(std::string_view bytes);
std::optional<std::string> base64Decode(std::string_view text);

// etcd's prefix convention: the range end is the key with its last byte incremented (trailing
// 0xff bytes dropped first); "\0" (every key from `key` on) when no such key exists.
std::string prefixRangeEnd(std::string_view key);

nlohmann::json rangeRequest(const std::string& key, bool prefix);
nlohmann::json putRequest(const std::string& key, const std::string& value, LeaseId lease);
nlohmann::json deleteRequest(const std::string& key, bool prefix);
nlohmann::json txnRequest(const Txn& txn);
nlohmann::json leaseGrantRequest(std::chrono::seconds ttl);
nlohmann::json leaseIdRequest(LeaseId id);  // keepalive and revoke
nlohmann::json watchCreateRequest(const std::string& prefix, std::int64_t start_revision);

DcsResult<std::int64_t> parseHeaderRevision(const nlohmann::json& response);
DcsResult<RangeResult> parseRange(const nlohmann::json& response);
DcsResult<TxnResult> parseTxn(const nlohmann::json& response);
DcsResult<LeaseGrant> parseLeaseGrant(const nlohmann::json& response);
// lease_not_found when etcd reports no TTL (the gateway's answer for an unknown lease).
DcsResult<std::chrono::seconds> parseKeepAlive(const nlohmann::json& response);

// One message of a watch stream ({"result":{...}} or {"error":{...}}).
struct WatchMessage {
  bool created = false;
  bool canceled = false;
  std::int64_t compact_revision = 0;
  std::int64_t header_revision = 0;
  std::string cancel_reason;
  std::vector<WatchEvent> events;
};
DcsResult<WatchMessage> parseWatchMessage(const nlohmann::json& message);

// The gateway's error body {"error": "...", "message": "...", "code": N} (gRPC status code).
struct GatewayError {
  int code = 0;
  std::string message;
};
std::optional<GatewayError> parseGatewayError(const nlohmann::json& body);

inline constexpr int kGrpcNotFound = 5;

// Maintenance and cluster answers (uint64 ids are decimal strings too).
struct MemberStatus {
  std::uint64_t member_id = 0;  // the member that answered
  std::uint64_t leader_id = 0;  // the raft leader it knows; 0 while there is none
  std::uint64_t raft_index = 0;
  std::uint64_t raft_term = 0;
};
DcsResult<MemberStatus> parseMemberStatus(
    const nlohmann::json& response);  // /v3/maintenance/status

struct Member {
  std::uint64_t id = 0;
  std::string name;  // empty for a member added but not started yet
  std::vector<std::string> client_urls;
  bool learner = false;
};
DcsResult<std::vector<Member>> parseMemberList(
    const nlohmann::json& response);  // /v3/cluster/member/list
nlohmann::json moveLeaderRequest(std::uint64_t target_id);

}  // namespace keel::dcs::etcd_json
