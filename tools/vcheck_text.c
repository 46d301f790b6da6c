/*
 * vcheck_text.c - the line grammar of virtcore-check's input files (see
 * vcheck_text.h): `KEY = VALUE` assignments, '#' comments, C integer
 * literals. No I/O: the fuzzers link this file.
 */
#include "vcheck_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void vcheck_text_fail(vcheck_err_t *err, unsigned line, const char *fmt, ...)
{
    va_list ap;
    err->line = line;
    va_start(ap, fmt);
    (void)vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
}

bool vcheck_text_is(const char *s, size_t n, const char *word)
{
    size_t w = strlen(word);
    return n == w && memcmp(s, word, n) == 0;
}

bool vcheck_text_starts(const char *s, size_t n, const char *prefix)
{
    size_t p = strlen(prefix);
    return n >= p && memcmp(s, prefix, p) == 0;
}

static bool vcheck_text_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Removes blanks on both ends of [*s, *s + *n). */
static void vcheck_text_trim(const char **s, size_t *n)
{
    while (*n && vcheck_text_blank(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && vcheck_text_blank((*s)[*n - 1]))
        (*n)--;
}

static int vcheck_text_digit(char c, unsigned base)
{
    int d;
    if (c >= '0' && c <= '9')
        d = c - '0';
    else if (c >= 'a' && c <= 'f')
        d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
        d = c - 'A' + 10;
    else
        return -1;
    return (unsigned)d < base ? d : -1;
}

/* The integer suffixes C allows: u, l, ll in either order and case
 * (ll in one case only: "lL" is not a suffix). */
static bool vcheck_text_suffix(const char *s, size_t n)
{
    size_t i = 0;
    bool u = false, l = false;
    while (i < n) {
        if ((s[i] == 'u' || s[i] == 'U') && !u) {
            u = true;
            i++;
        } else if ((s[i] == 'l' || s[i] == 'L') && !l) {
            l = true;
            i += (i + 1 < n && s[i + 1] == s[i]) ? 2u : 1u;
        } else {
            return false;
        }
    }
    return true;
}

int vcheck_text_int(const char *s, size_t n, uint64_t *out)
{
    unsigned base = 10;
    size_t i = 0, digits = 0;
    uint64_t v = 0;

    if (n == 0)
        return -1;
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
    } else if (s[0] == '0') {
        base = 8;
    }
    for (; i < n; i++, digits++) {
        int d = vcheck_text_digit(s[i], base);
        if (d < 0)
            break;
        /* Overflow of 64 bits: the literal names no 64-bit value. */
        if (v > (UINT64_MAX - (uint64_t)d) / base)
            return -1;
        v = v * base + (uint64_t)d;
    }
    if (digits == 0 || !vcheck_text_suffix(s + i, n - i))
        return -1;
    *out = v;
    return 0;
}

int vcheck_text_parse(const char *text, size_t len, vcheck_text_line_fn fn, void *ctx, vcheck_err_t *err)
{
    size_t pos = 0;
    unsigned lineno = 0;

    if (memchr(text, '\0', len)) {
        vcheck_text_fail(err, 0, "not a text file (NUL byte)");
        return -1;
    }
    while (pos < len) {
        const char *ln = text + pos, *nl, *hash, *eq;
        size_t n;
        vcheck_line_t l;

        nl = memchr(ln, '\n', len - pos);
        n = nl ? (size_t)(nl - ln) : len - pos;
        pos += n + (nl ? 1u : 0u);
        lineno++;
        hash = memchr(ln, '#', n);
        if (hash)
            n = (size_t)(hash - ln);
        vcheck_text_trim(&ln, &n);
        if (n == 0)
            continue;
        eq = memchr(ln, '=', n);
        if (!eq) {
            vcheck_text_fail(err, lineno, "expected KEY = VALUE");
            return -1;
        }
        l.lineno = lineno;
        l.key = ln;
        l.key_len = (size_t)(eq - ln);
        l.val = eq + 1;
        l.val_len = n - l.key_len - 1;
        vcheck_text_trim(&l.key, &l.key_len);
        vcheck_text_trim(&l.val, &l.val_len);
        if (l.key_len == 0 || l.val_len == 0) {
            vcheck_text_fail(err, lineno, "expected KEY = VALUE");
            return -1;
        }
        if (fn(ctx, &l, err) != 0)
            return -1;
    }
    return 0;
}

/* cpuid.LEAF.SUBLEAF.REG = V: sets one register of a leaf in tab[0..*n),
 * adding the leaf when it is new (sub-leaf significant when SUBLEAF != 0). */
