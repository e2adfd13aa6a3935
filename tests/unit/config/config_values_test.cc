#include <gtest/gtest.h>

#include <limits>

#include "config/config.h"

namespace keel {
namespace {

using std::chrono::milliseconds;

TEST(ParseDuration, AcceptsUnitsAndBareSeconds) {
  EXPECT_EQ(parseDuration("2s"), milliseconds(2000));
  EXPECT_EQ(parseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(parseDuration("1.5s"), milliseconds(1500));
  EXPECT_EQ(parseDuration("1m"), milliseconds(60000));
  EXPECT_EQ(parseDuration("1h"), milliseconds(3600000));
  EXPECT_EQ(parseDuration("2"), milliseconds(2000));
  EXPECT_EQ(parseDuration("0.25"), milliseconds(250));
  EXPECT_EQ(parseDuration("0"), milliseconds(0));
  EXPECT_EQ(parseDuration(" 3s "), milliseconds(3000));
  EXPECT_EQ(parseDuration("10 ms"), milliseconds(10));
  EXPECT_EQ(parseDuration("1.500s"), milliseconds(1500));
}

TEST(ParseDuration, RejectsJunk) {
  for (const char* text :
       {"",   " ",  "-1",  "-1s",   "+1s",   "abc",     "2x",  "2 sec", "s",    "ms",
        "1.", ".5", "1e3", "1..5s", "1.5ms", "0.0001s", "1s2", "2S",    "0x10", "1,5s"}) {
    EXPECT_FALSE(parseDuration(text).has_value()) << '"' << text << '"';
  }
}

TEST(ParseDuration, RejectsOverflow) {
  EXPECT_FALSE(parseDuration("99999999999999999999").has_value());
  EXPECT_FALSE(parseDuration("9223372036854775807s").has_value());
  EXPECT_FALSE(parseDuration("9223372036854775808ms").has_value());
  EXPECT_EQ(parseDuration("9223372036854775807ms"),
            milliseconds(std::numeric_limits<std::int64_t>::max()));
  EXPECT_FALSE(parseDuration("1.0000000000000000000000001s").has_value());
}

TEST(ParseByteSize, AcceptsPostgresUnits) {
  EXPECT_EQ(parseByteSize("1MB"), 1048576u);
  EXPECT_EQ(parseByteSize("512kB"), 524288u);
  EXPECT_EQ(parseByteSize("1GB"), 1073741824u);
  EXPECT_EQ(parseByteSize("2TB"), 2ULL << 40);
  EXPECT_EQ(parseByteSize("1048576"), 1048576u);
  EXPECT_EQ(parseByteSize("0"), 0u);
  EXPECT_EQ(parseByteSize("100B"), 100u);
  EXPECT_EQ(parseByteSize("1mb"), 1048576u);
  EXPECT_EQ(parseByteSize("16 MB"), 16u << 20);
  EXPECT_EQ(parseByteSize("1.5kB"), 1536u);
}

TEST(ParseByteSize, RejectsJunkAndOverflow) {
  for (const char* text : {"", "-1", "-1MB", "MB", "1XB", "1M", "1 M B", "1.5", "0.1B", "1MBs",
                           "18446744073709551616", "20000000TB", "abc"}) {
    EXPECT_FALSE(parseByteSize(text).has_value()) << '"' << text << '"';
  }
  EXPECT_EQ(parseByteSize("18446744073709551615"), std::numeric_limits<std::uint64_t>::max());
}

TEST(ParseHostPort, AcceptsNamesIpv4AndBracketedIpv6) {
  auto v4 = parseHostPort("127.0.0.1:5432");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 5432);
  auto v6 = parseHostPort("[::1]:5432");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 5432);
  auto name = parseHostPort("localhost:8008");
  ASSERT_TRUE(name);
  EXPECT_EQ(name->host, "localhost");
  EXPECT_EQ(name->port, 8008);
  EXPECT_EQ(parseHostPort("h:1")->port, 1);
  EXPECT_EQ(parseHostPort("h:65535")->port, 65535);
  EXPECT_EQ(parseHostPort("[fe80::1%eth0]:80")->host, "fe80::1%eth0");
}

TEST(ParseHostPort, RejectsMalformed) {
  for (const char* text : {"",
                           "localhost",
                           ":5432",
                           "host:",
                           "host:0",
                           "host:65536",
                           "host:99999999",
                           "host:-1",
                           "host:+1",
                           "host:54a",
                           "ho st:1",
                           "::1:5432",
                           "[::1]5432",
                           "[::1]",
                           "[::1]:",
                           "[localhost]:80",
                           "http://host:80",
                           "host:80/",
                           "[]:80",
                           "host:1 "}) {
    EXPECT_FALSE(parseHostPort(text).has_value()) << '"' << text << '"';
  }
}

TEST(HostPort, StrBracketsIpv6) {
  EXPECT_EQ((HostPort{"127.0.0.1", 5432}.str()), "127.0.0.1:5432");
  EXPECT_EQ((HostPort{"::1", 5432}.str()), "[::1]:5432");
  EXPECT_EQ(parseHostPort(HostPort{"::1", 80}.str())->host, "::1");
}

TEST(EtcdConfig, ClientUrlsPutThisMemberFirst) {
  EtcdConfig external;
  external.endpoints = {"http://10.0.0.1:2379", "http://10.0.0.2:2379"};
  EXPECT_EQ(external.client_urls(), external.endpoints);

  EtcdConfig embedded;
  embedded.embedded.emplace();
  embedded.embedded->name = "b";
  embedded.embedded->listen_client = HostPort{"127.0.0.1", 2380};
  embedded.embedded->client_urls = {{"a", "http://127.0.0.1:2379"},
                                    {"b", "http://127.0.0.1:2380"},
                                    {"c", "http://127.0.0.1:2381"}};
  EXPECT_EQ(embedded.client_urls(),
            (std::vector<std::string>{"http://127.0.0.1:2380", "http://127.0.0.1:2379",
                                      "http://127.0.0.1:2381"}));
}

TEST(ManagedParameters, ListsWhatKeelSets) {
  for (std::string_view name :
       {"listen_addresses", "port", "hba_file", "ident_file", "data_directory", "config_file",
        "primary_conninfo", "primary_slot_name", "recovery_target_timeline",
        "unix_socket_directories"}) {
    EXPECT_NE(std::find(kManagedParameters.begin(), kManagedParameters.end(), name),
              kManagedParameters.end())
        << name;
  }
}

}  // namespace
}  // namespace keel
