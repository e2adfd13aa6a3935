#include "pgwire/wire_errc.h"

#include "pgwire/protocol.h"

namespace keel::pgwire {

std::string_view sqlstateFor(WireErrc code) {
  return code == WireErrc::invalid_state ? sqlstate::kInternalError : sqlstate::kProtocolViolation;
}

std::string_view toString(WireErrc code) {
  switch (code) {
    case WireErrc::bad_length:
      return "bad_length";
    case WireErrc::message_too_large:
      return "message_too_large";
    case WireErrc::unexpected_message:
      return "unexpected_message";
    case WireErrc::unsupported_protocol:
      return "unsupported_protocol";
    case WireErrc::bytes_after_encryption_request:
      return "bytes_after_encryption_request";
    case WireErrc::truncated:
      return "truncated";
    case WireErrc::malformed:
      return "malformed";
    case WireErrc::invalid_state:
      return "invalid_state";
  }
  return "unknown";
}

}  // namespace keel::pgwire
