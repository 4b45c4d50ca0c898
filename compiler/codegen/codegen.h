/* Code generators: IR -> source text.  The C backend writes one .c and one
 * .h for all models of a program.  Output is byte-for-byte deterministic. */
#ifndef DLC_CODEGEN_H
#define DLC_CODEGEN_H

#include "../ir.h"

typedef struct codegen_input {
    ir_graph **graphs;        /* inference graphs */
    ir_graph **train;         /* training graphs (entries NULL without a train section), or NULL */
    int ngraphs;
    const char *source_name;  /* the .net file's base name, for comments */
    const char *source_text;  /* to quote the line each kernel came from */
    size_t source_len;
    const char *header_name;  /* what the .c file includes */
    const float *const *weights; /* --weights: per graph (param_count floats), or NULL */
    const char *version;
} codegen_input;

void codegen_c(const codegen_input *in, strbuf *c_out, strbuf *h_out);

#endif
