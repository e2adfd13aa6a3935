#include "proxy/transaction_relay.h"

#include <cassert>

#include "pgwire/message_builder.h"
#include "pgwire/protocol.h"

namespace keel::proxy {

namespace {

namespace fe = pgwire::frontend;

// A Parse that always fails (a syntax error, or 42P05 if the name exists), with no effect on the
// server: what Keel sends in place of a message it refuses, so that the server aborts the
// pipeline as it would on its own error. The name and text show up in the server's log.
constexpr std::string_view kRefusedName = "keel_refused";
constexpr std::string_view kRefusedQuery = "KEEL REFUSED THIS MESSAGE";
// What a DEALLOCATE becomes: does nothing, and fails with 25P02 in an aborted transaction as the
// DEALLOCATE would have.
constexpr std::string_view kNoopQuery = "SELECT";
// PostgreSQL docs, Appendix A.

void appendBe32(std::string& out, std::uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, 4);
}

}  // namespace

TransactionRelay::TransactionRelay(std::size_t max_client_statements)
    : client_(max_client_statements) {}

TransactionRelay::~TransactionRelay() = default;

void TransactionRelay::attach(StatementNames& names, ServerStatements& server) {
  assert(server_ == nullptr);
  names_ = &names;
  server_ = &server;
  if (names.id() != names_id_) {
    client_.reintern(names);
    names_id_ = names.id();
  }
  tx_status_ = pgwire::TransactionStatus::idle;
}

void TransactionRelay::detach() {
  if (server_ != nullptr) {
    server_->unpinAll();
  }
  server_ = nullptr;
  names_ = nullptr;
  queue_.clear();
  tx_status_ = pgwire::TransactionStatus::idle;
  in_batch_ = false;
  skip_until_sync_ = false;
  copy_in_open_ = false;
  discard_mark_ = 0;
  client_stream_ = ClientStream::none;
  assembly_.clear();
  server_streaming_ = false;
  server_swallow_ = false;
  settings_touched_ = false;
}

bool TransactionRelay::releasable() const {
  return server_ != nullptr && queue_.empty() && tx_status_ == pgwire::TransactionStatus::idle &&
         !in_batch_ && !skip_until_sync_ && !copy_in_open_ &&
         client_stream_ == ClientStream::none && !server_streaming_;
}

// --- client -> server ---

void TransactionRelay::fromClient(const pgwire::Frame& frame, std::string& to_server,
                                  std::string& to_client) {
  assert(server_ != nullptr);
  if (frame.kind == pgwire::FrameKind::continuation) {
    clientStreamPart(frame, to_server, to_client);
  } else if (frame.kind != pgwire::FrameKind::message) {
    to_server.append(frame.raw);
  } else if (!frame.complete) {
    clientStreamStart(frame, to_server, to_client);
  } else {
    clientMessage(frame.type, frame.payload, frame.raw, to_server, to_client);
  }
}

void TransactionRelay::clientMessage(char type, std::string_view payload, std::string_view raw,
                                     std::string& to_server, std::string& to_client) {
  const bool extended = type == fe::kParse || type == fe::kBind || type == fe::kDescribe ||
                        type == fe::kClose || type == fe::kExecute || type == fe::kFlush;
  if (extended) {
    in_batch_ = true;
  }
  if (skip_until_sync_ && type != fe::kSync && type != fe::kTerminate) {
    return;  // the server would ignore it (55.2.3), so it gets no response
  }
  switch (type) {
    case fe::kParse:
      clientParse(payload, raw, to_server, to_client);
      return;
    case fe::kBind:
      if (!clientBind(payload, raw, static_cast<std::uint32_t>(raw.size() - 1), to_server)) {
        to_server.append(raw);  // malformed: the server reports it
        push(Pending{.reply = Reply::bind});
      }
      return;
    case fe::kDescribe:
    case fe::kClose:
      clientDescribeOrClose(type, payload, raw, to_server, to_client);
      return;
    case fe::kExecute:
      to_server.append(raw);
      push(Pending{.reply = Reply::execute});
      return;
    case fe::kSync:
      to_server.append(raw);
      skip_until_sync_ = false;
      if (!copy_in_open_) {  // during COPY FROM STDIN the server ignores Sync (55.2.6)
        in_batch_ = false;
        push(Pending{.reply = Reply::sync});
      }
      return;
    case fe::kQuery:
      in_batch_ = false;
      clientQuery(payload, raw, to_server);
      return;
    case fe::kFunctionCall:
      in_batch_ = false;
      to_server.append(raw);
      push(Pending{.reply = Reply::function_call});
      return;
    case fe::kCopyDone:
    case fe::kCopyFail:
      to_server.append(raw);
      if (copy_in_open_) {
        copy_in_open_ = false;
      } else {
        answer(Pending{.reply = Reply::copy_end}, to_client);
      }
      return;
    default:  // CopyData, Flush, Terminate
      to_server.append(raw);
      return;
  }
}

