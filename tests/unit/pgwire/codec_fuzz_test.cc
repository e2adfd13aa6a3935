// Deterministic fuzzing of the decoder and every parser: random bytes and mutated valid streams.
// The seed is printed; rerun a failure with KEEL_PGWIRE_FUZZ_SEED=<seed>.
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <random>

#include "unit/pgwire/codec_fuzz_harness.h"
#include "unit/pgwire/codec_samples.h"

namespace keel::pgwire::testing {
namespace {

std::uint64_t fuzzSeed() {
  if (const char* env = std::getenv("KEEL_PGWIRE_FUZZ_SEED")) {
    return std::strtoull(env, nullptr, 10);
  }
  return 20240917;
}

std::vector<std::uint8_t> toBytes(std::uint8_t mode, std::uint8_t split, std::string_view s) {
  std::vector<std::uint8_t> v(s.size() + 2);
  v[0] = mode;
  v[1] = split;
  for (std::size_t i = 0; i < s.size(); ++i) {
    v[i + 2] = static_cast<std::uint8_t>(s[i]);
  }
  return v;
}

// A valid stream for one side: startup (frontend) then every typed sample.
std::string validStream(Source source) {
  std::string stream;
  if (source == Source::frontend) {
    stream += encoded(StartupMessage{kProtocolVersion3, {{"user", "u"}}});
  }
  for (const Sample& s : allSamples()) {
    if (s.source == source && s.kind == FrameKind::message) {
      stream += s.wire;
    }
  }
  return stream;
}

void mutate(std::string& s, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> op(0, 4);
  std::uniform_int_distribution<int> byte(0, 255);
  int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits && !s.empty(); ++e) {
    std::size_t at = rng() % s.size();
    switch (op(rng)) {
      case 0:
        s[at] = static_cast<char>(byte(rng));
        break;
      case 1:
        s.insert(at, 1, static_cast<char>(byte(rng)));
        break;
      case 2:
        s.erase(at, 1 + rng() % 8);
        break;
      case 3: {  // an interesting length word
        static constexpr std::uint32_t kLengths[] = {
            0, 3, 4, 5, 8, 16, 0x7fffffff, 0x80000000, 0xffffffff, 10004, 65539};
        std::uint32_t v = kLengths[rng() % std::size(kLengths)];
        for (int i = 0; i < 4 && at + i < s.size(); ++i) {
          s[at + i] = static_cast<char>(v >> (24 - 8 * i));
        }
        break;
      }
      default:
        s[at] ^= static_cast<char>(1 << (rng() % 8));
        break;
    }
  }
}

TEST(CodecFuzz, RandomBytes) {
  const std::uint64_t seed = fuzzSeed();
  std::cout << "KEEL_PGWIRE_FUZZ_SEED=" << seed << "\n";
  RecordProperty("seed", std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 10000; ++i) {
    std::vector<std::uint8_t> input(rng() % 200);
    for (auto& b : input) {
      b = static_cast<std::uint8_t>(rng());
    }
    std::string err = runFuzzInput(input.data(), input.size());
    ASSERT_EQ(err, "") << "seed " << seed << " iteration " << i;
  }
}

TEST(CodecFuzz, MutatedValidStreams) {
  const std::uint64_t seed = fuzzSeed() + 1;
  std::cout << "KEEL_PGWIRE_FUZZ_SEED=" << seed - 1 << "\n";
  std::mt19937_64 rng(seed);
  const std::string streams[] = {validStream(Source::frontend), validStream(Source::backend)};
  for (int i = 0; i < 10000; ++i) {
    const int side = static_cast<int>(rng() % 2);
    std::string s = streams[side];
    mutate(s, rng);
    // Bit 0 of the mode selects the side; the others are random options.
    auto mode = static_cast<std::uint8_t>((rng() & 0xfe) | side);
    auto input = toBytes(mode, static_cast<std::uint8_t>(rng()), s);
    std::string err = runFuzzInput(input.data(), input.size());
    ASSERT_EQ(err, "") << "seed " << seed - 1 << " iteration " << i;
  }
}

// Every sample on its own, mutated, through every parser directly.
TEST(CodecFuzz, MutatedSingleMessages) {
  const std::uint64_t seed = fuzzSeed() + 2;
  std::mt19937_64 rng(seed);
  const std::vector<Sample> samples = allSamples();
  for (int i = 0; i < 10000; ++i) {
    const Sample& sample = samples[rng() % samples.size()];
    std::string s = sample.wire;
    mutate(s, rng);
    auto mode =
        static_cast<std::uint8_t>((rng() & 0xfe) | (sample.source == Source::backend ? 1 : 0));
    auto input = toBytes(mode, static_cast<std::uint8_t>(rng()), s);
    std::string err = runFuzzInput(input.data(), input.size());
    ASSERT_EQ(err, "") << "seed " << seed - 2 << " iteration " << i << " sample " << sample.name;
  }
}

TEST(CodecFuzz, UnmutatedStreamsDecodeCompletely) {
  for (int side = 0; side < 2; ++side) {
    std::string s = validStream(side == 0 ? Source::frontend : Source::backend);
    for (std::uint8_t split = 0; split < 64; ++split) {
      auto input = toBytes(static_cast<std::uint8_t>(side | 2), split, s);
      EXPECT_EQ(runFuzzInput(input.data(), input.size()), "");
    }
  }
}

}  // namespace
}  // namespace keel::pgwire::testing
