// `keel config validate` and `keel agent` on a file with several mistakes.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>

#include "common/child_process.h"
#include "integration/ha/keel_cluster.h"
#include "integration/support/test_env.h"

namespace keel::hatest {
namespace {

using namespace std::chrono_literals;

struct CliRun {
  int exit_code = -1;
  std::string output;
};

CliRun runKeel(const testsupport::TempDir& dir, std::vector<std::string> args) {
  static int counter = 0;
  std::string out_path = dir.sub("out-" + std::to_string(++counter) + ".txt");
  args.insert(args.begin(), KEEL_BINARY);
  CliRun run;
  auto child = ChildProcess::spawn({.argv = args, .output_path = out_path});
  if (!child) {
    run.output = child.message();
    return run;
  }
  if (auto st = child->waitFor(30s); st && WIFEXITED(*st)) {
    run.exit_code = WEXITSTATUS(*st);
  } else {
    child->signal(SIGKILL);
    child->waitFor(5s);
  }
  std::ifstream in(out_path);
  run.output.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return run;
}

class KeelConfigCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream f(bad_);
    f << "scope: bad\n"
         "name: n1\n"
         "data_dir: relative/path\n"
         "postgresql:\n"
         "  listen: localhost\n"
         "  lisen: 127.0.0.1:5432\n"
         "  authentication:\n"
         "    superuser: {password: x}\n"
         "    replication: {password: y}\n"
         "ha:\n"
         "  ttl: 500ms\n";
  }
  testsupport::TempDir dir_{"keel-ha-cli"};
  std::string bad_ = dir_.sub("bad.yaml");
};

TEST_F(KeelConfigCliTest, ValidateReportsEveryFieldAndExitsTwo) {
  CliRun r = runKeel(dir_, {"config", "validate", bad_});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  for (const char* path : {"data_dir", "postgresql.listen", "postgresql.lisen", "ha.ttl"}) {
    EXPECT_NE(r.output.find(std::string(": ") + path + ":"), std::string::npos)
        << "no error for " << path << " in:\n"
        << r.output;
  }
}

TEST_F(KeelConfigCliTest, AgentRefusesABadConfigWithExitTwo) {
  CliRun r = runKeel(dir_, {"agent", "-c", bad_});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("postgresql.listen"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace keel::hatest
