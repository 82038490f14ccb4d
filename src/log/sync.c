/*
 * Durability of the event log: group commit (vg_wal_sync) and the interval
 * fsync thread.
 *
 * Group commit: at most one fsync runs at a time. A thread that needs seq
 * waits while another fsync is under way; when it ends, every record written
 * before it started is durable, so most waiters return without an fsync of
 * their own, and the next fsync covers everything written meanwhile.
 *
 * The sync state (syncing, synced_seq, failed_errno) changes in one place,
 * sync_done_locked(). A failed fsync is final: after it Linux may have
 * dropped the dirty pages it could not write, so a later fsync that succeeds
 * proves nothing (PostgreSQL's "fsyncgate"). Every later flush and sync fails
 * until the log is reopened, which rereads what really is on disk.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log/log_impl.h"

vg_err wal__sync_init(struct vg_wal *w)
{
    pthread_condattr_t ca;
    if (pthread_mutex_init(&w->mu, NULL))
        return VG_ERR_NOMEM;
    if (pthread_condattr_init(&ca)) {
        pthread_mutex_destroy(&w->mu);
        return VG_ERR_NOMEM;
    }
    /* The interval thread sleeps on a monotonic clock: a wall-clock step
     * must not stop the fsyncs. */
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int bad = pthread_cond_init(&w->synced_cv, NULL);
    if (!bad && pthread_cond_init(&w->tick_cv, &ca)) {
        pthread_cond_destroy(&w->synced_cv);
        bad = 1;
    }
    pthread_condattr_destroy(&ca);
    if (bad) {
        pthread_mutex_destroy(&w->mu);
        return VG_ERR_NOMEM;
    }
    return VG_OK;
}

void wal__sync_destroy(struct vg_wal *w)
{
    pthread_cond_destroy(&w->tick_cv);
    pthread_cond_destroy(&w->synced_cv);
    pthread_mutex_destroy(&w->mu);
}

/* The one place the sync state changes when an fsync (or a roll) ends:
 * `upto` is what the fsync covered, errnum its failure. mu is held. */
static void sync_done_locked(struct vg_wal *w, uint64_t upto, int errnum)
{
    w->syncing = 0;
    if (errnum && !w->failed_errno)
        w->failed_errno = errnum;
    if (!errnum) {
        if (upto > w->synced_seq)
            w->synced_seq = upto;
        w->st.fsyncs++;
    }
    pthread_cond_broadcast(&w->synced_cv);
}

/* Wait for a running fsync and claim the next one. mu is held. */
static void claim_locked(struct vg_wal *w)
{
    while (w->syncing)
        pthread_cond_wait(&w->synced_cv, &w->mu);
    w->syncing = 1;
}

/* Make everything up to seq durable, joining or running fsyncs. mu is held
 * (and released during each fsync). */
static void sync_locked(struct vg_wal *w, uint64_t seq)
{
    while (w->synced_seq < seq && !w->failed_errno) {
        if (w->syncing) {
            pthread_cond_wait(&w->synced_cv, &w->mu);
            continue;
        }
        w->syncing = 1;
        uint64_t upto = atomic_load(&w->written_seq);
        int fd = w->fd; /* stable while we hold the claim: only a roll swaps it */
        pthread_mutex_unlock(&w->mu);
        int e = fdatasync(fd) ? errno : 0;
        pthread_mutex_lock(&w->mu);
        sync_done_locked(w, upto, e);
    }
}

vg_err vg_wal_sync(struct vg_wal *w, uint64_t seq, struct vg_error *err)
{
    if (seq > atomic_load(&w->written_seq))
        return vg_error_set(err, VG_ERR_INVALID, 0, 0,
                            "cannot sync seq %llu: the log was written up to seq %llu",
                            (unsigned long long)seq,
                            (unsigned long long)atomic_load(&w->written_seq));
    pthread_mutex_lock(&w->mu);
    sync_locked(w, seq);
    int e = w->synced_seq >= seq ? 0 : w->failed_errno;
    pthread_mutex_unlock(&w->mu);
    if (!e)
        return VG_OK;
    vg_error_set(err, VG_ERR_IO, 0, 0, "the log cannot be made durable: %s", strerror(e));
    vg_error_where(err, w->dir);
    return VG_ERR_IO;
}

void wal__claim(struct vg_wal *w)
{
    pthread_mutex_lock(&w->mu);
    claim_locked(w);
    pthread_mutex_unlock(&w->mu);
}

void wal__roll_done(struct vg_wal *w, int new_fd, int errnum)
{
    pthread_mutex_lock(&w->mu);
    if (new_fd >= 0) {
        w->fd = new_fd;
        w->st.segments++;
    }
    /* The old segment was fsynced before the new one was made: it held
     * every record written so far. */
    sync_done_locked(w, atomic_load(&w->written_seq), errnum);
    pthread_mutex_unlock(&w->mu);
}

void wal__set_failed(struct vg_wal *w, int errnum)
{
    pthread_mutex_lock(&w->mu);
    if (!w->failed_errno)
        w->failed_errno = errnum ? errnum : EIO;
    pthread_cond_broadcast(&w->synced_cv);
    pthread_mutex_unlock(&w->mu);
}

int wal__failed(struct vg_wal *w)
{
    pthread_mutex_lock(&w->mu);
    int e = w->failed_errno;
    pthread_mutex_unlock(&w->mu);
    return e;
}

/* ---- the interval thread ---------------------------------------------------- */

static struct timespec after_ms(uint32_t ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static void *interval_main(void *arg)
{
    struct vg_wal *w = arg;
    pthread_mutex_lock(&w->mu);
    struct timespec next = after_ms(w->o.fsync_interval_ms);
    while (!w->stop) {
        if (pthread_cond_timedwait(&w->tick_cv, &w->mu, &next) != ETIMEDOUT || w->stop)
            continue; /* woken to stop, or spuriously */
        uint64_t upto = atomic_load(&w->written_seq);
        if (upto > w->synced_seq)
            sync_locked(w, upto);
        next = after_ms(w->o.fsync_interval_ms);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

vg_err wal__thread_start(struct vg_wal *w)
{
    if (pthread_create(&w->thread, NULL, interval_main, w))
        return VG_ERR_NOMEM;
    w->has_thread = 1;
    return VG_OK;
}

void wal__thread_stop(struct vg_wal *w)
{
    if (!w->has_thread)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->tick_cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    w->has_thread = 0;
}
