/*
 * Helpers shared by the reader tests: hand-made inputs written to temporary
 * files (the readers take paths).
 */
#ifndef VG_IO_TEST_H
#define VG_IO_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* Write n bytes to a new temp file named *SUFFIX (gzip'd when gz); returns a
 * static path, valid until the next call, or NULL. */
static inline const char *write_tmp_as(const void *data, size_t n, int gz, const char *suffix)
{
    static char path[4096];
    const char *dir = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/vg_io_XXXXXX%s", dir && *dir ? dir : "/tmp", suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    if (fd < 0)
        return NULL;
    if (gz) {
        gzFile g = gzdopen(fd, "wb");
        if (!g || (n && gzwrite(g, data, (unsigned)n) != (int)n)) {
            close(fd);
            return NULL;
        }
        gzclose(g);
        return path;
    }
    const char *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            close(fd);
            return NULL;
        }
        p += w;
        n -= (size_t)w;
    }
    close(fd);
    return path;
}

#endif
