#include "proxy/parameter_set.h"

#include <gtest/gtest.h>

#include <thread>

namespace keel::proxy {
namespace {

using Entries = ParameterEntries;

TEST(ParameterSet, SortsByNameCaseInsensitivelyAndTheLaterDuplicateWins) {
  auto set = ParameterSet::from(Entries{{"TimeZone", "UTC"},
                                        {"application_name", "a"},
                                        {"DateStyle", "ISO, MDY"},
                                        {"APPLICATION_NAME", "b"}});
  EXPECT_EQ(set.entries(),
            (Entries{{"application_name", "b"}, {"DateStyle", "ISO, MDY"}, {"TimeZone", "UTC"}}));
  EXPECT_EQ(set.size(), 3u);
  ASSERT_NE(set.find("timezone"), nullptr);
  EXPECT_EQ(*set.find("timezone"), "UTC");
  EXPECT_EQ(set.find("TimeZon"), nullptr);
  EXPECT_EQ(set.find("TimeZones"), nullptr);
  EXPECT_FALSE(ParameterSet().contains("x"));
  EXPECT_TRUE(ParameterSet().empty());
}

TEST(ParameterSet, ChangesOverrideTheBaseKeepingItsSpelling) {
  auto set = ParameterSet::from(Entries{{"DateStyle", "ISO, MDY"}, {"TimeZone", "UTC"}});
  ParameterSet copy = set;
  set.set("datestyle", "German, DMY");
  set.set("search_path", "app");
  set.set("Alpha", "1");
  EXPECT_EQ(set.entries(), (Entries{{"Alpha", "1"},
                                    {"DateStyle", "German, DMY"},
                                    {"search_path", "app"},
                                    {"TimeZone", "UTC"}}));
  EXPECT_EQ(set.size(), 4u);
  EXPECT_EQ(*set.find("DATESTYLE"), "German, DMY");
  set.set("SEARCH_PATH", "other");
  EXPECT_EQ(*set.find("search_path"), "other");
  EXPECT_EQ(set.size(), 4u);
  // Back to the base's value: the change goes away.
  set.set("DateStyle", "ISO, MDY");
  EXPECT_EQ(*set.find("DateStyle"), "ISO, MDY");
  EXPECT_EQ(set.size(), 4u);
  // A copy shares the base and not the changes.
  EXPECT_EQ(copy.entries(), (Entries{{"DateStyle", "ISO, MDY"}, {"TimeZone", "UTC"}}));
}

TEST(ParameterSet, ClientsWithTheSameListsShareOneCopy) {
  ParameterSets sets;
  Entries startup{{"application_name", "app"}, {"client_encoding", "UTF8"}};
  auto a = ParameterSet::from(startup, &sets);
  auto b =
      ParameterSet::from(Entries{{"client_encoding", "UTF8"}, {"application_name", "app"}}, &sets);
  EXPECT_EQ(sets.size(), 1u);
  EXPECT_EQ(a.find("application_name"), b.find("application_name")) << "one copy";

  ParameterMap login{{"TimeZone", "UTC"}, {"DateStyle", "ISO, MDY"}};
  a.set("TimeZone", "UTC");
  b.set("TimeZone", "UTC");
  a.share(sets);
  b.share(sets);
  EXPECT_EQ(a.find("TimeZone"), b.find("TimeZone"));
  EXPECT_EQ(
      a.entries(),
      (Entries{{"application_name", "app"}, {"client_encoding", "UTF8"}, {"TimeZone", "UTC"}}));
  auto c = ParameterSet::from(login, &sets);
  EXPECT_EQ(c.entries(), (Entries{{"DateStyle", "ISO, MDY"}, {"TimeZone", "UTC"}}));
  EXPECT_EQ(sets.size(), 2u) << "the startup-only list is no longer used";

  // A list nobody holds any more is not kept.
  a = ParameterSet();
  b = ParameterSet();
  c = ParameterSet();
  EXPECT_EQ(sets.size(), 0u);
}

TEST(ParameterSet, TheSharedListIdentifiesSetsWithoutChanges) {
  // What lets a server connection skip the comparison for a client alike to the last one.
  ParameterSets sets;
  Entries startup{{"application_name", "app"}};
  auto a = ParameterSet::from(startup, &sets);
  auto b = ParameterSet::from(startup, &sets);
  ASSERT_NE(a.sharedList(), nullptr);
  ASSERT_NE(b.sharedList(), nullptr);
  EXPECT_EQ(a.sharedList()->get(), b.sharedList()->get());
  b.set("application_name", "other");
  EXPECT_EQ(b.sharedList(), nullptr) << "a set with changes of its own has no shared identity";
  b.share(sets);
  ASSERT_NE(b.sharedList(), nullptr);
  EXPECT_NE(a.sharedList()->get(), b.sharedList()->get());
  b.set("application_name", "app");
  b.share(sets);
  EXPECT_EQ(a.sharedList()->get(), b.sharedList()->get()) << "alike again: the same list";
  EXPECT_EQ(ParameterSet().sharedList(), nullptr);
}

TEST(ParameterSet, ManyListsComeAndGo) {
  ParameterSets sets;
  ParameterSet kept = ParameterSet::from(Entries{{"k", "v"}}, &sets);
  for (int i = 0; i < 1000; ++i) {
    auto s = ParameterSet::from(Entries{{"n", std::to_string(i)}}, &sets);
    EXPECT_EQ(*s.find("n"), std::to_string(i));
  }
  EXPECT_EQ(sets.size(), 1u);
  EXPECT_EQ(*ParameterSet::from(Entries{{"k", "v"}}, &sets).find("k"), "v");
}

TEST(ParameterSet, InternsFromSeveralThreads) {
  ParameterSets sets;
  std::vector<std::thread> threads;
  std::vector<ParameterSet> held(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        held[t] = ParameterSet::from(Entries{{"TimeZone", i % 2 ? "UTC" : "CET"}}, &sets);
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(sets.size(), 1u);
  EXPECT_EQ(*held[0].find("TimeZone"), "UTC");
  EXPECT_EQ(held[0].find("TimeZone"), held[7].find("TimeZone"));
}

}  // namespace
}  // namespace keel::proxy
