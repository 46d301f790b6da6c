/*
 * check.c - the VM-entry check engine (SDM Vol. 3, chapter "VM Entries").
 *
 * The sections run in the order VM entry performs them: every VMfail check
 * comes before every check that causes a failed-entry VM exit, control
 * fields (error 7) before host state (error 8), guest state (exit 33)
 * before the MSR-load list (exit 34). The first failure is the verdict.
 */
#include "check_priv.h"
#include "nvmx_priv.h"

void vcore__vmx_chk_fail(vcore__vmx_chk_t *c, uint32_t id, uint32_t index, uint64_t value)
{
    if (c->first.check == 0) {
        c->first.check = id;
        c->first.index = index;
        c->first.value = value;
    }
    if (c->report_all) {
        if (c->n < c->cap) {
            c->fail[c->n].check = id;
            c->fail[c->n].index = index;
            c->fail[c->n].value = value;
        }
        /* A count, not an index: it saturates rather than wraps. */
        if (c->n != UINT32_MAX)
            c->n++;
    } else {
        c->n = 1;
        c->stop = true;
    }
}

uint32_t vcore__vmx_chk_cpuid(const vcore__vmx_chk_t *c, uint32_t leaf, uint32_t sub, unsigned reg)
{
    const vcore_cpuid_entry_t *e;

    if (c->in->ncpuid == 0)
        return 0;
    e = vcore__cpuid_find(c->in->cpuid, c->in->ncpuid, leaf, sub);
    if (!e)
        return 0;
    switch (reg) {
    case 0:
        return e->eax;
    case 1:
        return e->ebx;
    case 2:
        return e->ecx;
    default:
        return e->edx;
    }
}

uint32_t vcore__vmx_chk_leaf7(vcore__vmx_chk_t *c, unsigned reg)
{
    const vcore_cpuid_entry_t *e;

    if (!c->leaf7_read) {
        e = c->in->ncpuid ? vcore__cpuid_find(c->in->cpuid, c->in->ncpuid, VCORE__CPUID_LEAF_EXT_FEATURES, 0) : NULL;
        c->leaf7[0] = e ? e->ebx : 0u;
        c->leaf7[1] = e ? e->ecx : 0u;
        c->leaf7[2] = e ? e->edx : 0u;
        c->leaf7_read = true;
    }
    return c->leaf7[reg];
}

/* SDM Vol. 1, "Canonical Addressing": the width is 57 bits on a processor
 * with 5-level paging (CPUID.(EAX=07H,ECX=0):ECX.LA57), 48 otherwise. The
 * 48-bit case (which is canonical for both widths) is decided inline in
 * check_priv.h; CPUID is consulted only for the other addresses. */
bool vcore__vmx_chk_canonical_slow(vcore__vmx_chk_t *c, uint64_t la)
{
    return (vcore__vmx_chk_leaf7(c, 1) & VCORE__CPUID_7_ECX_LA57) && vcore__x86_is_canonical(la, 57);
}

/* "Bits 63:N must be identical" (N = linear-address width): one bit weaker
 * than canonical, which also takes in bit N-1. */
bool vcore__vmx_chk_upper_identical_slow(vcore__vmx_chk_t *c, uint64_t la)
{
    return (vcore__vmx_chk_leaf7(c, 1) & VCORE__CPUID_7_ECX_LA57) && vcore__x86_is_canonical(la, 58);
}

void vcore__vmx_chk_read(const vcore__vmx_chk_t *c, uint64_t gpa, void *buf, size_t len)
{
    const vcore_nvmx_mem_t *m = c->in->mem;

    if (!m || !m->read || m->read(m->ctx, gpa, buf, len) != VCORE_OK)
        vcore__memset(buf, 0xff, len);
}

/* The sections (VCORE__VMX_SECTIONS), each entered when one of its rules'
 * inputs changed: the union of the rules' inputs (VCORE__VMX_ROW_IN). The
 * MSR-load list is read from L1 memory: its own run bit instead, so the
 * entry pipeline, which loads the list entry by entry, can leave it out. */
#define CHECK_SEC_ROW_IN(run, name, value, cls, sec, msg, in) | VCORE__VMX_ROW_IN(run, in)
#define CHECK_SEC_IN(name, rows, run)                                                              \
    (CHECK_SEC_##name == CHECK_SEC_msr_load ? VCORE__VMX_RUN_MSR_LOAD                             \
                                            : (VCORE_VMX_IN_OTHER rows(CHECK_SEC_ROW_IN, run)))

