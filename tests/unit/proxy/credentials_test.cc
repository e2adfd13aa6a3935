#include "proxy/credentials.h"

#include <gtest/gtest.h>

namespace keel::proxy {
namespace {

TEST(Userlist, ParsesPgBouncerFormat) {
  auto list = Userlist::parse(
      "; comment\n"
      "# another\n"
      "\n"
      "\"alice\" \"s3cret\"\n"
      "\"bob\"   \"md5a3556571e93b0d20722ba62be61e8c2d\"\n"
      "\"o\"\"neil\" \"pa\"\"ss\" trailing fields are ignored\n"
      "\"carol\" "
      "\"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
      "cdVD5xRYyYnPbVa6ucEa1PfYaEW0PkpIBvxqXTHxxbQ=\"\n",
      "userlist.txt");
  ASSERT_TRUE(list) << list.message();
  EXPECT_EQ((*list)->size(), 4u);
  auto* alice = (*list)->find("alice");
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(std::get<pgwire::PlaintextPassword>(*alice).password, "s3cret");
  EXPECT_TRUE(std::holds_alternative<pgwire::Md5Secret>(*(*list)->find("bob")));
  EXPECT_TRUE(std::holds_alternative<pgwire::ScramVerifier>(*(*list)->find("carol")));
  auto* oneil = (*list)->find("o\"neil");
  ASSERT_NE(oneil, nullptr);
  EXPECT_EQ(std::get<pgwire::PlaintextPassword>(*oneil).password, "pa\"ss");
  EXPECT_EQ((*list)->find("dave"), nullptr);
}

TEST(Userlist, ReportsEveryBadLineAndLoadsNothing) {
  auto list = Userlist::parse(
      "alice s3cret\n"
      "\"bob\"\n"
      "\"carol\" \"SCRAM-SHA-256$0:xx$yy:zz\"\n"
      "\"dave\" \"a\"\n"
      "\"dave\" \"b\"\n",
      "users.txt");
  ASSERT_FALSE(list);
  const std::string& m = list.message();
  EXPECT_NE(m.find("users.txt:1: expected \"user\" \"secret\""), std::string::npos) << m;
  EXPECT_NE(m.find("users.txt:2: expected"), std::string::npos) << m;
  EXPECT_NE(m.find("users.txt:3: user \"carol\""), std::string::npos) << m;
  EXPECT_NE(m.find("users.txt:5: user \"dave\" is listed twice"), std::string::npos) << m;
  auto missing = Userlist::load("/nonexistent/keel-userlist.txt");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.message().find("proxy.auth_file"), std::string::npos);
}

ProxyConfig withRules(std::vector<std::string> rules) {
  ProxyConfig cfg;
  for (const auto& r : rules) {
    auto parsed = parseProxyHbaRule(r);
    EXPECT_TRUE(parsed) << parsed.message();
    cfg.hba.push_back(*parsed);
  }
  return cfg;
}

TEST(Hba, FirstMatchingRuleWins) {
  auto cfg = withRules({"hostssl all admin all cert", "host reports all 10.1.0.0/16 trust",
                        "hostnossl all all 127.0.0.1/32 md5", "host all all ::1 scram-sha-256",
                        "host all mallory all reject"});
  auto local = clientAddressFromString("127.0.0.1");
  EXPECT_EQ(matchHba(cfg, true, local, "app", "admin").method, "cert");
  EXPECT_EQ(matchHba(cfg, false, local, "app", "admin").method, "md5");
  EXPECT_EQ(matchHba(cfg, false, clientAddressFromString("10.1.200.3"), "reports", "x").method,
            "trust");
  EXPECT_EQ(matchHba(cfg, false, clientAddressFromString("10.2.0.1"), "reports", "x").method, "");
  EXPECT_EQ(matchHba(cfg, true, clientAddressFromString("::1"), "app", "x").method,
            "scram-sha-256");
  EXPECT_EQ(matchHba(cfg, true, clientAddressFromString("192.0.2.1"), "app", "mallory").method,
            "reject");
  EXPECT_EQ(matchHba(cfg, true, local, "app", "x").method, "") << "no rule: refused";
  ProxyConfig none;
  none.auth_type = "md5";
  EXPECT_EQ(matchHba(none, false, local, "app", "x").method, "md5") << "no rules: auth_type";
}

TEST(Hba, AdmissionNamesTheRuleOrSettingThatRefuses) {
  auto cfg = withRules({"host all mallory all reject", "host all all 127.0.0.1/32 md5"});
  auto ok = admitClient(cfg, false, "127.0.0.1", "app", "alice");
  EXPECT_EQ(ok.method, "md5");
  EXPECT_EQ(ok.refusal, "");
  EXPECT_EQ(ok.where, "host \"127.0.0.1\", user \"alice\", database \"app\", SSL off");
  auto rejected = admitClient(cfg, true, "127.0.0.1", "app", "mallory");
  EXPECT_EQ(rejected.method, "");
  EXPECT_EQ(rejected.refusal,
            "proxy.hba rejects connection for host \"127.0.0.1\", user "
            "\"mallory\", database \"app\", SSL on");
  auto unmatched = admitClient(cfg, false, "192.0.2.7", "app", "alice");
  EXPECT_EQ(unmatched.refusal.rfind("no proxy.hba entry for host \"192.0.2.7\"", 0), 0u)
      << unmatched.refusal;
  cfg.client_tls.sslmode = "verify-full";
  auto plain = admitClient(cfg, false, "127.0.0.1", "app", "alice");
  EXPECT_NE(plain.refusal.find("accepts only TLS connections (proxy.client_tls.sslmode is "
                               "verify-full)"),
            std::string::npos)
      << plain.refusal;
  EXPECT_EQ(admitClient(cfg, true, "127.0.0.1", "app", "alice").method, "md5");
}

}  // namespace
}  // namespace keel::proxy
