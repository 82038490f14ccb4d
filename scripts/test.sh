#!/usr/bin/env bash
# Install what is missing, build, and run the whole test suite twice: a normal
# build, then an AddressSanitizer + UndefinedBehaviorSanitizer build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
jobs=$(nproc)

echo "== banned functions (GUIDE §2.5)"
if grep -rnE '\b(sprintf|strcpy|strcat|strtok|atoi|sscanf|gets)\s*\(' src include; then
    echo "banned function in use" >&2
    exit 1
fi

echo "== build and test"
bash scripts/build.sh build
(cd build && ctest --output-on-failure -j"$jobs")

echo "== build and test with ASan + UBSan"
bash scripts/build.sh build-asan -DVG_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
(cd build-asan && LSAN_OPTIONS="suppressions=$PWD/../tests/lsan.supp" \
     ctest --output-on-failure -j"$jobs")
