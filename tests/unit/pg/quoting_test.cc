#include "pg/quoting.h"

#include <gtest/gtest.h>

#include "pg/postgres.h"

namespace keel::pg {
namespace {

TEST(QuotingTest, ConninfoValues) {
  EXPECT_EQ(quoteConninfoValue("plain"), "'plain'");
  EXPECT_EQ(quoteConninfoValue(""), "''");
  EXPECT_EQ(quoteConninfoValue("it's"), "'it\\'s'");
  EXPECT_EQ(quoteConninfoValue("a\\b c"), "'a\\\\b c'");
  EXPECT_EQ(renderConninfo({{"host", "10.0.0.1"}, {"password", "p w'd"}}),
            "host='10.0.0.1' password='p w\\'d'");
}

TEST(QuotingTest, ConfStrings) {
  EXPECT_EQ(quoteConfString("on"), "'on'");
  EXPECT_EQ(quoteConfString("it's"), "'it''s'");
  EXPECT_EQ(quoteConfString("a\\b"), "'a\\\\b'");
  EXPECT_EQ(quoteConfString("l1\nl2"), "'l1\\nl2'");
  EXPECT_EQ(quoteConfString(std::string("\x01", 1)), "'\\001'");
}

TEST(QuotingTest, ConninfoInsideConfString) {
  // primary_conninfo holds a conninfo string inside a postgresql.conf string: both layers.
  std::string conninfo = renderConninfo({{"password", "a'b\\c"}});
  EXPECT_EQ(conninfo, "password='a\\'b\\\\c'");
  EXPECT_EQ(quoteConfString(conninfo), "'password=''a\\\\''b\\\\\\\\c'''");
}

TEST(QuotingTest, HbaNames) {
  EXPECT_EQ(quoteHbaName("replicator"), "replicator");
  EXPECT_EQ(quoteHbaName("repl-user"), "\"repl-user\"");
  EXPECT_EQ(quoteHbaName("all"), "\"all\"");
  EXPECT_EQ(quoteHbaName("Replicator"), "Replicator");
  EXPECT_TRUE(validHbaName("a b"));
  EXPECT_FALSE(validHbaName("a\"b"));
  EXPECT_FALSE(validHbaName("a\nb"));
  EXPECT_FALSE(validHbaName(""));
}

TEST(QuotingTest, ParameterNames) {
  EXPECT_TRUE(validParameterName("shared_buffers"));
  EXPECT_TRUE(validParameterName("pg_stat_statements.max"));
  EXPECT_FALSE(validParameterName("1abc"));
  EXPECT_FALSE(validParameterName("a=b"));
  EXPECT_FALSE(validParameterName("a b"));
  EXPECT_FALSE(validParameterName(""));
}

TEST(SlotNameTest, SanitizesMemberNames) {
  EXPECT_EQ(slotNameFor("node1"), "node1");
  EXPECT_EQ(slotNameFor("Node-1.example"), "node_1_example");
  EXPECT_EQ(slotNameFor(std::string(80, 'a')).size(), 63u);
  EXPECT_EQ(slotNameFor("n\xc3\xa9"), "n__");
}

}  // namespace
}  // namespace keel::pg
