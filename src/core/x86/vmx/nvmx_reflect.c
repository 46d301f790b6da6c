/*
 * nvmx_reflect.c - who owns an exit from L2, and how vmcs02's control words
 * and MSR bitmap are merged from L0's and L1's.
 *
 * The decision reads only the copy of vmcs12 the library holds (L1 wrote it
 * through emulated VMWRITEs; it is never re-read from L1 memory) and, for
 * the I/O and MSR bitmaps, the one byte of L1's bitmap that decides.
 * SDM Vol. 3, "Instructions That Cause VM Exits Conditionally" and
 * "Other Causes of VM Exits".
 */
#include "nvmx_priv.h"

/* Control bits the rules read (SDM Vol. 3, "VM-Execution Controls"). */
#define PIN_NMI_EXITING (1u << 3)
#define PIN_PREEMPTION_TIMER (1u << 6)
#define PROC_CR3_LOAD (1u << 15)
#define PROC_CR3_STORE (1u << 16)
#define PROC_CR8_LOAD (1u << 19)
#define PROC_CR8_STORE (1u << 20)
#define PROC_TPR_SHADOW (1u << 21)
#define PROC_UNCOND_IO (1u << 24)
#define PROC_USE_IO_BITMAPS (1u << 25)
#define PROC_USE_MSR_BITMAPS (1u << 28)
#define PROC_PAUSE (1u << 30)
#define PROC_INVLPG (1u << 9)
#define PROC2_EPT (1u << 1)
#define PROC2_PAUSE_LOOP (1u << 10)
#define PROC2_INVPCID (1u << 12)
/* "Format of the VM-Entry Interruption-Information Field": valid (31),
 * type (10:8), vector (7:0); type 7 vector 0 is a pending MTF VM exit. */
#define NVMX_INTR_VALID_TYPE_VECTOR 0x800007ffu
#define NVMX_INTR_PENDING_MTF 0x80000700u

#define V12(n) ((const vcore__vmcs12_t *)(const void *)(n)->vmcs12)

static const vcore_nvmx_rule_info_t nvmx_rules[] = {
#define NVMX_RULE_ROW(name, kind, arg)                                                     \
    {sizeof(vcore_nvmx_rule_info_t), VCORE_VMX_EXIT_##name, VCORE_NVMX_RULE_##kind, (arg), #name, NULL},
    VCORE_NVMX_EXIT_RULES(NVMX_RULE_ROW)
#undef NVMX_RULE_ROW
};

/* Words describing each rule kind; the doc generator appends the bit. */
static const char *const nvmx_rule_text[VCORE_NVMX_RULE_KIND_COUNT] = {
    "L0: host event or L0's own structures",
    "L1, unconditionally (\"Instructions That Cause VM Exits Unconditionally\")",
    "L1 when the pin-based control is 1",
    "L1 when the primary processor-based control is 1",
    "L1 when \"activate secondary controls\" and the secondary control are 1",
    "exception bitmap; #PF: bit 14 with PFEC & mask == match (bit 14 = 1) or != match (bit 14 = 0); NMI: \"NMI exiting\"",
    "\"unconditional I/O exiting\", or with \"use I/O bitmaps\" a set bit for any byte accessed (wrap: exit)",
    "without \"use MSR bitmaps\" always; else the read/write bit of ECX in ranges 0-1FFFH / C0000000H-C0001FFFH, exit outside them",
    "MOV to CR0/CR4: a masked bit differs from the read shadow; CLTS, LMSW by mask and shadow; CR3-load unless a CR3-target value matches; CR3-store; CR8-load/store",
    "\"INVLPG exiting\" and \"enable INVPCID\"",
    "\"PAUSE exiting\", or \"PAUSE-loop exiting\" at CPL 0",
    "L1 when L1 enables EPT (its EPT decides); L0 otherwise",
    "L1 without \"VMCS shadowing\"; with it L0, which completes the instruction on L1's shadow VMCS unless the field's bit in L1's VMREAD/VMWRITE bitmap is 1 or encoding bits 63:15 are not 0 (then L1's: \"VMCS Shadowing\")",
};

uint32_t vcore_nvmx_rule_count(void)
{
    return (uint32_t)VCORE__ARRAY_SIZE(nvmx_rules);
}

int vcore_nvmx_rule_at(uint32_t i, vcore_nvmx_rule_info_t *out)
{
    if (!out)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(out))
        return VCORE_ERR_ABI;
    if (i >= vcore_nvmx_rule_count())
        return VCORE_ERR_RANGE;
    *out = nvmx_rules[i];
    out->rule = nvmx_rule_text[out->kind];
    return VCORE_OK;
}

