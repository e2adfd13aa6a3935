// TransactionRelay: DEALLOCATE / DISCARD ALL, the COPY sub-protocols, and messages streamed in
// parts (Frame::complete false, then continuation frames).
#include <gtest/gtest.h>

#include "proxy/transaction_relay.h"
#include "transaction_relay_fixture.h"

namespace keel::proxy {
namespace {

using namespace relay_test;  // NOLINT: the fixture's message helpers

// What PostgreSQL answers to `SELECT`: one row of no columns.
std::string noopAnswer(char status = 'I') {
  return wire(pgwire::RowDescription{}, pgwire::DataRow{}, done("SELECT 1"), ready(status));
}

const pgwire::CopyInResponse copy_in{};
const pgwire::CopyOutResponse copy_out{};
const pgwire::CopyDone copy_done{};
pgwire::CopyData copyData(std::string_view data) {
  return pgwire::CopyData{.data = data};
}

// --- DEALLOCATE ---

TEST_F(TransactionRelayTest, DeallocateOfAClientStatementNeverReachesTheSharedOne) {
  prepare("s1", "SELECT 1", "keel_s1");
  client(wire(query("DEALLOCATE s1")));
  EXPECT_WIRE(sent(), wire(query("SELECT")));
  server(noopAnswer());
  EXPECT_WIRE(received(), wire(done("DEALLOCATE"), ready()));
  EXPECT_EQ(relay.statements().find("s1"), nullptr);
  EXPECT_EQ(server1.state("keel_s1"), ServerStatements::State::ready);
  EXPECT_EQ(relay.counters().synthesized, 1u);
  EXPECT_TRUE(relay.releasable());

  // A name the client never prepared is the server's business (SQL PREPARE, or 26000).
  client(wire(query("DEALLOCATE s1")));
  EXPECT_WIRE(sent(), wire(query("DEALLOCATE s1")));
  const std::string answer =
      wire(error("26000", "prepared statement \"s1\" does not exist"), ready());
  server(answer);
  EXPECT_WIRE(received(), answer);
}

TEST_F(TransactionRelayTest, DeallocateInAnAbortedTransactionFailsAsOnPostgresql) {
  prepare("s2", "SELECT 2", "keel_s1");
  client(wire(query("BEGIN; SELECT 1/0")));
  sent();
  server(wire(done("BEGIN"), error("22012", "division by zero"), ready('E')));
  received();
  client(wire(query("deallocate PREPARE S2;")));  // unquoted: folds to s2
  EXPECT_WIRE(sent(), wire(query("SELECT")));
  const std::string aborted =
      wire(error("25P02",
                 "current transaction is aborted, commands ignored until end of "
                 "transaction block"),
           ready('E'));
  server(aborted);
  EXPECT_WIRE(received(), aborted);
  EXPECT_NE(relay.statements().find("s2"), nullptr) << "the failed DEALLOCATE changed nothing";
  EXPECT_EQ(relay.transactionStatus(), pgwire::TransactionStatus::failed);
}

TEST_F(TransactionRelayTest, DeallocateAllForgetsOnlyTheClientsNames) {
  prepare("a", "SELECT 1", "keel_s1");
  prepare("b", "SELECT 2", "keel_s2");
  client(wire(query("BEGIN")));
  server(wire(done("BEGIN"), ready('T')));
  client(wire(query("  DEALLOCATE ALL ; ")));
  sent();
  received();
  server(noopAnswer('T'));
  EXPECT_WIRE(received(), wire(done("DEALLOCATE ALL"), ready('T')));
  EXPECT_EQ(relay.statements().size(), 0u);
  EXPECT_EQ(server1.size(), 2u);
  client(wire(query("COMMIT")));
  server(wire(done("COMMIT"), ready()));
  sent();
  received();
  // Failing, it puts them back.
  prepare("c", "SELECT 3", "keel_s3");
  client(wire(query("DEALLOCATE ALL")));
  EXPECT_WIRE(sent(), wire(query("SELECT")));
  server(wire(error("57014", "canceling statement due to user request"), ready('T')));
  EXPECT_EQ(types(received()), "E Z");
  EXPECT_NE(relay.statements().find("c"), nullptr);
}

// --- DISCARD ALL ---

TEST_F(TransactionRelayTest, DiscardAllClearsBothSidesAndStatementsPipelinedBehindItArePrepared) {
  prepare("s1", "SELECT 1", "keel_s1");
  prepare("s2", "SELECT 2", "keel_s2");
  client(wire(query("DISCARD ALL"), parse("s1", "SELECT 1"), bind("s1"), execute(), sync));
  EXPECT_WIRE(sent(), wire(query("DISCARD ALL"), parse("keel_s1", "SELECT 1"), bind("keel_s1"),
                           execute(), sync))
      << "keel_s1 is on the server now but will not be once DISCARD ALL has run";
  EXPECT_EQ(relay.statements().find("s2"), nullptr);
  const std::string answer =
      wire(done("DISCARD ALL"), ready(), parsed, bound, row("1"), done("SELECT 1"), ready());
  server(answer);
  EXPECT_WIRE(received(), answer);
  EXPECT_EQ(server1.names(), std::vector<std::string>{"keel_s1"});
  EXPECT_EQ(server1.state("keel_s1"), ServerStatements::State::ready);
  EXPECT_EQ(relay.statements().size(), 1u);
  EXPECT_TRUE(relay.releasable());
}

TEST_F(TransactionRelayTest, AFailedDiscardAllChangesNothing) {
  prepare("s1", "SELECT 1", "keel_s1");
  client(wire(query("BEGIN")));
  server(wire(done("BEGIN"), ready('T')));
  client(wire(query("discard all;")));
  EXPECT_EQ(relay.statements().size(), 0u);
  server(wire(error("25001", "DISCARD ALL cannot run inside a transaction block"), ready('E')));
  EXPECT_NE(relay.statements().find("s1"), nullptr);
  client(wire(query("ROLLBACK")));
  server(wire(done("ROLLBACK"), ready()));
  sent();
  received();
  client(wire(bind("s1"), execute(), sync));
  EXPECT_WIRE(sent(), wire(bind("keel_s1"), execute(), sync)) << "still on the server";
  server(wire(bound, done("SELECT 1"), ready()));
  received();
}

TEST_F(TransactionRelayTest, ADiscardAllKeelDidNotInterceptIsNoticedFromItsTag) {
  prepare("s1", "SELECT 1", "keel_s1");
  const std::string extended = wire(parse("", "DISCARD ALL"), bind(""), execute(), sync);
  client(extended);
  EXPECT_WIRE(sent(), extended);
  server(wire(parsed, bound, done("DISCARD ALL"), ready()));
  received();
  EXPECT_EQ(server1.size(), 0u);
  EXPECT_EQ(relay.statements().size(), 0u) << "PostgreSQL dropped the client's statements too";
  prepare("s1", "SELECT 1", "keel_s1");  // prepared again for real

  client(wire(query("SELECT 1; DEALLOCATE ALL")));
  EXPECT_WIRE(sent(), wire(query("SELECT 1; DEALLOCATE ALL")));
  server(wire(columns("?column?"), row("1"), done("SELECT 1"), done("DEALLOCATE ALL"), ready()));
  received();
  EXPECT_EQ(server1.size(), 0u);
  EXPECT_EQ(relay.statements().size(), 0u);
}

// --- COPY ---

TEST_F(TransactionRelayTest, CopyInAndOutInsideSimpleQueries) {
  client(wire(query("COPY t FROM STDIN")));
  EXPECT_WIRE(sent(), wire(query("COPY t FROM STDIN")));
  server(wire(copy_in));
  EXPECT_WIRE(received(), wire(copy_in));
  const std::string data = wire(copyData("1\n"), copyData("2\n"), copy_done);
  client(data);
  EXPECT_WIRE(sent(), data);
  EXPECT_FALSE(relay.releasable());
  server(wire(done("COPY 2"), ready()));
  EXPECT_WIRE(received(), wire(done("COPY 2"), ready()));
  EXPECT_TRUE(relay.releasable());

  client(wire(query("COPY t TO STDOUT")));
  const std::string out =
      wire(copy_out, copyData("1\n"), copyData("2\n"), copy_done, done("COPY 2"), ready());
  server(out);
  EXPECT_WIRE(received(), out);
  EXPECT_TRUE(relay.releasable());

  // Two COPY FROM STDIN in one Query.
  client(wire(query("COPY a FROM STDIN; COPY b FROM STDIN")));
  server(wire(copy_in));
  client(wire(copyData("x\n"), copy_done));
  server(wire(done("COPY 1"), copy_in));
  client(wire(copyData("y\n"), pgwire::CopyFail{.message = "no more"}));
  server(wire(error("57014", "COPY from stdin failed: no more"), ready()));
  EXPECT_EQ(types(received()), "G C G E Z");
  EXPECT_TRUE(relay.releasable());
  sent();
}

TEST_F(TransactionRelayTest, CopyInThroughExecuteGetsOneReadyForQueryForItsTwoSyncs) {
  // libpq: Parse/Bind/Describe/Execute/Sync, then the data, CopyDone and another Sync. The
  // server ignores the first Sync while it reads the COPY data.
  client(wire(parse("", "COPY t FROM STDIN"), bind(""), describePortal(), execute(), sync));
  sent();
  server(wire(parsed, bound, nodata, copy_in));
  EXPECT_WIRE(received(), wire(parsed, bound, nodata, copy_in));
  EXPECT_FALSE(relay.releasable());
  client(wire(copyData("1\n"), copy_done, sync));
  EXPECT_WIRE(sent(), wire(copyData("1\n"), copy_done, sync));
  server(wire(done("COPY 1")));
  EXPECT_FALSE(relay.releasable()) << "ReadyForQuery still to come";
  server(wire(ready()));
  EXPECT_WIRE(received(), wire(done("COPY 1"), ready()));
  EXPECT_EQ(relay.outstanding(), 0u);
  EXPECT_TRUE(relay.releasable());

  // A client that sends everything before seeing CopyInResponse.
  client(wire(parse("", "COPY t FROM STDIN"), bind(""), execute(), sync, copyData("2\n"), copy_done,
              sync));
  sent();
  server(wire(parsed, bound, copy_in, done("COPY 1")));
  EXPECT_FALSE(relay.releasable());
  server(wire(ready()));
  EXPECT_WIRE(received(), wire(parsed, bound, copy_in, done("COPY 1"), ready()));
  EXPECT_TRUE(relay.releasable());
}

TEST_F(TransactionRelayTest, CopyInThroughExecuteThatFailsSkipsToTheNextSync) {
  client(wire(parse("", "COPY t FROM STDIN"), bind(""), execute(), sync));
  sent();
  server(wire(parsed, bound, copy_in));
  received();
  client(wire(copyData("oops\n")));
  server(wire(error("22P02", "invalid input syntax for type integer")));
  EXPECT_EQ(types(received()), "E");
  client(wire(copyData("more\n"), copy_done, sync));
  EXPECT_WIRE(sent(), wire(copyData("oops\n"), sync)) << "the rest is skipped by the server";
  server(wire(ready()));
  EXPECT_WIRE(received(), wire(ready()));
  EXPECT_TRUE(relay.releasable());

  // CopyFail from the client.
  client(wire(parse("", "COPY t FROM STDIN"), bind(""), execute(), sync));
  server(wire(parsed, bound, copy_in));
  client(wire(pgwire::CopyFail{.message = "cancelled"}, sync));
  server(wire(error("57014", "COPY from stdin failed: cancelled"), ready()));
  EXPECT_EQ(types(received()), "1 2 G E Z");
  EXPECT_TRUE(relay.releasable());
  sent();
}

TEST_F(TransactionRelayTest, CopyOutThroughExecute) {
  prepare("dump", "COPY t TO STDOUT", "keel_s1");
  client(wire(bind("dump"), execute(), sync));
  EXPECT_WIRE(sent(), wire(bind("keel_s1"), execute(), sync));
  const std::string out =
      wire(bound, copy_out, copyData("1\n"), copy_done, done("COPY 1"), ready());
  server(out);
  EXPECT_WIRE(received(), out);
  EXPECT_TRUE(relay.releasable());
}

// --- streamed messages ---

TEST_F(TransactionRelayTest, ALargeDataRowIsRelayedInPartsUnchanged) {
  streamAbove(64);
  client(wire(query("SELECT big")));
  sent();
  const std::string value(300, 'v');
  const std::string answer = wire(columns("big"), row(value), done("SELECT 1"), ready());
  const std::size_t cut = wire(columns("big")).size() + 100;  // inside the DataRow
  server(answer.substr(0, cut));
  EXPECT_FALSE(relay.releasable());
  server(answer.substr(cut, 50));
  EXPECT_FALSE(relay.releasable()) << "the DataRow is not over";
  server(answer.substr(cut + 50));
  EXPECT_WIRE(received(), answer);
  EXPECT_TRUE(relay.releasable());
}

TEST_F(TransactionRelayTest, AStreamedBindIsRewrittenFromItsHeaderAndTheRestStreamsThrough) {
  streamAbove(64);
  prepare("big_insert", "INSERT INTO t VALUES ($1)", "keel_s1");
  moveTo(server2);
  const std::string value(1000, 'x');
  const std::string message = wire(bind("big_insert", {value}));
  // The first part ends inside the statement name: Keel waits for the rest of the header.
  client(message.substr(0, 9));
  EXPECT_EQ(sent(), "");
  EXPECT_FALSE(relay.releasable());
  client(message.substr(9, 200));
  client(message.substr(209));
  client(wire(execute(), sync));
  EXPECT_WIRE(sent(), wire(parse("keel_s1", "INSERT INTO t VALUES ($1)"), bind("keel_s1", {value}),
                           execute(), sync));
  server(wire(parsed, bound, done("INSERT 0 1"), ready()));
  EXPECT_WIRE(received(), wire(bound, done("INSERT 0 1"), ready()));

  // Unknown names stream through untouched.
  const std::string unknown = wire(bind("nope", {value}));
  client(unknown.substr(0, 30));
  client(unknown.substr(30));
  EXPECT_WIRE(sent(), unknown);
  client(wire(sync));
  server(wire(error("26000", "prepared statement \"nope\" does not exist"), ready()));
  EXPECT_EQ(types(received()), "E Z");
  EXPECT_TRUE(relay.releasable());
  sent();
}

TEST_F(TransactionRelayTest, StreamedParseAndQueryAreHandledWhole) {
  streamAbove(64);
  const std::string long_sql = "SELECT " + std::string(400, '1');
  const std::string message = wire(parse("long", long_sql));
  client(message.substr(0, 100));
  EXPECT_EQ(sent(), "");
  client(message.substr(100) + wire(sync));
  EXPECT_WIRE(sent(), wire(parse("keel_s1", long_sql), sync));
  server(wire(parsed, ready()));
  EXPECT_WIRE(received(), wire(parsed, ready()));

  const std::string long_query = wire(query("DEALLOCATE long" + std::string(200, ' ')));
  client(long_query.substr(0, 70));
  client(long_query.substr(70));
  EXPECT_WIRE(sent(), long_query) << "a streamed Query is never intercepted";
  server(wire(error("26000", "prepared statement \"long\" does not exist"), ready()));
  EXPECT_EQ(types(received()), "E Z");
  EXPECT_TRUE(relay.releasable());

  // COPY data streams through as well.
  client(wire(query("COPY t FROM STDIN")));
  server(wire(copy_in));
  const std::string data = wire(copyData(std::string(500, 'd')), copy_done);
  client(data.substr(0, 80));
  EXPECT_FALSE(relay.releasable());
  client(data.substr(80));
  server(wire(done("COPY 1"), ready()));
  EXPECT_WIRE(sent(), wire(query("COPY t FROM STDIN")) + data);
  EXPECT_TRUE(relay.releasable());
  received();
}

TEST_F(TransactionRelayTest, KeelsOwnResponsesWaitForTheEndOfAMessageBeingRelayedInParts) {
  streamAbove(64);
  prepare("s1", "SELECT 1", "keel_s1");
  const std::string notice = pgwire::noticeResponse("NOTICE", "00000", std::string(200, 'n'));
  server(notice.substr(0, 100));  // e.g. a RAISE NOTICE from a trigger, arriving while idle
  client(wire(closeStatement("s1")));
  EXPECT_EQ(sent(), "");
  EXPECT_EQ(received(), notice.substr(0, 100)) << "CloseComplete must not cut the notice";
  server(notice.substr(100));
  EXPECT_WIRE(received(), notice.substr(100) + wire(closed));
  client(wire(sync));
  server(wire(ready()));
  EXPECT_WIRE(received(), wire(ready()));
  EXPECT_TRUE(relay.releasable());
}

// One side of a scripted exchange.
struct Step {
  bool from_client = true;
  std::string bytes;
};

struct Outputs {
  std::string to_server;
  std::string to_client;
};

// Runs `script` on a fresh relay, feeding each step in pieces of `piece` bytes (0: whole)
// through decoders that stream messages above `threshold` bytes.
Outputs runScript(const std::vector<Step>& script, std::size_t piece, std::uint32_t threshold) {
  StatementNames names(100);
  ServerStatements server(100);
  TransactionRelay relay(100);
  relay.attach(names, server);
  pgwire::FrameLimits limits;
  limits.stream_threshold = threshold;
  pgwire::FrameDecoder client_dec(pgwire::Source::frontend, limits);
  client_dec.feed(wire(pgwire::StartupMessage{.parameters = {{"user", "app"}}}));
  EXPECT_TRUE(client_dec.next());
  client_dec.setAuthenticated();
  pgwire::FrameDecoder server_dec(pgwire::Source::backend, limits);
  server_dec.setAuthenticated();
  Outputs out;
  for (const Step& step : script) {
    pgwire::FrameDecoder& dec = step.from_client ? client_dec : server_dec;
    const std::size_t n = piece == 0 ? step.bytes.size() : piece;
    for (std::size_t at = 0; at < step.bytes.size(); at += n) {
      dec.feed(std::string_view(step.bytes).substr(at, n));
      while (true) {
        auto frame = dec.next();
        EXPECT_TRUE(frame) << frame.message();
        if (!frame || !*frame) {
          break;
        }
        if (step.from_client) {
          relay.fromClient(**frame, out.to_server, out.to_client);
        } else {
          auto r = relay.fromServer(**frame, out.to_client);
          EXPECT_TRUE(r) << r.message();
        }
      }
    }
  }
  EXPECT_TRUE(relay.releasable());
  return out;
}

TEST(TransactionRelaySplits, EveryScenarioGivesTheSameBytesWhateverTheSplit) {
  const std::string long_sql = "SELECT $1::text || '" + std::string(100, 'q') + "'";
  const std::string big(300, 'b');
  const std::string long_error(120, 'e');
  const auto c = [](std::string bytes) { return Step{true, std::move(bytes)}; };
  const auto s = [](std::string bytes) { return Step{false, std::move(bytes)}; };
  const pgwire::ParameterDescription params{.types = {25}};
  const std::vector<Step> script = {
      c(wire(parse("s1", long_sql), bind("s1", {big}), execute(), sync)),
      s(wire(parsed, bound, row(big), done("SELECT 1"), ready())),
      // A refusal: the server's (long) error is swallowed, Keel's goes out instead.
      c(wire(parse("s1", "SELECT 2"), bind("s1", {big}), execute(), sync)),
      s(wire(error("42601", long_error), ready())),
      c(wire(closeStatement("s1"), parse("s2", long_sql), describeStatement("s2"), sync)),
      s(wire(params, columns("text"), ready())),
      c(wire(bind("s2", {big}, "p"), execute("p", 1), flush)),
      s(wire(bound, row(big), pgwire::PortalSuspended{})),
      c(wire(sync)),
      s(pgwire::noticeResponse("NOTICE", "00000", long_error) + wire(ready())),
      c(wire(query("COPY t FROM STDIN"))),
      s(wire(copy_in)),
      c(wire(copyData(big), copy_done)),
      s(wire(done("COPY 1"), ready())),
  };
  const Outputs whole = runScript(script, 0, 0);
  EXPECT_EQ(types(whole.to_server), "P B E S P S D S B E H S Q d c")
      << "s2 is s1's statement: already on the server";
  EXPECT_EQ(types(whole.to_client), "1 2 D C Z E Z 3 1 t T Z 2 D s N Z G C Z");
  for (std::size_t piece : {1, 2, 3, 7, 64}) {
    const Outputs split = runScript(script, piece, 64);
    EXPECT_WIRE(split.to_server, whole.to_server) << "pieces of " << piece;
    EXPECT_WIRE(split.to_client, whole.to_client) << "pieces of " << piece;
  }
}

}  // namespace
}  // namespace keel::proxy
