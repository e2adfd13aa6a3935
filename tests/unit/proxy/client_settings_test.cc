#include <gtest/gtest.h>

#include "pgwire/frontend_messages.h"
#include "pgwire/message_builder.h"
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
            "SELECT pg_catalog.set_config(E'DateStyle', E'ISO, DMY', false), "
            "pg_catalog.set_config(E'search_path', E'a b', false), "
            "pg_catalog.set_config(E'work_mem', E'64MB', false);");
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
            "SELECT pg_catalog.set_config(E'application_name', E'x\\'; DROP TABLE t; --\\\\', "
            "false);");
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
  EXPECT_EQ(settingStatements(settings, dirty),
            "SELECT pg_catalog.set_config(E'TimeZone', E'UTC', false);");

  // The client's own SET, seen as ParameterStatus, replaces its value whatever the case.
  settings.set("DateStyle", "German, DMY");
  settings.set("IntervalStyle", "iso_8601");
  EXPECT_EQ(
      settings.entries(),
      (Params{{"datestyle", "German, DMY"}, {"IntervalStyle", "iso_8601"}, {"TimeZone", "UTC"}}));
}

TEST(ClientSettings, ExtraTrackedParametersAreSetOrResetOnEachBorrowedConnection) {
  const std::vector<std::string> extra{"search_path", "myapp.tenant"};
  EXPECT_TRUE(extraParameter("SEARCH_PATH", extra));
  EXPECT_TRUE(extraParameter("myapp.tenant", extra));
  EXPECT_FALSE(extraParameter("work_mem", extra));
  EXPECT_FALSE(extraParameter("search_path", {}));

  // A client that never set search_path gets the connection's default back where an earlier
  // client left its own value; a client that set it gets it SET.
  ParameterMap login{{"TimeZone", "UTC"}};
  auto plain = ParameterSet::from(Params{});
  addTrackedDefaults(plain, login, extra);
  ParameterMap dirty = login;
  dirty["search_path"] = "tenant_a, public";
  EXPECT_EQ(settingStatements(plain, dirty, extra), "RESET \"search_path\";");
  noteSettingsApplied(plain, dirty, extra);
  EXPECT_EQ(dirty.count("search_path"), 0u);
  EXPECT_EQ(dirty.at("TimeZone"), "UTC");
  EXPECT_EQ(settingStatements(plain, dirty, extra), "");

  auto tenant = plain;
  tenant.set("search_path", "tenant_b, public");
  EXPECT_EQ(settingStatements(tenant, dirty, extra),
            "SELECT pg_catalog.set_config(E'search_path', E'tenant_b, public', false);");
  noteSettingsApplied(tenant, dirty, extra);
  EXPECT_EQ(dirty.at("search_path"), "tenant_b, public");
  EXPECT_EQ(settingStatements(tenant, dirty, extra), "");
  // Both at once: the values first.
  auto both = ParameterSet::from(Params{{"TimeZone", "UTC"}});
  dirty["TimeZone"] = "Asia/Tokyo";
  EXPECT_EQ(settingStatements(both, dirty, extra),
            "SELECT pg_catalog.set_config(E'TimeZone', E'UTC', false);RESET \"search_path\";");
  dirty["TimeZone"] = "UTC";
  // Without the extra list (session pooling) nothing is reset.
  EXPECT_EQ(settingStatements(plain, dirty), "");

  // An extra parameter PostgreSQL does report starts from its login value, like the others.
  login["default_transaction_read_only"] = "off";
  auto reported = ParameterSet::from(Params{});
  addTrackedDefaults(reported, login, {"default_transaction_read_only"});
  EXPECT_EQ(reported.entries(),
            (Params{{"default_transaction_read_only", "off"}, {"TimeZone", "UTC"}}));

  EXPECT_EQ(readSettingsQuery(extra),
            "SELECT pg_catalog.current_setting(E'search_path', true), "
            "pg_catalog.current_setting(E'myapp.tenant', true)");
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

TEST(ClientSettings, ListenBecomesAQueryThatFailsOnTheServer) {
  pgwire::Frame f = listenRefusal();
  EXPECT_EQ(f.kind, pgwire::FrameKind::message);
  EXPECT_EQ(f.type, pgwire::frontend::kQuery);
  ASSERT_EQ(f.raw.size(), f.length + 1u);
  EXPECT_EQ(f.raw.substr(5), f.payload);
  auto query = pgwire::parseQuery(f.payload);
  ASSERT_TRUE(query);
  EXPECT_NE(query->sql.find("ERRCODE = '0A000'"), std::string_view::npos);
  EXPECT_NE(query->sql.find("proxy.pool_mode"), std::string_view::npos);
  EXPECT_FALSE(isListenCommand(query->sql));
}

TEST(ClientSettings, ABorrowedConnectionReportsWhatTheClientWasNotTold) {
  ServerConnection server(-1, false, RouteTarget{});
  server.login_parameters = {{"TimeZone", "UTC"}, {"DateStyle", "ISO, MDY"}};
  server.changeParameters() = {{"TimeZone", "UTC"},
                               {"DateStyle", "ISO, MDY"},
                               {"search_path", "app"}};  // set by Keel: not reported
  ParameterSets sets;
  auto seen = ParameterSet::from(Params{{"TimeZone", "Europe/Paris"}, {"DateStyle", "ISO, MDY"}});
  seen.share(sets);
  std::string out;
  reportServerParameters(server, seen, out);
  std::string expected;
  pgwire::encode(expected, pgwire::ParameterStatus{"TimeZone", "UTC"});
  EXPECT_EQ(out, expected);
  ASSERT_NE(seen.find("TimeZone"), nullptr);
  EXPECT_EQ(*seen.find("TimeZone"), "UTC");
  EXPECT_EQ(seen.find("search_path"), nullptr);

  // The client's values changed, so nothing was recorded for them; once they are the shared
  // list the connection was checked against, the next borrow compares nothing.
  seen.share(sets);
  out.clear();
  reportServerParameters(server, seen, out);
  EXPECT_TRUE(out.empty());
  ASSERT_NE(seen.sharedList(), nullptr);
  EXPECT_TRUE(
      server.synced_seen.matches(seen.sharedList()->get(), nullptr, server.parametersVersion()));
  // A parameter the server reports later makes the next borrow compare again.
  server.changeParameters()["TimeZone"] = "Asia/Tokyo";
  reportServerParameters(server, seen, out);
  std::string tokyo;
  pgwire::encode(tokyo, pgwire::ParameterStatus{"TimeZone", "Asia/Tokyo"});
  EXPECT_EQ(out, tokyo);
}

}  // namespace
}  // namespace keel::proxy
