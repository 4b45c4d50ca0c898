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
    const char *name;         /* NULL: the model's one unnamed section */
    loc loc;                  /* its 'train' keyword (or its name) */
    dlc_optim optim;
    const char *optimizer_name;
    dlc_schedule sched;
    const char *schedule_name;
    int batch, epochs;
    loc batch_loc;
    uint64_t seed;
    const train_item *loss;   /* the loss = ... item, lowered by lower.c */
    int loss_value;           /* the loss's value id in the lowered graph, or -1 */
    /* params = D or [G, emb]: the parameter-name prefixes its optimizer
     * updates; none: every trainable parameter */
    const train_item *params;
    const char **prefixes;
    loc *prefix_locs;
    int nprefixes;
    struct train_spec *next;  /* the model's next section */
} train_spec;

/* Fills spec from one train section; returns the number of errors reported.
 * on_loss(ctx, item) is called at the loss item, so every message comes in
 * source order. */
int train_spec_parse(const train_section *sec, arena *a, diag *d, train_spec *spec,
                     void (*on_loss)(void *ctx, const train_item *t), void *ctx);

/* Does the section's optimizer update the trainable parameter `name`? */
int train_spec_updates(const train_spec *spec, const char *name);

/* "d" or "the train section" / "params = [G, emb]", for messages. */
const char *train_spec_title(const train_spec *spec, arena *a);
const char *train_spec_params_text(const train_spec *spec, arena *a);

#endif
