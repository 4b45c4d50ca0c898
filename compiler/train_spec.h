/* The train section of a model, checked and with torch.optim's defaults
 * filled in: which optimizer with which hyperparameters, the learning-rate
 * schedule, penalties, clipping, batch, epochs, seed.  The loss is lowered
 * with the model (it is an op of the training graph). */
#ifndef DLC_TRAIN_SPEC_H
#define DLC_TRAIN_SPEC_H

#include <stdint.h>

#include "ast.h"
#include "../runtime/dlc_runtime.h"

typedef struct train_spec {
    dlc_optim optim;
    const char *optimizer_name;
    dlc_schedule sched;
    const char *schedule_name;
    int batch, epochs;
    uint64_t seed;
    const train_item *loss;   /* the loss = ... item, lowered by lower.c */
} train_spec;

/* Fills spec from m's train section; returns the number of errors reported.
 * on_loss(ctx, item) is called at the loss item, so every message comes in
 * source order. */
int train_spec_parse(const model_def *m, diag *d, train_spec *spec,
                     void (*on_loss)(void *ctx, const train_item *t), void *ctx);

#endif
