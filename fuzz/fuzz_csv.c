/*
 * Fuzz target: the event-log reader on CSV (libcsv), plain or gzip'd.
 * Input: the 4-byte option header of fuzz.h, then the file; every check is in
 * fuzz_reader_run (common.c).
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_reader_run(data, size, VG_LOG_CSV);
    return 0;
}

/* The seed files in fuzz/corpus/csv/ say it all. */
void fuzz_target_seeds(fuzz_add_fn add, void *ud)
{
    (void)add, (void)ud;
}
