#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "pgwire/backend_messages.h"
#include "pgwire/frame_decoder.h"
#include "pgwire/wire_errc.h"
#include "proxy/prepared_statements.h"

// The protocol side of transaction pooling: a server connection is lent to a client for one
// transaction and returned when PostgreSQL reports ReadyForQuery 'I' with nothing else in
// flight. Pure: no sockets, no threads; the client session feeds it frames and writes what it
// produces.
namespace keel::proxy {

// What a relay did, for the pool's statistics. Plain counters: read them on the session's
// thread (or copy them out) and add them to shared totals.
struct TransactionRelayCounters {
  std::uint64_t server_parses = 0;      // statements prepared on a server (ParseComplete arrived)
  std::uint64_t injected_parses = 0;    // Parses Keel sent for a statement the server lacked
  std::uint64_t evictions = 0;          // Closes Keel sent to keep a server within its bound
  std::uint64_t synthesized = 0;        // responses Keel made itself (ParseComplete for a
                                        // statement the server had, CloseComplete, DEALLOCATE,
                                        // refusals)
  std::uint64_t shared_statements = 0;  // client Parses answered by a statement already on the
                                        // server
  std::uint64_t client_evictions = 0;   // client statements forgotten at the per-client bound
};

// One per client session in transaction pooling mode. While a server connection is lent
// (between attach() and detach()), every client frame goes through fromClient() and every server
// frame through fromServer(); each appends, in order, what must be written to the server and to
// the client. Frames arrive one at a time as FrameDecoder yields them, including the parts of
// streamed messages (Frame::complete false, then continuation frames).
//
// What it does (PostgreSQL docs 55.2 "Message Flow", 55.7 "Message Formats"):
// - Named statements: Parse, Bind, Describe 'S' use the pool's server-side name
//   (StatementNames); a statement the server connection lacks is prepared there first (an
//   injected Parse whose ParseComplete the client never sees); a Parse of a statement the server
//   already has is answered by Keel (ParseComplete, in order) without reaching the server.
//   Close 'S' forgets the client's name and is answered by Keel: the server-side statement is
//   shared. Unnamed statements, portals, and names the client never prepared go through as sent
//   (so PostgreSQL reports 26000 for an unknown name itself).
// - Responses: one entry per message that gets a response, so that responses Keel makes go out
//   in their place and responses to Keel's own messages are swallowed. After an ErrorResponse to
//   an extended-query message the server skips everything up to Sync: the entries of those
//   messages are dropped (with what Keel would have answered for them) and their effects on the
//   statement maps undone.
// - Refusals (a Parse of a name the client already has: 42P05) must abort the client's pipeline as
// a server error would, rolling back its implicit
//   transaction. Keel sends instead a Parse that always fails (named "keel_refused", query
//   "KEEL REFUSED THIS MESSAGE") and hands the client its own ErrorResponse in place of the
//   server's; the server then skips up to Sync as for any error.
// - SQL: a simple Query that is exactly DEALLOCATE [PREPARE] name of a client statement, or
//   DEALLOCATE ALL, updates the client's statements and sends `SELECT` instead (so that an
//   aborted transaction still reports 25P02 as PostgreSQL would), whose CommandComplete becomes
//   "DEALLOCATE" / "DEALLOCATE ALL". DISCARD ALL goes to the server and forgets the client's
//   statements. Whatever way a DISCARD ALL or DEALLOCATE ALL reaches the server (extended
//   protocol, a multi-statement Query), its CommandComplete tag tells Keel that the server
//   dropped its statements. See parsePreparedStatementCommand() for what is recognized.
// - COPY: CopyData/CopyDone/CopyFail pass through; Sync sent during COPY FROM STDIN is ignored
//   by the server (55.2.6), so it gets no entry.
//
// Limits, by design: messages the client pipelines behind an error it has not seen yet were
// rewritten assuming the earlier messages succeed; if the server skipped a Parse that Keel
// injected or sent, such later batches may get 26000 for that statement (the same as PostgreSQL
// gives when the client's own Parse was skipped). A `DEALLOCATE name` sent through the extended
// protocol (as a Parse/Bind/Execute) is not intercepted: the server answers 26000 for a client's
// name. Statement names are case-sensitive and not truncated to 63 bytes as PostgreSQL does.
// Terminate and startup-phase frames are the session's business; if fed, they go through without
// an entry.
//
// Driving it: to_client of fromClient() and of fromServer() is one stream, in call order. Keel's
// own responses can come out of fromClient() (a Parse or Close answered while nothing is
// awaited), so the session must queue both into one client-bound buffer (or writer) and never
// write bytes from a later call before bytes from an earlier one. to_server only comes from
// fromClient(). The server-side decoder's FrameLimits::stream_threshold must keep the messages
// the relay reads whole: ReadyForQuery and CommandComplete (any threshold of 64 bytes or more
// does; the session's 64 KiB does).
//
// Thread-safety: none; the session's thread only. The ServerStatements belongs to the lent
// server connection; the StatementNames to its pool (internally locked).
class TransactionRelay {
 public:
  // `max_client_statements` bounds the client's named statements (least recently used
  // forgotten first; see ClientStatements).
  explicit TransactionRelay(std::size_t max_client_statements);
  ~TransactionRelay();
  TransactionRelay(const TransactionRelay&) = delete;
  TransactionRelay& operator=(const TransactionRelay&) = delete;

