#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "pgwire/frontend_messages.h"

// Bookkeeping of protocol-level prepared statements for transaction pooling (PostgreSQL docs
// 55.2.3 "Extended Query"). A named statement lives on one server connection, but a client in
// transaction mode lands on a different server connection for each transaction. So Keel gives
// every distinct statement of a pool a server-side name of its own ("keel_s<N>"), remembers
// which client name stands for which statement, and which statements each server connection
// holds; the TransactionRelay (transaction_relay.h) rewrites names and prepares statements on the
// server the client landed on.
//
// Server-side names start with "keel_s" and are never reused within a pool, so one name always
// means one definition. They share PostgreSQL's namespace with SQL-level PREPARE: a client that
// runs `PREPARE keel_s1 AS ...` itself breaks this guarantee on that server connection.
namespace keel::proxy {

// A statement as a client defined it in Parse: the query text and the parameter type OIDs, byte
// for byte. Two Parses with equal definitions prepare the same server-side statement.
struct StatementDefinition {
  std::string query;
  std::vector<pgwire::Oid> parameter_types;
  bool operator==(const StatementDefinition&) const = default;
};

// True when `sql` mentions set_config (any case): running it may change run-time parameters
// without a SET command tag (transaction pooling reads the tracked ones back afterwards).
bool callsSetConfig(std::string_view sql);

// A statement as Keel prepares it on the server connections of one pool. Immutable once made;
// shared by every client that prepared the same definition.
struct PooledStatement {
  std::string name;  // "keel_s<N>"
  StatementDefinition definition;
  bool calls_set_config = false;  // callsSetConfig(definition.query)
};
using PooledStatementPtr = std::shared_ptr<const PooledStatement>;

// The server-side names of one pool's statements: definition -> "keel_s<N>". One per pool,
// shared by all of its server connections and used from every proxy worker thread: internally
// locked (one mutex; taken once per Parse, never per Bind).
//
// Bounded: it remembers at most `capacity` definitions. Interning a new definition beyond that
// forgets the least recently interned-or-reused one. Nothing breaks at the bound: clients that
// hold the forgotten statement keep using its name (their PooledStatementPtr keeps it alive),
// servers that have it keep it until their own LRU (ServerStatements) closes it, and the next
// Parse of the same definition gets a new name, so the only cost is that two names may then
// exist for one definition.
class StatementNames {
 public:
  static constexpr std::string_view kNamePrefix = "keel_s";

  // `capacity` is raised to 1 if 0.
  explicit StatementNames(std::size_t capacity);
  StatementNames(const StatementNames&) = delete;
  StatementNames& operator=(const StatementNames&) = delete;

  // The pool's statement for this definition, made (with a new name) if it has none.
  PooledStatementPtr intern(std::string_view query, std::span<const pgwire::Oid> parameter_types);

  // Distinguishes instances for the lifetime of the process (unlike addresses, which a later
  // pool may reuse): a client whose statements were named by another instance must have them
  // renamed before using them on this pool's servers.
  std::uint64_t id() const { return id_; }
  std::size_t size() const;
  std::size_t capacity() const { return capacity_; }

 private:
  // Views into the PooledStatement that the list node owns.
  struct Key {
    std::string_view query;
    std::span<const pgwire::Oid> types;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const;
  };
  struct KeyEqual {
    bool operator()(const Key& a, const Key& b) const;
  };
  using Lru = std::list<PooledStatementPtr>;  // front: most recently used

  const std::uint64_t id_;
  const std::size_t capacity_;
  mutable std::mutex mu_;
  Lru lru_;
  std::unordered_map<Key, Lru::iterator, KeyHash, KeyEqual> index_;
  std::uint64_t next_number_ = 1;
};

enum class StatementErrc {
  already_exists,  // 42P05 in PostgreSQL
};

// One client's named statements: client name -> pooled statement. Owned by the client's
// TransactionRelay; used on that session's thread only.
//
// Bounded, as a least-recently-used cache: adding a statement beyond `limit` forgets the one the
// client used least recently (prepared, bound or described), so that a client that prepares
// without ever closing cannot grow Keel's memory without end. Drivers do that on purpose:
// pgJDBC, after a `SET search_path`, prepares its statements again under new names and never
// closes the old ones. A later use of a forgotten name reaches the server unchanged and fails
// there with 26000, as an unknown statement does on PostgreSQL.
class ClientStatements {
 public:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Entry {
    PooledStatementPtr statement;
    mutable std::uint64_t used = 0;  // the client's clock at its last use
  };
  using Map = std::unordered_map<std::string, Entry, StringHash, std::equal_to<>>;

  explicit ClientStatements(std::size_t limit);

  // The statement a client name stands for, or null; counts as a use.
  const PooledStatementPtr* find(std::string_view name) const;
  // Whether add(name) would succeed: fails with already_exists (message as PostgreSQL words it).
  Result<void, StatementErrc> admit(std::string_view name) const;
  // Adds `name`, forgetting the least recently used statement first when at the limit.
  Result<void, StatementErrc> add(std::string_view name, PooledStatementPtr statement);
  // Removes `name`; returns what it stood for (null if nothing).
  PooledStatementPtr remove(std::string_view name);
  // Sets `name` back to `statement` (null: removes it), ignoring the limit: undoes add/remove
  // for a message the server skipped.
  void restore(std::string_view name, PooledStatementPtr statement);
  // Removes every statement and returns them (DEALLOCATE ALL, DISCARD ALL).
  Map takeAll();
  // Puts back statements taken by takeAll(), keeping any added since under the same name.
  void restoreAll(Map&& statements);
  // Renames every statement to the one `names` has for its definition (the client moved to
  // another pool).
  void reintern(StatementNames& names);

