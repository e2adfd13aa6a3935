#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "pgwire/wire_errc.h"

namespace keel::pgwire {

// Bounds-checked big-endian reads over one message payload (55.7: Int8/16/32, String = bytes up
// to a NUL, Byte(n)). The first failed read records why and makes the reader "failed": every
// later read returns an empty/zero value without touching memory, so a parse function reads all
// fields straight through and checks once at the end with finish(). Views returned point into
// the payload and live as long as it does. No allocation unless a read fails.
class ByteReader {
 public:
  explicit ByteReader(std::string_view data) : data_(data) {}

  std::size_t remaining() const { return data_.size() - pos_; }
  bool failed() const { return failed_; }

  std::uint8_t u8(const char* field) {
    if (!need(1, field)) {
      return 0;
    }
    return static_cast<std::uint8_t>(data_[pos_++]);
  }
  std::uint16_t u16(const char* field) {
    if (!need(2, field)) {
      return 0;
    }
    auto v = static_cast<std::uint16_t>((byteAt(0) << 8) | byteAt(1));
    pos_ += 2;
    return v;
  }
  std::int16_t i16(const char* field) { return static_cast<std::int16_t>(u16(field)); }
  std::uint32_t u32(const char* field) {
    if (!need(4, field)) {
      return 0;
    }
    std::uint32_t v = (std::uint32_t{byteAt(0)} << 24) | (std::uint32_t{byteAt(1)} << 16) |
                      (std::uint32_t{byteAt(2)} << 8) | std::uint32_t{byteAt(3)};
    pos_ += 4;
    return v;
  }
  std::int32_t i32(const char* field) { return static_cast<std::int32_t>(u32(field)); }

  // A String: the bytes before the next NUL; the NUL is consumed.
  std::string_view cstring(const char* field) {
    if (failed_) {
      return {};
    }
    const char* start = data_.data() + pos_;
    const void* nul = std::memchr(start, '\0', remaining());
    if (nul == nullptr) {
      fail(WireErrc::truncated, std::string("field \"") + field + "\" has no terminating NUL");
      return {};
    }
    auto len = static_cast<std::size_t>(static_cast<const char*>(nul) - start);
    pos_ += len + 1;
    return {start, len};
  }
  std::string_view bytes(std::size_t n, const char* field) {
    if (!need(n, field)) {
      return {};
    }
    std::string_view v = data_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  std::string_view rest() {
    if (failed_) {
      return {};
    }
    std::string_view v = data_.substr(pos_);
    pos_ = data_.size();
    return v;
  }

  // A UInt16 element count (PostgreSQL reads these counts unsigned), checked against what the
  // remaining bytes can hold at `min_element_size` bytes per element, so a forged count can
  // neither make a parser loop long nor reserve much memory.
  std::size_t count16(const char* field, std::size_t min_element_size) {
    std::size_t n = u16(field);
    checkCount(n, field, min_element_size);
    return failed_ ? 0 : n;
  }
  std::size_t count32(const char* field, std::size_t min_element_size) {
    std::int32_t n = i32(field);
    if (!failed_ && n < 0) {
      fail(WireErrc::malformed,
           std::string("count \"") + field + "\" is negative (" + std::to_string(n) + ")");
    }
    if (failed_) {
      return 0;
    }
    checkCount(static_cast<std::size_t>(n), field, min_element_size);
    return failed_ ? 0 : static_cast<std::size_t>(n);
  }

  // An Int32 length followed by that many bytes; -1 means NULL (returned as has_value=false).
  // Any other negative length is malformed.
  bool nullableBytes(const char* field, std::string_view& out) {
    std::int32_t len = i32(field);
    if (failed_) {
      return false;
    }
    if (len == -1) {
      out = {};
      return false;
    }
    if (len < 0) {
      fail(WireErrc::malformed, std::string("length of \"") + field + "\" is negative (" +
                                    std::to_string(len) + ") and not -1 (NULL)");
      return false;
    }
    out = bytes(static_cast<std::size_t>(len), field);
    return !failed_;
  }

  // Records the first failure only: later ones are consequences of it.
  void fail(WireErrc code, std::string reason) {
    if (!failed_) {
      failed_ = true;
      code_ = code;
      reason_ = std::move(reason);
    }
  }

  // The parse result: `value` if every read succeeded and the payload was consumed exactly
  // (PostgreSQL's pq_getmsgend rejects leftover bytes too), else a failure naming the message.
  template <typename T>
  WireResult<T> finish(std::string_view message, T value) {
    if (!failed_ && remaining() != 0) {
      fail(WireErrc::malformed,
           std::to_string(remaining()) + " unexpected bytes after the last field");
    }
    if (failed_) {
      return Failure<WireErrc>{code_, "malformed " + std::string(message) + " message (" +
                                          std::to_string(data_.size()) +
                                          " bytes of payload): " + reason_};
    }
    return value;
  }

 private:
  unsigned byteAt(std::size_t i) const { return static_cast<unsigned char>(data_[pos_ + i]); }
  bool need(std::size_t n, const char* field) {
    if (failed_) {
      return false;
    }
    if (n > remaining()) {
      fail(WireErrc::truncated, std::string("field \"") + field + "\" needs " + std::to_string(n) +
                                    " bytes but only " + std::to_string(remaining()) + " remain");
      return false;
    }
    return true;
  }
  void checkCount(std::size_t n, const char* field, std::size_t min_element_size) {
    if (!failed_ && n * min_element_size > remaining()) {
      fail(WireErrc::malformed, std::string("count \"") + field + "\" is " + std::to_string(n) +
                                    " but only " + std::to_string(remaining()) +
                                    " bytes remain for its elements");
    }
  }

  std::string_view data_;
  std::size_t pos_ = 0;
  bool failed_ = false;
  WireErrc code_ = WireErrc::malformed;
  std::string reason_;
};

}  // namespace keel::pgwire
