/*
 * vcheck_out.c - reading input files and writing messages and JSON for
 * every virtcore-check subcommand.
 */
#include "vcheck_out.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int vcheck_out_read_file(const char *path, char **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *b;
    size_t n;

    if (!f) {
        fprintf(stderr, "virtcore-check: %s: %s\n", path, strerror(errno));
        return -1;
    }
    /* One byte more than the limit tells a too-large file from a full one. */
    b = malloc(VCHECK_TEXT_MAX + 1u);
    if (!b) {
        fclose(f);
        fprintf(stderr, "virtcore-check: %s: out of memory\n", path);
        return -1;
    }
    n = fread(b, 1, VCHECK_TEXT_MAX + 1u, f);
    if (ferror(f)) {
        fprintf(stderr, "virtcore-check: %s: read error\n", path);
        fclose(f);
        free(b);
        return -1;
    }
    fclose(f);
    if (n > VCHECK_TEXT_MAX) {
        fprintf(stderr, "virtcore-check: %s: larger than %u bytes\n", path, VCHECK_TEXT_MAX);
        free(b);
        return -1;
    }
    *buf = b;
    *len = n;
    return 0;
}

void vcheck_out_file_error(const char *path, const vcheck_err_t *err)
{
    if (err->line)
        fprintf(stderr, "virtcore-check: %s:%u: %s\n", path, err->line, err->msg);
    else
        fprintf(stderr, "virtcore-check: %s: %s\n", path, err->msg);
}

int vcheck_out_usage(const vcheck_arch_t *arch, const char *fmt, ...)
{
    va_list ap;
    fputs("virtcore-check: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nusage:\n", stderr);
    fputs(arch->usage, stderr);
    return VCHECK_EXIT_USAGE;
}

void vcheck_out_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

int vcheck_out_optarg(int argc, char **argv, int *i, const char *name, const char **out)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return 0;
    if (argv[*i][n] == '=') {
        *out = argv[*i] + n + 1;
        return 1;
    }
    if (argv[*i][n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *out = argv[++*i];
    return 1;
}
