#!/bin/bash -eu
# SPDX-License-Identifier: Apache-2.0
#
# Builds every hvblob fuzz target into $OUT with the sanitizer flags the infrastructure asks
# for, plus a seed corpus and the dictionary for each. The targets are built with swiftc
# directly: a SwiftPM executable target does not link with libFuzzer's main on Linux.
# The bridge targets (validation-c, differential) are not built here: they compile the
# driver with clang at run time, and the runner images carry no compiler. On the runner the
# vectors target finds no schema file (it then fuzzes the parser and the decoder only).
cd "$SRC/hvblob"
flags="-sanitize=fuzzer,${SANITIZER:-address}"
for t in validation hostile-host ring-reader parsers captures vectors blob-service; do
    HVBLOB_FUZZ_FLAGS="$flags" HVBLOB_FUZZ_BUILD_ONLY="$OUT/hvblob-$t" Scripts/fuzz.sh "$t"
    (cd "Fixtures/corpus/$t" && zip -q -j "$OUT/hvblob-${t}_seed_corpus.zip" ./*)
    cp Fuzz/hvblob.dict "$OUT/hvblob-$t.dict"
done