  const Map& all() const { return map_; }
  std::size_t size() const { return map_.size(); }
  std::size_t limit() const { return limit_; }
  // Statements forgotten at the limit so far.
  std::uint64_t evictions() const { return evictions_; }

 private:
  void evictLeastRecentlyUsed();

  std::size_t limit_;
  Map map_;
  mutable std::uint64_t clock_ = 0;
  std::uint64_t evictions_ = 0;
};

// The statements Keel prepared on one server connection, as a bounded LRU. Stored with the
// server connection (it outlives each client that borrows the connection); used by the
// TransactionRelay of the client currently lent the connection, so on one thread at a time.
//
// Entries are `pending` from the moment a Parse is sent until its ParseComplete arrives
// (`ready`), so that later messages of the same pipeline neither prepare it twice nor rely on a
// Parse that fails: a failed or skipped Parse removes its pending entry (forget()).
//
// Pinning: an entry is pinned while a message of the current transaction refers to it (the
// relay calls touch()/add() for each one and unpinAll() at ReadyForQuery 'I'). Pinned and
// pending entries are never evicted: closing a statement also closes the portals built from it
// (55.2.3), which would break the client's pipeline. When everything is pinned, add() exceeds
// the capacity for a while; the excess is evicted by a later add().
class ServerStatements {
 public:
  enum class State : std::uint8_t { absent, pending, ready };

  // `capacity` is raised to 1 if 0.
  explicit ServerStatements(std::size_t capacity);

  State state(std::string_view name) const;
  // True if `name` is pending or ready and was added at or after `since` (a mark()).
  bool has(std::string_view name, std::uint64_t since = 0) const;

  // A Parse of `name` is about to be sent: the entry becomes pending, pinned, most recently
  // used, and stamped with a new mark. Returns the names evicted to get back within capacity
  // (least recently used first); the caller closes them on the server before the Parse.
  std::vector<std::string> add(std::string_view name);
  // ParseComplete arrived: pending -> ready. No effect on other states.
  void confirm(std::string_view name);
  // The Parse failed or the server skipped it: a pending entry is removed.
  void forget(std::string_view name);
  // The server reported that `name` exists (42P05 for a Parse Keel sent): ready.
  void markPresent(std::string_view name);
  // An evicted name whose Close the server skipped: back as ready, unpinned, least recently
  // used (no effect if the name is there again).
  void restore(std::string_view name);
  // The server dropped every prepared statement (DISCARD ALL, DEALLOCATE ALL) when processing a
  // message sent at `mark`: removes the entries added before it. Entries added later belong to
  // Parses the server processes afterwards. Returns how many were removed.
  std::size_t clearBefore(std::uint64_t mark);

  // The statement is used by the current transaction: pinned and most recently used.
  void touch(std::string_view name);
  // Pins without reordering.
  void pin(std::string_view name);
  void unpinAll();

  // Increases with every add(); compare with has(name, since).
  std::uint64_t mark() const { return next_stamp_; }
  std::size_t size() const { return index_.size(); }
  std::size_t capacity() const { return capacity_; }
  std::size_t pinned() const;
  // Names from most to least recently used (for tests and the admin console).
  std::vector<std::string> names() const;

 private:
  struct Entry {
    State state = State::pending;
    std::uint64_t pinned_in = 0;  // pinned while equal to pin_epoch_
    std::uint64_t stamp = 0;
    std::list<std::string>::iterator position;
  };
  using Index =
      std::unordered_map<std::string, Entry, ClientStatements::StringHash, std::equal_to<>>;

  std::vector<std::string> evictExcess();

  std::size_t capacity_;
  std::list<std::string> lru_;  // front: most recently used
  Index index_;
  std::uint64_t next_stamp_ = 1;
  std::uint64_t pin_epoch_ = 1;  // unpinAll() moves on to the next epoch: O(1) per transaction
};

// A simple Query whose whole text is one SQL command on prepared statements. Keel intercepts
// these in transaction pooling, since PostgreSQL would apply them to the statements of whichever
// server connection the client happens to hold (which are shared with other clients).
struct PreparedStatementCommand {
  enum class Kind : std::uint8_t { deallocate, deallocate_all, discard_all };
  Kind kind = Kind::deallocate;
  std::string name;  // deallocate: as PostgreSQL folds it (unquoted: ASCII lower case)
  bool operator==(const PreparedStatementCommand&) const = default;
};

// Recognizes `DEALLOCATE [PREPARE] name`, `DEALLOCATE [PREPARE] ALL` and `DISCARD ALL` when they
// are the whole text: keywords in any case, whitespace around tokens, trailing semicolons.
// The name is an identifier, plain or double-quoted ("" inside quotes is one "). Anything else
// (comments, several statements, U&"..." names, dollar quoting) is not recognized and goes to
// the server as sent: that is safe, because the server answers for its own statements only
// (26000 for a client's name it does not know), and a DISCARD ALL or DEALLOCATE ALL it runs is
// noticed from its CommandComplete tag.
std::optional<PreparedStatementCommand> parsePreparedStatementCommand(std::string_view sql);

}  // namespace keel::proxy
