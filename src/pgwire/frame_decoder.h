#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "pgwire/protocol.h"
#include "pgwire/wire_errc.h"

namespace keel::pgwire {

// Which peer the decoded bytes come from: a client (Keel is the server) or PostgreSQL (Keel is
// the client). It decides the initial phase and which type bytes are valid.
enum class Source { frontend, backend };

enum class FrameKind : std::uint8_t {
  message,              // a typed message: Byte1 type, Int32 length, payload
  startup,              // StartupMessage (protocol 3.x)
  ssl_request,          // SSLRequest
  gssenc_request,       // GSSENCRequest
  cancel_request,       // CancelRequest
  encryption_response,  // the server's one-byte answer to SSLRequest/GSSENCRequest ('S','G','N')
  continuation,         // more payload of a streamed message (see FrameLimits::stream_threshold)
};

// One decoded frame. The views point into the decoder's buffer: they stay valid until the next
// call to prepare(), feed() or reset() on that decoder (next() and commit() do not move data), so
// a relay may decode every frame of a read and then forward them, possibly as one contiguous span.
struct Frame {
  FrameKind kind = FrameKind::message;
  // message: the type byte; encryption_response: 'S', 'G' or 'N'; continuation: the type of the
  // streamed message; '\0' for startup-phase packets.
  char type = '\0';
  // message: the bytes after the length word; startup-phase packets: the bytes after the length
  // word, starting with the Int32 code. For a streamed message, the part of the payload that
  // this frame carries.
  std::string_view payload;
  // The bytes of the wire message exactly as received (for a streamed message: this part), to
  // forward without re-encoding.
  std::string_view raw;
  // The length word of the whole message (0 for encryption_response).
  std::uint32_t length = 0;
  // False only for the leading parts of a streamed message: more continuation frames follow.
  bool complete = true;
};

// Every limit is on the value of a length word (which counts itself). Values above
// kMaxMessageLengthCap are lowered to it.
struct FrameLimits {
  std::uint32_t max_message_length = kDefaultMaxMessageLength;
  // Applies instead of max_message_length until setAuthenticated().
  std::uint32_t max_preauth_message_length = kDefaultMaxPreauthMessageLength;
  std::uint32_t max_startup_packet_length = kMaxStartupPacketLength;
  // When non-zero, a typed message whose length word exceeds this many bytes is not buffered
  // whole: next() hands it out as it arrives, as a `message` frame with complete=false followed by
  // `continuation` frames, the last with complete=true. Lets a session-mode relay forward a
  // 500 MB CopyData with a bounded buffer. Parse functions need whole payloads, so callers that
  // inspect a message type must not stream it (keep the threshold above what they inspect).
  std::uint32_t stream_threshold = 0;
  // Reject type bytes that protocol 3.0 does not define for this Source.
  bool reject_unknown_types = true;
};

// An incremental framer for one connection direction (55.2 "Message Flow", 55.7 "Message
// Formats"). Bytes go in through prepare()/commit() (read straight from a socket into the
// decoder's buffer) or feed() (copy), in any split; next() yields frames or "need more".
//
// Phases, for Source::frontend:
//   startup: the first packets have no type byte. Allowed: SSLRequest and GSSENCRequest (each at
//     most once, and not after encryption was accepted), then a StartupMessage (-> typed) or a
//     CancelRequest (-> closed: any later byte is an error).
//   After an SSLRequest/GSSENCRequest frame, the caller must call encryptionAnswered() before
//     next(): accepting with plaintext bytes still buffered fails with
//     bytes_after_encryption_request (PgBouncer CVE-2021-3935).
//   typed: Byte1 type + Int32 length. A zero type byte (any startup-phase packet, e.g. a second
//     StartupMessage) fails with unexpected_message.
// Source::backend starts typed; call expectEncryptionResponse() after sending an SSLRequest or
// GSSENCRequest so the server's one-byte answer is framed (an 'S'/'G' answer followed by more
// buffered bytes fails with bytes_after_encryption_request, CVE-2021-23222).
//
// Length words below the minimum (8 for startup packets, 4 for messages), with the sign bit set,
// or above the limit in force fail before any payload is buffered. The first failure is sticky:
// every later next() returns it again; the caller sends an ErrorResponse (sqlstateFor(code)) and
// closes the connection.
//
// Cost: one table lookup and one bounds check per frame; no allocation per frame once the buffer
// has grown to the largest message seen (consumed space is reclaimed by moving the unread tail to
// the front when prepare() runs out of room, and buffers above 1 MiB are released when empty).
//
// Thread-safety: none; one decoder per connection direction, used by that session only.
class FrameDecoder {
 public:
  explicit FrameDecoder(Source source, FrameLimits limits = {});

