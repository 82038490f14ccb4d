/*
 * Shared declarations of the fuzz targets (fuzz_*.c), their helpers
 * (common.c) and the standalone replay driver (driver.c).
 *
 * Every target defines LLVMFuzzerTestOneInput, so the same source builds two
 * ways: with clang -fsanitize=fuzzer (fuzz/run-libfuzzer.sh, for developers)
 * and with the normal compiler linked to driver.c, which replays the seed
 * corpus and a deterministic mutation loop under CTest.
 *
 * A target checks the library's promises, not only that it survives: a broken
 * promise calls FUZZ_ASSERT, which prints what and where and abort()s, so both
 * libFuzzer and the driver report it like a crash and keep the input.
 *
 * Input layout of the reader targets (so seed files stay readable text): a
 * 4-byte header, then the log file's bytes. See fuzz/README.md.
 */
#ifndef VIGIL_FUZZ_H
#define VIGIL_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/reader.h"

#define FUZZ_READER_HEADER 4

/* The libFuzzer entry points (libFuzzer declares them in C++ only). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Seeds a target builds in-process (e.g. a model encoded by this very
 * library, so they never go stale when the format changes). Each target
 * defines fuzz_target_seeds; `add` copies the bytes. The driver adds them to
 * its pool; under libFuzzer, LLVMFuzzerInitialize writes them into the
 * directory named by $VG_FUZZ_WRITE_SEEDS. */
typedef void (*fuzz_add_fn)(void *ud, const uint8_t *data, size_t size);
void fuzz_target_seeds(fuzz_add_fn add, void *ud);

/* Report a broken invariant and abort (async-unsafe: targets only). */
void fuzz_fail(const char *file, int line, const char *what) __attribute__((noreturn));
#define FUZZ_ASSERT(cond)                                                     \
    do {                                                                      \
        if (!(cond))                                                          \
            fuzz_fail(__FILE__, __LINE__, #cond);                             \
    } while (0)

/* Whether to check what is known to be broken and not yet fixed
 * (VG_FUZZ_STRICT=1; see fuzz/repro/README.md). Off by default, so that a
 * known bug does not stop a run that could find new ones. */
int fuzz_strict(void);

/* The whole reader harness: header → options, body → a file (memfd),
 * vg_reader_open/next to the end or the first error, every invariant
 * checked. `format` is forced into opts.format (VG_LOG_AUTO to guess). */
void fuzz_reader_run(const uint8_t *data, size_t size, enum vg_log_format format);

/* A readable path naming a file that holds exactly `size` bytes of `data`
 * (a memfd, or a temporary file where memfd_create is missing). Returns a
 * handle >= 0 to pass to fuzz_file_close, or -1. */
int fuzz_file_open(const uint8_t *data, size_t size, char *path, size_t path_len);
void fuzz_file_close(int handle);

/* gzip `data` (a complete gzip member, as `gzip` writes it) into a malloc'd
 * buffer; NULL on failure. */
uint8_t *fuzz_gzip(const uint8_t *data, size_t size, size_t *out_len);

#endif
