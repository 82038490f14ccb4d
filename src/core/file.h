/*
 * Whole-file I/O shared by the on-disk formats that are written and read in
 * one piece (model files, snapshots). Internal. Both return 0, or -1 with
 * errno set; callers turn that into their own located message.
 */
#ifndef VIGIL_CORE_FILE_H
#define VIGIL_CORE_FILE_H

#include <stddef.h>

/* write(2) all n bytes, going on after EINTR and short writes. */
int file__write_all(int fd, const void *data, size_t n);

/* Replace `path` atomically with n bytes: a temporary file beside it is
 * written (EINTR and short writes handled), fsynced and renamed over path,
 * then the directory is fsynced. A crash leaves the old file or the new one,
 * never half of one; on failure the temporary file is removed. */
int file__replace(const char *path, const void *data, size_t n);

/* Read a whole regular file of at most max bytes into a malloc'd buffer
 * (free() it). errno: EINVAL for something that is not a regular file, EFBIG
 * past max. */
int file__read_all(const char *path, size_t max, unsigned char **data, size_t *len);

#endif
