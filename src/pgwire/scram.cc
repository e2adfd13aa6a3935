#include "pgwire/scram.h"

namespace keel::pgwire {

AuthResult<std::string> makeScramNonce() {
  auto bytes = crypto::randomBytes(kScramNonceRandomBytes);
  if (!bytes)
    return bytes.failure();
  return crypto::encodeBase64(*bytes);
}

namespace scram_detail {

Failure<AuthErrc> malformed(std::string_view what, std::string_view detail) {
  return fail(AuthErrc::malformed_message,
              "malformed SCRAM message: " + std::string(what) + ": " + std::string(detail));
}

AuthResult<std::vector<Attribute>> splitAttributes(std::string_view text, std::string_view what) {
  if (text.size() > kScramMaxMessageSize) {
    return malformed(what, "longer than " + std::to_string(kScramMaxMessageSize) + " bytes");
  }
  std::vector<Attribute> attributes;
  std::size_t pos = 0;
  while (true) {
    const std::size_t comma = text.find(',', pos);
    const std::string_view field =
        text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    const bool letter = !field.empty() && ((field[0] >= 'a' && field[0] <= 'z') ||
                                           (field[0] >= 'A' && field[0] <= 'Z'));
    if (!letter || field.size() < 2 || field[1] != '=') {
      return malformed(what, "expected attribute=value at offset " + std::to_string(pos));
    }
    attributes.push_back(Attribute{field[0], field.substr(2)});
    if (comma == std::string_view::npos)
      break;
    pos = comma + 1;
  }
  return attributes;
}

bool isPrintableNonce(std::string_view nonce) {
  if (nonce.empty())
    return false;
  for (const char c : nonce) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e || c == ',')
      return false;
  }
  return true;
}

ScramKey xorKeys(const ScramKey& a, const ScramKey& b) {
  ScramKey out{};
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = a[i] ^ b[i];
  return out;
}

std::string authMessage(std::string_view client_first_bare, std::string_view server_first,
                        std::string_view client_final_without_proof) {
  std::string message;
  message.reserve(client_first_bare.size() + server_first.size() +
                  client_final_without_proof.size() + 2);
  message += client_first_bare;
  message += ',';
  message += server_first;
  message += ',';
  message += client_final_without_proof;
  return message;
}

}  // namespace scram_detail
}  // namespace keel::pgwire
