/*
 * vigil — the event as every reader and front end hands it to the engine.
 *
 * An event is borrowed: all pointers belong to whoever produced it (a reader,
 * an HTTP request) and stay valid only until that producer's next call. Copy
 * what you keep. Strings are byte strings with explicit lengths (UTF-8 by
 * convention, never assumed NUL-free); each is also NUL-terminated for
 * convenience.
 */
#ifndef VIGIL_EVENT_H
#define VIGIL_EVENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* No timestamp known. */
#define VG_TIME_NONE INT64_MIN

enum vg_attr_type {
    VG_ATTR_STRING = 0,
    VG_ATTR_INT,
    VG_ATTR_FLOAT,
    VG_ATTR_BOOL,
    VG_ATTR_DATE, /* value is the text as written; see vg_time_parse */
    VG_ATTR_ID,
    VG_ATTR_LIST,      /* XES list/container: no value of its own; children follow */
    VG_ATTR_CONTAINER,
};

/* One attribute. Nested XES attributes are flattened: a child of "a" keyed
 * "b" is reported as key "a/b" (lists: "a/0", "a/1", … by position). */
struct vg_attr {
    const char *key;
    size_t key_len;
    const char *value; /* text as written in the source; "" for list/container */
    size_t value_len;
    enum vg_attr_type type;
};

struct vg_event {
    const char *case_id;
    size_t case_len;
    const char *activity; /* after the classifier was applied */
    size_t activity_len;
    int64_t time_ms;      /* milliseconds since the Unix epoch (UTC) or VG_TIME_NONE */
    uint64_t ordinal;     /* 0-based position in the source, in file order */
    long line;            /* source line where the event starts (0 if unknown) */
    const struct vg_attr *attrs; /* every attribute of the event, as read */
    size_t nattrs;
};

/* Parse an RFC 3339 / ISO 8601 date-time ("2010-10-27T22:31:19.495+02:00",
 * with or without fraction or offset — no offset means UTC — also a space
 * instead of 'T', or a bare date; also YYYY/MM/DD and DD-MM-YYYY[:| |T]HH:MM
 * as CSV exports write them, offsets ±HH:MM, ±HHMM or ±HH) into epoch ms.
 * Returns 0 on success, -1 on malformed input. */
int vg_time_parse(const char *s, size_t n, int64_t *out_ms);

/* Format epoch ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (at least 25 bytes);
 * returns the length written. */
size_t vg_time_format(int64_t ms, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