/* Basic exit reason -> its row + 1 (0: no row), built from the same rule
 * list: one load per exit instead of a search (SDM Vol. 3, "Basic Exit
 * Reasons" numbers stay below 128; a larger one does not compile). */
enum {
#define NVMX_RULE_POS(name, kind, arg) NVMX_RULE_POS_##name,
    VCORE_NVMX_EXIT_RULES(NVMX_RULE_POS)
#undef NVMX_RULE_POS
    NVMX_RULE_N
};
#define NVMX_RULE_REASONS 128u
static const uint8_t nvmx_rule_of_reason[NVMX_RULE_REASONS] = {
#define NVMX_RULE_SLOT(name, kind, arg) [VCORE_VMX_EXIT_##name] = NVMX_RULE_POS_##name + 1,
    VCORE_NVMX_EXIT_RULES(NVMX_RULE_SLOT)
#undef NVMX_RULE_SLOT
};
VCORE__STATIC_ASSERT(NVMX_RULE_N < 255, rule_index_fits);

/* The row of a basic exit reason, or NULL. */
static const vcore_nvmx_rule_info_t *nvmx_reflect_row(uint32_t basic)
{
    uint32_t i = basic < NVMX_RULE_REASONS ? nvmx_rule_of_reason[basic] : 0u;
    return i ? &nvmx_rules[i - 1u] : NULL;
}

/* One bit of an L1 bitmap; unbacked memory reads as all ones (exit). */
static bool nvmx_reflect_bit(const vcore_nvmx_mem_t *mem, uint64_t base, uint32_t bit)
{
    uint8_t b = 0xff;
    vcore__nvmx_phys_read(mem, base + bit / 8u, &b, 1);
    return ((uint32_t)b >> (bit % 8u)) & 1u;
}

/* SDM "Instructions That Cause VM Exits Conditionally", IN/OUT: the I/O
 * bitmaps decide per byte accessed; an access wrapping past FFFFH exits. */
static bool nvmx_reflect_io(const vcore__vmcs12_t *v, const vcore_nvmx_mem_t *mem, uint64_t qual,
                            uint32_t *field)
{
    uint32_t proc = v->CPU_BASED_VM_EXEC_CONTROL;
    if (!(proc & PROC_USE_IO_BITMAPS)) {
        *field = VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL;
        return (proc & PROC_UNCOND_IO) != 0;
    }
    uint32_t size = (uint32_t)(qual & 7u) + 1u; /* bits 2:0: size - 1 */
    uint32_t port = (uint32_t)(qual >> 16) & 0xffffu;
    for (uint32_t p = port; p < port + size; p++) {
        if (p > 0xffffu)
            return true;
        *field = p < 0x8000u ? VCORE_VMCS_IO_BITMAP_A : VCORE_VMCS_IO_BITMAP_B;
        uint64_t base = p < 0x8000u ? v->IO_BITMAP_A : v->IO_BITMAP_B;
        if (nvmx_reflect_bit(mem, base, p & 0x7fffu))
            return true;
    }
    return false;
}

