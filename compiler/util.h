/* Compiler-wide helpers: the per-compilation arena that every compiler data
 * structure is allocated from (freed in one go at exit), growable arrays,
 * and string helpers.  Nothing here knows about networks. */
#ifndef DLC_UTIL_H
#define DLC_UTIL_H

#include <stddef.h>
#include <stdint.h>

typedef struct arena_chunk arena_chunk;
typedef struct arena {
    arena_chunk *head;
} arena;

void *arena_alloc(arena *a, size_t size);          /* zeroed, never NULL */
char *arena_strdup(arena *a, const char *s);
char *arena_strndup(arena *a, const char *s, size_t n);
char *arena_printf(arena *a, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void arena_free(arena *a);

/* Dynamic array of pointers or small structs, grown by doubling.
 * Used as: T *items; int n, cap;  VEC_PUSH(a, items, n, cap, value). */
#define VEC_PUSH(ar, items, n, cap, value)                                   \
    do {                                                                     \
        if ((n) == (cap)) {                                                  \
            int new_cap_ = (cap) ? 2 * (cap) : 8;                            \
            void *p_ = arena_alloc((ar), (size_t)new_cap_ * sizeof(*(items))); \
            if (n) memcpy(p_, (items), (size_t)(n) * sizeof(*(items)));      \
            (items) = p_;                                                    \
            (cap) = new_cap_;                                                \
        }                                                                    \
        (items)[(n)++] = (value);                                            \
    } while (0)

/* Growable text buffer (heap, not arena: code generation builds large ones). */
typedef struct strbuf {
    char *data;
    size_t len, cap;
} strbuf;

void sb_putc(strbuf *b, char c);
void sb_puts(strbuf *b, const char *s);
void sb_printf(strbuf *b, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void sb_free(strbuf *b);

int edit_distance(const char *a, const char *b);
/* The candidate closest to `word`, or NULL if none is close enough to suggest. */
const char *closest_name(const char *word, const char *const *cands, int n);

#endif