  // Writable space for at least `min_bytes` bytes at the end of the buffer. Invalidates the views
  // of frames returned earlier. The span stays valid until the next call of a non-const method.
  std::span<char> prepare(std::size_t min_bytes);
  // Marks `n` bytes of the span returned by prepare() as received. Precondition: n <= its size.
  void commit(std::size_t n);
  // Copies `bytes` in (prepare + commit).
  void feed(std::string_view bytes);

  // The next complete frame, std::nullopt when more bytes are needed, or the (sticky) failure.
  WireResult<std::optional<Frame>> next();

  // After an SSLRequest/GSSENCRequest frame (Source::frontend): record the one-byte answer Keel
  // sent. Accepting fails with bytes_after_encryption_request if plaintext bytes are buffered:
  // they arrived before the handshake and must not be read as if they were protected by it.
  WireResult<void> encryptionAnswered(bool accepted);
  // Source::backend: the next byte is the server's answer to an SSLRequest/GSSENCRequest.
  void expectEncryptionResponse();
  // Authentication has completed: lift max_preauth_message_length to max_message_length.
  void setAuthenticated();

  // Bytes received and not yet returned in a frame. A caller about to start a TLS handshake
  // checks this is zero (encryptionAnswered() does it for the frontend side).
  std::size_t buffered() const { return end_ - begin_; }
  // How many more bytes the frame being assembled needs at least (1 when unknown); a hint for
  // the size to pass to prepare().
  std::size_t bytesWanted() const;
  // Bytes the buffer holds allocated (for memory accounting).
  std::size_t capacity() const { return buf_.size(); }
  bool authenticated() const { return authenticated_; }
  // True once a StartupMessage was decoded (frontend) / always for the backend side.
  bool inTypedPhase() const { return phase_ == Phase::typed || phase_ == Phase::streaming; }

  // Drops buffered bytes and the sticky failure, back to the initial phase.
  void reset();
  // When no unread byte is buffered, makes the buffer exactly `bytes` long (a connection gone
  // idle keeps a small one; prepare() grows it again). Invalidates the views of frames returned
  // earlier.
  void shrinkIfEmpty(std::size_t bytes);

 private:
  enum class Phase {
    startup,
    awaiting_encryption_answer,
    encryption_response,
    typed,
    streaming,
    closed,
  };

  WireResult<std::optional<Frame>> nextStartup();
  WireResult<std::optional<Frame>> nextTyped();
  WireResult<std::optional<Frame>> nextStreamed();
  WireResult<std::optional<Frame>> nextEncryptionResponse();
  WireResult<std::optional<Frame>> failWith(WireErrc code, std::string message);
  Frame take(FrameKind kind, char type, std::size_t header, std::size_t total,
             std::uint32_t length);

  Source source_;
  FrameLimits limits_;
  Phase phase_;
  std::vector<char> buf_;
  std::size_t begin_ = 0;  // first unread byte
  std::size_t end_ = 0;    // one past the last received byte
  bool authenticated_ = false;
  bool ssl_done_ = false;  // SSLRequest answered (either way): another one is a violation
  bool gss_done_ = false;
  FrameKind pending_request_ = FrameKind::ssl_request;
  // Streaming state: the message being handed out in parts.
  char stream_type_ = '\0';
  std::uint32_t stream_length_ = 0;
  std::size_t stream_left_ = 0;  // payload bytes not yet handed out
  std::optional<Failure<WireErrc>> failure_;
};

}  // namespace keel::pgwire