void TransactionRelay::clientParse(std::string_view payload, std::string_view raw,
                                   std::string& to_server, std::string& to_client) {
  auto parse = pgwire::parseParse(payload);
  if (parse && callsSetConfig(parse->query)) {
    settings_touched_ = true;
  }
  if (!parse || parse->statement.empty()) {
    to_server.append(raw);  // the unnamed statement, or malformed (the server reports it)
    push(Pending{.reply = Reply::parse});
    return;
  }
  if (auto admitted = client_.admit(parse->statement); !admitted) {
    refuse(kDuplicatePreparedStatement, admitted.message(), to_server);
    return;
  }
  PooledStatementPtr statement = names_->intern(parse->query, parse->parameter_types);
  (void)client_.add(parse->statement, statement);
  counters_.client_evictions = client_.evictions();
  Pending entry{.reply = Reply::parse,
                .statement = statement->name,
                .client_changed = true,
                .client_name = std::string(parse->statement)};
  if (server_->has(statement->name, discard_mark_)) {
    server_->touch(statement->name);
    ++counters_.shared_statements;
    entry.reply = Reply::synthesized;
    entry.bytes = pgwire::encoded(pgwire::ParseComplete{});
    answer(std::move(entry), to_client);
    return;
  }
  entry.server_effect = ServerEffect::parse;
  sendParse(*statement, std::move(entry), to_server);
}

bool TransactionRelay::clientBind(std::string_view payload, std::string_view raw,
                                  std::uint32_t length, std::string& to_server) {
  const std::size_t portal_end = payload.find('\0');
  if (portal_end == std::string_view::npos) {
    return false;
  }
  const std::size_t name_end = payload.find('\0', portal_end + 1);
  if (name_end == std::string_view::npos) {
    return false;
  }
  const std::string_view name = payload.substr(portal_end + 1, name_end - portal_end - 1);
  const PooledStatementPtr* found = name.empty() ? nullptr : client_.find(name);
  if (found == nullptr) {
    to_server.append(raw);
    push(Pending{.reply = Reply::bind});
    return true;
  }
  const PooledStatement& statement = **found;
  if (statement.calls_set_config) {
    settings_touched_ = true;
  }
  ensureOnServer(statement, to_server);
  // The same message with the statement name replaced; parameters are copied as received, and
  // for a streamed Bind the rest follows as it arrives (length from the original length word).
  to_server.push_back(fe::kBind);
  appendBe32(to_server, static_cast<std::uint32_t>(length - name.size() + statement.name.size()));
  to_server.append(payload.substr(0, portal_end + 1));
  to_server.append(statement.name);
  to_server.push_back('\0');
  to_server.append(payload.substr(name_end + 1));
  push(Pending{.reply = Reply::bind, .statement = statement.name});
  return true;
}

void TransactionRelay::clientDescribeOrClose(char type, std::string_view payload,
                                             std::string_view raw, std::string& to_server,
                                             std::string& to_client) {
  pgwire::TargetKind kind = pgwire::TargetKind::portal;
  std::string_view name;
  bool parsed = false;
  if (type == fe::kDescribe) {
    if (auto d = pgwire::parseDescribe(payload)) {
      kind = d->kind;
      name = d->name;
      parsed = true;
    }
  } else if (auto c = pgwire::parseClose(payload)) {
    kind = c->kind;
    name = c->name;
    parsed = true;
  }
  const PooledStatementPtr* found = parsed && kind == pgwire::TargetKind::statement && !name.empty()
                                        ? client_.find(name)
                                        : nullptr;
  if (found == nullptr) {
    to_server.append(raw);
    push(Pending{.reply = type == fe::kClose                      ? Reply::close
                          : kind == pgwire::TargetKind::statement ? Reply::describe_statement
                                                                  : Reply::describe_portal});
    return;
  }
  if (type == fe::kDescribe) {
    PooledStatementPtr statement = *found;
    ensureOnServer(*statement, to_server);
    pgwire::encode(to_server, pgwire::Describe{.kind = pgwire::TargetKind::statement,
                                               .name = statement->name});
    push(Pending{.reply = Reply::describe_statement, .statement = statement->name});
    return;
  }
  // Close: the server-side statement is shared, so only the client's name goes.
  Pending entry{.reply = Reply::synthesized,
                .bytes = pgwire::encoded(pgwire::CloseComplete{}),
                .client_changed = true,
                .client_name = std::string(name)};
  entry.client_previous = client_.remove(name);
  answer(std::move(entry), to_client);
}

