#include "dcs/dcs.h"

#include <utility>

namespace keel::dcs {

Compare Compare::absent(std::string key) {
  return Compare{.key = std::move(key), .target = Target::version, .op = Op::equal, .number = 0};
}

Compare Compare::valueIs(std::string key, std::string value) {
  return Compare{
      .key = std::move(key), .target = Target::value, .op = Op::equal, .value = std::move(value)};
}

Compare Compare::modRevisionIs(std::string key, std::int64_t rev) {
  return Compare{
      .key = std::move(key), .target = Target::mod_revision, .op = Op::equal, .number = rev};
}

Compare Compare::leaseIs(std::string key, LeaseId lease) {
  return Compare{.key = std::move(key), .target = Target::lease, .op = Op::equal, .number = lease};
}

Operation Operation::put(std::string key, std::string value, LeaseId lease) {
  return Operation{
      .kind = Kind::put, .key = std::move(key), .value = std::move(value), .lease = lease};
}

Operation Operation::del(std::string key, bool prefix) {
  return Operation{.kind = Kind::del, .key = std::move(key), .prefix = prefix};
}

Operation Operation::get(std::string key, bool prefix) {
  return Operation{.kind = Kind::get, .key = std::move(key), .prefix = prefix};
}

}  // namespace keel::dcs