/* SDM "Instructions That Cause VM Exits Conditionally", RDMSR/WRMSR: L1's
 * MSR bitmap (vcore_nvmx_msr_bitmap_pos()); ECX outside both ranges always exits. */
static bool nvmx_reflect_msr(const vcore__vmcs12_t *v, const vcore_nvmx_mem_t *mem, uint32_t ecx,
                             bool write, uint32_t *field)
{
    *field = VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL;
    if (!(v->CPU_BASED_VM_EXEC_CONTROL & PROC_USE_MSR_BITMAPS))
        return true;
    *field = VCORE_VMCS_MSR_BITMAP;
    uint32_t byte = 0, bit = 0;
    if (!vcore_nvmx_msr_bitmap_pos(ecx, write, &byte, &bit))
        return true;
    return nvmx_reflect_bit(mem, v->MSR_BITMAP + byte, bit);
}

/* SDM "Instructions That Cause VM Exits Conditionally", MOV to/from CR,
 * CLTS, LMSW; qualification per "Exit Qualification for Control-Register
 * Accesses": bits 3:0 CR, 5:4 access type, 31:16 LMSW source. */
static bool nvmx_reflect_cr(const vcore__vmcs12_t *v, const vcore_nvmx_l2_exit_t *e, uint32_t *field)
{
    uint32_t cr = (uint32_t)(e->qualification & 0xfu);
    uint32_t type = (uint32_t)(e->qualification >> 4) & 3u;
    uint32_t proc = v->CPU_BASED_VM_EXEC_CONTROL;
    uint64_t val = e->gpr_value;
    switch (type) {
    case 0: /* MOV to CR */
        if (cr == 0 || cr == 4) {
            uint64_t mask = cr == 0 ? v->CR0_GUEST_HOST_MASK : v->CR4_GUEST_HOST_MASK;
            uint64_t shadow = cr == 0 ? v->CR0_READ_SHADOW : v->CR4_READ_SHADOW;
            *field = cr == 0 ? VCORE_VMCS_CR0_GUEST_HOST_MASK : VCORE_VMCS_CR4_GUEST_HOST_MASK;
            return ((val ^ shadow) & mask) != 0;
        }
        if (cr == 3) {
            *field = VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL;
            if (!(proc & PROC_CR3_LOAD))
                return false;
            const uint64_t t[4] = {v->CR3_TARGET_VALUE0, v->CR3_TARGET_VALUE1, v->CR3_TARGET_VALUE2,
                                   v->CR3_TARGET_VALUE3};
            uint32_t n = v->CR3_TARGET_COUNT < 4u ? v->CR3_TARGET_COUNT : 4u;
            for (uint32_t i = 0; i < n; i++)
                if (t[i] == val) {
                    *field = VCORE_VMCS_CR3_TARGET_VALUE0 + 2u * i;
                    return false;
                }
            return true;
        }
        *field = VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL;
        return cr == 8 && (proc & PROC_CR8_LOAD);
    case 1: /* MOV from CR: CR0/CR4 reads never exit (they read the shadow) */
        *field = VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL;
        return (cr == 3 && (proc & PROC_CR3_STORE)) || (cr == 8 && (proc & PROC_CR8_STORE));
    case 2: /* CLTS: CR0.TS owned by L1 and set in its shadow */
        *field = VCORE_VMCS_CR0_GUEST_HOST_MASK;
        return (v->CR0_GUEST_HOST_MASK & v->CR0_READ_SHADOW & VCORE__CR0_TS) != 0;
    default: { /* LMSW: PE can only be set; MP, EM, TS follow the source */
        uint64_t src = (e->qualification >> 16) & 0xfu;
        uint64_t mask = v->CR0_GUEST_HOST_MASK, shadow = v->CR0_READ_SHADOW;
        *field = VCORE_VMCS_CR0_GUEST_HOST_MASK;
        if ((mask & VCORE__CR0_PE) && !(shadow & VCORE__CR0_PE) && (src & VCORE__CR0_PE))
            return true;
        return ((src ^ shadow) & mask & 0xeu) != 0;
    }
    }
}

