#include "common/child_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace keel {
namespace {

using namespace std::chrono_literals;

TEST(ChildProcessTest, RunCommandCapturesOutputAndExitCode) {
  auto ok = runCommand({.argv = {"/bin/sh", "-c", "echo hello; echo err >&2"}}, 5s);
  ASSERT_TRUE(ok.ok()) << ok.message();
  EXPECT_EQ(ok->output, "hello\nerr\n");

  auto bad = runCommand({.argv = {"/bin/sh", "-c", "echo boom; exit 3"}}, 5s);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.code(), ProcessErrc::exited_nonzero);
  EXPECT_NE(bad.message().find("exited with code 3"), std::string::npos);
  EXPECT_NE(bad.message().find("boom"), std::string::npos);
}

TEST(ChildProcessTest, RunCommandKillsOnTimeout) {
  auto r = runCommand({.argv = {"/bin/sleep", "10"}}, 200ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), ProcessErrc::timed_out);
}

TEST(ChildProcessTest, EnvironmentOverridesReachTheChild) {
  auto r = runCommand({.argv = {"/bin/sh", "-c", "printf %s \"$KEEL_TEST_VAR\""},
                       .env_overrides = {{"KEEL_TEST_VAR", "v1"}}},
                      5s);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->output, "v1");
}

// A child gets stdin, stdout and stderr only: none of the agent's sockets or files.
TEST(ChildProcessTest, ChildrenInheritNoOtherDescriptors) {
  int fd = open("/dev/null", O_RDONLY);  // no O_CLOEXEC, as Asio's sockets
  ASSERT_GE(fd, 0);
  ASSERT_EQ(dup2(fd, 99), 99);
  close(fd);
  auto r = runCommand(
      {.argv = {"/bin/sh", "-c", "if [ -e /proc/$$/fd/99 ]; then echo kept; else echo closed; fi"}},
      5s);
  auto control = runCommand({.argv = {"/bin/sh", "-c", "[ -e /proc/$$/fd/1 ] && echo open"}}, 5s);
  close(99);
  ASSERT_TRUE(r) << r.message();
  EXPECT_EQ(r->output, "closed\n");
  ASSERT_TRUE(control) << control.message();
  EXPECT_EQ(control->output, "open\n");  // the check itself sees descriptors
}

TEST(ChildProcessTest, SpawnSignalAndReap) {
  auto child = ChildProcess::spawn({.argv = {"/bin/sleep", "30"}});
  ASSERT_TRUE(child.ok()) << child.message();
  EXPECT_TRUE(child->running());
  EXPECT_TRUE(child->signal(SIGTERM));
  auto status = child->waitFor(5s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFSIGNALED(*status));
  EXPECT_EQ(describeWaitStatus(*status).rfind("killed by signal 15", 0), 0u);
  EXPECT_FALSE(child->running());
}

TEST(ChildProcessTest, UnknownUserIsAClearError) {
  if (geteuid() != 0)
    GTEST_SKIP() << "user switching applies only to root";
  auto r = ChildProcess::spawn({.argv = {"/bin/true"}, .run_as = "no-such-user-keel"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), ProcessErrc::user_not_found);
  EXPECT_NE(r.message().find("no-such-user-keel"), std::string::npos);
}

}  // namespace
}  // namespace keel