void TransactionRelay::clientQuery(std::string_view payload, std::string_view raw,
                                   std::string& to_server) {
  auto query = pgwire::parseQuery(payload);
  if (query && callsSetConfig(query->sql)) {
    settings_touched_ = true;
  }
  auto command = query ? parsePreparedStatementCommand(query->sql) : std::nullopt;
  using Kind = PreparedStatementCommand::Kind;
  if (!command || (command->kind == Kind::deallocate && client_.find(command->name) == nullptr)) {
    to_server.append(raw);  // not Keel's business, or a name only the server may know
    push(Pending{.reply = Reply::query});
    return;
  }
  if (command->kind == Kind::discard_all) {
    to_server.append(raw);
    push(Pending{.reply = Reply::query,
                 .discard_all = true,
                 .client_saved = std::make_unique<ClientStatements::Map>(client_.takeAll())});
    // Until its CommandComplete, statements prepared before it count as gone, so that messages
    // pipelined behind it prepare them again.
    discard_mark_ = server_->mark();
    return;
  }
  pgwire::encode(to_server, pgwire::Query{.sql = kNoopQuery});
  Pending entry{.reply = Reply::query, .rewritten = true};
  if (command->kind == Kind::deallocate) {
    entry.bytes = pgwire::encoded(pgwire::CommandComplete{.tag = "DEALLOCATE"});
    entry.client_changed = true;
    entry.client_name = command->name;
    entry.client_previous = client_.remove(command->name);
  } else {
    entry.bytes = pgwire::encoded(pgwire::CommandComplete{.tag = "DEALLOCATE ALL"});
    entry.client_saved = std::make_unique<ClientStatements::Map>(client_.takeAll());
  }
  push(std::move(entry));
}

void TransactionRelay::clientStreamStart(const pgwire::Frame& frame, std::string& to_server,
                                         std::string& to_client) {
  switch (frame.type) {
    case fe::kParse:
    case fe::kDescribe:
    case fe::kClose:
      // Needed whole (a Parse's parameter types come last); bounded by the decoder's limit.
      client_stream_ = ClientStream::assemble;
      assembly_.assign(frame.raw);
      return;
    case fe::kBind:
      in_batch_ = true;
      if (skip_until_sync_) {
        client_stream_ = ClientStream::drop;
        return;
      }
      // Only the names at the front are needed; the parameters stream through.
      client_stream_ = ClientStream::bind_header;
      assembly_.assign(frame.raw);
      if (clientBind(std::string_view(assembly_).substr(5), assembly_, frame.length, to_server)) {
        client_stream_ = ClientStream::forward;
        assembly_.clear();
      }
      return;
    case fe::kQuery:
      // Too long to be a DEALLOCATE or DISCARD ALL: only its type matters (and, not seen whole,
      // it may call set_config).
      if (skip_until_sync_) {
        client_stream_ = ClientStream::drop;
        return;
      }
      settings_touched_ = true;
      client_stream_ = ClientStream::forward;
      in_batch_ = false;
      to_server.append(frame.raw);
      push(Pending{.reply = Reply::query});
      return;
    default: {
      // The other messages are accounted for by type alone.
      const std::size_t before = to_server.size();
      clientMessage(frame.type, frame.payload, frame.raw, to_server, to_client);
      client_stream_ = to_server.size() > before ? ClientStream::forward : ClientStream::drop;
      return;
    }
  }
}

