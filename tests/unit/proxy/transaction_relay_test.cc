// TransactionRelay in the extended query protocol: statement rewriting, responses Keel makes or
// swallows, error recovery, eviction, release points. SQL-level commands, COPY and streamed
// messages are in transaction_relay_sql_copy_test.cc.
#include "proxy/transaction_relay.h"

#include <gtest/gtest.h>

#include "transaction_relay_fixture.h"

namespace keel::proxy {
namespace {

using namespace relay_test;  // NOLINT: the fixture's message helpers

constexpr std::string_view kSelect = "SELECT abalance FROM pgbench_accounts WHERE aid = $1";
constexpr std::string_view kUpdate = "UPDATE pgbench_accounts SET abalance = abalance + $1";

TEST_F(TransactionRelayTest, PgbenchPreparedStyleRewritesNamesAndForwardsTheRestUnchanged) {
  // pgbench -M prepared: Parse + Sync once, then Bind/Describe/Execute/Sync per run.
  client(wire(parse("P0_1", kSelect, {23}), sync));
  EXPECT_WIRE(sent(), wire(parse("keel_s1", kSelect, {23}), sync));
  EXPECT_FALSE(relay.releasable()) << "responses are awaited";
  server(wire(parsed, ready()));
  EXPECT_WIRE(received(), wire(parsed, ready()));
  EXPECT_TRUE(relay.releasable());
  EXPECT_EQ(server1.state("keel_s1"), ServerStatements::State::ready);

  for (int run = 0; run < 3; ++run) {
    client(wire(bind("P0_1", {"42"}), describePortal(), execute(), sync));
    EXPECT_WIRE(sent(), wire(bind("keel_s1", {"42"}), describePortal(), execute(), sync));
    const std::string answer =
        wire(bound, columns("abalance"), row("0"), done("SELECT 1"), ready());
    server(answer);
    EXPECT_WIRE(received(), answer);
    EXPECT_TRUE(relay.releasable());
  }
  EXPECT_EQ(relay.counters().server_parses, 1u);
  EXPECT_EQ(relay.counters().injected_parses, 0u);
  EXPECT_EQ(relay.counters().synthesized, 0u);
}

TEST_F(TransactionRelayTest, AnExplicitTransactionHoldsTheServerUntilItEnds) {
  prepare("begin", "BEGIN", "keel_s1");
  prepare("upd", kUpdate, "keel_s2");
  prepare("end", "END", "keel_s3");
  client(wire(bind("begin"), execute(), sync));
  EXPECT_WIRE(sent(), wire(bind("keel_s1"), execute(), sync));
  server(wire(bound, done("BEGIN"), ready('T')));
  EXPECT_WIRE(received(), wire(bound, done("BEGIN"), ready('T')));
  EXPECT_EQ(relay.transactionStatus(), pgwire::TransactionStatus::in_transaction);
  EXPECT_FALSE(relay.releasable()) << "mid-transaction";
  client(wire(bind("upd", {"5"}), execute(), sync));
  EXPECT_WIRE(sent(), wire(bind("keel_s2", {"5"}), execute(), sync));
  server(wire(bound, done("UPDATE 1"), ready('T')));
  received();
  EXPECT_FALSE(relay.releasable());
  client(wire(bind("end"), execute(), sync));
  EXPECT_WIRE(sent(), wire(bind("keel_s3"), execute(), sync));
  server(wire(bound, done("COMMIT"), ready('I')));
  EXPECT_WIRE(received(), wire(bound, done("COMMIT"), ready('I')));
  EXPECT_TRUE(relay.releasable());
}

TEST_F(TransactionRelayTest, APipelineGetsEveryResponseInOrderIncludingKeelsOwn) {
  client(wire(parse("s1", "SELECT 1"), bind("s1"), execute(),  //
              parse("s2", "SELECT 2"), bind("s2"), execute(),  //
              parse("s3", "SELECT 1"), bind("s3"), execute(),  // same statement as s1
              sync));
  EXPECT_WIRE(sent(), wire(parse("keel_s1", "SELECT 1"), bind("keel_s1"), execute(),  //
                           parse("keel_s2", "SELECT 2"), bind("keel_s2"), execute(),  //
                           bind("keel_s1"), execute(),                                //
                           sync));
  EXPECT_EQ(received(), "") << "Keel's ParseComplete for s3 waits for its turn";
  EXPECT_EQ(relay.outstanding(), 10u);

  server(wire(parsed, bound, row("1"), done("SELECT 1"), parsed, bound, row("2")));
  EXPECT_WIRE(received(), wire(parsed, bound, row("1"), done("SELECT 1"), parsed, bound, row("2")));
  server(wire(done("SELECT 1")));
  EXPECT_WIRE(received(), wire(done("SELECT 1"), parsed)) << "s3's ParseComplete right after";
  server(wire(bound, row("1"), done("SELECT 1"), ready()));
  EXPECT_WIRE(received(), wire(bound, row("1"), done("SELECT 1"), ready()));
  EXPECT_TRUE(relay.releasable());
  EXPECT_EQ(relay.counters().server_parses, 2u);
  EXPECT_EQ(relay.counters().synthesized, 1u);
  EXPECT_EQ(relay.counters().shared_statements, 1u);
  EXPECT_EQ(relay.statements().size(), 3u);
}

TEST_F(TransactionRelayTest, AnErrorMidPipelineDropsTheResponsesOfSkippedMessages) {
  prepare("known", "SELECT 1", "keel_s1");
  client(wire(parse("a", "SELECT 1/$1", {23}), bind("a", {"0"}), execute(),  // fails
              parse("b", "SELECT 1"),  // Keel would answer: the server has keel_s1
              closeStatement("a"),     // Keel would answer
              closeStatement("known"), bind("b"), execute(), sync));
  EXPECT_WIRE(sent(), wire(parse("keel_s2", "SELECT 1/$1", {23}), bind("keel_s2", {"0"}), execute(),
                           bind("keel_s1"), execute(), sync));
  server(wire(parsed, bound, error("22012", "division by zero"), ready()));
  EXPECT_WIRE(received(), wire(parsed, bound, error("22012", "division by zero"), ready()))
      << "no ParseComplete or CloseComplete for messages the server skipped";
  EXPECT_TRUE(relay.releasable());
  EXPECT_EQ(relay.counters().synthesized, 0u);
  // As on PostgreSQL: a succeeded, the skipped Parse of b and Closes never happened.
  EXPECT_NE(relay.statements().find("a"), nullptr);
  EXPECT_NE(relay.statements().find("known"), nullptr);
  EXPECT_EQ(relay.statements().find("b"), nullptr);
  EXPECT_EQ(server1.state("keel_s2"), ServerStatements::State::ready);

  client(wire(bind("b"), execute(), sync));
  EXPECT_WIRE(sent(), wire(bind("b"), execute(), sync)) << "unknown name: PostgreSQL says 26000";
  const std::string answer =
      wire(error("26000", "prepared statement \"b\" does not exist"), ready());
  server(answer);
  EXPECT_WIRE(received(), answer);
  EXPECT_TRUE(relay.releasable());
}

TEST_F(TransactionRelayTest, AFailedParseLeavesNoTraceOnEitherSide) {
  client(wire(parse("bad", "SELEC 1"), bind("bad"), execute(), sync));
  EXPECT_WIRE(sent(), wire(parse("keel_s1", "SELEC 1"), bind("keel_s1"), execute(), sync));
  EXPECT_EQ(server1.state("keel_s1"), ServerStatements::State::pending);
  server(wire(error("42601", "syntax error at or near \"SELEC\""), ready()));
  EXPECT_WIRE(received(), wire(error("42601", "syntax error at or near \"SELEC\""), ready()));
  EXPECT_EQ(server1.state("keel_s1"), ServerStatements::State::absent);
  EXPECT_EQ(relay.statements().find("bad"), nullptr);
  EXPECT_EQ(relay.counters().server_parses, 0u);
  // The name is free again, and the corrected statement is prepared for real.
  prepare("bad", "SELECT 1", "keel_s2");
}

TEST_F(TransactionRelayTest, AfterAnErrorMessagesUpToSyncAreNotForwarded) {
  client(wire(parse("", "SELECT 1/0"), bind(""), execute()));
  sent();
  server(wire(parsed, bound, error("22012", "division by zero")));
  EXPECT_WIRE(received(), wire(parsed, bound, error("22012", "division by zero")));
  EXPECT_FALSE(relay.releasable()) << "the server awaits Sync";
  client(wire(parse("later", "SELECT 2"), bind("later"), execute(), flush));
  EXPECT_EQ(sent(), "") << "the server would skip them";
  EXPECT_EQ(relay.statements().find("later"), nullptr);
  client(wire(sync));
  EXPECT_WIRE(sent(), wire(sync));
  server(wire(ready()));
  EXPECT_WIRE(received(), wire(ready()));
  EXPECT_TRUE(relay.releasable());
}

TEST_F(TransactionRelayTest, ASecondServerGetsTheStatementInjectedAndItsParseCompleteSwallowed) {
  prepare("q", kSelect, "keel_s1");
  moveTo(server2);
  client(wire(bind("q", {"7"}), execute(), sync));
  EXPECT_WIRE(sent(), wire(parse("keel_s1", kSelect), bind("keel_s1", {"7"}), execute(), sync));
  server(wire(parsed, bound, row("0"), done("SELECT 1"), ready()));
  EXPECT_WIRE(received(), wire(bound, row("0"), done("SELECT 1"), ready()));
  EXPECT_EQ(relay.counters().injected_parses, 1u);
  EXPECT_EQ(relay.counters().server_parses, 2u);
  EXPECT_EQ(server2.state("keel_s1"), ServerStatements::State::ready);
  // Now both servers have it: no more injection on either.
  for (ServerStatements* s : {&server1, &server2}) {
    moveTo(*s);
    client(wire(bind("q", {"8"}), execute(), sync));
    EXPECT_WIRE(sent(), wire(bind("keel_s1", {"8"}), execute(), sync));
    server(wire(bound, done("SELECT 0"), ready()));
    EXPECT_WIRE(received(), wire(bound, done("SELECT 0"), ready()));
  }
  EXPECT_EQ(relay.counters().injected_parses, 1u);
}

TEST_F(TransactionRelayTest, DescribeOfANamedStatementIsRewrittenAndInjected) {
  prepare("q", kSelect, "keel_s1");
  moveTo(server2);
  client(wire(describeStatement("q"), sync));
  EXPECT_WIRE(sent(), wire(parse("keel_s1", kSelect), describeStatement("keel_s1"), sync));
  const pgwire::ParameterDescription params{.types = {23}};
  server(wire(parsed, params, columns("abalance"), ready()));
  EXPECT_WIRE(received(), wire(params, columns("abalance"), ready()));
  // Unknown and unnamed statements go through as sent.
  client(wire(describeStatement("nope"), describeStatement(""), sync));
  EXPECT_WIRE(sent(), wire(describeStatement("nope"), describeStatement(""), sync));
  server(wire(error("26000", "prepared statement \"nope\" does not exist"), ready()));
  EXPECT_WIRE(received(),
              wire(error("26000", "prepared statement \"nope\" does not exist"), ready()));
  client(wire(parse("", "SELECT 1"), describeStatement(""), sync));
  EXPECT_WIRE(sent(), wire(parse("", "SELECT 1"), describeStatement(""), sync));
  server(wire(parsed, pgwire::ParameterDescription{}, nodata, ready()));
  EXPECT_WIRE(received(), wire(parsed, pgwire::ParameterDescription{}, nodata, ready()));
}

TEST_F(TransactionRelayTest, AnInjectedParseThatFailsReachesTheClientAndLeavesNoEntry) {
  prepare("q", "SELECT * FROM gone", "keel_s1");
  moveTo(server2);
  client(wire(bind("q"), execute(), sync));
  EXPECT_WIRE(sent(),
              wire(parse("keel_s1", "SELECT * FROM gone"), bind("keel_s1"), execute(), sync));
  const std::string failure = wire(error("42P01", "relation \"gone\" does not exist"), ready());
  server(failure);
  EXPECT_WIRE(received(), failure);
  EXPECT_EQ(server2.state("keel_s1"), ServerStatements::State::absent);
  EXPECT_NE(relay.statements().find("q"), nullptr) << "the client's statement stays";
  EXPECT_TRUE(relay.releasable());
}

TEST_F(TransactionRelayTest, AServerThatHasTheStatementThroughAnotherClientAnswersNothing) {
  // Client B prepared the same statement on server3 under its own name.
  TransactionRelay other(100);
  other.attach(names, server3);
  std::string to_server;
  std::string to_client;
  fromClient(other, wire(parse("stmt_b", kSelect, {23}), sync), to_server, to_client);
  EXPECT_WIRE(to_server, wire(parse("keel_s1", kSelect, {23}), sync));
  ASSERT_TRUE(fromServer(other, wire(parsed, ready()), to_client));
  ASSERT_TRUE(other.releasable());
  other.detach();

  moveTo(server3);
  client(wire(parse("mine", kSelect, {23})));
  EXPECT_EQ(sent(), "");
  EXPECT_WIRE(received(), wire(parsed)) << "nothing awaited before it: answered at once";
  client(wire(bind("mine", {"1"}), execute(), sync));
  EXPECT_WIRE(sent(), wire(bind("keel_s1", {"1"}), execute(), sync));
  server(wire(bound, done("SELECT 0"), ready()));
  EXPECT_WIRE(received(), wire(bound, done("SELECT 0"), ready()));
  EXPECT_EQ(relay.counters().shared_statements, 1u);
  EXPECT_EQ(relay.counters().synthesized, 1u);
  EXPECT_EQ(relay.counters().injected_parses, 0u);
}

TEST_F(TransactionRelayTest, ServerStatementsAreBoundedWithLruEvictionAndPinning) {
  ServerStatements small(2);
  moveTo(small);
  prepare("s1", "SELECT 1", "keel_s1");
  prepare("s2", "SELECT 2", "keel_s2");
  client(wire(parse("s3", "SELECT 3"), sync));
  EXPECT_WIRE(sent(), wire(closeStatement("keel_s1"), parse("keel_s3", "SELECT 3"), sync));
  server(wire(closed, parsed, ready()));
  EXPECT_WIRE(received(), wire(parsed, ready())) << "CloseComplete swallowed";
  EXPECT_EQ(relay.counters().evictions, 1u);
  EXPECT_EQ(small.names(), (std::vector<std::string>{"keel_s3", "keel_s2"}));

  // One transaction uses all three: the two on the server are pinned, so s1 is prepared
  // without evicting anything and the bound is exceeded until the transaction ends.
  client(wire(bind("s2"), execute(), bind("s3"), execute(), bind("s1"), execute(), sync));
  EXPECT_WIRE(sent(), wire(bind("keel_s2"), execute(), bind("keel_s3"), execute(),
                           parse("keel_s1", "SELECT 1"), bind("keel_s1"), execute(), sync));
  EXPECT_EQ(small.size(), 3u);
  server(wire(bound, done("SELECT 1"), bound, done("SELECT 1"), parsed, bound, done("SELECT 1"),
              ready()));
  EXPECT_WIRE(received(), wire(bound, done("SELECT 1"), bound, done("SELECT 1"), bound,
                               done("SELECT 1"), ready()));
  EXPECT_EQ(small.pinned(), 0u) << "unpinned at ReadyForQuery 'I'";

  // The next Parse brings the server back within its bound, least recently used first.
  client(wire(parse("s4", "SELECT 4"), sync));
  EXPECT_WIRE(sent(), wire(closeStatement("keel_s2"), closeStatement("keel_s3"),
                           parse("keel_s4", "SELECT 4"), sync));
  server(wire(closed, closed, parsed, ready()));
  EXPECT_WIRE(received(), wire(parsed, ready()));
  EXPECT_EQ(small.names(), (std::vector<std::string>{"keel_s4", "keel_s1"}));
  EXPECT_EQ(relay.counters().evictions, 3u);
  relay.detach();
  relay.attach(names, server1);  // the fixture's moveTo needs a releasable relay
}

TEST_F(TransactionRelayTest, StatementsStayPinnedWhileAnExplicitTransactionLasts) {
  ServerStatements small(1);
  moveTo(small);
  prepare("s1", "SELECT 1", "keel_s1");
  client(wire(query("BEGIN")));
  sent();
  server(wire(done("BEGIN"), ready('T')));
  received();
  client(wire(bind("s1", {}, "cursor"), execute("cursor", 1), sync));
  sent();
  server(wire(bound, row("1"), pgwire::PortalSuspended{}, ready('T')));
  received();
  // The portal "cursor" depends on keel_s1: a new statement must not evict it.
  client(wire(parse("s2", "SELECT 2"), sync));
  EXPECT_WIRE(sent(), wire(parse("keel_s2", "SELECT 2"), sync));
  server(wire(parsed, ready('T')));
  received();
  client(wire(execute("cursor", 1), sync));
  EXPECT_WIRE(sent(), wire(execute("cursor", 1), sync));
  server(wire(done("SELECT 0"), ready('T')));
  received();
  client(wire(query("COMMIT")));
  sent();
  server(wire(done("COMMIT"), ready('I')));
  received();
  client(wire(parse("s3", "SELECT 3"), sync));
  EXPECT_WIRE(sent(), wire(closeStatement("keel_s1"), closeStatement("keel_s2"),
                           parse("keel_s3", "SELECT 3"), sync));
  server(wire(closed, closed, parsed, ready()));
  EXPECT_WIRE(received(), wire(parsed, ready()));
}

TEST_F(TransactionRelayTest, AnEvictionCloseTheServerSkippedIsUndone) {
  ServerStatements small(1);
  moveTo(small);
  prepare("s1", "SELECT 1", "keel_s1");
  client(wire(parse("", "SELECT 1/0"), bind(""), execute(), parse("s2", "SELECT 2"), sync));
  EXPECT_WIRE(sent(), wire(parse("", "SELECT 1/0"), bind(""), execute(), closeStatement("keel_s1"),
                           parse("keel_s2", "SELECT 2"), sync));
  server(wire(parsed, bound, error("22012", "division by zero"), ready()));
  received();
  EXPECT_EQ(small.names(), std::vector<std::string>{"keel_s1"}) << "Close and Parse skipped";
  EXPECT_EQ(relay.statements().find("s2"), nullptr);
  client(wire(bind("s1"), execute(), sync));
  EXPECT_WIRE(sent(), wire(bind("keel_s1"), execute(), sync)) << "keel_s1 is still there";
  server(wire(bound, done("SELECT 1"), ready()));
  received();
  relay.detach();
  relay.attach(names, server1);
}

TEST_F(TransactionRelayTest, CloseOfANamedStatementIsAnsweredByKeelAndKeepsItOnTheServer) {
  prepare("s1", "SELECT 1", "keel_s1");
  client(wire(closeStatement("s1"), sync));
  EXPECT_WIRE(sent(), wire(sync));
  EXPECT_WIRE(received(), wire(closed));
  server(wire(ready()));
  EXPECT_WIRE(received(), wire(ready()));
  EXPECT_EQ(relay.statements().find("s1"), nullptr);
  EXPECT_EQ(server1.state("keel_s1"), ServerStatements::State::ready) << "shared: stays";
  EXPECT_EQ(relay.counters().synthesized, 1u);

  // Portals, the unnamed statement and unknown names go through.
  client(wire(pgwire::Close{.kind = pgwire::TargetKind::portal, .name = "p"}, closeStatement(""),
              closeStatement("s1"), sync));
  EXPECT_WIRE(sent(), wire(pgwire::Close{.kind = pgwire::TargetKind::portal, .name = "p"},
                           closeStatement(""), closeStatement("s1"), sync));
  server(wire(closed, closed, closed, ready()));
  EXPECT_WIRE(received(), wire(closed, closed, closed, ready()));
  // The name can be prepared again, for another statement.
  client(wire(parse("s1", "SELECT 2"), sync));
  EXPECT_WIRE(sent(), wire(parse("keel_s2", "SELECT 2"), sync));
  server(wire(parsed, ready()));
  EXPECT_WIRE(received(), wire(parsed, ready()));
}

TEST_F(TransactionRelayTest, ParseOfAnExistingNameFailsWith42P05AndAbortsThePipeline) {
  prepare("s1", "SELECT 1", "keel_s1");
  client(wire(bind("s1"), execute(), parse("s1", "SELECT 2"), bind("s1"), execute(), sync));
  EXPECT_WIRE(sent(), wire(bind("keel_s1"), execute(),
                           parse("keel_refused", "KEEL REFUSED THIS MESSAGE"), sync))
      << "the failing Parse makes the server roll back and skip as for its own error";
  server(
      wire(bound, done("SELECT 1"), error("42601", "syntax error at or near \"KEEL\""), ready()));
  const std::string keel_error =
      pgwire::errorResponse("ERROR", "42P05", "prepared statement \"s1\" already exists");
  EXPECT_WIRE(received(), wire(bound, done("SELECT 1")) + keel_error + wire(ready()));
  EXPECT_EQ(relay.statements().size(), 1u);
  EXPECT_EQ((*relay.statements().find("s1"))->definition.query, "SELECT 1");
  EXPECT_EQ(names.size(), 1u) << "a refused definition is not interned";
  EXPECT_TRUE(relay.releasable());
}

TEST_F(TransactionRelayTest, BeyondTheClientLimitTheLeastRecentlyUsedStatementIsForgotten) {
  // pgJDBC prepares its statements again under new names after a SET search_path and never
  // closes the old ones: the bound must not turn that into errors.
  TransactionRelay limited(2);
  relay.detach();
  limited.attach(names, server1);
  std::string to_server;
  std::string to_client;
  fromClient(limited,
             wire(parse("a", "SELECT 1"), parse("b", "SELECT 2"), bind("a"), execute(),
                  parse("c", "SELECT 3"), bind("c"), execute(), sync),
             to_server, to_client);
  EXPECT_WIRE(to_server,
              wire(parse("keel_s1", "SELECT 1"), parse("keel_s2", "SELECT 2"), bind("keel_s1"),
                   execute(), parse("keel_s3", "SELECT 3"), bind("keel_s3"), execute(), sync));
  ASSERT_TRUE(fromServer(
      limited,
      wire(parsed, parsed, bound, done("SELECT 1"), parsed, bound, done("SELECT 1"), ready()),
      to_client));
  EXPECT_EQ(types(to_client), "1 1 2 C 1 2 C Z");
  EXPECT_NE(limited.statements().find("a"), nullptr);
  EXPECT_EQ(limited.statements().find("b"), nullptr) << "the least recently used";
  EXPECT_NE(limited.statements().find("c"), nullptr);
  EXPECT_EQ(limited.counters().client_evictions, 1u);
  // A forgotten name goes to the server as sent, which reports it as PostgreSQL does.
  to_server.clear();
  fromClient(limited, wire(bind("b"), execute(), sync), to_server, to_client);
  EXPECT_WIRE(to_server, wire(bind("b"), execute(), sync));
  limited.detach();
  relay.attach(names, server1);
}

TEST_F(TransactionRelayTest, A42P05ForAParseKeelSentRepairsItsRecordOfTheServer) {
  prepare("s1", "SELECT 1", "keel_s1");
  moveTo(server2);
  // server2 has keel_s1 although Keel's record says otherwise (e.g. a Close that was lost).
  client(wire(bind("s1"), execute(), sync));
  EXPECT_WIRE(sent(), wire(parse("keel_s1", "SELECT 1"), bind("keel_s1"), execute(), sync));
  server(wire(error("42P05", "prepared statement \"keel_s1\" already exists"), ready()));
  received();
  EXPECT_EQ(server2.state("keel_s1"), ServerStatements::State::ready);
  client(wire(bind("s1"), execute(), sync));
  EXPECT_WIRE(sent(), wire(bind("keel_s1"), execute(), sync));
  server(wire(bound, done("SELECT 1"), ready()));
  EXPECT_WIRE(received(), wire(bound, done("SELECT 1"), ready()));
}

TEST_F(TransactionRelayTest, ReleasableOnlyAtIdleWithNothingInFlight) {
  prepare("s1", "SELECT 1", "keel_s1");
  client(wire(bind("s1"), execute(), flush));
  EXPECT_FALSE(relay.releasable());
  server(wire(bound, row("1"), done("SELECT 1")));
  EXPECT_EQ(relay.outstanding(), 0u);
  EXPECT_FALSE(relay.releasable()) << "after Flush the implicit transaction is still open";
  client(wire(sync));
  server(wire(ready()));
  EXPECT_TRUE(relay.releasable());

  // Two batches in flight: the first ReadyForQuery is not the end.
  client(wire(bind("s1"), execute(), sync, bind("s1"), execute(), sync));
  server(wire(bound, done("SELECT 1"), ready()));
  EXPECT_EQ(relay.outstanding(), 3u);
  EXPECT_FALSE(relay.releasable());
  server(wire(bound, done("SELECT 1"), ready()));
  EXPECT_TRUE(relay.releasable());

  // A failed transaction block is not idle either.
  client(wire(query("BEGIN; SELECT 1/0")));
  server(wire(done("BEGIN"), error("22012", "division by zero"), ready('E')));
  EXPECT_EQ(relay.transactionStatus(), pgwire::TransactionStatus::failed);
  EXPECT_FALSE(relay.releasable());
  client(wire(query("ROLLBACK")));
  server(wire(done("ROLLBACK"), ready()));
  EXPECT_TRUE(relay.releasable());
  sent();
  received();
}

TEST_F(TransactionRelayTest, NoticesNotificationsAndParameterStatusPassThroughInOrder) {
  prepare("known", "SELECT 1", "keel_s1");
  client(wire(parse("a", "SELECT 2"), parse("b", "SELECT 1"), bind("a"), execute(), sync));
  EXPECT_WIRE(sent(), wire(parse("keel_s2", "SELECT 2"), bind("keel_s2"), execute(), sync));
  const auto notice = pgwire::noticeResponse("NOTICE", "00000", "hello");
  const pgwire::NotificationResponse note{.process_id = 7, .channel = "ch", .payload = "x"};
  const pgwire::ParameterStatus status{.name = "TimeZone", .value = "UTC"};
  server(notice + wire(note, parsed, status, bound, row("2"), note, done("SELECT 1"), ready()));
  EXPECT_WIRE(received(), notice + wire(note, parsed, parsed /* b, Keel's */, status, bound,
                                        row("2"), note, done("SELECT 1"), ready()));
  // Also when nothing is awaited.
  server(notice + wire(note));
  EXPECT_WIRE(received(), notice + wire(note));
  EXPECT_TRUE(relay.releasable());
}

TEST_F(TransactionRelayTest, FunctionCallAndErrorsAtSyncAreFollowedByReadyForQuery) {
  client(wire(pgwire::FunctionCall{.function = 1598, .arguments = {}}));
  server(wire(pgwire::FunctionCallResponse{.result = "42"}, ready()));
  EXPECT_WIRE(received(), wire(pgwire::FunctionCallResponse{.result = "42"}, ready()));
  EXPECT_TRUE(relay.releasable());
  // A deferred constraint fails at the implicit COMMIT of Sync: no skipping, just ReadyForQuery.
  client(wire(parse("", "INSERT INTO t VALUES (1)"), bind(""), execute(), sync));
  const std::string answer =
      wire(parsed, bound, done("INSERT 0 1"), error("23503", "violates foreign key"), ready());
  server(answer);
  EXPECT_WIRE(received(), answer);
  EXPECT_TRUE(relay.releasable());
  sent();
}

TEST_F(TransactionRelayTest, AServerOutOfStepIsReportedNotRelayed) {
  auto stray = serverResult(wire(bound));
  ASSERT_FALSE(stray);
  EXPECT_EQ(stray.code(), pgwire::WireErrc::unexpected_message);
  EXPECT_NE(stray.message().find("BindComplete"), std::string::npos) << stray.message();
  EXPECT_EQ(received(), "");

  TransactionRelay fresh(10);
  relay.detach();
  fresh.attach(names, server1);
  std::string to_server;
  std::string to_client;
  fromClient(fresh, wire(execute()), to_server, to_client);
  auto wrong = fromServer(fresh, wire(parsed), to_client);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.message().find("ParseComplete where Keel awaited the result of Execute"),
            std::string::npos)
      << wrong.message();
  // A FATAL error with nothing awaited is relayed: the server is about to close.
  const std::string fatal = pgwire::errorResponse("FATAL", "57P01", "terminating connection");
  fresh.detach();
  fresh.attach(names, server1);
  to_client.clear();
  ASSERT_TRUE(fromServer(fresh, fatal, to_client));
  EXPECT_EQ(to_client, fatal);
  fresh.detach();
  relay.attach(names, server1);
}

TEST_F(TransactionRelayTest, MovingToAnotherPoolRenamesTheClientsStatements) {
  prepare("q", kSelect, "keel_s1");
  StatementNames other_pool(100);
  (void)other_pool.intern("SELECT 'another client'", {});  // keel_s1 there is not kSelect
  ServerStatements other_server(100);
  other_server.add("keel_s1");
  other_server.confirm("keel_s1");
  ASSERT_TRUE(relay.releasable());
  relay.detach();
  relay.attach(other_pool, other_server);
  client(wire(bind("q"), execute(), sync));
  EXPECT_WIRE(sent(), wire(parse("keel_s2", kSelect), bind("keel_s2"), execute(), sync));
  server(wire(parsed, bound, done("SELECT 0"), ready()));
  EXPECT_WIRE(received(), wire(bound, done("SELECT 0"), ready()));
  relay.detach();
  relay.attach(names, server1);
  client(wire(bind("q"), execute(), sync));
  EXPECT_WIRE(sent(), wire(bind("keel_s1"), execute(), sync)) << "and back";
  server(wire(bound, done("SELECT 0"), ready()));
  received();
}

TEST_F(TransactionRelayTest, DetachingFromALostServerForgetsWhatWasAwaited) {
  prepare("s1", "SELECT 1", "keel_s1");
  client(wire(bind("s1"), execute(), sync));
  sent();
  EXPECT_FALSE(relay.releasable());
  relay.detach();  // the server connection broke
  EXPECT_FALSE(relay.attached());
  relay.attach(names, server2);
  EXPECT_EQ(relay.outstanding(), 0u);
  EXPECT_TRUE(relay.releasable());
  client(wire(bind("s1"), execute(), sync));
  EXPECT_WIRE(sent(), wire(parse("keel_s1", "SELECT 1"), bind("keel_s1"), execute(), sync));
  server(wire(parsed, bound, done("SELECT 1"), ready()));
  received();
}

TEST_F(TransactionRelayTest, SettingsChangesPostgresDoesNotReportAreNoticed) {
  EXPECT_FALSE(relay.settingsTouched());
  // A SET command, whatever the parameter: PostgreSQL 15 reports only some of them.
  client(wire(query("SET search_path = app, public")));
  sent();
  EXPECT_FALSE(relay.settingsTouched()) << "not before it ran";
  server(wire(done("SET"), ready()));
  received();
  EXPECT_TRUE(relay.settingsTouched());
  relay.clearSettingsTouched();

  // One simple query and PostgreSQL's answer: whether the relay reports settings touched.
  auto touchedBy = [&](std::string_view sql, const std::string& answer) {
    client(wire(query(sql)));
    sent();
    server(answer);
    received();
    const bool touched = relay.settingsTouched();
    relay.clearSettingsTouched();
    return touched;
  };
  EXPECT_TRUE(touchedBy("RESET ALL", wire(done("RESET"), ready())));
  EXPECT_TRUE(touchedBy("DISCARD ALL", wire(done("DISCARD ALL"), ready())));

  // set_config() runs inside a query: noticed from the text, in a Query, a Parse, or the Bind
  // of a named statement prepared earlier (in another transaction).
  client(wire(query("SELECT pg_catalog.SET_CONFIG('search_path', 'x', false)")));
  EXPECT_TRUE(relay.settingsTouched());
  sent();
  server(wire(columns("set_config"), row("x"), done("SELECT 1"), ready()));
  received();
  relay.clearSettingsTouched();
  prepare("s", "select set_config($1, $2, false)", "keel_s1");
  EXPECT_TRUE(relay.settingsTouched());
  relay.clearSettingsTouched();
  moveTo(server2);
  client(wire(bind("s", {"search_path", "y"}), execute(), sync));
  EXPECT_TRUE(relay.settingsTouched());
  sent();
  server(wire(parsed, bound, row("y"), done("SELECT 1"), ready()));
  received();
  relay.clearSettingsTouched();

  // Other commands leave it alone; detaching clears it.
  EXPECT_FALSE(
      touchedBy("SELECT 1; BEGIN; COMMIT", wire(columns("?column?"), row("1"), done("SELECT 1"),
                                                done("BEGIN"), done("COMMIT"), ready())));
  client(wire(query("SET TIME ZONE 'UTC'")));
  sent();
  server(wire(done("SET"), ready()));
  received();
  EXPECT_TRUE(relay.settingsTouched());
  relay.detach();
  EXPECT_FALSE(relay.settingsTouched());
}

}  // namespace
}  // namespace keel::proxy