/* SDM "Exception Bitmap": #PF consults the error-code mask and match. */
static bool nvmx_reflect_exception(const vcore__vmcs12_t *v, const vcore_nvmx_l2_exit_t *e, uint32_t *field)
{
    uint32_t vector = e->intr_info & 0xffu;
    uint32_t type = (e->intr_info >> 8) & 7u;
    if (type == 2u) { /* NMI */
        *field = VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL;
        return (v->PIN_BASED_VM_EXEC_CONTROL & PIN_NMI_EXITING) != 0;
    }
    *field = VCORE_VMCS_EXCEPTION_BITMAP;
    bool bit = vector < 32u && ((v->EXCEPTION_BITMAP >> vector) & 1u);
    if (vector != VCORE__VEC_PF)
        return bit;
    *field = VCORE_VMCS_PAGE_FAULT_ERROR_CODE_MATCH;
    bool match = (e->intr_error & v->PAGE_FAULT_ERROR_CODE_MASK) == v->PAGE_FAULT_ERROR_CODE_MATCH;
    return bit ? match : !match;
}

bool vcore__nvmx_exit_reads_l1(uint32_t reason)
{
    const vcore_nvmx_rule_info_t *row = nvmx_reflect_row(VCORE_VMX_EXIT_REASON_BASIC(reason));
    return row && (row->kind == VCORE_NVMX_RULE_IO || row->kind == VCORE_NVMX_RULE_MSR);
}

int vcore_nvmx_exit_owner(const vcore_nvmx_t *nvmx, const vcore_nvmx_mem_t *mem, const vcore_nvmx_l2_exit_t *e,
                          vcore_nvmx_decision_t *out)
{
    if (!vcore__nvmx_ok(nvmx) || !mem || !e || !out)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(e) || !VCORE__SIZE_OK(out) || !VCORE__SIZE_OK(mem))
        return VCORE_ERR_ABI;
    if (nvmx->current_vmptr == VCORE__INVALID_PTR)
        return VCORE_ERR_STATE;
    vcore__nvmx_exit_owner(nvmx, mem, e, out);
    return VCORE_OK;
}