  // A server connection of the pool that `names` belongs to was lent to this client; `server`
  // is that connection's statements. Both must outlive the attachment. Precondition: detached.
  // If the client's statements were named by another pool, they are renamed for this one.
  void attach(StatementNames& names, ServerStatements& server);
  // The server connection goes back to its pool (when releasable()), or is being closed. In the
  // second case responses still awaited are forgotten.
  void detach();
  bool attached() const { return server_ != nullptr; }

  // One frame from the client. Precondition: attached().
  void fromClient(const pgwire::Frame& frame, std::string& to_server, std::string& to_client);
  // One frame from the server. Fails with unexpected_message or malformed when the server sends
  // something its protocol does not allow at this point (Keel lost track of it): the session
  // must close the server connection and end the client's session. Precondition: attached().
  pgwire::WireResult<void> fromServer(const pgwire::Frame& frame, std::string& to_client);

  // True when the server connection can go back to the pool: the last ReadyForQuery said 'I',
  // no response is awaited, the client is not in the middle of an extended-query batch (a
  // message after the last Sync, e.g. Parse/Bind/Execute/Flush) nor of a message or a COPY.
  bool releasable() const;
  // The status of the last ReadyForQuery ('I' right after attach()).
  pgwire::TransactionStatus transactionStatus() const { return tx_status_; }
  // Messages whose responses are still awaited (or that Keel will answer in their turn).
  std::size_t outstanding() const { return queue_.size(); }

  // True when run-time parameters may have changed on the server since the last
  // clearSettingsTouched() (or attach()) in ways PostgreSQL does not always report: a command
  // completed with tag SET, RESET or DISCARD ALL, or the client sent SQL that mentions
  // set_config (a Query, a Parse, or a Bind of a named statement whose query does). The session
  // reads the parameters it tracks beyond the reported ones back before the connection goes
  // back to its pool.
  bool settingsTouched() const { return settings_touched_; }
  void clearSettingsTouched() { settings_touched_ = false; }

  const ClientStatements& statements() const { return client_; }
  const TransactionRelayCounters& counters() const { return counters_; }

 private:
  // What the server sends for a message (55.2 "Message Flow").
  enum class Reply : std::uint8_t {
    parse,               // ParseComplete
    bind,                // BindComplete
    describe_statement,  // ParameterDescription, then RowDescription or NoData
    describe_portal,     // RowDescription or NoData
    execute,             // DataRow*, or a COPY; then CommandComplete, EmptyQueryResponse or
                         // PortalSuspended
    close,               // CloseComplete
    sync,                // ReadyForQuery
    query,               // anything up to ReadyForQuery
    function_call,       // FunctionCallResponse, ReadyForQuery
    synthesized,         // nothing: Keel sends `bytes` to the client in this message's turn
    copy_end,            // nothing: marks where the client ended a COPY IN (CopyDone/CopyFail)
  };
  enum class ServerEffect : std::uint8_t {
    none,
    parse,  // a Parse Keel sent: pending in ServerStatements until ParseComplete
    evict,  // a Close Keel sent for an evicted statement
  };
  // One message sent (or answered by Keel) whose responses are awaited, oldest first.
  struct Pending {
    Reply reply = Reply::query;
    bool swallow = false;      // Keel's own message: the client never sees its responses
    bool refused = false;      // the failing Parse of a refusal: `bytes` replace its error
    bool rewritten = false;    // a DEALLOCATE sent as SELECT: rows swallowed, `bytes` replace
                               // its CommandComplete
    bool discard_all = false;  // an intercepted simple-Query DISCARD ALL
    bool described = false;    // describe_statement: ParameterDescription seen
    ServerEffect server_effect = ServerEffect::none;
    std::string statement;   // the pooled name the message uses, prepares or closes
    std::uint64_t mark = 0;  // ServerStatements::mark() when the message was sent
    std::string bytes;
    // The change to the client's statements, reverted if the server skips or rejects the
    // message.
    bool client_changed = false;
    std::string client_name;
    PooledStatementPtr client_previous;
    std::unique_ptr<ClientStatements::Map> client_saved;  // DEALLOCATE ALL, DISCARD ALL
  };
  enum class ClientStream : std::uint8_t { none, forward, drop, assemble, bind_header };
  static constexpr std::string_view kDuplicatePreparedStatement = "42P05";

