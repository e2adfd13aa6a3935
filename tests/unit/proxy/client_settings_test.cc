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
  auto wanted = ParameterSet::from(s->parameters);
  ParameterMap current{{"application_name", "it's"}, {"DateStyle", "ISO, MDY"}};
  EXPECT_EQ(settingStatements(wanted, current),
            "SET \"DateStyle\" = E'ISO, DMY';SET \"search_path\" = E'a b';"
            "SET \"work_mem\" = E'64MB';");
  current["datestyle"] = "ISO, DMY";
  EXPECT_EQ(current.count("DateStyle"), 1u);
  current["search_path"] = "a b";
  current["work_mem"] = "64MB";
  EXPECT_EQ(settingStatements(wanted, current), "") << "names compare case-insensitively";
}

TEST(ClientSettings, ValuesAreQuotedSafely) {
  auto s = clientSettingsFrom(Params{{"application_name", "x'; DROP TABLE t; --\\"}});
  ASSERT_TRUE(s);
  EXPECT_EQ(settingStatements(ParameterSet::from(s->parameters), {}),
            "SET \"application_name\" = E'x\\'; DROP TABLE t; --\\\\';");
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

TEST(ClientSettings, TransactionPoolingTracksReportedParameters) {
  EXPECT_TRUE(trackedParameter("DateStyle"));
  EXPECT_TRUE(trackedParameter("timezone"));
  EXPECT_TRUE(trackedParameter("application_name"));
  EXPECT_FALSE(trackedParameter("search_path"));
  EXPECT_FALSE(trackedParameter("server_version"));

  // A client starts from PostgreSQL's login values, its startup parameters winning.
  auto s = clientSettingsFrom(Params{{"datestyle", "SQL, DMY"}});
  ASSERT_TRUE(s);
  ParameterMap login{{"DateStyle", "ISO, MDY"},
                     {"TimeZone", "UTC"},
                     {"server_version", "15.6"},
                     {"integer_datetimes", "on"}};
  auto settings = ParameterSet::from(s->parameters);
  addTrackedDefaults(settings, login);
  EXPECT_EQ(settings.entries(), (Params{{"datestyle", "SQL, DMY"}, {"TimeZone", "UTC"}}));

  // A server connection an earlier client left with another TimeZone gets the client's back.
  ParameterMap dirty = login;
  dirty["TimeZone"] = "Asia/Tokyo";
  dirty["DateStyle"] = "SQL, DMY";
  EXPECT_EQ(settingStatements(settings, dirty), "SET \"TimeZone\" = E'UTC';");

  // The client's own SET, seen as ParameterStatus, replaces its value whatever the case.
  settings.set("DateStyle", "German, DMY");
  settings.set("IntervalStyle", "iso_8601");
  EXPECT_EQ(
      settings.entries(),
      (Params{{"datestyle", "German, DMY"}, {"IntervalStyle", "iso_8601"}, {"TimeZone", "UTC"}}));
}

TEST(ClientSettings, KnowsWhichParametersPostgresReports) {
  EXPECT_TRUE(reportedParameter("TimeZone"));
  EXPECT_TRUE(reportedParameter("timezone"));
  EXPECT_TRUE(reportedParameter("server_version"));
  EXPECT_TRUE(reportedParameter("in_hot_standby"));
  EXPECT_FALSE(reportedParameter("search_path"));
  EXPECT_FALSE(reportedParameter("work_mem"));
  EXPECT_FALSE(reportedParameter("TimeZon"));
}

TEST(ClientSettings, RecognizesListen) {
  EXPECT_TRUE(isListenCommand("LISTEN chan"));
  EXPECT_TRUE(isListenCommand("  listen\tchan;"));
  EXPECT_TRUE(isListenCommand("Listen \"Chan\""));
  EXPECT_TRUE(isListenCommand("LISTEN\"chan\""));
  EXPECT_FALSE(isListenCommand("LISTENER"));
  EXPECT_FALSE(isListenCommand("LISTEN"));
  EXPECT_FALSE(isListenCommand("SELECT 'LISTEN x'"));
  EXPECT_FALSE(isListenCommand("UNLISTEN chan"));
  EXPECT_FALSE(isListenCommand(""));
}

}  // namespace
}  // namespace keel::proxy