enum check_section {
#define CHECK_SEC_ENUM(name, rows, run, b) CHECK_SEC_##name,
    VCORE__VMX_SECTIONS(CHECK_SEC_ENUM, -)
#undef CHECK_SEC_ENUM
    CHECK_SEC_COUNT
};

static void (*const check_section_fn[CHECK_SEC_COUNT])(vcore__vmx_chk_t *) = {
#define CHECK_SEC_FN(name, rows, run, b) vcore__vmx_check_##name,
    VCORE__VMX_SECTIONS(CHECK_SEC_FN, -)
#undef CHECK_SEC_FN
};

/* Per input bit (VCORE_VMX_IN_* and the MSR-load run bit), the sections
 * reading it, one bit each in section order: a run word turns into the
 * sections due with a table read per input that changed. */
#define CHECK_SEC_HAS(name, rows, run, b) | (((CHECK_SEC_IN(name, rows, run) >> (b)) & 1u) << CHECK_SEC_##name)
#define CHECK_SECS_OF(b) (0u VCORE__VMX_SECTIONS(CHECK_SEC_HAS, b))
static const uint16_t check_sections_of_input[32] = {
    CHECK_SECS_OF(0),  CHECK_SECS_OF(1),  CHECK_SECS_OF(2),  CHECK_SECS_OF(3),  CHECK_SECS_OF(4),
    CHECK_SECS_OF(5),  CHECK_SECS_OF(6),  CHECK_SECS_OF(7),  CHECK_SECS_OF(8),  CHECK_SECS_OF(9),
    CHECK_SECS_OF(10), CHECK_SECS_OF(11), CHECK_SECS_OF(12), CHECK_SECS_OF(13), CHECK_SECS_OF(14),
    CHECK_SECS_OF(15), CHECK_SECS_OF(16), CHECK_SECS_OF(17), CHECK_SECS_OF(18), CHECK_SECS_OF(19),
    CHECK_SECS_OF(20), CHECK_SECS_OF(21), CHECK_SECS_OF(22), CHECK_SECS_OF(23), CHECK_SECS_OF(24),
    CHECK_SECS_OF(25), CHECK_SECS_OF(26), CHECK_SECS_OF(27), CHECK_SECS_OF(28), CHECK_SECS_OF(29),
    CHECK_SECS_OF(30), CHECK_SECS_OF(31)};
VCORE__STATIC_ASSERT(CHECK_SEC_COUNT <= 16, check_sections_fit);

/* The sections with an input in `run`, as a section bitmap. OTHER is an
 * input of every section. */
static uint32_t check_sections_due(uint32_t run)
{
    uint32_t due;

    if (run & VCORE_VMX_IN_OTHER)
        return check_sections_of_input[__builtin_ctz(VCORE_VMX_IN_OTHER)] | ((run & VCORE__VMX_RUN_MSR_LOAD) ? 1u << CHECK_SEC_msr_load : 0u);
    due = 0;
    for (; run; run &= run - 1)
        due |= check_sections_of_input[__builtin_ctz(run)];
    return due;
}

/* Controls in force: set and allowed (SDM Vol. 3, "VMX Capability Reporting
 * Facility"). Secondary controls count only under "activate secondary
 * controls" (SDM: "the logical processor operates as if all the secondary
 * processor-based VM-execution controls were 0"). */
static void check_controls_in_force(vcore__vmx_chk_t *c)
{
    const uint64_t *m = c->caps;

    /* The TRUE MSRs report the same allowed-1 settings as the plain ones
     * (only allowed-0 differs): the plain MSRs decide what is allowed. */
    c->pin = c->v->PIN_BASED_VM_EXEC_CONTROL & vcore__vmx_allowed1(m[VCORE_NVMX_CAP_PINBASED]);
    c->proc = c->v->CPU_BASED_VM_EXEC_CONTROL & vcore__vmx_allowed1(m[VCORE_NVMX_CAP_PROCBASED]);
    c->proc2 = (c->proc & VCORE__PROC_SECONDARY)
                   ? c->v->SECONDARY_VM_EXEC_CONTROL & vcore__vmx_allowed1(m[VCORE_NVMX_CAP_PROCBASED2])
                   : 0u;
    c->exit = c->v->VM_EXIT_CONTROLS & vcore__vmx_allowed1(m[VCORE_NVMX_CAP_EXIT]);
    c->entry = c->v->VM_ENTRY_CONTROLS & vcore__vmx_allowed1(m[VCORE_NVMX_CAP_ENTRY]);
    c->ia32e = (c->entry & VCORE__ENTRY_IA32E) != 0;
    c->urg = (c->proc2 & VCORE__PROC2_URG) != 0;
}

