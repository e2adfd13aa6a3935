#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "pgwire/protocol.h"

namespace keel::pgwire {

// Appends one message to `out` (55.7): the type byte (none for startup-phase packets), a length
// word patched in by finish(), then the fields. Nothing is written to `out` besides the message,
// so callers can batch many messages into one buffer and send it with a single write.
//
// Preconditions (the encoders guarantee them for messages Keel builds or re-encodes from parsed
// ones): the finished message stays below kMaxMessageLengthCap, and a String field holds no NUL;
// cstring() writes a String only up to its first NUL so the framing stays intact regardless.
class MessageWriter {
 public:
  // A typed message.
  MessageWriter(std::string& out, char type) : out_(out) {
    out_.push_back(type);
    start_ = out_.size();
    out_.append(4, '\0');
  }
  // A startup-phase packet (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest).
  explicit MessageWriter(std::string& out) : out_(out), start_(out.size()) { out_.append(4, '\0'); }

  MessageWriter(const MessageWriter&) = delete;
  MessageWriter& operator=(const MessageWriter&) = delete;

  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void i16(std::int16_t v) { u16(static_cast<std::uint16_t>(v)); }
  void u16(std::uint16_t v) {
    char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
    out_.append(b, 2);
  }
  void i32(std::int32_t v) { u32(static_cast<std::uint32_t>(v)); }
  void u32(std::uint32_t v) {
    char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                 static_cast<char>(v)};
    out_.append(b, 4);
  }
  void cstring(std::string_view s) {
    auto nul = s.find('\0');
    out_.append(nul == std::string_view::npos ? s : s.substr(0, nul));
    out_.push_back('\0');
  }
  void bytes(std::string_view s) { out_.append(s); }
  // Int32 length + bytes; -1 and no bytes for NULL.
  void lengthPrefixed(std::string_view s) {
    i32(static_cast<std::int32_t>(s.size()));
    bytes(s);
  }
  void nullValue() { i32(-1); }

  // Patches the length word. Must be called exactly once, after the last field.
  void finish() {
    std::size_t len = out_.size() - start_;
    assert(len < kMaxMessageLengthCap);
    auto v = static_cast<std::uint32_t>(len);
    out_[start_] = static_cast<char>(v >> 24);
    out_[start_ + 1] = static_cast<char>(v >> 16);
    out_[start_ + 2] = static_cast<char>(v >> 8);
    out_[start_ + 3] = static_cast<char>(v);
  }

 private:
  std::string& out_;
  std::size_t start_ = 0;
};

}  // namespace keel::pgwire
