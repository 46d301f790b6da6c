/*
 * vcheck_vmx.c - `virtcore-check vmx`: the VM-entry checks of VMLAUNCH and
 * VMRESUME (SDM Vol. 3, chapter "VM Entries") on a state file or on the
 * vmcs12 of a KVM nested-state blob, with the capabilities of a CPU
 * profile or of a capability file. The grammar of the files is in
 * vcheck_vmx_state.h and virtcore-check(1).
 */
#include "vcheck_out.h"
#include "vcheck_vmx_state.h"

#include <stdlib.h>
#include <string.h>
#include <virtcore/x86/nvmx.h>

static int vcheck_vmx_main(int argc, char **argv);

const vcheck_arch_t vcheck_vmx_arch = {
    "vmx",
    "  virtcore-check vmx [--caps FILE | --cpu MODEL] [--all] [--json] STATE_FILE\n"
    "  virtcore-check vmx [--caps FILE | --cpu MODEL] [--all] [--json] --kvm-state FILE [STATE_FILE]\n"
    "  virtcore-check vmx [--json] --list-checks\n",
    vcheck_vmx_main,
};

/* The profile used without --caps or --cpu. */
#define VCHECK_VMX_DEFAULT_CPU "corei7_skylake_x"

typedef struct vcheck_vmx_opts {
    const char *caps_file;
    const char *cpu;
    const char *kvm_state;
    const char *state_file;
    bool all;
    bool json;
    bool list;
} vcheck_vmx_opts_t;

static int vcheck_vmx_info(uint32_t id, vcore_vmx_check_info_t *info)
{
    info->size = sizeof(*info);
    return vcore_vmx_check_describe(id, info);
}

/* ---- output ----------------------------------------------------------------- */

static void vcheck_vmx_json_check(const vcore_vmx_check_info_t *info, bool with_detail, uint32_t index,
                                  uint64_t value)
{
    fputs("{\"id\":", stdout);
    vcheck_out_json_str(stdout, info->name);
    printf(",\"code\":\"0x%04x\",\"class\":", info->id);
    vcheck_out_json_str(stdout, info->cls_name);
    fputs(",\"section\":", stdout);
    vcheck_out_json_str(stdout, info->manual);
    fputs(",\"message\":", stdout);
    vcheck_out_json_str(stdout, info->message);
    if (with_detail)
        printf(",\"index\":%u,\"value\":\"0x%llx\"", index, (unsigned long long)value);
    fputc('}', stdout);
}

static int vcheck_vmx_list(bool json)
{
    uint32_t n = vcore_vmx_check_count();
    if (json)
        fputs("{\"checks\":[", stdout);
    for (uint32_t i = 0; i < n; i++) {
        vcore_vmx_check_info_t info = {.size = sizeof(info)};
        if (vcore_vmx_check_at(i, &info) != VCORE_OK) {
            fprintf(stderr, "virtcore-check: check table entry %u unreadable\n", i);
            return VCHECK_EXIT_USAGE;
        }
        if (json) {
            if (i)
                fputc(',', stdout);
            vcheck_vmx_json_check(&info, false, 0, 0);
        } else {
            printf("%s %s \"%s\"\n", info.name, info.cls_name, info.manual);
        }
    }
    if (json)
        fputs("]}\n", stdout);
    return VCHECK_EXIT_OK;
}

