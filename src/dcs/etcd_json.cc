#include "dcs/etcd_json.h"

#include <array>
#include <charconv>

namespace keel::dcs::etcd_json {
namespace {

using nlohmann::json;

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

Failure<DcsErrc> malformed(std::string what) {
  return fail(DcsErrc::bad_response, std::move(what));
}

// proto3 JSON: int64 is a decimal string, but accept a number too; absent means 0.
std::optional<std::int64_t> int64Field(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) {
    return 0;
  }
  if (it->is_number_integer()) {
    return it->get<std::int64_t>();
  }
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && p == s.data() + s.size() && !s.empty()) {
      return v;
    }
  }
  return std::nullopt;
}

std::optional<std::uint64_t> uint64Field(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) {
    return 0;
  }
  if (it->is_number_unsigned()) {
    return it->get<std::uint64_t>();
  }
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && p == s.data() + s.size() && !s.empty()) {
      return v;
    }
  }
  return std::nullopt;
}

std::optional<std::string> bytesField(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) {
    return std::string();
  }
  if (!it->is_string()) {
    return std::nullopt;
  }
  return base64Decode(it->get_ref<const std::string&>());
}

std::string int64String(std::int64_t v) {
  return std::to_string(v);
}

DcsResult<KeyValue> parseKeyValue(const json& j) {
  if (!j.is_object()) {
    return malformed("a key-value is not an object");
  }
  KeyValue kv;
  auto key = bytesField(j, "key");
  auto value = bytesField(j, "value");
  auto create = int64Field(j, "create_revision");
  auto mod = int64Field(j, "mod_revision");
  auto version = int64Field(j, "version");
  auto lease = int64Field(j, "lease");
  if (!key || !value || !create || !mod || !version || !lease) {
    return malformed("a key-value has a field of the wrong type or bad base64");
  }
  kv.key = std::move(*key);
  kv.value = std::move(*value);
  kv.create_revision = *create;
  kv.mod_revision = *mod;
  kv.version = *version;
  kv.lease = *lease;
  return kv;
}

DcsResult<std::vector<KeyValue>> parseKvs(const json& response) {
  std::vector<KeyValue> out;
  auto it = response.find("kvs");
  if (it == response.end() || it->is_null()) {
    return out;
  }
  if (!it->is_array()) {
    return malformed("\"kvs\" is not an array");
  }
  for (const auto& item : *it) {
    auto kv = parseKeyValue(item);
    if (!kv) {
      return kv.failure();
    }
    out.push_back(std::move(*kv));
  }
  return out;
}

void setRange(json& request, const std::string& key, bool prefix) {
  request["key"] = base64Encode(key);
  if (prefix) {
    request["range_end"] = base64Encode(prefixRangeEnd(key));
  }
}

json operationJson(const Operation& op) {
  json body = json::object();
  switch (op.kind) {
    case Operation::Kind::put:
      return json{{"request_put", putRequest(op.key, op.value, op.lease)}};
    case Operation::Kind::del:
      setRange(body, op.key, op.prefix);
      return json{{"request_delete_range", body}};
    case Operation::Kind::get:
      setRange(body, op.key, op.prefix);
      return json{{"request_range", body}};
  }
  return body;
}

json compareJson(const Compare& c) {
  json j{{"key", base64Encode(c.key)}};
  switch (c.op) {
    case Compare::Op::equal:
      j["result"] = "EQUAL";
      break;
    case Compare::Op::not_equal:
      j["result"] = "NOT_EQUAL";
      break;
    case Compare::Op::greater:
      j["result"] = "GREATER";
      break;
    case Compare::Op::less:
      j["result"] = "LESS";
      break;
  }
  switch (c.target) {
    case Compare::Target::value:
      j["target"] = "VALUE";
      j["value"] = base64Encode(c.value);
      break;
    case Compare::Target::version:
      j["target"] = "VERSION";
      j["version"] = int64String(c.number);
      break;
    case Compare::Target::create_revision:
      j["target"] = "CREATE";
      j["create_revision"] = int64String(c.number);
      break;
    case Compare::Target::mod_revision:
      j["target"] = "MOD";
      j["mod_revision"] = int64String(c.number);
      break;
    case Compare::Target::lease:
      j["target"] = "LEASE";
      j["lease"] = int64String(c.number);
      break;
  }
  return j;
}

const json* objectField(const json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_object() ? &*it : nullptr;
}

}  // namespace