static void check_verdict(const vcore__vmx_chk_t *c, vcore_vmx_verdict_t *out)
{
    uint32_t id = c->first.check;

    out->check = id;
    out->value = c->first.value;
    out->failures = c->report_all ? c->n : (id != 0);
    out->vm_error = 0;
    out->exit_reason = 0;
    out->qualification = 0;
    /* No failure: the common outcome needs no look-up of a class. */
    if (id == 0) {
        out->kind = VCORE_VMX_ENTRY_OK;
        return;
    }
    switch (vcore__vmx_check_class(id)) {
    case 0:
        out->kind = VCORE_VMX_ENTRY_OK;
        break;
    case VCORE_VMX_CLASS_PRE:
        /* SDM "Basic VM-Entry Checks": an invalid current-VMCS pointer is
         * VMfailInvalid; the rest are VMfailValid with their own number. */
        if (id == VCORE_VMX_CHECK_BASIC_NO_CURRENT_VMCS || id == VCORE_VMX_CHECK_BASIC_SHADOW_CURRENT) {
            out->kind = VCORE_VMX_VMFAIL_INVALID;
        } else {
            out->kind = VCORE_VMX_VMFAIL_VALID;
            out->vm_error = id == VCORE_VMX_CHECK_BASIC_MOV_SS ? VCORE_VMXERR_ENTRY_MOV_SS
                            : id == VCORE_VMX_CHECK_BASIC_LAUNCH_NOT_CLEAR
                                ? VCORE_VMXERR_VMLAUNCH_NONCLEAR
                                : VCORE_VMXERR_VMRESUME_NONLAUNCHED;
        }
        break;
    case VCORE_VMX_CLASS_VMFAIL_CTL:
        out->kind = VCORE_VMX_VMFAIL_VALID;
        out->vm_error = VCORE_VMXERR_ENTRY_INVALID_CONTROL;
        break;
    case VCORE_VMX_CLASS_VMFAIL_HOST:
        out->kind = VCORE_VMX_VMFAIL_VALID;
        out->vm_error = VCORE_VMXERR_ENTRY_INVALID_HOST;
        break;
    case VCORE_VMX_CLASS_EXIT_MSR_LOAD:
        out->kind = VCORE_VMX_ENTRY_FAIL_EXIT;
        out->exit_reason = VCORE_VMX_EXIT_REASON_ENTRY_FAIL | VCORE_VMX_EXIT_MSR_LOADING;
        out->qualification = c->first.index;
        break;
    default: /* EXIT_GUEST, EXIT_PDPTE, EXIT_LINK */
        out->kind = VCORE_VMX_ENTRY_FAIL_EXIT;
        out->exit_reason = VCORE_VMX_EXIT_REASON_ENTRY_FAIL | VCORE_VMX_EXIT_INVALID_GUEST_STATE;
        out->qualification = vcore__vmx_check_class(id) == VCORE_VMX_CLASS_EXIT_PDPTE ? VCORE_VMX_QUAL_PDPTE
                             : vcore__vmx_check_class(id) == VCORE_VMX_CLASS_EXIT_LINK
                                 ? VCORE_VMX_QUAL_LINK_POINTER
                                 : VCORE_VMX_QUAL_DEFAULT;
        break;
    }
}

/* The context for an input known to be well-formed (checked by
 * vcore__vmx_chk_init(), or built by the library itself). */
static void check_ctx(vcore__vmx_chk_t *c, const vcore_vmx_check_input_t *in)
{
    c->v = (const vcore__vmcs12_t *)in->vmcs12;
    c->in = in;
    c->caps = in->caps->msr;
    c->ptr_width = (c->caps[VCORE_NVMX_CAP_BASIC] & VCORE_VMX_BASIC_32BIT_PA) ? 32u : in->maxphyaddr;
    c->leaf7_read = false;
    c->report_all = false;
    c->stop = false;
    c->fail = NULL;
    c->cap = 0;
    c->n = 0;
    c->run = ~0u;
    c->first.check = 0;
    c->first.index = 0;
    c->first.value = 0;
    check_controls_in_force(c);
}

