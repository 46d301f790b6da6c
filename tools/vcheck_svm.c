/*
 * vcheck_svm.c - `virtcore-check svm`: the VMRUN consistency checks (AMD APM
 * Vol. 2, "Canonicalization and Consistency Checks", "Event Injection",
 * "Nested Paging and VMRUN/#VMEXIT") on a VMCB state, followed by the CR3
 * load of the library's nested VMRUN, with the capabilities of a CPU profile
 * or of a capability file. The grammar of the files is in vcheck_svm_state.h
 * and virtcore-check(1).
 */
#include "vcheck_out.h"
#include "vcheck_svm_state.h"

#include <stdlib.h>
#include <string.h>

static int vcheck_svm_main(int argc, char **argv);

const vcheck_arch_t vcheck_svm_arch = {
    "svm",
    "  virtcore-check svm [--caps FILE | --cpu MODEL] [--all] [--json] STATE_FILE\n"
    "  virtcore-check svm [--json] --list-checks\n",
    vcheck_svm_main,
};

/* The profile used without --caps or --cpu. */
#define VCHECK_SVM_DEFAULT_CPU "ryzen"

typedef struct vcheck_svm_opts {
    const char *caps_file;
    const char *cpu;
    const char *state_file;
    bool all;
    bool json;
    bool list;
} vcheck_svm_opts_t;

/* One reported failure: the check's name, class, section title, message. */
typedef struct vcheck_svm_line {
    const char *name;
    const char *cls;
    const char *manual;
    const char *message;
    uint32_t id;
    uint64_t value;
} vcheck_svm_line_t;

static int vcheck_svm_line_of(uint32_t id, uint64_t value, vcheck_svm_line_t *out)
{
    vcore_svm_check_info_t info = {.size = sizeof(info)};
    if (vcore_svm_check_describe(id, &info) != VCORE_OK)
        return -1;
    out->name = info.name;
    out->cls = info.cls_name;
    out->manual = info.manual;
    out->message = info.message;
    out->id = id;
    out->value = value;
    return 0;
}

static void vcheck_svm_json_line(const vcheck_svm_line_t *l, bool with_value)
{
    fputs("{\"id\":", stdout);
    vcheck_out_json_str(stdout, l->name);
    printf(",\"code\":\"0x%04x\",\"class\":", l->id);
    vcheck_out_json_str(stdout, l->cls);
    fputs(",\"section\":", stdout);
    vcheck_out_json_str(stdout, l->manual);
    fputs(",\"message\":", stdout);
    vcheck_out_json_str(stdout, l->message);
    if (with_value)
        printf(",\"value\":\"0x%llx\"", (unsigned long long)l->value);
    fputc('}', stdout);
}

static int vcheck_svm_list(bool json)
{
    uint32_t n = vcore_svm_check_count();
    if (json)
        fputs("{\"checks\":[", stdout);
    for (uint32_t i = 0; i < n; i++) {
        vcore_svm_check_info_t info = {.size = sizeof(info)};
        vcheck_svm_line_t l;
        if (vcore_svm_check_at(i, &info) != VCORE_OK || vcheck_svm_line_of(info.id, 0, &l) != 0) {
            fprintf(stderr, "virtcore-check: check table entry %u unreadable\n", i);
            return VCHECK_EXIT_USAGE;
        }
        if (json) {
            if (i)
                fputc(',', stdout);
            vcheck_svm_json_line(&l, false);
        } else {
            printf("%s %s \"%s\"\n", l.name, l.cls, l.manual);
        }
    }
    if (json)
        fputs("]}\n", stdout);
    return VCHECK_EXIT_OK;
}

static void vcheck_svm_print(bool ok, const vcheck_svm_line_t *lines, uint32_t n, bool json)
{
    if (json)
        printf("{\"verdict\":\"%s\"%s,\"checks\":[", ok ? "ENTRY_OK" : "EXIT",
               ok ? "" : ",\"exit_code\":-1");
    else
        puts(ok ? "ENTRY_OK" : "EXIT -1");
    for (uint32_t i = 0; i < n; i++) {
        if (json) {
            if (i)
                fputc(',', stdout);
            vcheck_svm_json_line(&lines[i], true);
        } else {
            printf("%s %s \"%s\": %s\n", lines[i].name, lines[i].cls, lines[i].manual, lines[i].message);
        }
    }
    if (json)
        fputs("]}\n", stdout);
}

static int vcheck_svm_caps(const vcheck_svm_opts_t *o, vcheck_svm_caps_t *caps)
{
    if (o->caps_file) {
        char *text;
        size_t len;
        vcheck_err_t err;
        if (vcheck_out_read_file(o->caps_file, &text, &len) != 0)
            return -1;
        int r = vcheck_svm_state_caps_parse(caps, text, len, &err);
        free(text);
        if (r != 0) {
            vcheck_out_file_error(o->caps_file, &err);
            return -1;
        }
        return 0;
    }
    if (vcheck_svm_state_profile(o->cpu ? o->cpu : VCHECK_SVM_DEFAULT_CPU, caps) != 0) {
        fprintf(stderr, "virtcore-check: unknown CPU model '%s'; known:", o->cpu);
        for (uint32_t i = 0; i < vcheck_svm_state_profile_count(); i++)
            fprintf(stderr, " %s", vcheck_svm_state_profile_name(i));
        fputc('\n', stderr);
        return -1;
    }
    return 0;
}

/* The CR3 load of the nested VMRUN: its diagnostic as a line. The section is
 * the title between the quotes of the diagnostic's manual reference. */