void vcore__nvmx_exit_owner(const vcore_nvmx_t *nvmx, const vcore_nvmx_mem_t *mem, const vcore_nvmx_l2_exit_t *e,
                            vcore_nvmx_decision_t *out)
{
    const vcore__vmcs12_t *v = V12(nvmx);
    const vcore_nvmx_rule_info_t *row = nvmx_reflect_row(VCORE_VMX_EXIT_REASON_BASIC(e->reason));
    out->owner = VCORE_NVMX_OWNER_L0;
    out->kind = row ? row->kind : VCORE_NVMX_RULE_L0;
    out->arg = row ? row->arg : 0;
    out->field = 0;
    bool l1 = false;
    uint32_t f = 0;
    uint32_t proc = v->CPU_BASED_VM_EXEC_CONTROL;
    /* "Secondary Processor-Based VM-Execution Controls": without
     * "activate secondary controls" they all act as 0. */
    uint32_t proc2 = (proc & VCORE_VMX_PROC_ACTIVATE_SECONDARY) ? v->SECONDARY_VM_EXEC_CONTROL : 0u;
    switch (out->kind) {
    case VCORE_NVMX_RULE_ALWAYS:
        l1 = true;
        break;
    case VCORE_NVMX_RULE_PIN:
        f = VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL;
        l1 = (v->PIN_BASED_VM_EXEC_CONTROL >> out->arg) & 1u;
        break;
    case VCORE_NVMX_RULE_PROC:
        f = VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL;
        l1 = (proc >> out->arg) & 1u;
        /* "Injection of Pending MTF VM Exits": L1's entry injecting type 7
         * (other event), vector 0, makes the MTF VM exit after it L1's
         * "even if the 'monitor trap flag' VM-execution control is 0"
         * (vmcs12's valid bit stays set until the exit to L1). */
        if (!l1 && VCORE_VMX_EXIT_REASON_BASIC(e->reason) == VCORE_VMX_EXIT_MONITOR_TRAP_FLAG &&
            (v->VM_ENTRY_INTR_INFO_FIELD & NVMX_INTR_VALID_TYPE_VECTOR) == NVMX_INTR_PENDING_MTF) {
            f = VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD;
            l1 = true;
        }
        break;
    case VCORE_NVMX_RULE_PROC2:
        f = VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL;
        l1 = (proc2 >> out->arg) & 1u;
        break;
    case VCORE_NVMX_RULE_EXCEPTION:
        l1 = nvmx_reflect_exception(v, e, &f);
        break;
    case VCORE_NVMX_RULE_IO:
        l1 = nvmx_reflect_io(v, mem, e->qualification, &f);
        break;
    case VCORE_NVMX_RULE_MSR:
        l1 = nvmx_reflect_msr(v, mem, e->msr_index,
                              VCORE_VMX_EXIT_REASON_BASIC(e->reason) == VCORE_VMX_EXIT_WRMSR, &f);
        break;
    case VCORE_NVMX_RULE_CR:
        l1 = nvmx_reflect_cr(v, e, &f);
        break;
    case VCORE_NVMX_RULE_INVPCID:
        f = VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL;
        l1 = (proc & PROC_INVLPG) && (proc2 & PROC2_INVPCID);
        break;
    case VCORE_NVMX_RULE_PAUSE:
        f = VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL;
        l1 = (proc & PROC_PAUSE) != 0;
        if (!l1 && (proc2 & PROC2_PAUSE_LOOP) && e->cpl == 0) {
            f = VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL;
            l1 = true;
        }
        break;
    case VCORE_NVMX_RULE_L1_EPT:
        f = VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL;
        l1 = (proc2 & PROC2_EPT) != 0;
        break;
    case VCORE_NVMX_RULE_VMCS_SHADOW:
        f = VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL;
        l1 = !((proc2 >> out->arg) & 1u);
        break;
    default:
        break;
    }
    out->owner = l1 ? VCORE_NVMX_OWNER_L1 : VCORE_NVMX_OWNER_L0;
    out->field = f;
}

/* ---- control merge ---- */
enum { NVMX_M_L1, NVMX_M_L0, NVMX_M_OR, NVMX_M_ONE, NVMX_M_ZERO, NVMX_M_CR8, NVMX_M_TIMER, NVMX_M_REFUSED };

typedef struct nvmx_ctl_rule {
    uint8_t word;
    uint8_t bit;
    uint8_t rule;
} nvmx_ctl_rule_t;

static const nvmx_ctl_rule_t nvmx_ctl_rules[] = {
#define NVMX_CTL_ROW(w, b, r, why) {(w), (b), NVMX_M_##r},
    VCORE_NVMX_CTL_RULES(NVMX_CTL_ROW)
#undef NVMX_CTL_ROW
};

