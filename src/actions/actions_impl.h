/*
 * Internals of the actions executor (vigil/actions.h): the webhook worker
 * lives in webhook.c behind these calls so actions.c stays about the store.
 */
#ifndef VIGIL_ACTIONS_IMPL_H
#define VIGIL_ACTIONS_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/actions.h"

struct actions__webhook;

struct actions__webhook_stats {
    uint64_t queued, sent, failed, retries, overflow;
    uint64_t depth; /* waiting now */
};

vg_err actions__webhook_new(struct actions__webhook **out, const struct vg_actions_opts *o);
void actions__webhook_free(struct actions__webhook **w);
/* Queue a POST of body to url; false when the queue is full (counted). */
bool actions__webhook_post(struct actions__webhook *w, const char *url, const char *body,
                           size_t len);
void actions__webhook_stats(struct actions__webhook *w, struct actions__webhook_stats *out);
bool actions__webhook_drain(struct actions__webhook *w, long timeout_ms);

#endif
