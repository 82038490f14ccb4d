/*
 * vigil — drawing one prefix length's automaton with its deviation counters.
 *
 * States show their deviation count in the label and are filled on a colour
 * scale from none (white) to the most deviations (red); transitions carry
 * their probability; transitions that triggered deviations are highlighted
 * (red, thicker) with their count; attempted transitions that training never
 * saw are drawn dashed. `top` keeps only the N busiest states (by training
 * count plus deviations) so that large models stay readable.
 *
 * The output goes into a caller-owned vg_buf (which bounds it). PNG and SVG
 * are laid out by graphviz (libgvc, the "dot" engine).
 */
#ifndef VIGIL_RENDER_H
#define VIGIL_RENDER_H

#include <stdint.h>

#include "vigil/buf.h"
#include "vigil/error.h"
#include "vigil/model.h"

#ifdef __cplusplus
extern "C" {
#endif

enum vg_render_format {
    VG_RENDER_PNG = 0,
    VG_RENDER_SVG,
    VG_RENDER_DOT,
    VG_RENDER_JSON,
};
int vg_render_format_parse(const char *s, enum vg_render_format *out);
const char *vg_render_format_name(enum vg_render_format f);
const char *vg_render_mime(enum vg_render_format f);

struct vg_render_opts {
    int k;
    enum vg_render_format format;
    uint32_t top;   /* 0 = every state */
};

vg_err vg_render(const struct vg_model *m, const struct vg_render_opts *o,
                 struct vg_buf *out, struct vg_error *err);

/* The most states a PNG or SVG may draw (layout time grows fast with size);
 * more gives VG_ERR_TOO_LARGE. */
#define VG_RENDER_IMAGE_MAX_STATES 1000u

/* Lay out DOT text (from vg_render with VG_RENDER_DOT) as PNG or SVG. Split
 * from vg_render so that a caller can take the DOT text of a live model
 * under its lock and do the slow layout outside it. Serialized internally:
 * graphviz is not thread-safe. */
vg_err vg_render_layout(const char *dot, enum vg_render_format f, struct vg_buf *out,
                        struct vg_error *err);

#ifdef __cplusplus
}
#endif
#endif