void TransactionRelay::clientStreamPart(const pgwire::Frame& frame, std::string& to_server,
                                        std::string& to_client) {
  switch (client_stream_) {
    case ClientStream::none:
    case ClientStream::forward:
      to_server.append(frame.raw);
      break;
    case ClientStream::drop:
      break;
    case ClientStream::assemble:
      assembly_.append(frame.raw);
      if (frame.complete) {
        std::string message = std::move(assembly_);
        std::string_view view = message;
        clientMessage(view[0], view.substr(5), view, to_server, to_client);
      }
      break;
    case ClientStream::bind_header:
      if (skip_until_sync_) {  // the server failed meanwhile; nothing of this Bind was sent
        client_stream_ = ClientStream::drop;
        break;
      }
      assembly_.append(frame.raw);
      if (clientBind(std::string_view(assembly_).substr(5), assembly_, frame.length, to_server)) {
        client_stream_ = ClientStream::forward;
        assembly_.clear();
      } else if (frame.complete) {
        to_server.append(assembly_);  // malformed: the server reports it
        push(Pending{.reply = Reply::bind});
      }
      break;
  }
  if (frame.complete) {
    client_stream_ = ClientStream::none;
    assembly_.clear();
  }
}

void TransactionRelay::ensureOnServer(const PooledStatement& statement, std::string& to_server) {
  if (server_->has(statement.name, discard_mark_)) {
    server_->touch(statement.name);
    return;
  }
  ++counters_.injected_parses;
  sendParse(statement,
            Pending{.reply = Reply::parse,
                    .swallow = true,
                    .server_effect = ServerEffect::parse,
                    .statement = statement.name},
            to_server);
}

void TransactionRelay::sendParse(const PooledStatement& statement, Pending entry,
                                 std::string& to_server) {
  for (std::string& evicted : server_->add(statement.name)) {
    ++counters_.evictions;
    pgwire::encode(to_server,
                   pgwire::Close{.kind = pgwire::TargetKind::statement, .name = evicted});
    push(Pending{.reply = Reply::close,
                 .swallow = true,
                 .server_effect = ServerEffect::evict,
                 .statement = std::move(evicted)});
  }
  const StatementDefinition& d = statement.definition;
  pgwire::encode(to_server, pgwire::Parse{.statement = statement.name,
                                          .query = d.query,
                                          .parameter_types = d.parameter_types});
  push(std::move(entry));
}

void TransactionRelay::refuse(std::string_view sqlstate, std::string_view message,
                              std::string& to_server) {
  pgwire::encode(to_server, pgwire::Parse{.statement = kRefusedName, .query = kRefusedQuery});
  push(Pending{.reply = Reply::parse,
               .refused = true,
               .bytes = pgwire::errorResponse("ERROR", sqlstate, message)});
  skip_until_sync_ = true;
}

void TransactionRelay::push(Pending entry) {
  entry.mark = server_->mark();
  queue_.push_back(std::move(entry));
}

void TransactionRelay::answer(Pending entry, std::string& to_client) {
  // Not into the middle of a server message being relayed in parts (e.g. a long notice).
  if (!queue_.empty() || server_streaming_) {
    push(std::move(entry));
  } else if (entry.reply == Reply::synthesized) {
    to_client.append(entry.bytes);
    ++counters_.synthesized;
  }
}

void TransactionRelay::drainHead(std::string& to_client) {
  while (!queue_.empty() &&
         (queue_.front().reply == Reply::synthesized || queue_.front().reply == Reply::copy_end)) {
    if (queue_.front().reply == Reply::synthesized) {
      to_client.append(queue_.front().bytes);
      ++counters_.synthesized;
    }
    queue_.pop_front();
  }
}

void TransactionRelay::complete(std::string& to_client) {
  queue_.pop_front();
  drainHead(to_client);
}

void TransactionRelay::undo(Pending& entry) {
  switch (entry.server_effect) {
    case ServerEffect::parse:
      server_->forget(entry.statement);
      break;
    case ServerEffect::evict:
      server_->restore(entry.statement);
      break;
    case ServerEffect::none:
      break;
  }
  entry.server_effect = ServerEffect::none;
  if (entry.client_changed) {
    client_.restore(entry.client_name, std::move(entry.client_previous));
    entry.client_changed = false;
  }
  if (entry.client_saved) {
    client_.restoreAll(std::move(*entry.client_saved));
    entry.client_saved.reset();
  }
  if (entry.discard_all) {
    discard_mark_ = 0;
  }
}

}  // namespace keel::proxy