int vcore__vmx_chk_init(vcore__vmx_chk_t *c, const vcore_vmx_check_input_t *in)
{
    if (!in)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(in))
        return VCORE_ERR_ABI;
    if (!in->vmcs12 || !in->caps)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(in->caps) || (in->mem && !VCORE__SIZE_OK(in->mem)))
        return VCORE_ERR_ABI;
    /* SDM Vol. 3, "Linear-Address Translation": MAXPHYADDR is 32..52. */
    if (in->maxphyaddr < 32 || in->maxphyaddr > 52 || (in->ncpuid != 0 && !in->cpuid))
        return VCORE_ERR_INVAL;
    check_ctx(c, in);
    return VCORE_OK;
}

/* Runs the sections on the caller's vmcs12 and fills the verdict. A
 * caller's input (copy) is validated and its vmcs12 copied, every check
 * then reading the copy; the library's own (vcore__vmx_check_run()) is
 * used as it is. */
static int check_run(vcore__vmx_chk_t *c, const vcore_vmx_check_input_t *in, vcore_vmx_verdict_t *out,
                     vcore_vmx_check_failure_t *failures, uint32_t cap, uint32_t run, bool copy)
{
    uint32_t due;
    int err;

    if (!out)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(out))
        return VCORE_ERR_ABI;
    if (copy) {
        err = vcore__vmx_chk_init(c, in);
        if (err)
            return err;
        vcore__memcpy(&c->copy, in->vmcs12, sizeof(c->copy));
        c->v = &c->copy;
        c->in_copy = *in;
        c->in = &c->in_copy;
    } else {
        check_ctx(c, in);
    }
    c->report_all = failures != NULL;
    c->fail = failures;
    c->cap = failures ? cap : 0u;
    c->run = run;

    /* Section order is architectural order: the lowest bit first. */
    for (due = check_sections_due(run); due && !c->stop; due &= due - 1)
        check_section_fn[__builtin_ctz(due)](c);

    check_verdict(c, out);
    return VCORE_OK;
}

int vcore_vmx_check_entry(const vcore_vmx_check_input_t *in, vcore_vmx_verdict_t *out,
                          vcore_vmx_check_failure_t *failures, uint32_t cap)
{
    vcore__vmx_chk_t c;

    /* vmcs12 is copied once; every check reads the copy only. */
    return check_run(&c, in, out, failures, cap, ~0u, true);
}

int vcore__vmx_check_run(const vcore_vmx_check_input_t *in, uint32_t run, vcore_vmx_verdict_t *out)
{
    vcore__vmx_chk_t c;

    return check_run(&c, in, out, NULL, 0, run, false);
}

int vcore_vmx_check_input_from_nvmx(const vcore_nvmx_t *nvmx, const vcore_nvmx_mem_t *mem,
                                    uint64_t l1_efer, bool movss_blocking, bool resume,
                                    const vcore_cpuid_entry_t *cpuid, uint32_t ncpuid,
                                    vcore_vmx_check_input_t *out)
{
    const vcore__vmcs12_t *v;

    if (!vcore__nvmx_ok(nvmx) || !out || (ncpuid != 0 && !cpuid))
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(out))
        return VCORE_ERR_ABI;
    v = (const vcore__vmcs12_t *)(const void *)nvmx->vmcs12;
    /* Every member is set (no zeroing of the whole input first). */
    out->size = sizeof(*out);
    out->vmcs12 = nvmx->vmcs12;
    out->caps = &nvmx->caps;
    out->maxphyaddr = nvmx->maxphyaddr;
    out->launch_state = nvmx->current_vmptr != VCORE__INVALID_PTR ? v->launch_state : 0u;
    out->l1_efer = l1_efer;
    out->current_vmptr = nvmx->current_vmptr;
    out->vmxon_ptr = nvmx->vmxon_ptr;
    out->movss_blocking = movss_blocking;
    out->resume = resume;
    out->cpuid = cpuid;
    out->ncpuid = ncpuid;
    out->mem = mem;
    out->msr_writable = NULL;
    out->msr_ctx = NULL;
    return VCORE_OK;
}
