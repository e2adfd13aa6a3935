#include "proxy/prepared_statements.h"

#include <gtest/gtest.h>

#include <thread>

namespace keel::proxy {
namespace {

using Names = std::vector<std::string>;

// --- StatementNames ---

TEST(StatementNames, IdenticalDefinitionsShareOneName) {
  StatementNames names(10);
  std::vector<pgwire::Oid> int4{23};
  auto a = names.intern("SELECT $1", int4);
  auto b = names.intern("SELECT $1", int4);
  EXPECT_EQ(a, b) << "the same object, so clients share it";
  EXPECT_EQ(a->name, "keel_s1");
  EXPECT_EQ(a->definition.query, "SELECT $1");
  EXPECT_EQ(a->definition.parameter_types, int4);
  EXPECT_EQ(names.size(), 1u);
}

TEST(StatementNames, RemembersWhetherAStatementCallsSetConfig) {
  StatementNames names(10);
  EXPECT_FALSE(names.intern("SELECT $1", {})->calls_set_config);
  EXPECT_TRUE(names.intern("SELECT set_config('search_path', $1, false)", {})->calls_set_config);
  EXPECT_TRUE(callsSetConfig("select pg_catalog.SET_Config($1, $2, true)"));
  EXPECT_TRUE(callsSetConfig("set_config"));
  EXPECT_FALSE(callsSetConfig("set_confi"));
  EXPECT_FALSE(callsSetConfig("SELECT set_, _config FROM set_conf WHERE a_b = 1"));
  EXPECT_TRUE(callsSetConfig("SELECT reset_configuration FROM t"))
      << "a mention is enough: it costs one query that reads the settings back";
  EXPECT_FALSE(callsSetConfig(""));
  EXPECT_FALSE(callsSetConfig("_"));
}

TEST(StatementNames, ParameterTypesArePartOfTheDefinition) {
  StatementNames names(10);
  std::vector<pgwire::Oid> int4{23};
  std::vector<pgwire::Oid> int8{20};
  std::vector<pgwire::Oid> none;
  EXPECT_EQ(names.intern("SELECT $1", int4)->name, "keel_s1");
  EXPECT_EQ(names.intern("SELECT $1", int8)->name, "keel_s2");
  EXPECT_EQ(names.intern("SELECT $1", none)->name, "keel_s3");
  EXPECT_EQ(names.intern("SELECT $1 ", int4)->name, "keel_s4") << "text compared byte for byte";
  EXPECT_EQ(names.intern("SELECT $1", int8)->name, "keel_s2");
}

TEST(StatementNames, AtTheBoundTheLeastRecentlyUsedIsForgottenAndNamesAreNeverReused) {
  StatementNames names(2);
  auto a = names.intern("A", {});
  auto b = names.intern("B", {});
  EXPECT_EQ(names.intern("A", {}), a) << "A is now the most recently used";
  auto c = names.intern("C", {});  // forgets B
  EXPECT_EQ(names.size(), 2u);
  EXPECT_EQ(names.intern("A", {}), a);
  auto b2 = names.intern("B", {});  // forgets C
  EXPECT_EQ(b2->name, "keel_s4") << "a new name: keel_s2 may still exist on servers";
  EXPECT_EQ(b->name, "keel_s2") << "holders of the forgotten statement keep it";
  EXPECT_EQ(b->definition.query, "B");
  EXPECT_NE(names.intern("C", {})->name, c->name);
}

TEST(StatementNames, ZeroCapacityKeepsOne) {
  StatementNames names(0);
  EXPECT_EQ(names.capacity(), 1u);
  auto a = names.intern("A", {});
  EXPECT_EQ(names.intern("A", {}), a);
}

TEST(StatementNames, InstancesHaveDistinctIds) {
  StatementNames a(1);
  StatementNames b(1);
  EXPECT_NE(a.id(), b.id());
}

TEST(StatementNames, ConcurrentInterningGivesOneNamePerDefinition) {
  StatementNames names(1000);
  std::vector<std::thread> threads;
  std::vector<std::vector<std::string>> seen(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        seen[t].push_back(names.intern("Q" + std::to_string(i), {})->name);
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(names.size(), 200u);
  for (int t = 1; t < 4; ++t) {
    EXPECT_EQ(seen[t], seen[0]);
  }
}

// --- ClientStatements ---

TEST(ClientStatements, AddFindRemove) {
  StatementNames names(10);
  ClientStatements client(3);
  auto s = names.intern("SELECT 1", {});
  ASSERT_TRUE(client.add("a", s));
  ASSERT_NE(client.find("a"), nullptr);
  EXPECT_EQ(*client.find("a"), s);
  EXPECT_EQ(client.find("A"), nullptr) << "names are case-sensitive";
  EXPECT_EQ(client.remove("a"), s);
  EXPECT_EQ(client.remove("a"), nullptr);
  EXPECT_EQ(client.size(), 0u);
}

TEST(ClientStatements, ADuplicateNameIsRefusedAsPostgresqlWordsIt) {
  StatementNames names(10);
  ClientStatements client(3);
  ASSERT_TRUE(client.add("x", names.intern("SELECT 1", {})));
  auto again = client.add("x", names.intern("SELECT 1", {}));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.code(), StatementErrc::already_exists);
  EXPECT_EQ(again.message(), "prepared statement \"x\" already exists");
  EXPECT_FALSE(client.admit("x"));
  EXPECT_TRUE(client.admit("y"));
}

TEST(ClientStatements, AtTheLimitTheLeastRecentlyUsedIsForgotten) {
  StatementNames names(10);
  ClientStatements client(2);
  ASSERT_TRUE(client.add("a", names.intern("A", {})));
  ASSERT_TRUE(client.add("b", names.intern("B", {})));
  ASSERT_NE(client.find("a"), nullptr);  // a bound again: b is now the least recently used
  ASSERT_TRUE(client.add("c", names.intern("C", {})));
  EXPECT_EQ(client.size(), 2u);
  EXPECT_NE(client.find("a"), nullptr);
  EXPECT_EQ(client.find("b"), nullptr);
  EXPECT_NE(client.find("c"), nullptr);
  EXPECT_EQ(client.evictions(), 1u);
  EXPECT_FALSE(client.add("c", names.intern("C", {}))) << "a duplicate is still refused";
  client.remove("a");
  EXPECT_TRUE(client.add("d", names.intern("D", {})));
  EXPECT_EQ(client.evictions(), 1u) << "room again after a Close";
}

TEST(ClientStatements, RestoreUndoesAddAndRemoveEvenBeyondTheLimit) {
  StatementNames names(10);
  ClientStatements client(1);
  auto a = names.intern("A", {});
  auto b = names.intern("B", {});
  ASSERT_TRUE(client.add("a", a));
  client.restore("b", b);  // undo of a Close of "b": allowed beyond the limit
  EXPECT_EQ(client.size(), 2u);
  client.restore("a", nullptr);  // undo of a Parse of "a"
  EXPECT_EQ(client.find("a"), nullptr);
  client.restore("b", a);
  EXPECT_EQ(*client.find("b"), a);
}

TEST(ClientStatements, TakeAllAndRestoreAllKeepNewerEntries) {
  StatementNames names(10);
  ClientStatements client(10);
  auto a = names.intern("A", {});
  auto b = names.intern("B", {});
  auto c = names.intern("C", {});
  ASSERT_TRUE(client.add("a", a));
  ASSERT_TRUE(client.add("b", b));
  auto taken = client.takeAll();
  EXPECT_EQ(client.size(), 0u);
  EXPECT_EQ(taken.size(), 2u);
  ASSERT_TRUE(client.add("b", c));  // prepared again after the DISCARD ALL was sent
  client.restoreAll(std::move(taken));
  EXPECT_EQ(*client.find("a"), a);
  EXPECT_EQ(*client.find("b"), c) << "the newer statement wins";
}

TEST(ClientStatements, ReinternRenamesForAnotherPool) {
  StatementNames first(10);
  StatementNames second(10);
  (void)second.intern("OTHER", {});  // keel_s1 means something else in the second pool
  ClientStatements client(10);
  ASSERT_TRUE(client.add("q", first.intern("SELECT $1", std::vector<pgwire::Oid>{23})));
  EXPECT_EQ((*client.find("q"))->name, "keel_s1");
  client.reintern(second);
  EXPECT_EQ((*client.find("q"))->name, "keel_s2");
  EXPECT_EQ((*client.find("q"))->definition.query, "SELECT $1");
  EXPECT_EQ(second.intern("SELECT $1", std::vector<pgwire::Oid>{23}), *client.find("q"));
}

// --- ServerStatements ---

TEST(ServerStatements, PendingUntilConfirmedAndForgottenOnFailure) {
  ServerStatements server(10);
  EXPECT_EQ(server.state("keel_s1"), ServerStatements::State::absent);
  EXPECT_TRUE(server.add("keel_s1").empty());
  EXPECT_EQ(server.state("keel_s1"), ServerStatements::State::pending);
  EXPECT_TRUE(server.has("keel_s1"));
  server.confirm("keel_s1");
  EXPECT_EQ(server.state("keel_s1"), ServerStatements::State::ready);
  server.forget("keel_s1");
  EXPECT_EQ(server.state("keel_s1"), ServerStatements::State::ready)
      << "forget only drops a pending entry";
  server.add("keel_s2");
  server.forget("keel_s2");
  EXPECT_EQ(server.state("keel_s2"), ServerStatements::State::absent);
  server.confirm("keel_s2");
  EXPECT_EQ(server.state("keel_s2"), ServerStatements::State::absent)
      << "a late ParseComplete does not bring back a dropped entry";
}

TEST(ServerStatements, EvictsTheLeastRecentlyUsedUnpinnedReadyEntries) {
  ServerStatements server(2);
  server.add("a");
  server.confirm("a");
  server.add("b");
  server.confirm("b");
  server.unpinAll();
  server.touch("a");  // a is now the most recently used, and pinned
  server.unpinAll();
  EXPECT_EQ(server.add("c"), Names{"b"});
  EXPECT_EQ(server.names(), (Names{"c", "a"}));
  EXPECT_EQ(server.state("b"), ServerStatements::State::absent);
}

TEST(ServerStatements, PinnedAndPendingEntriesAreNeverEvicted) {
  ServerStatements server(2);
  server.add("a");
  server.confirm("a");
  server.add("b");  // pending
  EXPECT_TRUE(server.add("c").empty()) << "a is pinned (used in this transaction)";
  EXPECT_EQ(server.size(), 3u) << "the bound is exceeded for a while";
  EXPECT_EQ(server.pinned(), 3u);
  server.unpinAll();
  EXPECT_EQ(server.pinned(), 0u);
  // b and c are still pending: only a can go.
  EXPECT_EQ(server.add("d"), Names{"a"});
  EXPECT_EQ(server.size(), 3u);
  server.confirm("b");
  server.confirm("c");
  server.confirm("d");
  server.unpinAll();
  EXPECT_EQ(server.add("e"), (Names{"b", "c"})) << "the excess goes at the next add";
  EXPECT_EQ(server.names(), (Names{"e", "d"}));
}

TEST(ServerStatements, PinDoesNotReorder) {
  ServerStatements server(2);
  for (const char* n : {"a", "b"}) {
    server.add(n);
    server.confirm(n);
  }
  server.unpinAll();
  server.pin("a");
  EXPECT_EQ(server.names(), (Names{"b", "a"}));
  EXPECT_EQ(server.add("c"), Names{"b"});
}

TEST(ServerStatements, RestoreBringsBackAnEvictedNameAsColdest) {
  ServerStatements server(2);
  for (const char* n : {"a", "b"}) {
    server.add(n);
    server.confirm(n);
  }
  server.unpinAll();
  EXPECT_EQ(server.add("c"), Names{"a"});
  server.restore("a");  // the server skipped the Close
  EXPECT_EQ(server.state("a"), ServerStatements::State::ready);
  EXPECT_EQ(server.names(), (Names{"c", "b", "a"}));
  server.restore("c");  // already there: no effect
  EXPECT_EQ(server.state("c"), ServerStatements::State::pending);
  server.confirm("c");
  server.unpinAll();
  EXPECT_EQ(server.add("d"), (Names{"a", "b"}));
}

TEST(ServerStatements, MarkPresentRecordsWhatTheServerSaysItHas) {
  ServerStatements server(4);
  server.markPresent("a");
  EXPECT_EQ(server.state("a"), ServerStatements::State::ready);
  server.add("b");
  server.markPresent("b");
  EXPECT_EQ(server.state("b"), ServerStatements::State::ready);
}

TEST(ServerStatements, ClearBeforeKeepsEntriesAddedAfterTheMark) {
  ServerStatements server(10);
  server.add("a");
  server.confirm("a");
  server.restore("r");
  const std::uint64_t mark = server.mark();  // DISCARD ALL sent here
  server.add("b");                           // Parse pipelined behind it
  EXPECT_FALSE(server.has("a", mark));
  EXPECT_TRUE(server.has("b", mark));
  EXPECT_EQ(server.clearBefore(mark), 2u);
  EXPECT_EQ(server.names(), Names{"b"});
  server.add("a");  // prepared again: a new stamp
  EXPECT_TRUE(server.has("a", mark));
}

// --- parsePreparedStatementCommand ---

using Kind = PreparedStatementCommand::Kind;

std::optional<PreparedStatementCommand> deallocate(std::string name) {
  return PreparedStatementCommand{.kind = Kind::deallocate, .name = std::move(name)};
}

TEST(PreparedStatementCommand, RecognizesTheWholeTextForms) {
  EXPECT_EQ(parsePreparedStatementCommand("DEALLOCATE s1"), deallocate("s1"));
  EXPECT_EQ(parsePreparedStatementCommand("deallocate prepare S1;"), deallocate("s1"))
      << "unquoted names fold to lower case";
  EXPECT_EQ(parsePreparedStatementCommand("  Deallocate\n\t\"My \"\"Stmt\"\" \" ; ;\n"),
            deallocate("My \"Stmt\" "));
  EXPECT_EQ(parsePreparedStatementCommand("DEALLOCATE\"x\""), deallocate("x"));
  EXPECT_EQ(parsePreparedStatementCommand("DEALLOCATE prepare"), deallocate("prepare"));
  EXPECT_EQ(parsePreparedStatementCommand("DEALLOCATE \"ALL\""), deallocate("ALL"));
  EXPECT_EQ(parsePreparedStatementCommand("DEALLOCATE _a$1"), deallocate("_a$1"));
  EXPECT_EQ(parsePreparedStatementCommand("DEALLOCATE ALL"),
            PreparedStatementCommand{.kind = Kind::deallocate_all});
  EXPECT_EQ(parsePreparedStatementCommand("deallocate PREPARE all;"),
            PreparedStatementCommand{.kind = Kind::deallocate_all});
  EXPECT_EQ(parsePreparedStatementCommand("discard ALL"),
            PreparedStatementCommand{.kind = Kind::discard_all});
  EXPECT_EQ(parsePreparedStatementCommand("\nDISCARD   all ;"),
            PreparedStatementCommand{.kind = Kind::discard_all});
}

TEST(PreparedStatementCommand, AnythingElseIsNotRecognized) {
  for (const char* sql : {"", ";", "DEALLOCATE", "DEALLOCATE PREPARE x y", "DEALLOCATE a; SELECT 1",
                          "DEALLOCATE a -- comment", "/* c */ DEALLOCATE a", "DISCARD PLANS",
                          "DISCARD", "DISCARD ALL x", "DEALLOCATE \"unterminated",
                          "DEALLOCATE \"\"", "DEALLOCATE 1abc", "DEALLOCATE U&\"x\"", "DEALLOCATEx",
                          "SELECT 1", "PREPARE x AS SELECT 1", "DEALLOCATE a.b"}) {
    EXPECT_EQ(parsePreparedStatementCommand(sql), std::nullopt) << sql;
  }
}

}  // namespace
}  // namespace keel::proxy
