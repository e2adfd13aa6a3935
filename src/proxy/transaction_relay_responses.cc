// TransactionRelay, server -> client: matching each response to the message it answers
// (PostgreSQL docs 55.2 "Message Flow").
#include <algorithm>
#include <cassert>

#include "pgwire/message_builder.h"
#include "pgwire/protocol.h"
#include "proxy/transaction_relay.h"

namespace keel::proxy {

namespace {

namespace be = pgwire::backend;
using pgwire::WireErrc;

std::string_view backendMessageName(char type) {
  switch (type) {
    case be::kParseComplete:
      return "ParseComplete";
    case be::kBindComplete:
      return "BindComplete";
    case be::kCloseComplete:
      return "CloseComplete";
    case be::kCommandComplete:
      return "CommandComplete";
    case be::kCopyData:
      return "CopyData";
    case be::kCopyDone:
      return "CopyDone";
    case be::kCopyInResponse:
      return "CopyInResponse";
    case be::kCopyOutResponse:
      return "CopyOutResponse";
    case be::kCopyBothResponse:
      return "CopyBothResponse";
    case be::kDataRow:
      return "DataRow";
    case be::kEmptyQueryResponse:
      return "EmptyQueryResponse";
    case be::kFunctionCallResponse:
      return "FunctionCallResponse";
    case be::kNoData:
      return "NoData";
    case be::kParameterDescription:
      return "ParameterDescription";
    case be::kPortalSuspended:
      return "PortalSuspended";
    case be::kReadyForQuery:
      return "ReadyForQuery";
    case be::kRowDescription:
      return "RowDescription";
    case be::kAuthentication:
      return "Authentication";
    case be::kBackendKeyData:
      return "BackendKeyData";
    case be::kNegotiateProtocolVersion:
      return "NegotiateProtocolVersion";
    default:
      return "an unknown message";
  }
}

bool isRowDescriptionOrNoData(char type) {
  return type == be::kRowDescription || type == be::kNoData;
}

}  // namespace

pgwire::WireResult<void> TransactionRelay::fromServer(const pgwire::Frame& frame,
                                                      std::string& to_client) {
  assert(server_ != nullptr);
  if (frame.kind == pgwire::FrameKind::continuation) {
    if (!server_swallow_) {
      to_client.append(frame.raw);
    }
    if (frame.complete) {
      server_streaming_ = false;
      server_swallow_ = false;
      drainHead(to_client);  // Keel's responses held back while the message went by
    }
    return {};
  }
  if (frame.kind != pgwire::FrameKind::message) {
    return fail(WireErrc::unexpected_message,
                "PostgreSQL sent a startup-phase answer in the middle of a session");
  }
  server_streaming_ = !frame.complete;
  server_swallow_ = false;
  const char type = frame.type;
  if (type == be::kNoticeResponse || type == be::kNotificationResponse ||
      type == be::kParameterStatus) {
    to_client.append(frame.raw);  // may come at any time (55.2.7)
    return {};
  }
  if (type == be::kErrorResponse) {
    return serverError(frame, to_client);
  }
  if (queue_.empty()) {
    return fail(WireErrc::unexpected_message, "PostgreSQL sent " +
                                                  std::string(backendMessageName(type)) +
                                                  " when no response was awaited");
  }
  const Reply awaited = queue_.front().reply;
  auto accepted = response(frame, to_client);
  if (!accepted) {
    return accepted.failure();
  }
  if (*accepted) {
    return {};
  }
  static constexpr std::string_view kAwaited[] = {"ParseComplete",
                                                  "BindComplete",
                                                  "the answer to Describe",
                                                  "the answer to Describe",
                                                  "the result of Execute",
                                                  "CloseComplete",
                                                  "ReadyForQuery",
                                                  "the result of a Query",
                                                  "the result of a FunctionCall",
                                                  "nothing",
                                                  "nothing"};
  return fail(WireErrc::unexpected_message,
              "PostgreSQL sent " + std::string(backendMessageName(type)) + " where Keel awaited " +
                  std::string(kAwaited[static_cast<std::size_t>(awaited)]) +
                  "; the server connection is out of step with its client");
}

pgwire::WireResult<bool> TransactionRelay::response(const pgwire::Frame& frame,
                                                    std::string& to_client) {
  Pending& head = queue_.front();
  const char type = frame.type;
  // Relays `frame` (or swallows it, for Keel's own messages) and, if it is the last response
  // to the head's message, moves on to the next.
  auto accept = [&](bool last) {
    if (head.swallow) {
      server_swallow_ = server_streaming_;
    } else {
      to_client.append(frame.raw);
    }
    if (last) {
      complete(to_client);
    }
    return true;
  };
  switch (head.reply) {
    case Reply::parse:
      if (type != be::kParseComplete || head.refused) {
        return false;
      }
      if (head.server_effect == ServerEffect::parse) {
        server_->confirm(head.statement);
        ++counters_.server_parses;
      }
      return accept(true);
    case Reply::bind:
      return type == be::kBindComplete && accept(true);
    case Reply::describe_statement:
      if (type == be::kParameterDescription && !head.described) {
        head.described = true;
        return accept(false);
      }
      return isRowDescriptionOrNoData(type) && head.described && accept(true);
    case Reply::describe_portal:
      return isRowDescriptionOrNoData(type) && accept(true);
    case Reply::close:
      return type == be::kCloseComplete && accept(true);
    case Reply::execute:
    case Reply::query:
      return resultMessage(frame, to_client);
    case Reply::sync:
      if (type != be::kReadyForQuery) {
        return false;
      }
      break;
    case Reply::function_call:
      if (type == be::kFunctionCallResponse) {
        return accept(false);
      }
      if (type != be::kReadyForQuery) {
        return false;
      }
      break;
    case Reply::synthesized:
    case Reply::copy_end:
      return false;  // never at the head: drainHead() takes them off
  }
  auto ready = readyForQuery(frame, to_client);
  if (!ready) {
    return ready.failure();
  }
  return true;
}

pgwire::WireResult<bool> TransactionRelay::resultMessage(const pgwire::Frame& frame,
                                                         std::string& to_client) {
  Pending& head = queue_.front();
  const bool execute = head.reply == Reply::execute;
  switch (frame.type) {
    case be::kRowDescription:
      if (execute) {
        return false;  // Execute never describes its rows; Describe does
      }
      [[fallthrough]];
    case be::kDataRow:
      if (head.rewritten) {
        server_swallow_ = server_streaming_;  // the rows of Keel's SELECT
      } else {
        to_client.append(frame.raw);
      }
      return true;
    case be::kCopyData:
    case be::kCopyDone:
    case be::kCopyOutResponse:
      to_client.append(frame.raw);
      return true;
    case be::kCopyInResponse:
    case be::kCopyBothResponse:
      to_client.append(frame.raw);
      copyInStarted();  // may erase entries: `head` is invalid from here
      return true;
    case be::kCommandComplete:
      commandComplete(frame, head, to_client);
      if (execute) {
        complete(to_client);
      }
      return true;
    case be::kEmptyQueryResponse:
      to_client.append(frame.raw);
      if (execute) {
        complete(to_client);
      }
      return true;
    case be::kPortalSuspended:
      if (!execute) {
        return false;
      }
      to_client.append(frame.raw);
      complete(to_client);
      return true;
    case be::kReadyForQuery: {
      if (execute) {
        return false;
      }
      auto ready = readyForQuery(frame, to_client);
      if (!ready) {
        return ready.failure();
      }
      return true;
    }
    default:
      return false;
  }
}

pgwire::WireResult<void> TransactionRelay::serverError(const pgwire::Frame& frame,
                                                       std::string& to_client) {
  copy_in_open_ = false;  // an error ends COPY FROM STDIN (55.2.6)
  if (queue_.empty()) {
    to_client.append(frame.raw);  // e.g. FATAL before the server closes the connection
    return {};
  }
  Pending& head = queue_.front();
  if (head.reply == Reply::query || head.reply == Reply::function_call ||
      head.reply == Reply::sync) {
    // Not an extended-query message: ReadyForQuery follows. A DEALLOCATE or DISCARD ALL that
    // failed leaves the client's statements as they were.
    undo(head);
    to_client.append(frame.raw);
    return {};
  }
  // 55.2.3: after an error in an extended-query message, the server discards every message up
  // to Sync. Their responses will not come, and neither may the ones Keel would have made.
  if (head.refused) {
    to_client.append(head.bytes);
    ++counters_.synthesized;
    server_swallow_ = server_streaming_;
  } else {
    to_client.append(frame.raw);
  }
  bool exists = false;
  if (head.server_effect == ServerEffect::parse && frame.complete) {
    auto error = pgwire::parseErrorResponse(frame.payload);
    exists = error && error->sqlstate() == kDuplicatePreparedStatement;
  }
  const std::string statement = head.statement;
  auto sync = std::find_if(queue_.begin() + 1, queue_.end(),
                           [](const Pending& p) { return p.reply == Reply::sync; });
  // Latest first, so that each entry restores the state it found.
  for (auto it = sync; it != queue_.begin();) {
    --it;
    undo(*it);
  }
  if (exists) {
    // Keel's record of this server was wrong: the statement is there (the Parse was Keel's, so
    // the name is one of the pool's).
    server_->markPresent(statement);
  }
  const bool sync_queued = sync != queue_.end();
  queue_.erase(queue_.begin(), sync);
  if (!sync_queued) {
    skip_until_sync_ = true;
  }
  return {};
}

pgwire::WireResult<void> TransactionRelay::readyForQuery(const pgwire::Frame& frame,
                                                         std::string& to_client) {
  if (!frame.complete) {
    return fail(WireErrc::malformed,
                "PostgreSQL sent a ReadyForQuery of " + std::to_string(frame.length) + " bytes");
  }
  auto ready = pgwire::parseReadyForQuery(frame.payload);
  if (!ready) {
    return ready.failure();
  }
  tx_status_ = ready->status;
  to_client.append(frame.raw);
  complete(to_client);
  if (tx_status_ == pgwire::TransactionStatus::idle) {
    // The transaction is over: only messages still in flight keep their statements pinned.
    server_->unpinAll();
    for (const Pending& p : queue_) {
      if (!p.statement.empty() && p.server_effect != ServerEffect::evict) {
        server_->pin(p.statement);
      }
    }
  }
  return {};
}

void TransactionRelay::commandComplete(const pgwire::Frame& frame, Pending& head,
                                       std::string& to_client) {
  if (head.rewritten) {
    to_client.append(head.bytes);
    ++counters_.synthesized;
    server_swallow_ = server_streaming_;
    return;
  }
  to_client.append(frame.raw);
  if (!frame.complete) {
    return;
  }
  auto done = pgwire::parseCommandComplete(frame.payload);
  if (!done) {
    return;
  }
  if (done->tag == "SET" || done->tag == "RESET" || done->tag == "DISCARD ALL") {
    settings_touched_ = true;
  }
  if (done->tag != "DISCARD ALL" && done->tag != "DEALLOCATE ALL") {
    return;
  }
  // The server dropped every prepared statement, Keel's included, as of this message.
  server_->clearBefore(head.mark);
  if (head.discard_all) {
    head.client_saved.reset();
    discard_mark_ = 0;
  } else {
    // Sent some way Keel does not intercept: PostgreSQL dropped the client's statements too.
    (void)client_.takeAll();
  }
}

void TransactionRelay::copyInStarted() {
  // 55.2.6: in COPY FROM STDIN the server reads CopyData up to CopyDone or CopyFail, ignoring
  // Sync and Flush. A Sync the client sent behind the Execute before seeing CopyInResponse
  // (libpq sends Parse/Bind/Execute/Sync at once) gets no ReadyForQuery.
  const bool extended = queue_.front().reply == Reply::execute;
  bool ended = false;
  for (auto it = queue_.begin() + 1; it != queue_.end();) {
    if (it->reply == Reply::copy_end) {
      queue_.erase(it);
      ended = true;
      break;
    }
    it = it->reply == Reply::sync ? queue_.erase(it) : it + 1;
  }
  copy_in_open_ = !ended;
  if (extended && std::none_of(queue_.begin(), queue_.end(),
                               [](const Pending& p) { return p.reply == Reply::sync; })) {
    in_batch_ = true;  // the server still needs a Sync after the COPY
  }
}

}  // namespace keel::proxy
