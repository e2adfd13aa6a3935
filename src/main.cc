#include "cli/cli.h"

int main(int argc, char** argv) {
  return keel::cli::run(argc, argv);
}
