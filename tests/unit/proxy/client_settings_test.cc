#include <gtest/gtest.h>

#include "proxy/client_session.h"

namespace keel::proxy {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

TEST(ClientSettings, StartupParametersBecomeSetStatements) {
  auto s = clientSettingsFrom(Params{{"user", "u"},
                                     {"database", "d"},
                                     {"application_name", "it's"},
                                     {"DateStyle", "ISO, DMY"},
                                     {"options", "-c search_path=a\\ b --work-mem=64MB"},
                                     {"_pq_.extension", "x"}});
  ASSERT_TRUE(s) << s.message();
  ASSERT_EQ(s->parameters.size(), 4u);
  ParameterMap current{{"application_name", "it's"}, {"DateStyle", "ISO, MDY"}};
  EXPECT_EQ(settingStatements(*s, current),
            "SET \"DateStyle\" = E'ISO, DMY';SET \"search_path\" = E'a b';"
            "SET \"work_mem\" = E'64MB';");
  current["datestyle"] = "ISO, DMY";
  EXPECT_EQ(current.count("DateStyle"), 1u);
  current["search_path"] = "a b";
  current["work_mem"] = "64MB";
  EXPECT_EQ(settingStatements(*s, current), "") << "names compare case-insensitively";
}

TEST(ClientSettings, ValuesAreQuotedSafely) {
  auto s = clientSettingsFrom(Params{{"application_name", "x'; DROP TABLE t; --\\"}});
  ASSERT_TRUE(s);
  EXPECT_EQ(settingStatements(*s, {}), "SET \"application_name\" = E'x\\'; DROP TABLE t; --\\\\';");
}

TEST(ClientSettings, RefusesWhatThePoolerCannotHonour) {
  auto repl = clientSettingsFrom(Params{{"replication", "database"}});
  ASSERT_FALSE(repl);
  EXPECT_NE(repl.message().find("replication connections are not supported"), std::string::npos);
  EXPECT_TRUE(clientSettingsFrom(Params{{"replication", "false"}}));
  auto option = clientSettingsFrom(Params{{"options", "-E"}});
  ASSERT_FALSE(option);
  EXPECT_NE(option.message().find("unsupported startup option \"-E\""), std::string::npos);
  auto name = clientSettingsFrom(Params{{"bad name\"", "1"}});
  ASSERT_FALSE(name);
  EXPECT_NE(name.message().find("invalid run-time parameter name"), std::string::npos);
}

}  // namespace
}  // namespace keel::proxy
