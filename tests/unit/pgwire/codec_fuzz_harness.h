#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "pgwire/frame_decoder.h"

namespace keel::pgwire::testing {

// Runs every parse function that applies to a payload of this kind/type from `source` (all four
// 'p' parsers for an auth response) and checks the invariant of the codec: whatever parses
// re-encodes to exactly the same bytes. Returns "" or a description of the broken invariant.
std::string checkPayload(Source source, FrameKind kind, char type, std::string_view payload);

// One fuzz input: the first byte picks the decoder's source and options, the second the split
// pattern; the rest is fed to a FrameDecoder in pieces, every frame goes through checkPayload,
// and the rest is also handed to every parser directly. Returns "" or the invariant broken.
// Never reads outside [data, data + size).
std::string runFuzzInput(const std::uint8_t* data, std::size_t size);

// The libFuzzer-shaped entry point (LLVMFuzzerTestOneInput can forward to it): aborts when an
// invariant breaks, so the fuzzer records the input.
void fuzzOneInput(const std::uint8_t* data, std::size_t size);

}  // namespace keel::pgwire::testing