int vcheck_text_cpuid(vcore_cpuid_entry_t *tab, uint32_t *n, uint32_t max, const vcheck_line_t *l, uint64_t v,
                      vcheck_err_t *err)
{
    const char *p = l->key + 6, *end = l->key + l->key_len, *d1, *d2;
    uint64_t leaf, sub;
    vcore_cpuid_entry_t *e = NULL;
    size_t rn;

    d1 = memchr(p, '.', (size_t)(end - p));
    d2 = d1 ? memchr(d1 + 1, '.', (size_t)(end - d1 - 1)) : NULL;
    if (!d2 || vcheck_text_int(p, (size_t)(d1 - p), &leaf) != 0 ||
        vcheck_text_int(d1 + 1, (size_t)(d2 - d1 - 1), &sub) != 0 || leaf > UINT32_MAX || sub > UINT32_MAX) {
        vcheck_text_fail(err, l->lineno, "expected cpuid.LEAF.SUBLEAF.REG with 32-bit LEAF and SUBLEAF");
        return -1;
    }
    rn = (size_t)(end - d2 - 1);
    if (!vcheck_text_is(d2 + 1, rn, "eax") && !vcheck_text_is(d2 + 1, rn, "ebx") &&
        !vcheck_text_is(d2 + 1, rn, "ecx") && !vcheck_text_is(d2 + 1, rn, "edx")) {
        vcheck_text_fail(err, l->lineno, "CPUID register must be eax, ebx, ecx or edx");
        return -1;
    }
    if (v > UINT32_MAX) {
        vcheck_text_fail(err, l->lineno, "CPUID register value does not fit in 32 bits");
        return -1;
    }
    for (uint32_t i = 0; i < *n; i++)
        if (tab[i].function == leaf && tab[i].index == sub)
            e = &tab[i];
    if (!e) {
        if (*n == max) {
            vcheck_text_fail(err, l->lineno, "more than %u CPUID leaves", max);
            return -1;
        }
        e = &tab[(*n)++];
        memset(e, 0, sizeof(*e));
        e->function = (uint32_t)leaf;
        e->index = (uint32_t)sub;
        /* Every entry names its sub-leaf: an unnamed sub-leaf reads 0. */
        e->flags = VCORE_CPUID_FLAG_INDEX_SIGNIFICANT;
    }
    switch (d2[2]) {
    case 'a': e->eax = (uint32_t)v; break;
    case 'b': e->ebx = (uint32_t)v; break;
    case 'c': e->ecx = (uint32_t)v; break;
    default: e->edx = (uint32_t)v; break;
    }
    return 0;
}

int vcheck_text_mem(const vcheck_line_t *l, uint64_t v, vcheck_text_byte_fn put, void *ctx, unsigned max_quads,
                    vcheck_err_t *err)
{
    const char *open = l->key + 5, *close = l->key + l->key_len - 1;
    unsigned bytes = vcheck_text_starts(l->key, l->key_len, "mem32[") ? 4u : 8u;
    uint64_t gpa;

    while (open < close && (open[1] == ' ' || open[1] == '\t'))
        open++;
    while (close > open + 1 && (close[-1] == ' ' || close[-1] == '\t'))
        close--;
    if (l->key_len < 8 || l->key[5] != '[' || l->key[l->key_len - 1] != ']' ||
        vcheck_text_int(open + 1, (size_t)(close - open - 1), &gpa) != 0) {
        vcheck_text_fail(err, l->lineno, "expected mem64[GPA] or mem32[GPA] with a C integer GPA");
        return -1;
    }
    if (bytes == 4 && v > UINT32_MAX) {
        vcheck_text_fail(err, l->lineno, "value does not fit in 32 bits");
        return -1;
    }
    if (gpa > UINT64_MAX - (bytes - 1)) {
        vcheck_text_fail(err, l->lineno, "memory operand wraps past the top of the address space");
        return -1;
    }
    for (unsigned i = 0; i < bytes; i++) {
        if (put(ctx, gpa + i, (uint8_t)(v >> (8 * i))) != 0) {
            vcheck_text_fail(err, l->lineno, "more than %u quadwords of memory named", max_quads);
            return -1;
        }
    }
    return 0;
}

int vcheck_text_maxphyaddr(const vcheck_line_t *l, uint64_t v, uint32_t *out, vcheck_err_t *err)
{
    if (v < 32 || v > 52) {
        vcheck_text_fail(err, l->lineno, "maxphyaddr must be 32..52");
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}