static int vcheck_svm_cr3_line(const vcore_diag_t *d, vcheck_svm_line_t *l, char *sec, size_t cap)
{
    const char *q = d->manual ? strchr(d->manual, '"') : NULL;
    const char *e = q ? strchr(q + 1, '"') : NULL;
    size_t n = (q && e) ? (size_t)(e - q - 1) : 0;
    if (n >= cap)
        n = cap - 1;
    memcpy(sec, q ? q + 1 : "", n);
    sec[n] = '\0';
    l->name = d->name;
    l->cls = "VMEXIT_INVALID";
    l->manual = sec;
    l->message = d->message;
    l->id = d->id;
    l->value = d->value;
    return 0;
}

static int vcheck_svm_run(const vcheck_svm_opts_t *o)
{
    vcheck_svm_caps_t caps;
    vcheck_svm_state_t *st = malloc(sizeof(*st));
    vcore_svm_check_input_t in;
    vcore_svm_verdict_t v = {.size = sizeof(v)};
    vcore_svm_check_failure_t one, *f = NULL;
    vcheck_svm_line_t *lines = NULL;
    uint32_t nf = 0, nl = 0;
    int rc = VCHECK_EXIT_USAGE;
    char *text = NULL, sec[80];
    size_t len;
    vcheck_err_t err;

    if (!st) {
        fputs("virtcore-check: out of memory\n", stderr);
        return VCHECK_EXIT_USAGE;
    }
    vcheck_svm_state_init(st);
    if (vcheck_svm_caps(o, &caps) != 0)
        goto out;
    if (vcheck_out_read_file(o->state_file, &text, &len) != 0)
        goto out;
    if (vcheck_svm_state_parse(st, text, len, &err) != 0) {
        vcheck_out_file_error(o->state_file, &err);
        goto out;
    }
    vcheck_svm_state_input(st, &caps, &in);
    /* Report-all mode with room for one failure counts them all. */
    if (vcore_svm_check_vmrun(&in, &v, o->all ? &one : NULL, o->all ? 1u : 0u) != VCORE_OK) {
        fputs("virtcore-check: the checks refused the snapshot\n", stderr);
        goto out;
    }
    nf = o->all ? v.failures : (v.kind == VCORE_SVM_VMRUN_OK ? 0u : 1u);
    f = calloc(nf + 1u, sizeof(*f));
    lines = calloc(nf + 1u, sizeof(*lines));
    if (!f || !lines) {
        fputs("virtcore-check: out of memory\n", stderr);
        goto out;
    }
    if (o->all && nf && vcore_svm_check_vmrun(&in, &v, f, nf) != VCORE_OK) {
        fputs("virtcore-check: the checks refused the snapshot\n", stderr);
        goto out;
    }
    if (!o->all && nf) {
        f[0].check = v.check;
        f[0].value = v.value;
    }
    for (uint32_t i = 0; i < nf; i++)
        if (vcheck_svm_line_of(f[i].check, f[i].value, &lines[nl]) == 0)
            nl++;
    if (v.kind == VCORE_SVM_VMRUN_OK) {
        /* The checks pass: L1's VMRUN through the library, for the CR3 load. */
        vcore_nsvm_result_t res;
        vcore_diag_t d = {.size = sizeof(d)};
        if (vcheck_svm_state_vmrun(st, &caps, &res, &d) != 0) {
            fputs("virtcore-check: L1's VMRUN faults (cpu.efer, cpu.cr0: SVME and protected mode are needed)\n",
                  stderr);
            goto out;
        }
        if (res.outcome == VCORE_NSVM_OUT_VMEXIT) {
            vcheck_svm_cr3_line(&d, &lines[nl++], sec, sizeof(sec));
            v.kind = VCORE_SVM_VMRUN_INVALID;
        }
    }
    vcheck_svm_print(v.kind == VCORE_SVM_VMRUN_OK, lines, nl, o->json);
    rc = v.kind == VCORE_SVM_VMRUN_OK ? VCHECK_EXIT_OK : VCHECK_EXIT_FAIL;
out:
    free(lines);
    free(f);
    free(text);
    free(st);
    return rc;
}

static int vcheck_svm_main(int argc, char **argv)
{
    vcheck_svm_opts_t o;
    const vcheck_arch_t *a = &vcheck_svm_arch;

    memset(&o, 0, sizeof(o));
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        int r;
        if ((r = vcheck_out_optarg(argc, argv, &i, "--caps", &o.caps_file)) ||
            (r = vcheck_out_optarg(argc, argv, &i, "--cpu", &o.cpu))) {
            if (r < 0)
                return vcheck_out_usage(a, "%s needs a value", arg);
        } else if (strcmp(arg, "--all") == 0) {
            o.all = true;
        } else if (strcmp(arg, "--json") == 0) {
            o.json = true;
        } else if (strcmp(arg, "--list-checks") == 0) {
            o.list = true;
        } else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs("usage:\n", stdout);
            fputs(a->usage, stdout);
            return VCHECK_EXIT_OK;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            return vcheck_out_usage(a, "unknown option '%s'", arg);
        } else if (o.state_file) {
            return vcheck_out_usage(a, "more than one STATE_FILE");
        } else {
            o.state_file = arg;
        }
    }
    if (o.list) {
        if (o.state_file || o.caps_file || o.cpu || o.all)
            return vcheck_out_usage(a, "--list-checks takes no other option than --json");
        return vcheck_svm_list(o.json);
    }
    if (o.caps_file && o.cpu)
        return vcheck_out_usage(a, "--caps and --cpu exclude each other");
    if (!o.state_file)
        return vcheck_out_usage(a, "missing STATE_FILE");
    return vcheck_svm_run(&o);
}
