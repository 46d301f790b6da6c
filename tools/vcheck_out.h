/*
 * vcheck_out.h - input files and output helpers every virtcore-check
 * subcommand uses (see vcheck_text.h for the layout of the tool).
 */
#ifndef VCHECK_OUT_H
#define VCHECK_OUT_H

#include "vcheck_text.h"

#include <stdio.h>

/** One architecture's subcommand: `virtcore-check NAME ...`. */
typedef struct vcheck_arch {
    const char *name;  /* argv[1] */
    const char *usage; /* usage lines, each starting with "virtcore-check NAME" */
    /* Runs the subcommand on the arguments after NAME; returns a VCHECK_EXIT_* status. */
    int (*main)(int argc, char **argv);
} vcheck_arch_t;

/**
 * Reads a whole file (at most VCHECK_TEXT_MAX bytes) into a malloc'ed
 * buffer. On failure prints "virtcore-check: PATH: reason" on stderr and
 * returns -1.
 */
int vcheck_out_read_file(const char *path, char **buf, size_t *len);

/** Prints "virtcore-check: PATH:LINE: message" for a refused input file. */
void vcheck_out_file_error(const char *path, const vcheck_err_t *err);

/** Prints "virtcore-check: message" and the usage of @p arch on stderr; returns VCHECK_EXIT_USAGE. */
int vcheck_out_usage(const vcheck_arch_t *arch, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Writes @p s as a JSON string (quotes and escapes included). */
void vcheck_out_json_str(FILE *f, const char *s);

/* An option with a value, "--name VALUE" or "--name=VALUE", at argv[*i]:
 * 1 with *out set and *i past what it used, 0 when argv[*i] is another
 * option, -1 when the value is missing. */
int vcheck_out_optarg(int argc, char **argv, int *i, const char *name, const char **out);

#endif /* VCHECK_OUT_H */
