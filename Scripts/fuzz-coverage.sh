#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Line coverage of the core library reached by one target's corpus (after a fuzz run):
#   Scripts/fuzz-coverage.sh TARGET
# Builds the target with coverage instrumentation, replays .build-fuzz/corpus-TARGET and the
# committed seeds once each, and prints llvm-cov's summary for Sources/HVBlob.
set -euo pipefail
target=${1:?usage: Scripts/fuzz-coverage.sh TARGET}
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/.build-fuzz"
bin="$out/cov-$target"
HVBLOB_FUZZ_FLAGS="-sanitize=fuzzer -profile-generate -profile-coverage-mapping" HVBLOB_FUZZ_BUILD_ONLY="$bin" \
    "$root/Scripts/fuzz.sh" "$target" > /dev/null
rm -f "$out"/cov-"$target"-*.profraw
mkdir -p "$out/corpus-$target"
LLVM_PROFILE_FILE="$out/cov-$target-%p.profraw" "$bin" -runs=0 "$out/corpus-$target" "$root/Fixtures/corpus/$target" > /dev/null 2>&1
llvm-profdata merge -sparse "$out"/cov-"$target"-*.profraw -o "$out/cov-$target.profdata"
llvm-cov report "$bin" -instr-profile="$out/cov-$target.profdata" "$root/Sources/HVBlob" | tail -1