void vcore_nvmx_merge_controls(const uint32_t l1[5], const uint32_t l0[5], uint32_t out[5])
{
    for (uint32_t w = 0; w < 5; w++)
        out[w] = l1[w];
    out[3] = l0[3]; /* VM-exit controls describe L0's host state */
    for (size_t i = 0; i < VCORE__ARRAY_SIZE(nvmx_ctl_rules); i++) {
        const nvmx_ctl_rule_t *r = &nvmx_ctl_rules[i];
        uint32_t m = 1u << r->bit;
        uint32_t a = l1[r->word] & m, b = l0[r->word] & m, v;
        switch (r->rule) {
        case NVMX_M_L0:
            v = b;
            break;
        case NVMX_M_OR:
            v = a | b;
            break;
        case NVMX_M_ONE:
            v = m;
            break;
        case NVMX_M_ZERO:
        case NVMX_M_REFUSED: /* never in a vmcs12 that passed the checks */
            v = 0;
            break;
        case NVMX_M_CR8:
            /* CVE-2017-12154 class: without L1's TPR shadow, L2's CR8 is
             * L1's TPR, which L0 owns. With it, L2's CR8 is VTPR ("Virtualizing
             * CR8-Based TPR Accesses"): L0's reasons to intercept CR8 (L1's
             * TPR) do not apply and only L1 decides. */
            v = (l1[1] & PROC_TPR_SHADOW) ? a : m;
            break;
        case NVMX_M_TIMER:
            /* "VMX-Preemption Timer": the timer counts down only while L2
             * runs and each VM entry loads it from vmcs02. Saving it at every
             * exit lets an exit L0 handles itself (never seen by L1) resume
             * L2 with what is left, instead of starting L1's timer again. */
            v = (l1[0] & PIN_PREEMPTION_TIMER) ? m : 0u;
            break;
        default:
            v = a;
            break;
        }
        out[r->word] = (out[r->word] & ~m) | v;
    }
    /* The secondary controls only count when activated: keep the word
     * consistent with bit 31 ("Secondary Processor-Based VM-Execution Controls"). */
    if (!(out[1] & VCORE_VMX_PROC_ACTIVATE_SECONDARY))
        out[2] = 0;
}

bool vcore_nvmx_msr_bitmap_pos(uint32_t msr, bool write, uint32_t *byte, uint32_t *bit)
{
    uint32_t base;
    if (msr <= 0x1fffu)
        base = 0;
    else if (msr >= 0xc0000000u && msr <= 0xc0001fffu)
        base = 1024u;
    else
        return false;
    uint32_t n = msr & 0x1fffu;
    *byte = base + (write ? 2048u : 0u) + n / 8u;
    *bit = n % 8u;
    return true;
}

/* ---- options and report ---- */
int vcore_nvmx_set_options(vcore_nvmx_t *nvmx, uint32_t flags)
{
    const uint32_t known = VCORE_NVMX_OPT_EARLY_HW_CHECK | VCORE_NVMX_OPT_NO_DIRTY_SPLIT |
                           VCORE_NVMX_OPT_EAGER_RARE_SYNC | VCORE_NVMX_OPT_ALL_CHECKS |
                           VCORE_NVMX_OPT_VERIFY_CHECKS | VCORE_NVMX_OPT_NO_HW_SHADOW |
                           VCORE_NVMX_OPT_NO_FAST_PATH | VCORE_NVMX_OPT_NO_FAST_ENTRY;
    if (!vcore__nvmx_ok(nvmx) || (flags & ~known))
        return VCORE_ERR_INVAL;
    nvmx->opts = flags | (nvmx->opts & VCORE__NVMX_OPT_INTERNAL);
    /* VMCS shadowing follows the option before L1 runs again. */
    if (nvmx->hw_mask)
        nvmx->hw_sync = true;
    vcore__nvmx_shadow_stale_all(nvmx);
    return VCORE_OK;
}

int vcore_nvmx_test_skip_check(vcore_nvmx_t *nvmx, uint32_t check)
{
    if (!vcore__nvmx_ok(nvmx))
        return VCORE_ERR_INVAL;
    nvmx->skip_check = check;
    return VCORE_OK;
}

int vcore_nvmx_last(const vcore_nvmx_t *nvmx, vcore_nvmx_last_t *out)
{
    if (!vcore__nvmx_ok(nvmx) || !out)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(out))
        return VCORE_ERR_ABI;
    *out = nvmx->last;
    out->size = sizeof(*out);
    out->in_l2 = nvmx->in_l2;
    return VCORE_OK;
}