static void vcheck_vmx_print(const vcore_vmx_verdict_t *v, const vcore_vmx_check_failure_t *f, uint32_t nf,
                             bool json)
{
    static const char *const kinds[] = {"?", "ENTRY_OK", "VMFAIL_INVALID", "VMFAIL_VALID", "EXIT"};
    const char *kind = v->kind < 5 ? kinds[v->kind] : kinds[0];

    if (json) {
        printf("{\"verdict\":\"%s\"", kind);
        if (v->kind == VCORE_VMX_VMFAIL_VALID)
            printf(",\"vm_error\":%u", v->vm_error);
        if (v->kind == VCORE_VMX_ENTRY_FAIL_EXIT)
            printf(",\"exit_reason\":%u,\"entry_failure\":1,\"qualification\":\"0x%llx\"",
                   v->exit_reason & 0xffffu, (unsigned long long)v->qualification);
        fputs(",\"checks\":[", stdout);
    } else if (v->kind == VCORE_VMX_VMFAIL_VALID) {
        printf("%s %u\n", kind, v->vm_error);
    } else if (v->kind == VCORE_VMX_ENTRY_FAIL_EXIT) {
        /* Basic exit reason, the VM-entry failure bit (31), the qualification. */
        printf("%s %u %u 0x%llx\n", kind, v->exit_reason & 0xffffu, v->exit_reason >> 31,
               (unsigned long long)v->qualification);
    } else {
        printf("%s\n", kind);
    }
    for (uint32_t i = 0; i < nf; i++) {
        vcore_vmx_check_info_t info;
        if (vcheck_vmx_info(f[i].check, &info) != VCORE_OK)
            continue; /* every id the checks report is in the table (unit.vmx_checks) */
        if (json) {
            if (i)
                fputc(',', stdout);
            vcheck_vmx_json_check(&info, true, f[i].index, f[i].value);
        } else {
            printf("%s %s \"%s\": %s\n", info.name, info.cls_name, info.manual, info.message);
        }
    }
    if (json)
        fputs("]}\n", stdout);
}

/* ---- the run ---------------------------------------------------------------- */

static int vcheck_vmx_caps(const vcheck_vmx_opts_t *o, vcheck_vmx_caps_t *caps)
{
    vcore_diag_t d = {.size = sizeof(d)};
    char *text;
    size_t len;
    vcheck_err_t err;

    if (o->caps_file) {
        if (vcheck_out_read_file(o->caps_file, &text, &len) != 0)
            return -1;
        int r = vcheck_vmx_state_caps_parse(caps, text, len, &err);
        free(text);
        if (r != 0) {
            vcheck_out_file_error(o->caps_file, &err);
            return -1;
        }
    } else if (vcheck_vmx_state_profile(o->cpu ? o->cpu : VCHECK_VMX_DEFAULT_CPU, caps) != 0) {
        fprintf(stderr, "virtcore-check: unknown CPU model '%s'; known:", o->cpu);
        for (uint32_t i = 0; i < vcheck_vmx_state_profile_count(); i++)
            fprintf(stderr, " %s", vcheck_vmx_state_profile_name(i));
        fputc('\n', stderr);
        return -1;
    }
    /* Capability MSRs no processor reports (allowed-0 outside allowed-1, ...)
     * describe no processor whose verdict could be predicted. */
    if (vcore_nvmx_caps_check(&caps->caps, &d) != VCORE_OK) {
        fprintf(stderr, "virtcore-check: %s: inconsistent capability MSRs: %s (value 0x%llx)\n",
                o->caps_file ? o->caps_file : o->cpu, d.message ? d.message : "refused",
                (unsigned long long)d.value);
        return -1;
    }
    return 0;
}

/* Loads the vmcs12 of a KVM nested-state blob (KVM_GET_NESTED_STATE layout)
 * into the state, through the library's validating import. */