std::string base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    std::uint32_t n = (std::uint32_t(std::uint8_t(bytes[i])) << 16) |
                      (std::uint32_t(std::uint8_t(bytes[i + 1])) << 8) | std::uint8_t(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t n = std::uint32_t(std::uint8_t(bytes[i])) << 16;
    if (rest == 2) {
      n |= std::uint32_t(std::uint8_t(bytes[i + 1])) << 8;
    }
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64Decode(std::string_view text) {
  static const std::array<std::int8_t, 256> table = [] {
    std::array<std::int8_t, 256> t{};
    t.fill(-1);
    for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
      t[static_cast<std::uint8_t>(kAlphabet[i])] = static_cast<std::int8_t>(i);
    }
    return t;
  }();
  while (!text.empty() && text.back() == '=') {
    text.remove_suffix(1);
  }
  if (text.size() % 4 == 1) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    auto v = table[static_cast<std::uint8_t>(c)];
    if (v < 0) {
      return std::nullopt;
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string prefixRangeEnd(std::string_view key) {
  std::string end(key);
  while (!end.empty() && static_cast<std::uint8_t>(end.back()) == 0xff) {
    end.pop_back();
  }
  if (end.empty()) {
    return std::string(1, '\0');
  }
  end.back() = static_cast<char>(static_cast<std::uint8_t>(end.back()) + 1);
  return end;
}

json rangeRequest(const std::string& key, bool prefix) {
  json j = json::object();
  setRange(j, key, prefix);
  return j;
}

json putRequest(const std::string& key, const std::string& value, LeaseId lease) {
  json j{{"key", base64Encode(key)}, {"value", base64Encode(value)}};
  if (lease != 0) {
    j["lease"] = int64String(lease);
  }
  return j;
}

json deleteRequest(const std::string& key, bool prefix) {
  return rangeRequest(key, prefix);
}

json txnRequest(const Txn& txn) {
  json j = json::object();
  j["compare"] = json::array();
  j["success"] = json::array();
  j["failure"] = json::array();
  for (const auto& c : txn.compare)
    j["compare"].push_back(compareJson(c));
  for (const auto& op : txn.success)
    j["success"].push_back(operationJson(op));
  for (const auto& op : txn.failure)
    j["failure"].push_back(operationJson(op));
  return j;
}

json leaseGrantRequest(std::chrono::seconds ttl) {
  return json{{"TTL", int64String(ttl.count())}, {"ID", "0"}};
}

json leaseIdRequest(LeaseId id) {
  return json{{"ID", int64String(id)}};
}

json watchCreateRequest(const std::string& prefix, std::int64_t start_revision) {
  json create = rangeRequest(prefix, true);
  create["start_revision"] = int64String(start_revision);
  return json{{"create_request", create}};
}

DcsResult<std::int64_t> parseHeaderRevision(const json& response) {
  const json* header = response.is_object() ? objectField(response, "header") : nullptr;
  if (!header) {
    return malformed("no \"header\" object");
  }
  auto rev = int64Field(*header, "revision");
  if (!rev) {
    return malformed("\"header.revision\" is not an integer");
  }
  return *rev;
}

DcsResult<RangeResult> parseRange(const json& response) {
  auto rev = parseHeaderRevision(response);
  if (!rev) {
    return rev.failure();
  }
  auto kvs = parseKvs(response);
  if (!kvs) {
    return kvs.failure();
  }
  return RangeResult{.kvs = std::move(*kvs), .revision = *rev};
}

DcsResult<TxnResult> parseTxn(const json& response) {
  auto rev = parseHeaderRevision(response);
  if (!rev) {
    return rev.failure();
  }
  TxnResult out;
  out.revision = *rev;
  auto succeeded = response.find("succeeded");
  out.succeeded = succeeded != response.end() && succeeded->is_boolean() && succeeded->get<bool>();
  auto responses = response.find("responses");
  if (responses == response.end() || responses->is_null()) {
    return out;
  }
  if (!responses->is_array()) {
    return malformed("\"responses\" is not an array");
  }
  for (const auto& r : *responses) {
    if (!r.is_object()) {
      return malformed("a transaction response is not an object");
    }
    std::vector<KeyValue> kvs;
    if (const json* range = objectField(r, "response_range")) {
      auto parsed = parseKvs(*range);
      if (!parsed) {
        return parsed.failure();
      }
      kvs = std::move(*parsed);
    }
    out.ranges.push_back(std::move(kvs));
  }
  return out;
}

DcsResult<LeaseGrant> parseLeaseGrant(const json& response) {
  if (!response.is_object()) {
    return malformed("not an object");
  }
  auto id = int64Field(response, "ID");
  auto ttl = int64Field(response, "TTL");
  if (!id || !ttl || *id == 0) {
    return malformed("no lease \"ID\" or \"TTL\" in the grant response");
  }
  auto error = response.find("error");
  if (error != response.end() && error->is_string() && !error->get<std::string>().empty()) {
    return fail(DcsErrc::rejected, "etcd refused the lease: " + error->get<std::string>());
  }
  return LeaseGrant{.id = *id, .ttl = std::chrono::seconds(*ttl)};
}

DcsResult<std::chrono::seconds> parseKeepAlive(const json& response) {
  const json* result = response.is_object() ? objectField(response, "result") : nullptr;
  if (!result) {
    return malformed("no \"result\" object in the keepalive response");
  }
  auto ttl = int64Field(*result, "TTL");
  if (!ttl) {
    return malformed("\"result.TTL\" is not an integer");
  }
  if (*ttl <= 0) {
    return fail(DcsErrc::lease_not_found,
                "the lease expired or was revoked (etcd reports no TTL for it); grant a new one");
  }
  return std::chrono::seconds(*ttl);
}

DcsResult<WatchMessage> parseWatchMessage(const json& message) {
  if (!message.is_object()) {
    return malformed("a watch message is not an object");
  }
  if (auto error = parseGatewayError(message)) {
    return fail(DcsErrc::rejected, "etcd ended the watch: " + error->message);
  }
  const json* result = objectField(message, "result");
  if (!result) {
    return malformed("a watch message has no \"result\" object");
  }
  WatchMessage out;
  auto created = result->find("created");
  out.created = created != result->end() && created->is_boolean() && created->get<bool>();
  auto canceled = result->find("canceled");
  out.canceled = canceled != result->end() && canceled->is_boolean() && canceled->get<bool>();
  auto compact = int64Field(*result, "compact_revision");
  if (!compact) {
    return malformed("\"compact_revision\" is not an integer");
  }
  out.compact_revision = *compact;
  auto reason = result->find("cancel_reason");
  if (reason != result->end() && reason->is_string()) {
    out.cancel_reason = reason->get<std::string>();
  }
  if (const json* header = objectField(*result, "header")) {
    auto rev = int64Field(*header, "revision");
    if (!rev) {
      return malformed("\"header.revision\" is not an integer");
    }
    out.header_revision = *rev;
  }
  auto events = result->find("events");
  if (events != result->end() && !events->is_null()) {
    if (!events->is_array()) {
      return malformed("\"events\" is not an array");
    }
    for (const auto& e : *events) {
      if (!e.is_object()) {
        return malformed("a watch event is not an object");
      }
      WatchEvent event;
      auto type = e.find("type");
      if (type != e.end() && type->is_string() && type->get<std::string>() == "DELETE") {
        event.type = WatchEvent::Type::del;
      }
      const json* kv = objectField(e, "kv");
      if (!kv) {
        return malformed("a watch event has no \"kv\"");
      }
      auto parsed = parseKeyValue(*kv);
      if (!parsed) {
        return parsed.failure();
      }
      event.kv = std::move(*parsed);
      out.events.push_back(std::move(event));
    }
  }
  return out;
}

std::optional<GatewayError> parseGatewayError(const json& body) {
  if (!body.is_object()) {
    return std::nullopt;
  }
  // Unary errors are flat; stream errors nest them under "error".
  const json* e = &body;
  if (const json* nested = objectField(body, "error")) {
    e = nested;
  }
  // Stream errors carry the gRPC code as "grpc_code".
  auto code = e->find("code");
  if (code == e->end()) {
    code = e->find("grpc_code");
  }
  auto message = e->find("message");
  auto error = e->find("error");
  if (code == e->end() && (error == e->end() || !error->is_string())) {
    return std::nullopt;
  }
  GatewayError out;
  if (code != e->end() && code->is_number_integer()) {
    out.code = code->get<int>();
  }
  if (message != e->end() && message->is_string()) {
    out.message = message->get<std::string>();
  } else if (error != e->end() && error->is_string()) {
    out.message = error->get<std::string>();
  }
  return out;
}

DcsResult<MemberStatus> parseMemberStatus(const json& response) {
  if (!response.is_object()) {
    return malformed("status answer is not a JSON object");
  }
  auto header = response.find("header");
  if (header == response.end() || !header->is_object()) {
    return malformed("status answer has no header");
  }
  MemberStatus out;
  auto member = uint64Field(*header, "member_id");
  auto leader = uint64Field(response, "leader");
  auto index = uint64Field(response, "raftIndex");
  auto term = uint64Field(response, "raftTerm");
  if (!member || *member == 0) {
    return malformed("status header.member_id is missing or not an unsigned integer");
  }
  if (!leader || !index || !term) {
    return malformed("status leader, raftIndex or raftTerm is not an unsigned integer");
  }
  out.member_id = *member;
  out.leader_id = *leader;
  out.raft_index = *index;
  out.raft_term = *term;
  return out;
}

DcsResult<std::vector<Member>> parseMemberList(const json& response) {
  if (!response.is_object()) {
    return malformed("member list answer is not a JSON object");
  }
  std::vector<Member> out;
  auto members = response.find("members");
  if (members == response.end() || members->is_null()) {
    return out;
  }
  if (!members->is_array()) {
    return malformed("member list `members` is not an array");
  }
  for (const auto& m : *members) {
    if (!m.is_object()) {
      return malformed("member list entry is not an object");
    }
    auto id = uint64Field(m, "ID");
    if (!id || *id == 0) {
      return malformed("member list entry has no valid ID");
    }
    Member member;
    member.id = *id;
    if (auto name = m.find("name"); name != m.end() && name->is_string()) {
      member.name = name->get<std::string>();
    }
    if (auto urls = m.find("clientURLs"); urls != m.end() && urls->is_array()) {
      for (const auto& u : *urls) {
        if (u.is_string()) {
          member.client_urls.push_back(u.get<std::string>());
        }
      }
    }
    if (auto learner = m.find("isLearner"); learner != m.end() && learner->is_boolean()) {
      member.learner = learner->get<bool>();
    }
    out.push_back(std::move(member));
  }
  return out;
}

json moveLeaderRequest(std::uint64_t target_id) {
  return json{{"targetID", std::to_string(target_id)}};
}

}  // namespace keel::dcs::etcd_json
