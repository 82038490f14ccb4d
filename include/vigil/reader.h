/*
 * vigil — streaming event-log readers: XES (IEEE 1849), CSV and JSON Lines,
 * each plain or gzip'd (detected by the magic bytes, not the name).
 *
 * A reader holds at most one trace (XES) or one record (CSV, JSONL) in
 * memory, never the whole file; every buffer it keeps has a limit
 * (vg_reader_opts.max_*). The reader owns every event it hands out: an event
 * from vg_reader_next is valid until the next call or vg_reader_close.
 *
 * Errors are located: `err->where` is the file name, `err->line` the line in
 * the (decompressed) file. Warnings (a case id repeated across traces, events
 * without a timestamp, …) go to opts.warn when set and are otherwise dropped.
 */
#ifndef VIGIL_READER_H
#define VIGIL_READER_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/error.h"
#include "vigil/event.h"

#ifdef __cplusplus
extern "C" {
#endif

enum vg_log_format {
    VG_LOG_AUTO = 0, /* from the content: '<' → XES, '{' → JSONL, else CSV */
    VG_LOG_XES,
    VG_LOG_CSV,
    VG_LOG_JSONL,
};

struct vg_reader_opts {
    enum vg_log_format format;
    /* Keys (XES attribute keys, CSV column names, JSON member names; for XES
     * the case key is looked up among the trace's attributes). NULL
     * means the default for the format: XES trace "concept:name" /
     * event "concept:name" / "time:timestamp"; CSV and JSONL try, in order,
     * case: "case", "case_id", "case:concept:name", "Case ID", "CaseID";
     * activity: "activity", "concept:name", "Activity", "event";
     * time: "time", "time:timestamp", "timestamp", "Complete Timestamp". */
    const char *case_key;
    const char *activity_key;
    const char *time_key;
    /* Activity classifier: keys joined by '+' (e.g.
     * "concept:name+lifecycle:transition"); the activity is their values
     * joined by '+'. For XES, the name of a <classifier> declared in the log
     * is accepted too. NULL = activity_key alone. */
    const char *classifier;
    char csv_sep; /* 0 = guess from the header line: ',' ';' '\t' or '|' */
    size_t max_value;  /* longest attribute value or CSV field; 0 = 16 MiB */
    size_t max_attrs;  /* most attributes per event; 0 = 4096 */
    size_t max_trace_events; /* most events buffered in one XES trace; 0 = 1,000,000 */
    vg_warn_fn warn;
    void *warn_ud;
};

struct vg_reader;

/* Open `path` ("-" = standard input). Fails with a located error if the file
 * cannot be opened or its first bytes are not of the requested format. */
vg_err vg_reader_open(struct vg_reader **out, const char *path,
                      const struct vg_reader_opts *opts, struct vg_error *err);

/* The next event in file order: *ev is set, or NULL at the end of the log.
 * After an error the reader is unusable (further calls repeat the error). */
vg_err vg_reader_next(struct vg_reader *r, const struct vg_event **ev,
                      struct vg_error *err);

/* What the reader has seen so far. */
struct vg_reader_stats {
    uint64_t events;
    uint64_t traces;          /* XES traces; CSV/JSONL: 0 */
    uint64_t events_no_time;  /* events without a usable timestamp */
    uint64_t bytes_in;        /* bytes of the file as stored (compressed) */
    uint64_t bytes_decoded;   /* bytes after decompression */
};
void vg_reader_stats(const struct vg_reader *r, struct vg_reader_stats *out);
enum vg_log_format vg_reader_format(const struct vg_reader *r);

void vg_reader_close(struct vg_reader **r);

#ifdef __cplusplus
}
#endif
#endif
