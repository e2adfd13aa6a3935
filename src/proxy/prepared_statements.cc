#include "proxy/prepared_statements.h"

#include <strings.h>

#include <algorithm>
#include <atomic>
#include <cstring>

namespace keel::proxy {

namespace {

std::uint64_t nextInstanceId() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

// --- StatementNames ---

std::size_t StatementNames::KeyHash::operator()(const Key& k) const {
  std::size_t h = std::hash<std::string_view>{}(k.query);
  for (pgwire::Oid oid : k.types) {
    h = h * 1099511628211ull ^ oid;
  }
  return h ^ k.types.size();
}

bool StatementNames::KeyEqual::operator()(const Key& a, const Key& b) const {
  return a.query == b.query &&
         std::equal(a.types.begin(), a.types.end(), b.types.begin(), b.types.end());
}

bool callsSetConfig(std::string_view sql) {
  constexpr std::string_view kName = "set_config";
  constexpr std::size_t kUnderscore = 3;  // where '_' is in kName
  for (std::size_t at = sql.find('_', kUnderscore); at != std::string_view::npos;
       at = sql.find('_', at + 1)) {
    const std::size_t start = at - kUnderscore;
    if (start + kName.size() > sql.size()) {
      return false;
    }
    if (strncasecmp(sql.data() + start, kName.data(), kName.size()) == 0) {
      return true;
    }
  }
  return false;
}

StatementNames::StatementNames(std::size_t capacity)
    : id_(nextInstanceId()), capacity_(std::max<std::size_t>(capacity, 1)) {}

PooledStatementPtr StatementNames::intern(std::string_view query,
                                          std::span<const pgwire::Oid> parameter_types) {
  std::lock_guard lock(mu_);
  if (auto it = index_.find(Key{query, parameter_types}); it != index_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return *it->second;
  }
  auto statement = std::make_shared<PooledStatement>(PooledStatement{
      .name = std::string(kNamePrefix) + std::to_string(next_number_++),
      .definition =
          StatementDefinition{.query = std::string(query),
                              .parameter_types = {parameter_types.begin(), parameter_types.end()}},
      .calls_set_config = callsSetConfig(query)});
  lru_.push_front(statement);
  const StatementDefinition& d = statement->definition;
  index_.emplace(Key{d.query, d.parameter_types}, lru_.begin());
  while (lru_.size() > capacity_) {
    const StatementDefinition& old = lru_.back()->definition;
    index_.erase(Key{old.query, old.parameter_types});
    lru_.pop_back();
  }
  return statement;
}

std::size_t StatementNames::size() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

// --- ClientStatements ---

ClientStatements::ClientStatements(std::size_t limit) : limit_(std::max<std::size_t>(limit, 1)) {}

const PooledStatementPtr* ClientStatements::find(std::string_view name) const {
  auto it = map_.find(name);
  if (it == map_.end()) {
    return nullptr;
  }
  it->second.used = ++clock_;
  return &it->second.statement;
}

Result<void, StatementErrc> ClientStatements::admit(std::string_view name) const {
  if (map_.find(name) != map_.end()) {
    // PostgreSQL's own wording (prepare.c, StorePreparedStatement).
    return fail(StatementErrc::already_exists,
                "prepared statement \"" + std::string(name) + "\" already exists");
  }
  return {};
}

Result<void, StatementErrc> ClientStatements::add(std::string_view name,
                                                  PooledStatementPtr statement) {
  auto admitted = admit(name);
  if (!admitted) {
    return admitted;
  }
  if (map_.size() >= limit_) {
    evictLeastRecentlyUsed();
  }
  map_.emplace(std::string(name), Entry{std::move(statement), ++clock_});
  return admitted;
}

void ClientStatements::evictLeastRecentlyUsed() {
  // A scan, at the limit only: a client that reaches it prepares rarely compared with how
  // often it binds, and the map stays small enough (proxy.max_prepared_statements).
  auto oldest = map_.begin();
  for (auto it = map_.begin(); it != map_.end(); ++it) {
    if (it->second.used < oldest->second.used) {
      oldest = it;
    }
  }
  if (oldest != map_.end()) {
    map_.erase(oldest);
    ++evictions_;
  }
}

PooledStatementPtr ClientStatements::remove(std::string_view name) {
  auto it = map_.find(name);
  if (it == map_.end()) {
    return nullptr;
  }
  PooledStatementPtr previous = std::move(it->second.statement);
  map_.erase(it);
  return previous;
}

void ClientStatements::restore(std::string_view name, PooledStatementPtr statement) {
  auto it = map_.find(name);
  if (!statement) {
    if (it != map_.end()) {
      map_.erase(it);
    }
  } else if (it != map_.end()) {
    it->second.statement = std::move(statement);
  } else {
    map_.emplace(std::string(name), Entry{std::move(statement), ++clock_});
  }
}

ClientStatements::Map ClientStatements::takeAll() {
  Map taken;
  taken.swap(map_);
  return taken;
}

void ClientStatements::restoreAll(Map&& statements) {
  for (auto& [name, entry] : statements) {
    map_.try_emplace(name, std::move(entry));
  }
}

void ClientStatements::reintern(StatementNames& names) {
  for (auto& [name, entry] : map_) {
    const StatementDefinition& d = entry.statement->definition;
    entry.statement = names.intern(d.query, d.parameter_types);
  }
}

// --- ServerStatements ---

ServerStatements::ServerStatements(std::size_t capacity)
    : capacity_(std::max<std::size_t>(capacity, 1)) {}

ServerStatements::State ServerStatements::state(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? State::absent : it->second.state;
}

bool ServerStatements::has(std::string_view name, std::uint64_t since) const {
  auto it = index_.find(name);
  return it != index_.end() && it->second.stamp >= since;
}

std::vector<std::string> ServerStatements::add(std::string_view name) {
  auto it = index_.find(name);
  if (it == index_.end()) {
    lru_.emplace_front(name);
    it = index_.emplace(std::string(name), Entry{.position = lru_.begin()}).first;
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.position);
  }
  it->second.state = State::pending;
  it->second.pinned_in = pin_epoch_;
  it->second.stamp = next_stamp_++;
  return evictExcess();
}

std::vector<std::string> ServerStatements::evictExcess() {
  std::vector<std::string> evicted;
  auto candidate = lru_.end();
  while (index_.size() > capacity_ && candidate != lru_.begin()) {
    --candidate;
    auto it = index_.find(*candidate);
    if (it->second.pinned_in == pin_epoch_ || it->second.state != State::ready) {
      continue;
    }
    evicted.push_back(std::move(*candidate));
    index_.erase(it);
    candidate = lru_.erase(candidate);
  }
  return evicted;
}

void ServerStatements::confirm(std::string_view name) {
  auto it = index_.find(name);
  if (it != index_.end() && it->second.state == State::pending) {
    it->second.state = State::ready;
  }
}

void ServerStatements::forget(std::string_view name) {
  auto it = index_.find(name);
  if (it != index_.end() && it->second.state == State::pending) {
    lru_.erase(it->second.position);
    index_.erase(it);
  }
}

void ServerStatements::markPresent(std::string_view name) {
  auto it = index_.find(name);
  if (it == index_.end()) {
    lru_.emplace_front(name);
    index_.emplace(std::string(name), Entry{.state = State::ready, .position = lru_.begin()});
    return;
  }
  it->second.state = State::ready;
}

void ServerStatements::restore(std::string_view name) {
  if (index_.find(name) != index_.end()) {
    return;
  }
  lru_.emplace_back(name);
  index_.emplace(std::string(name),
                 Entry{.state = State::ready, .position = std::prev(lru_.end())});
}

std::size_t ServerStatements::clearBefore(std::uint64_t mark) {
  std::size_t removed = 0;
  for (auto it = index_.begin(); it != index_.end();) {
    if (it->second.stamp < mark) {
      lru_.erase(it->second.position);
      it = index_.erase(it);
      ++removed;
    } else {
      ++it;
    }
  }
  return removed;
}

void ServerStatements::touch(std::string_view name) {
  auto it = index_.find(name);
  if (it != index_.end()) {
    it->second.pinned_in = pin_epoch_;
    lru_.splice(lru_.begin(), lru_, it->second.position);
  }
}

void ServerStatements::pin(std::string_view name) {
  auto it = index_.find(name);
  if (it != index_.end()) {
    it->second.pinned_in = pin_epoch_;
  }
}

void ServerStatements::unpinAll() {
  ++pin_epoch_;
}

std::size_t ServerStatements::pinned() const {
  return static_cast<std::size_t>(std::count_if(index_.begin(), index_.end(), [&](const auto& kv) {
    return kv.second.pinned_in == pin_epoch_;
  }));
}

std::vector<std::string> ServerStatements::names() const {
  return {lru_.begin(), lru_.end()};
}

// --- SQL commands on prepared statements ---

namespace {

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool isIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool isIdentChar(char c) {
  return isIdentStart(c) || (c >= '0' && c <= '9') || c == '$';
}

// One token of the scanned text: a word (identifier or keyword, as written) or a quoted
// identifier (already unescaped).
struct Token {
  std::string text;
  bool quoted = false;
};

// Splits `sql` into words and quoted identifiers; nullopt on anything else.
std::optional<std::vector<Token>> tokenize(std::string_view sql) {
  std::vector<Token> tokens;
  std::size_t i = 0;
  while (i < sql.size()) {
    char c = sql[i];
    if (isSpace(c)) {
      ++i;
    } else if (c == '"') {
      Token t{.quoted = true};
      ++i;
      while (true) {
        if (i >= sql.size()) {
          return std::nullopt;
        }
        if (sql[i] == '"') {
          if (i + 1 < sql.size() && sql[i + 1] == '"') {
            t.text.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        t.text.push_back(sql[i++]);
      }
      if (t.text.empty()) {
        return std::nullopt;  // a zero-length delimited identifier is an error in PostgreSQL
      }
      tokens.push_back(std::move(t));
    } else if (isIdentStart(c)) {
      std::size_t start = i;
      while (i < sql.size() && isIdentChar(sql[i])) {
        ++i;
      }
      tokens.push_back(Token{.text = std::string(sql.substr(start, i - start))});
    } else {
      return std::nullopt;
    }
  }
  return tokens;
}

bool isKeyword(const Token& t, std::string_view keyword) {
  return !t.quoted && t.text.size() == keyword.size() &&
         std::equal(t.text.begin(), t.text.end(), keyword.begin(), [](char a, char b) {
           return (a >= 'A' && a <= 'Z' ? static_cast<char>(a - 'A' + 'a') : a) == b;
         });
}

std::string foldIdentifier(const Token& t) {
  if (t.quoted) {
    return t.text;
  }
  std::string folded = t.text;
  for (char& c : folded) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return folded;
}

}  // namespace

namespace {
// Whether `sql` contains `word` (lower case), in any case: a cheap test that spares most queries
// the tokenizer.
bool mentions(std::string_view sql, std::string_view word) {
  for (std::size_t i = 0; i + word.size() <= sql.size(); ++i) {
    if ((sql[i] | 0x20) == word[0] && strncasecmp(sql.data() + i, word.data(), word.size()) == 0) {
      return true;
    }
  }
  return false;
}
}  // namespace

std::optional<PreparedStatementCommand> parsePreparedStatementCommand(std::string_view sql) {
  if (!mentions(sql, "discard") && !mentions(sql, "deallocate")) {
    return std::nullopt;
  }
  while (!sql.empty() && (isSpace(sql.back()) || sql.back() == ';')) {
    sql.remove_suffix(1);
  }
  auto tokens = tokenize(sql);
  if (!tokens || tokens->size() < 2) {
    return std::nullopt;
  }
  const std::vector<Token>& t = *tokens;
  using Kind = PreparedStatementCommand::Kind;
  if (isKeyword(t[0], "discard")) {
    if (t.size() == 2 && isKeyword(t[1], "all")) {
      return PreparedStatementCommand{.kind = Kind::discard_all};
    }
    return std::nullopt;
  }
  if (!isKeyword(t[0], "deallocate")) {
    return std::nullopt;
  }
  // DEALLOCATE [PREPARE] { name | ALL }; "DEALLOCATE prepare" names a statement "prepare".
  std::size_t at = t.size() == 3 && isKeyword(t[1], "prepare") ? 2 : 1;
  if (at + 1 != t.size()) {
    return std::nullopt;
  }
  if (isKeyword(t[at], "all")) {
    return PreparedStatementCommand{.kind = Kind::deallocate_all};
  }
  return PreparedStatementCommand{.kind = Kind::deallocate, .name = foldIdentifier(t[at])};
}

}  // namespace keel::proxy
