/*
 * The pipeline's rule stage: a CEP engine (vigil/cep.h) and the actions
 * executor (vigil/actions.h) behind the compliance check. Internal to the
 * pipeline, which serializes every call under its lock; live processing and
 * replay both come through here, `replaying` telling the executor not to
 * act outside the process.
 *
 * Rule changes are records of the event log (VG_REC_RULES) whose payload is
 * JSON text, one of
 *   {"op":"put","name":N,"rules":[phenomenon]}     PUT /v1/rules/N
 *   {"op":"delete","name":N}                         DELETE /v1/rules/N
 *   {"op":"replace","rules":[phenomena…]}            the rules file at start,
 *        when it differs from what the engine holds: phenomena not in it are
 *        removed, changed ones reloaded (their runs dropped), equal ones kept
 * so replay applies each change at the same point of the stream.
 */
#ifndef VIGIL_PIPELINE_CEP_STAGE_H
#define VIGIL_PIPELINE_CEP_STAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "vigil/actions.h"
#include "vigil/buf.h"
#include "vigil/cep.h"
#include "vigil/check.h"
#include "vigil/wal.h"

struct cep_stage;

vg_err cep_stage__new(struct cep_stage **out, const struct vg_actions_opts *ao,
                      struct vg_error *err);
void cep_stage__free(struct cep_stage **s);

/* Process one logged event: the event (kind events), then its deviation
 * (kind deviations, when the verdict deviates), then the action events of
 * the actions they requested. The complex events are kept for
 * cep_stage__add_complex. */
vg_err cep_stage__event(struct cep_stage *s, const struct vg_logevent *ev, int64_t time_ms,
                        const struct vg_model *m, const struct vg_verdict *v, bool replaying);
/* Process the end of a case (kind "ends", fields case and process when
 * known; docs/rules.md), then the action events of the actions it
 * requested. Its complex events are kept for cep_stage__add_complex. */
vg_err cep_stage__end(struct cep_stage *s, const struct vg_logevent *ev, int64_t time_ms,
                      bool replaying);
/* Move the clock (absence timers, windows) without an event. */
vg_err cep_stage__advance(struct cep_stage *s, int64_t now_ms, bool replaying);
/* Replace the verdict's closing '}' at the end of out by
 * ,"complex":[…]} with the complex events of the last call. */
vg_err cep_stage__add_complex(struct cep_stage *s, struct vg_buf *out);

/* Apply a rules-change payload (see the top). */
vg_err cep_stage__apply(struct cep_stage *s, const char *payload, size_t len,
                        struct vg_error *err);
/* Build the payload of a change without applying it: validates the rules.
 * put: text (rules text or JSON) must define exactly the phenomenon name.
 * replace: text is a whole rules file; *changed = false when the engine
 * already holds exactly these rules (then nothing needs logging). */
vg_err cep_stage__put_payload(const char *name, const char *text, size_t len,
                              const char *origin, struct vg_buf *out, struct vg_error *err);
vg_err cep_stage__delete_payload(struct cep_stage *s, const char *name, struct vg_buf *out,
                                 struct vg_error *err);
vg_err cep_stage__replace_payload(struct cep_stage *s, const char *text, size_t len,
                                  const char *origin, struct vg_buf *out, bool *changed,
                                  struct vg_error *err);

struct vg_cep *cep_stage__engine(struct cep_stage *s);
struct vg_actions *cep_stage__actions(struct cep_stage *s);

/* Snapshot section: {"v":1,"rules":[…],"cep":"<engine state, hex>"|null,
 * "alerts":{…}}. The engine's state is null (with *partial set) when
 * vg_cep_encode_state fails: runs then restart empty at the snapshot. */
vg_err cep_stage__encode(struct cep_stage *s, struct vg_buf *out, bool *partial);
vg_err cep_stage__decode(struct cep_stage *s, const char *data, size_t len,
                         struct vg_error *err);

#endif
