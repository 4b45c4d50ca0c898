/* Status codes to text.  The table is indexed by the DLC_ERR_* values of
 * dlc_runtime.h; an out-of-range code gets a fixed string rather than a
 * crash, since callers pass through whatever a generated model returned. */
#include "dlc_runtime.h"

static const char *const dlc_status_text[DLC_ERR__COUNT] = {
    "success",
    "out of memory",
    "cannot open file",
    "read failed or file truncated",
    "write failed",
    "not a safetensors file or malformed header",
    "tensor dtype is not F32",
    "tensor missing from file",
    "tensor has the wrong shape",
    "tensor data offsets outside the file or overlapping",
    "NaN or infinity in tensor data",
    "file holds a tensor the model does not have",
    "batch size out of range",
    "invalid argument",
    "label out of range",
    "loss is NaN or infinite",
    "parameters are compiled in and read-only",
    "tensor name appears twice in the file",
    "token id out of range",
};

const char *dlc_strerror(int err)
{
    if (err < 0 || err >= DLC_ERR__COUNT)
        return "unknown error code";
    return dlc_status_text[err];
}
