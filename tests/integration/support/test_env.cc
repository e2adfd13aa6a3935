#include "integration/support/test_env.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace keel::testsupport {

TempDir::TempDir(const std::string& tag) {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/" + tag + "-XXXXXX";
  if (!mkdtemp(pattern.data())) {
    throw std::runtime_error("mkdtemp failed for " + pattern);
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  // KEEL_TEST_KEEP=1 keeps every test's directory (logs, data) for a look afterwards.
  if (const char* keep = std::getenv("KEEL_TEST_KEEP"); keep && *keep && *keep != '0') {
    std::fprintf(stderr, "[ kept     ] %s\n", path_.c_str());
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::vector<std::uint16_t> freeLoopbackPorts(int count) {
  std::vector<int> fds;
  std::vector<std::uint16_t> ports;
  for (int i = 0; i < count; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      if (fd >= 0)
        close(fd);
      for (int f : fds)
        close(f);
      throw std::runtime_error("cannot bind a loopback port");
    }
    fds.push_back(fd);
    ports.push_back(ntohs(addr.sin_port));
  }
  for (int f : fds)
    close(f);
  return ports;
}

std::string fileTail(const std::string& path, int lines) {
  std::ifstream in(path);
  if (!in) {
    return "";
  }
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) {
    all.push_back(line);
  }
  std::ostringstream out;
  std::size_t from = all.size() > static_cast<std::size_t>(lines) ? all.size() - lines : 0;
  for (std::size_t i = from; i < all.size(); ++i) {
    out << all[i] << "\n";
  }
  return out.str();
}

}  // namespace keel::testsupport