  // Client side.
  void clientMessage(char type, std::string_view payload, std::string_view raw,
                     std::string& to_server, std::string& to_client);
  void clientParse(std::string_view payload, std::string_view raw, std::string& to_server,
                   std::string& to_client);
  // Returns false when the Bind header is not complete yet (streamed Bind).
  bool clientBind(std::string_view payload, std::string_view raw, std::uint32_t length,
                  std::string& to_server);
  void clientDescribeOrClose(char type, std::string_view payload, std::string_view raw,
                             std::string& to_server, std::string& to_client);
  void clientQuery(std::string_view payload, std::string_view raw, std::string& to_server);
  void clientStreamStart(const pgwire::Frame& frame, std::string& to_server,
                         std::string& to_client);
  void clientStreamPart(const pgwire::Frame& frame, std::string& to_server, std::string& to_client);
  // Makes sure the server has `statement` before a message that uses it: pins it, or sends a
  // Parse (and the Closes of what that evicts).
  void ensureOnServer(const PooledStatement& statement, std::string& to_server);
  // Appends a Parse of `statement` under its pooled name, after Closes for what it evicts.
  void sendParse(const PooledStatement& statement, Pending entry, std::string& to_server);
  void refuse(std::string_view sqlstate, std::string_view message, std::string& to_server);
  void push(Pending entry);
  // A response Keel makes itself: sent now if nothing is awaited before it, else queued.
  void answer(Pending entry, std::string& to_client);
  // Emits/pops entries at the head that get no server message.
  void drainHead(std::string& to_client);

  // Server side (transaction_relay_responses.cc).
  // A response to the message at the head of the queue: false if the protocol does not allow
  // `frame` at this point.
  pgwire::WireResult<bool> response(const pgwire::Frame& frame, std::string& to_client);
  // The same for the head's Execute or Query: rows, COPY, completion.
  pgwire::WireResult<bool> resultMessage(const pgwire::Frame& frame, std::string& to_client);
  pgwire::WireResult<void> serverError(const pgwire::Frame& frame, std::string& to_client);
  pgwire::WireResult<void> readyForQuery(const pgwire::Frame& frame, std::string& to_client);
  void commandComplete(const pgwire::Frame& frame, Pending& head, std::string& to_client);
  void copyInStarted();
  void complete(std::string& to_client);
  // Reverts what a message the server skipped or rejected did to the statement maps.
  void undo(Pending& entry);

  ClientStatements client_;
  StatementNames* names_ = nullptr;
  ServerStatements* server_ = nullptr;
  std::uint64_t names_id_ = 0;  // the StatementNames that named client_'s statements
  std::deque<Pending> queue_;
  pgwire::TransactionStatus tx_status_ = pgwire::TransactionStatus::idle;
  // The client sent extended-query messages after its last Sync (or Query).
  bool in_batch_ = false;
  // The server will skip client messages until Sync (an error, or a refusal Keel sent); they are
  // dropped instead of forwarded.
  bool skip_until_sync_ = false;
  // The server is in COPY FROM STDIN and the client has not yet sent CopyDone/CopyFail.
  bool copy_in_open_ = false;
  // A simple-Query DISCARD ALL is in flight: server statements stamped before this mark are
  // treated as gone (0: none).
  std::uint64_t discard_mark_ = 0;
  ClientStream client_stream_ = ClientStream::none;
  std::string assembly_;  // a streamed client message being assembled
  bool server_streaming_ = false;
  bool server_swallow_ = false;  // the streamed server message is being swallowed
  bool settings_touched_ = false;
  TransactionRelayCounters counters_;
};

}  // namespace keel::proxy
