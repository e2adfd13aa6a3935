#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>

#include "proxy/client_stream.h"
#include "proxy/wakeup.h"

namespace keel::proxy {

// What a transaction-mode session sends its client, in order, from both of its sides (the relay
// of the client's requests and the server reader). One writer at a time. On a plain socket, a
// write the socket takes whole (nearly all of them) needs no trip through the scheduler and the
// buffer keeps its capacity. The session's thread only.
class ClientOutput {
 public:
  explicit ClientOutput(ClientStream& stream) : stream_(stream) {}

  // Client-bound bytes not yet written, in order: append here, then flush.
  std::string pending;

  // The part of flush() that needs no waiting. True: nothing is left for this caller to wait
  // for (all written, or another writer is at work and the backlog is small, or the client is
  // gone).
  bool flushNow();
  // Writes what is pending. A caller that finds another writer at work waits only while the
  // backlog is large.
  boost::asio::awaitable<void> flush();
  // A write failed: the client is gone, and what is pending is dropped.
  bool failed() const { return failed_; }

 private:
  ClientStream& stream_;
  bool writing_ = false;
  bool failed_ = false;
  Wakeup drained_;
};

}  // namespace keel::proxy