static int vcheck_vmx_kvm(const char *path, const vcheck_vmx_caps_t *caps, vcheck_vmx_state_t *st)
{
    vcore_nvmx_config_t cfg;
    vcore_nvmx_info_t info = {.size = sizeof(info)};
    vcore_diag_t d = {.size = sizeof(d)};
    vcore_nvmx_t *n = NULL;
    size_t sz = vcore_nvmx_storage_size(), len;
    void *mem = malloc(sz);
    char *blob;
    int rc = -1, err;

    if (!mem) {
        fputs("virtcore-check: out of memory\n", stderr);
        return -1;
    }
    if (vcheck_out_read_file(path, &blob, &len) != 0) {
        free(mem);
        return -1;
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.size = sizeof(cfg);
    cfg.caps = caps->caps;
    cfg.maxphyaddr = caps->maxphyaddr;
    err = vcore_nvmx_init(mem, sz, &cfg, &n, &d);
    if (err == VCORE_OK)
        err = vcore_nvmx_kvm_import(n, blob, len, &d);
    if (err != VCORE_OK) {
        fprintf(stderr, "virtcore-check: %s: not a usable KVM nested state: %s (%s)\n", path,
                d.message ? d.message : vcore_err_name(err), vcore_err_name(err));
    } else if (vcore_nvmx_get_info(n, &info) == VCORE_OK) {
        memcpy(st->page, vcore_nvmx_vmcs12(n), VCORE_VMCS12_SIZE);
        st->current_vmcs = info.current_vmptr;
        st->launched = info.launch_state;
        rc = 0;
    }
    free(blob);
    free(mem);
    return rc;
}

static int vcheck_vmx_run(const vcheck_vmx_opts_t *o)
{
    vcheck_vmx_caps_t caps;
    vcheck_vmx_state_t *st = malloc(sizeof(*st));
    vcore_vmx_check_input_t in;
    vcore_vmx_verdict_t v = {.size = sizeof(v)};
    vcore_vmx_check_failure_t one, *f = NULL;
    uint32_t nf = 0;
    int rc = VCHECK_EXIT_USAGE;
    char *text = NULL;
    size_t len;
    vcheck_err_t err;

    if (!st) {
        fputs("virtcore-check: out of memory\n", stderr);
        return VCHECK_EXIT_USAGE;
    }
    vcheck_vmx_state_init(st);
    if (vcheck_vmx_caps(o, &caps) != 0)
        goto out;
    if (o->kvm_state && vcheck_vmx_kvm(o->kvm_state, &caps, st) != 0)
        goto out;
    if (o->state_file) {
        if (vcheck_out_read_file(o->state_file, &text, &len) != 0)
            goto out;
        if (vcheck_vmx_state_parse(st, text, len, &err) != 0) {
            vcheck_out_file_error(o->state_file, &err);
            goto out;
        }
    }
    vcheck_vmx_state_input(st, &caps, &in);
    if (vcore_vmx_check_entry(&in, &v, o->all ? &one : NULL, o->all ? 1u : 0u) != VCORE_OK) {
        fputs("virtcore-check: the checks refused the snapshot\n", stderr);
        goto out;
    }
    if (o->all && v.failures) {
        /* Second pass with room for every failure. */
        nf = v.failures;
        f = calloc(nf, sizeof(*f));
        if (!f || vcore_vmx_check_entry(&in, &v, f, nf) != VCORE_OK) {
            fputs("virtcore-check: out of memory\n", stderr);
            goto out;
        }
        if (v.failures < nf)
            nf = v.failures;
    } else if (v.kind != VCORE_VMX_ENTRY_OK) {
        one.check = v.check;
        one.index = v.kind == VCORE_VMX_ENTRY_FAIL_EXIT &&
                            (v.exit_reason & 0xffffu) == VCORE_VMX_EXIT_MSR_LOADING
                        ? (uint32_t)v.qualification
                        : 0;
        one.value = v.value;
        f = NULL;
        nf = 1;
    }
    vcheck_vmx_print(&v, f ? f : &one, nf, o->json);
    rc = v.kind == VCORE_VMX_ENTRY_OK ? VCHECK_EXIT_OK : VCHECK_EXIT_FAIL;
out:
    free(f);
    free(text);
    free(st);
    return rc;
}

/* ---- options ---------------------------------------------------------------- */

static int vcheck_vmx_main(int argc, char **argv)
{
    vcheck_vmx_opts_t o;
    const vcheck_arch_t *a = &vcheck_vmx_arch;

    memset(&o, 0, sizeof(o));
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        int r;
        if ((r = vcheck_out_optarg(argc, argv, &i, "--caps", &o.caps_file)) ||
            (r = vcheck_out_optarg(argc, argv, &i, "--cpu", &o.cpu)) ||
            (r = vcheck_out_optarg(argc, argv, &i, "--kvm-state", &o.kvm_state))) {
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
        if (o.state_file || o.kvm_state || o.caps_file || o.cpu || o.all)
            return vcheck_out_usage(a, "--list-checks takes no other option than --json");
        return vcheck_vmx_list(o.json);
    }
    if (o.caps_file && o.cpu)
        return vcheck_out_usage(a, "--caps and --cpu exclude each other");
    if (!o.state_file && !o.kvm_state)
        return vcheck_out_usage(a, "missing STATE_FILE");
    return vcheck_vmx_run(&o);
}
