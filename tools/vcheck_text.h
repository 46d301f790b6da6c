/*
 * vcheck_text.h - the part of virtcore-check every architecture shares.
 *
 * virtcore-check is one program with one subcommand per architecture
 * ("vmx"; "svm" has the same shape). The pieces:
 *
 *   vcheck_main.c   picks the architecture from argv[1] (vcheck_arches[]).
 *   vcheck_text.c   the text grammar of state and capability files: lines,
 *                   '#' comments, `KEY = VALUE` assignments, C integer
 *                   literals; pure (no I/O), so fuzzers link it.
 *   vcheck_out.c    file reading and output helpers (exit statuses, JSON
 *                   strings, error messages on stderr).
 *   vcheck_<arch>_state.c  what the keys of that architecture mean
 *                   (pure, linked by that architecture's fuzzer);
 *   vcheck_<arch>.c the subcommand: options, CPU profiles, verdict output.
 *
 * Adding an architecture: write vcheck_<arch>_state.c (a
 * vcheck_text_line_fn for its keys) and vcheck_<arch>.c (a
 * vcheck_arch_t whose main() parses its options and prints with the
 * vcheck_out helpers), and list the vcheck_arch_t in vcheck_main.c.
 * Every subcommand keeps the same exit statuses (VCHECK_EXIT_*).
 */
#ifndef VCHECK_TEXT_H
#define VCHECK_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <virtcore/x86/cpuid.h>

/** Exit statuses of every subcommand. */
#define VCHECK_EXIT_OK 0    /* the state enters the guest */
#define VCHECK_EXIT_FAIL 1  /* a failure verdict */
#define VCHECK_EXIT_USAGE 2 /* bad usage or unreadable input (message on stderr) */

/** Largest state or capability file accepted (bytes). */
#define VCHECK_TEXT_MAX (4u << 20)

/** Why a file was refused: the 1-based line (0: the whole file) and a message. */
typedef struct vcheck_err {
    unsigned line;
    char msg[200];
} vcheck_err_t;

/** One assignment: KEY and VALUE with surrounding blanks removed (not NUL-terminated). */
typedef struct vcheck_line {
    unsigned lineno;
    const char *key;
    size_t key_len;
    const char *val;
    size_t val_len;
} vcheck_line_t;

/** Handles one assignment; returns 0, or -1 after filling @p err. */
typedef int (*vcheck_text_line_fn)(void *ctx, const vcheck_line_t *l, vcheck_err_t *err);

/**
 * Splits @p text into assignments and hands each to @p fn in file order.
 * Blank lines and everything from '#' to the end of a line are ignored; any
 * other line must be `KEY = VALUE` with a non-empty KEY and VALUE. A NUL
 * byte makes the file unreadable text. Returns 0 or -1 (with @p err set).
 */
int vcheck_text_parse(const char *text, size_t len, vcheck_text_line_fn fn, void *ctx, vcheck_err_t *err);

/**
 * Reads a C integer literal (decimal, 0x/0X hexadecimal, 0-prefixed octal,
 * optional u/U, l/L, ll/LL suffixes) that fits in 64 bits. Returns 0 or -1.
 */
int vcheck_text_int(const char *s, size_t n, uint64_t *out);

/** True when the @p n bytes at @p s are exactly @p word. */
bool vcheck_text_is(const char *s, size_t n, const char *word);

/** True when the @p n bytes at @p s start with @p prefix. */
bool vcheck_text_starts(const char *s, size_t n, const char *prefix);

/** Fills @p err: line and a printf-style message that quotes nothing unbounded. */
void vcheck_text_fail(vcheck_err_t *err, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A `cpuid.LEAF.SUBLEAF.REG = V` line into a CPUID table of at most max
 * leaves (*n in use). 0, or -1 with err filled. */
int vcheck_text_cpuid(vcore_cpuid_entry_t *tab, uint32_t *n, uint32_t max, const vcheck_line_t *l, uint64_t v,
                      vcheck_err_t *err);

/* Stores one named byte of L1 memory; 0, or -1 when no room is left. */
typedef int (*vcheck_text_byte_fn)(void *ctx, uint64_t gpa, uint8_t b);

/* A `mem64[GPA] = V` or `mem32[GPA] = V` line (blanks allowed inside the
 * brackets): V's bytes, little endian, handed to put at GPA, GPA+1, ...;
 * max_quads only words the message when put runs out of room. 0, or -1
 * with err filled. */
int vcheck_text_mem(const vcheck_line_t *l, uint64_t v, vcheck_text_byte_fn put, void *ctx, unsigned max_quads,
                    vcheck_err_t *err);

/* A `maxphyaddr = V` line of a capability file: V in 32..52. 0, or -1
 * with err filled. */
int vcheck_text_maxphyaddr(const vcheck_line_t *l, uint64_t v, uint32_t *out, vcheck_err_t *err);

#endif /* VCHECK_TEXT_H */
