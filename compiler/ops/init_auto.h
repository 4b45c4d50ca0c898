/* Internal to the op families: initialiser helpers and the "auto" choice,
 * resolved after lowering by the init pass (He for layers followed by a
 * ReLU-family activation, Xavier otherwise). */
#ifndef DLC_OPS_INIT_AUTO_H
#define DLC_OPS_INIT_AUTO_H

#include "../ops.h"

#define DLC_INIT_AUTO 100

#define INIT_CHOICES                                                          \
    "auto|zeros|ones|normal|uniform|lecun_normal|lecun_uniform|xavier_normal|" \
    "xavier_uniform|he_normal|he_uniform|torch"
ir_init init_const(double value);
ir_init op_bias_init(op_ctx *c, int64_t fan_in);
int attr_index_opt(const op_def *op, const char *name);

struct dlc_conv2d_shape;
/* Emits `static const dlc_conv2d_shape S = {...};` with a comment per field;
 * `output_note` (may be "") is appended to the output line's comment. */
void emit_conv_shape(emit_ctx *e, const struct dlc_conv2d_shape *s, const char *output_note);

#endif
