/* Shared by the convolution kernels (conv.c) and their backward
 * (conv_backward.c); not part of the runtime's interface. */
#ifndef DLC_CONV_INTERNAL_H
#define DLC_CONV_INTERNAL_H

#include "dlc_runtime.h"

/* cols[cg*kh*kw][oh*ow]: the unfolding of the cg input channels of one
 * group starting at x (zero where a tap falls in the padding). */
void dlc__im2col(const dlc_conv2d_shape *s, int cg, const dlc_float *x,
                 dlc_float *cols);

#endif
