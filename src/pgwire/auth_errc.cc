#include "pgwire/auth_errc.h"

#include <string>

namespace keel::pgwire {

std::string_view sqlstateFor(AuthErrc code) {
  switch (code) {
    case AuthErrc::wrong_password:
    case AuthErrc::incompatible_secret:
      return "28P01";
    case AuthErrc::malformed_message:
    case AuthErrc::unsupported:
    case AuthErrc::channel_binding_mismatch:
    case AuthErrc::nonce_mismatch:
    case AuthErrc::bad_iteration_count:
    case AuthErrc::out_of_order:
      return "08P01";
    case AuthErrc::server_error:
    case AuthErrc::bad_secret:
    case AuthErrc::crypto_failure:
      return "28000";
  }
  return "28000";
}

std::string passwordFailedMessage(std::string_view user) {
  return "password authentication failed for user \"" + std::string(user) + "\"";
}

}  // namespace keel::pgwire
