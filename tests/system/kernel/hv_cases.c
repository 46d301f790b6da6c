/*
 * hv_cases.c - Hyper-V PV IPI and PV TLB flush proven with guests, on the
 * backend the kernel names (hv_case.h: the VMX kernel runs it on the vmx
 * backend, the SVM kernel on the svm backend): one VM of 9 vCPUs scheduled
 * round-robin on this one processor by the kernel (each vCPU runs until it
 * halts).
 *
 * VP indexes: vCPUs 0, 1, 2, 4, 5, 8 keep VP index = vCPU id; vCPU 3 is VP
 * 40 (inside a 64-bit mask), vCPU 6 VP 130 (bank 2), vCPU 7 VP 4033 (bank
 * 63), so the sparse set {5, 130, 4033} spans banks 0, 2 and 63.
 *
 * Every expected value comes from the TLFS ("Hypercall Interface",
 * "HvCallSendSyntheticClusterIpi(Ex)", "HvCallFlushVirtualAddress*",
 * "HV_VP_SET", "Hypercall Status Codes"): result value = status in bits
 * 15:0, reps completed in bits 43:32 for rep calls; targets receive the
 * vector (the guest handler counts it) or have their stale translation
 * gone when the call returns, and no one else is touched.
 *
 * Guest memory (2 MiB, identity mapped with 4 KiB pages, plus PT2 for the
 * probe addresses 400000H + k * 1000H which map page A or page B):
 *   1000H PML4  2000H PDPT  3000H PD  4000H PT (0-2 MiB)  5000H PT2
 *   6000H hypercall page  7000H GDT  8000H IDT  10000H code
 *   20000H + 1000H * i   stack of vCPU i (top)
 *   60000H page A, 61000H page B
 *   70000H + 1000H * i   hypercall input page of vCPU i
 *   80000H + 100H * i    parameter block of vCPU i (hv_guest.S)
 *   90000H + 400H * i    interrupt counts of vCPU i, one dword per vector
 */
#include "hv_case.h"

#include "virtcore/backend.h"

enum { VTK_PASS = 0, VTK_FAIL = 1 };

/* Detail text of the result. */
typedef struct hv_why {
    char *buf;
    size_t cap, len;
} vtk_why_t;

static void vtk_why_str(vtk_why_t *w, const char *s)
{
    while (*s && w->len + 1 < w->cap)
        w->buf[w->len++] = *s++;
    w->buf[w->len] = '\0';
}

static void vtk_why_hex(vtk_why_t *w, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[19];
    int n = 0, i;
    tmp[n++] = '0';
    tmp[n++] = 'x';
    for (i = 60; i > 0 && ((v >> i) & 0xf) == 0; i -= 4)
        ;
    for (; i >= 0; i -= 4)
        tmp[n++] = digits[(v >> i) & 0xf];
    tmp[n] = '\0';
    vtk_why_str(w, tmp);
}

#define HV_NV 9u
#define HV_RAM (2u << 20)
#define HV_CODE 0x10000ull
#define HV_PT2 0x5000ull
#define HV_HCPAGE 0x6000ull
#define HV_GDT 0x7000ull
#define HV_IDT 0x8000ull
#define HV_PAGE_A 0x60000ull
#define HV_PAGE_B 0x61000ull
#define HV_INPUT(i) (0x70000ull + 0x1000ull * (i))
#define HV_PARAM(i) (0x80000ull + 0x100ull * (i))
#define HV_COUNTS(i) (0x90000ull + 0x400ull * (i))
#define HV_PROBE(k) (0x400000ull + 0x1000ull * (k))
#define HV_VAL_A 0xaaaa0000aaaa0000ull
#define HV_VAL_B 0xbbbb0000bbbb0000ull

/* TLFS status codes ("Hypercall Status Codes"). */
#define ST_SUCCESS 0x0000u
#define ST_INVALID_HYPERCALL_CODE 0x0002u
#define ST_INVALID_HYPERCALL_INPUT 0x0003u
#define ST_INVALID_ALIGNMENT 0x0004u
#define ST_INVALID_PARAMETER 0x0005u
/* Call codes ("Hypercall Reference"). */
#define C_FLUSH_SPACE 0x0002u
#define C_FLUSH_LIST 0x0003u
#define C_IPI 0x000bu
#define C_FLUSH_SPACE_EX 0x0013u
#define C_FLUSH_LIST_EX 0x0014u
#define C_IPI_EX 0x0015u
/* Hypercall input value bits ("Hypercall Inputs"). */
#define CTL_FAST (1ull << 16)
#define CTL_VAR(n) ((uint64_t)(n) << 17)
#define CTL_REP(n) ((uint64_t)(n) << 32)

enum { F_MEM = 0, F_FAST = 1, F_XMM = 2 };

extern const uint8_t ghv[], ghv_end[], ghv_setup[], ghv_call[], ghv_probe[], ghv_idle[], ghv_stubs[];

static const uint32_t hv_vp[HV_NV] = {0, 1, 2, 40, 4, 5, 130, 4033, 8};

typedef struct hv_env {
    vcore_vm_t *vm;
    vcore_vcpu_t *v[HV_NV];
    uint8_t *ram;
    uint32_t exp[HV_NV][256];  /* interrupts each vCPU must have counted */
    uint32_t flushes[HV_NV];   /* vcpu_flush_tlb ops performed per vCPU */
    uint32_t last_kind[HV_NV];
    uint32_t last_count[HV_NV];
    uint64_t last_range[HV_NV];
    uint32_t calls[3];         /* successful hypercalls per form */
    uint32_t refused;          /* refused hypercalls */
    uint32_t ipis;             /* interrupts counted by guests */
    uint32_t flush_ops;        /* backend flush ops performed */
    uint32_t stale_seen, stale_chances;
    uint32_t sender_stale, sender_chances, self_checked;
    uint32_t inrun_stale, inrun_chances;
    uint32_t runs;             /* vcore_vcpu_run calls */
} hv_env_t;

static hv_env_t *hv_cur;
static const hv_case_cfg_t *hv_cfg;
static vcore_backend_t hv_ops;

/* The backend's flush op, counted: what each target was asked to do. */
static int hv_flush_counted(vcore_vcpu_t *vcpu, void *priv, const vcore_tlb_flush_t *req)
{
    uint32_t id = vcore_vcpu_id(vcpu);
    if (hv_cur && id < HV_NV) {
        hv_cur->flushes[id]++;
        hv_cur->flush_ops++;
        hv_cur->last_kind[id] = req->kind;
        hv_cur->last_count[id] = req->count;
        hv_cur->last_range[id] = req->count ? req->ranges[0] : 0;
    }
    return hv_cfg->backend->vcpu_flush_tlb(vcpu, priv, req);
}

#define EXPECT(cond, msg, val)                                                                      \
    do {                                                                                            \
        if (!(cond)) {                                                                              \
            vtk_why_str(why, msg);                                                                  \
            vtk_why_str(why, " ");                                                                  \
            vtk_why_hex(why, (uint64_t)(val));                                                      \
            return VTK_FAIL;                                                                        \
        }                                                                                           \
    } while (0)
#define TRY(expr)                                                                                   \
    do {                                                                                            \
        int r_ = (expr);                                                                            \
        if (r_ != VTK_PASS)                                                                         \
            return r_;                                                                              \
    } while (0)

static uint64_t *hv_q(hv_env_t *h, uint64_t gpa)
{
    return (uint64_t *)(void *)(h->ram + gpa);
}

static vcore_x86_segment_t hv_seg(uint16_t sel, uint32_t ar)
{
    vcore_x86_segment_t s;
    memset(&s, 0, sizeof(s));
    s.selector = sel;
    s.limit = 0xffffffffu;
    s.ar = ar;
    return s;
}

/* Guest memory: page tables, GDT, IDT with one gate per stub, code. */
static void hv_memory(hv_env_t *h)
{
    memset(h->ram, 0, HV_RAM);
    uint64_t *pml4 = hv_q(h, 0x1000), *pdpt = hv_q(h, 0x2000), *pd = hv_q(h, 0x3000);
    uint64_t *pt = hv_q(h, 0x4000);
    pml4[0] = 0x2000 | 3;
    pdpt[0] = 0x3000 | 3;
    pd[0] = 0x4000 | 3;
    pd[2] = HV_PT2 | 3;
    for (uint64_t i = 0; i < 512; i++)
        pt[i] = (i << 12) | 3;
    uint64_t *gdt = hv_q(h, HV_GDT);
    gdt[1] = 0x00209a0000000000ull; /* 64-bit code, DPL 0 */
    gdt[2] = 0x0000920000000000ull; /* data */
    uint64_t code = HV_CODE, stubs = HV_CODE + (uint64_t)(ghv_stubs - ghv);
    memcpy(h->ram + code, ghv, (size_t)(ghv_end - ghv));
    uint64_t *idt = hv_q(h, HV_IDT);
    for (uint64_t v = 0; v < 256; v++) {
        uint64_t off = stubs + 16 * v;
        /* 64-bit interrupt gate: offset 15:0, selector 08H, P DPL0 type EH, offset 63:16. */
        idt[2 * v] = (off & 0xffff) | (0x08ull << 16) | (0x8eull << 40) | ((off >> 16 & 0xffff) << 48);
        idt[2 * v + 1] = off >> 32;
    }
    hv_q(h, HV_PAGE_A)[0] = HV_VAL_A;
    hv_q(h, HV_PAGE_B)[0] = HV_VAL_B;
}

static int hv_sregs(hv_env_t *h, uint32_t i, vtk_why_t *why)
{
    vcore_x86_sregs_t sr;
    sr.size = sizeof(sr);
    EXPECT(vcore_vcpu_get_sregs(h->v[i], &sr) == 0, "get_sregs", i);
    uint32_t data_ar = VCORE_X86_AR_P | VCORE_X86_AR_S | 3u | VCORE_X86_AR_DB | VCORE_X86_AR_G;
    for (unsigned s = 0; s < VCORE_X86_NR_SEGS; s++)
        sr.seg[s] = hv_seg(0x10, data_ar);
    sr.seg[VCORE_X86_CS] = hv_seg(0x08, VCORE_X86_AR_P | VCORE_X86_AR_S | 0xbu | VCORE_X86_AR_L | VCORE_X86_AR_G);
    sr.seg[VCORE_X86_LDTR] = hv_seg(0, VCORE_X86_AR_UNUSABLE);
    sr.seg[VCORE_X86_LDTR].limit = 0;
    sr.seg[VCORE_X86_TR] = hv_seg(0x18, VCORE_X86_AR_P | 0xbu);
    sr.seg[VCORE_X86_TR].limit = 0x67;
    sr.gdtr.base = HV_GDT;
    sr.gdtr.limit = 0x1f;
    sr.idtr.base = HV_IDT;
    sr.idtr.limit = 0xfff;
    sr.cr0 = 0x80000031ull; /* PG, NE, ET, PE */
    sr.cr3 = 0x1000;
    sr.cr4 = 0x2a0;         /* OSFXSR (MOVDQU), PGE, PAE */
    sr.efer = 0x500;        /* LMA, LME */
    EXPECT(vcore_vcpu_set_sregs(h->v[i], &sr) == 0, "set_sregs", i);
    return VTK_PASS;
}

/* Runs vCPU i at a job until it halts (the scheduler's slice). */
static int hv_job(hv_env_t *h, uint32_t i, const uint8_t *job, uint64_t rbx, uint64_t rsi, uint64_t rflags,
                  uint64_t *rax, vtk_why_t *why)
{
    vcore_x86_regs_t r;
    r.size = sizeof(r);
    EXPECT(vcore_vcpu_get_regs(h->v[i], &r) == 0, "get_regs", i);
    r.rip = HV_CODE + (uint64_t)(job - ghv);
    r.rflags = rflags;
    r.gpr[VCORE_X86_RSP] = 0x20000ull + 0x1000ull * (i + 1);
    r.gpr[VCORE_X86_RBX] = rbx;
    r.gpr[VCORE_X86_RSI] = rsi;
    r.gpr[15] = i;
    EXPECT(vcore_vcpu_set_regs(h->v[i], &r) == 0, "set_regs", i);
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    for (uint32_t budget = 0; budget < 64; budget++) {
        int err = vcore_vcpu_run(h->v[i], &e);
        h->runs++;
        if (err) {
            vtk_why_str(why, "run error ");
            vtk_why_str(why, vcore_err_name(err));
            vtk_why_str(why, " vcpu ");
            vtk_why_hex(why, i);
            return VTK_FAIL;
        }
        if (e.reason == VCORE_EXIT_HLT) {
            if (rax) {
                EXPECT(vcore_vcpu_get_regs(h->v[i], &r) == 0, "get_regs", i);
                *rax = r.gpr[VCORE_X86_RAX];
            }
            return VTK_PASS;
        }
        if (e.reason == VCORE_EXIT_IRQ_WINDOW || e.reason == VCORE_EXIT_INTERRUPTED)
            continue;
        vtk_why_str(why, "exit ");
        vtk_why_str(why, vcore_exit_reason_name(e.reason));
        vtk_why_str(why, " vcpu ");
        vtk_why_hex(why, i);
        vtk_why_str(why, " raw ");
        vtk_why_hex(why, e.raw.reason);
        return VTK_FAIL;
    }
    EXPECT(0, "budget exhausted, vcpu", i);
}

/* Round-robin: every vCPU with a pending vector runs its idle job (one
 * vector delivered per entry, as the core's model of the APIC's IRR does)
 * until none is left; then every count must be what the calls asked for. */
static int hv_drain_and_check(hv_env_t *h, vtk_why_t *why)
{
    for (uint32_t round = 0; round < 64; round++) {
        bool any = false;
        for (uint32_t i = 0; i < HV_NV; i++) {
            /* Pending in the IRR model, or already moved into the event
             * state (a vector raised while the guest had IF = 0). */
            uint64_t p[4];
            EXPECT(vcore_hv_pending_vectors(h->v[i], p) == 0, "pending", i);
            vcore_x86_events_t ev;
            ev.size = sizeof(ev);
            EXPECT(vcore_vcpu_get_events(h->v[i], &ev) == 0, "events", i);
            if (!(p[0] | p[1] | p[2] | p[3]) && !ev.interrupt_pending && !ev.interrupt_injected)
                continue;
            any = true;
            TRY(hv_job(h, i, ghv_idle, 0, 0, 0x202, NULL, why));
        }
        if (!any)
            break;
    }
    uint32_t total = 0;
    for (uint32_t i = 0; i < HV_NV; i++) {
        const uint32_t *cnt = (const uint32_t *)(const void *)(h->ram + HV_COUNTS(i));
        for (uint32_t vec = 0; vec < 256; vec++) {
            if (cnt[vec] != h->exp[i][vec]) {
                vtk_why_str(why, "vcpu ");
                vtk_why_hex(why, i);
                vtk_why_str(why, " vector ");
                vtk_why_hex(why, vec);
                vtk_why_str(why, " counted ");
                vtk_why_hex(why, cnt[vec]);
                vtk_why_str(why, " want ");
                vtk_why_hex(why, h->exp[i][vec]);
                return VTK_FAIL;
            }
            total += cnt[vec];
        }
    }
    h->ipis = total;
    return VTK_PASS;
}

/* One hypercall from vCPU s: the input block q (as memory would hold it)
 * goes to the input page (memory form), or to RDX, R8 and XMM0-XMM5 (fast
 * forms). pte/pteval: a PTE the guest writes just before the call. */
static int hv_call(hv_env_t *h, uint32_t s, uint32_t code, int form, const uint64_t *q, uint32_t nq,
                   uint64_t ctl_extra, uint64_t pte, uint64_t pteval, uint64_t probe, uint64_t *result,
                   vtk_why_t *why)
{
    uint64_t *p = hv_q(h, HV_PARAM(s));
    memset(p, 0, 0x100);
    uint64_t ctl = code | ctl_extra;
    if (form == F_MEM) {
        uint64_t *in = hv_q(h, HV_INPUT(s));
        for (uint32_t k = 0; k < nq; k++)
            in[k] = q[k];
        p[13] = HV_INPUT(s); /* RDX: input GPA */
        p[14] = 0;           /* R8: no output */
    } else {
        ctl |= CTL_FAST;
        p[13] = nq > 0 ? q[0] : 0;
        p[14] = nq > 1 ? q[1] : 0;
        for (uint32_t k = 2; k < nq; k++)
            p[k - 2] = q[k]; /* XMM0.lo, XMM0.hi, XMM1.lo, ... */
    }
    p[12] = ctl;       /* RCX */
    p[15] = HV_HCPAGE; /* the hypercall page */
    p[17] = pte;
    p[18] = pteval;
    TRY(hv_job(h, s, ghv_call, HV_PARAM(s), probe, 2, NULL, why));
    *result = p[16];
    return VTK_PASS;
}

static int hv_expect_status(hv_env_t *h, uint64_t got, uint64_t want, int form, const char *what, vtk_why_t *why)
{
    if (got != want) {
        vtk_why_str(why, what);
        vtk_why_str(why, " result ");
        vtk_why_hex(why, got);
        vtk_why_str(why, " want ");
        vtk_why_hex(why, want);
        return VTK_FAIL;
    }
    if ((want & 0xffff) == ST_SUCCESS)
        h->calls[form]++;
    else
        h->refused++;
    return VTK_PASS;
}

/* The vCPUs holding the VP indexes of a 64-bit mask / of a list of VPs. */
static uint32_t hv_targets_of_vps(const uint32_t *vps, uint32_t n)
{
    uint32_t t = 0;
    for (uint32_t k = 0; k < n; k++)
        for (uint32_t i = 0; i < HV_NV; i++)
            if (hv_vp[i] == vps[k])
                t |= 1u << i;
    return t;
}

/* An IPI call that succeeds: each target counts the vector once more. */
static int hv_ipi(hv_env_t *h, uint32_t s, uint32_t code, int form, const uint64_t *q, uint32_t nq,
                  uint64_t ctl, uint32_t vector, uint32_t targets, const char *what, vtk_why_t *why)
{
    uint64_t res = 0;
    TRY(hv_call(h, s, code, form, q, nq, ctl, 0, 0, 0, &res, why));
    TRY(hv_expect_status(h, res, ST_SUCCESS, form, what, why));
    for (uint32_t i = 0; i < HV_NV; i++)
        if (targets & (1u << i))
            h->exp[i][vector]++;
    return hv_drain_and_check(h, why);
}

/* A flush call that succeeds, with probe address k: every vCPU but the
 * sender caches page A at HV_PROBE(k); the sender points the PTE at page B
 * and flushes. Non-targets read first (page A where their translation
 * survived: allowed, counted), then targets must read page B. Each target
 * had exactly one flush op of the expected kind, non-targets none. */
static int hv_flush(hv_env_t *h, uint32_t s, uint32_t code, int form, const uint64_t *q, uint32_t nq,
                    uint64_t ctl, uint32_t k, uint32_t targets, uint64_t want_result, uint32_t want_kind,
                    const char *what, vtk_why_t *why)
{
    uint64_t *pt2 = hv_q(h, HV_PT2);
    pt2[k] = HV_PAGE_A | 0x103; /* global, writable, present */
    for (uint32_t i = 0; i < HV_NV; i++) {
        if (i == s)
            continue;
        uint64_t v = 0;
        TRY(hv_job(h, i, ghv_probe, 0, HV_PROBE(k), 2, &v, why));
        EXPECT(v == HV_VAL_A, "probe before: vcpu", i);
    }
    uint32_t before[HV_NV];
    for (uint32_t i = 0; i < HV_NV; i++)
        before[i] = h->flushes[i];
    uint64_t res = 0;
    TRY(hv_call(h, s, code, form, q, nq, ctl, HV_PT2 + 8ull * k, HV_PAGE_B | 0x103, HV_PROBE(k), &res, why));
    TRY(hv_expect_status(h, res, want_result, form, what, why));
    /* The sender read page A before it changed the PTE, and again when the
     * call returned: "by the time control returns back to the caller, the
     * observable effects of all flushes on the specified virtual
     * processors have occurred" - a sender among the targets reads B; one
     * outside may still read A. */
    const uint64_t *pb = hv_q(h, HV_PARAM(s));
    EXPECT(pb[19] == HV_VAL_A, "sender before", pb[19]);
    /* Right after its own PTE store, without INVLPG, the sender may read
     * either page ("Invalidation of TLBs and Paging-Structure Caches"):
     * counted, to show whether the emulator's TLB keeps entries at all. */
    EXPECT(pb[21] == HV_VAL_A || pb[21] == HV_VAL_B, "sender after store", pb[21]);
    h->inrun_chances++;
    if (pb[21] == HV_VAL_A)
        h->inrun_stale++;
    if ((targets >> s) & 1u) {
        EXPECT(pb[20] == HV_VAL_B, "stale translation on the sender, a target", pb[20]);
        EXPECT(h->flushes[s] == before[s] + 1, "flush ops on the sender", h->flushes[s] - before[s]);
        h->self_checked++;
    } else {
        EXPECT(pb[20] == HV_VAL_A || pb[20] == HV_VAL_B, "sender after", pb[20]);
        EXPECT(h->flushes[s] == before[s], "flush op on the sender", h->flushes[s] - before[s]);
        h->sender_chances++;
        if (pb[20] == HV_VAL_A)
            h->sender_stale++;
    }
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t i = 0; i < HV_NV; i++) {
            bool target = (targets >> i) & 1u;
            if (i == s || target != (pass == 1))
                continue;
            uint64_t v = 0;
            TRY(hv_job(h, i, ghv_probe, 0, HV_PROBE(k), 2, &v, why));
            if (target) {
                EXPECT(v == HV_VAL_B, "stale translation on target vcpu", i);
                EXPECT(h->flushes[i] == before[i] + 1, "flush ops on target vcpu", i);
                EXPECT(h->last_kind[i] == want_kind, "flush kind on target vcpu", h->last_kind[i]);
                if (want_kind == VCORE_TLB_FLUSH_LIST)
                    EXPECT(h->last_count[i] == 1 && h->last_range[i] == HV_PROBE(k), "flush range",
                           h->last_range[i]);
            } else {
                EXPECT(v == HV_VAL_A || v == HV_VAL_B, "probe value", v);
                EXPECT(h->flushes[i] == before[i], "flush op on non-target vcpu", i);
                h->stale_chances++;
                if (v == HV_VAL_A)
                    h->stale_seen++;
            }
        }
    }
    return VTK_PASS;
}

/* A refused call: the TLFS status, no reps, nothing delivered or flushed. */
static int hv_refused(hv_env_t *h, uint32_t s, uint32_t code, int form, const uint64_t *q, uint32_t nq,
                      uint64_t ctl, uint32_t status, const char *what, vtk_why_t *why)
{
    uint32_t ops = h->flush_ops;
    uint64_t res = 0;
    TRY(hv_call(h, s, code, form, q, nq, ctl, 0, 0, 0, &res, why));
    TRY(hv_expect_status(h, res, status, form, what, why));
    TRY(hv_drain_and_check(h, why));
    EXPECT(h->flush_ops == ops, "a refused call flushed", h->flush_ops - ops);
    return VTK_PASS;
}

static int hv_setup(hv_env_t *h, vtk_why_t *why)
{
    EXPECT(hv_cfg->backend && hv_cfg->backend->vcpu_flush_tlb, "backend without vcpu_flush_tlb", 0);
    hv_ops = *hv_cfg->backend;
    hv_ops.vcpu_flush_tlb = hv_flush_counted;
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = &hv_ops;
    cfg.host = hv_cfg->host;
    cfg.max_vcpus = HV_NV;
    int err = vcore_vm_create(&cfg, &h->vm);
    EXPECT(err == 0, "vm_create", (uint64_t)(int64_t)err);
    vcore_hv_config_t hc;
    vcore_hv_config_init(&hc);
    err = vcore_hv_enable(h->vm, &hc);
    EXPECT(err == 0, "hv_enable", (uint64_t)(int64_t)err);
    EXPECT(vcore_hv_features(h->vm) == VCORE_HV_F_ALL, "features", vcore_hv_features(h->vm));
    h->ram = vtk_alloc_2m(1);
    EXPECT(h->ram != NULL, "ram", 0);
    vcore_mem_region_t r = {sizeof(r), 0, HV_RAM, h->ram, 0};
    EXPECT(vcore_vm_map_memory(h->vm, &r) == 0, "map", 0);
    hv_memory(h);
    for (uint32_t i = 0; i < HV_NV; i++) {
        err = vcore_vcpu_create(h->vm, NULL, &h->v[i]);
        EXPECT(err == 0, "vcpu_create", i);
        EXPECT(hv_cfg->set_cpuid(h->v[i]) == 0, "cpuid", i);
        TRY(hv_sregs(h, i, why));
        if (hv_vp[i] != i)
            EXPECT(vcore_hv_set_msr(h->v[i], VCORE_HV_MSR_VP_INDEX, hv_vp[i]) == 0, "vp index", i);
    }
    EXPECT(vcore_hv_mismatched_vp_indexes(h->vm) == 3, "mismatched", vcore_hv_mismatched_vp_indexes(h->vm));
    /* The guest reports its identity and enables the hypercall page
     * ("Establishing the Hypercall Interface"). */
    uint64_t *p = hv_q(h, HV_PARAM(0));
    p[0] = 0x8100000000000000ull; /* GUEST_OS_ID: open source, non-zero */
    p[1] = HV_HCPAGE | 1;         /* HYPERCALL: GPFN, enable */
    TRY(hv_job(h, 0, ghv_setup, HV_PARAM(0), 0, 2, NULL, why));
    /* The page holds the vendor's hypercall instruction - VMCALL (0F 01 C1)
     * on Intel, VMMCALL (0F 01 D9) on AMD - then RET (C3). */
    const uint8_t *hc_page = h->ram + HV_HCPAGE;
    EXPECT(hc_page[0] == 0x0f && hc_page[1] == 0x01 && hc_page[2] == hv_cfg->hc_modrm && hc_page[3] == 0xc3,
           "hypercall page", hc_page[0] | hc_page[1] << 8 | hc_page[2] << 16 | (uint32_t)hc_page[3] << 24);
    return VTK_PASS;
}

static void hv_teardown(hv_env_t *h)
{
    for (uint32_t i = 0; i < HV_NV; i++)
        if (h->v[i])
            vcore_vcpu_destroy(h->v[i]);
    if (h->vm)
        vcore_vm_destroy(h->vm);
    h->vm = NULL;
    hv_cur = NULL;
}

/* The sparse set {5, 130, 4033}: banks 0, 2, 63 (HV_VP_SET, sparse 4K). */
#define SPARSE_MASK ((1ull << 0) | (1ull << 2) | (1ull << 63))
#define SPARSE_B0 (1ull << 5)
#define SPARSE_B2 (1ull << (130 - 128))
#define SPARSE_B63 (1ull << (4033 - 4032))

static int hv_ipis(hv_env_t *h, vtk_why_t *why)
{
    static const uint32_t m1[] = {1, 2, 40}, m2[] = {0, 4, 8}, sp[] = {5, 130, 4033}, sp2[] = {0, 40, 130};
    /* SendSyntheticClusterIpi, memory: Vector, TargetVtl 0, ProcessorMask. */
    uint64_t q[8] = {0x30, (1ull << 1) | (1ull << 2) | (1ull << 40)};
    TRY(hv_ipi(h, 0, C_IPI, F_MEM, q, 2, 0, 0x30, hv_targets_of_vps(m1, 3), "ipi mem", why));
    /* ... fast, from vCPU 1, to VPs 0, 4, 8. */
    q[0] = 0x31;
    q[1] = (1ull << 0) | (1ull << 4) | (1ull << 8);
    TRY(hv_ipi(h, 1, C_IPI, F_FAST, q, 2, 0, 0x31, hv_targets_of_vps(m2, 3), "ipi fast", why));
    /* SendSyntheticClusterIpiEx, memory: Vector, VP set {5, 130, 4033}. */
    uint64_t qe[6] = {0x40, 0, SPARSE_MASK, SPARSE_B0, SPARSE_B2, SPARSE_B63};
    TRY(hv_ipi(h, 0, C_IPI_EX, F_MEM, qe, 6, CTL_VAR(3), 0x40, hv_targets_of_vps(sp, 3), "ipi-ex mem", why));
    /* ... XMM fast, VP set {0, 40, 130}: banks 0 and 2. */
    uint64_t qx[5] = {0xfe, 0, (1ull << 0) | (1ull << 2), (1ull << 0) | (1ull << 40), SPARSE_B2};
    TRY(hv_ipi(h, 8, C_IPI_EX, F_XMM, qx, 5, CTL_VAR(2), 0xfe, hv_targets_of_vps(sp2, 3), "ipi-ex xmm", why));
    /* ... VP set format "all" (1), XMM fast: every vCPU, the sender too. */
    uint64_t qa[3] = {0x10, 1, 0};
    TRY(hv_ipi(h, 4, C_IPI_EX, F_XMM, qa, 3, 0, 0x10, (1u << HV_NV) - 1, "ipi-ex all", why));
    return VTK_PASS;
}

static int hv_flushes(hv_env_t *h, vtk_why_t *why)
{
    static const uint32_t m1[] = {1, 40, 8}, sp[] = {5, 130, 4033};
    uint32_t tm = hv_targets_of_vps(m1, 3), ts = hv_targets_of_vps(sp, 3);
    uint64_t mask = (1ull << 1) | (1ull << 40) | (1ull << 8);
    /* FlushVirtualAddressSpace: AddressSpace, Flags, ProcessorMask. */
    uint64_t q[8] = {0x1000, 0, mask};
    TRY(hv_flush(h, 0, C_FLUSH_SPACE, F_MEM, q, 3, 0, 0, tm, ST_SUCCESS, VCORE_TLB_FLUSH_ALL, "space mem", why));
    TRY(hv_flush(h, 2, C_FLUSH_SPACE, F_XMM, q, 3, 0, 1, tm & ~(1u << 2), ST_SUCCESS, VCORE_TLB_FLUSH_ALL,
                 "space xmm", why));
    /* FlushVirtualAddressList: the header, then one GVA range per rep
     * (0 additional pages); the result counts the reps completed. */
    q[3] = HV_PROBE(2);
    TRY(hv_flush(h, 0, C_FLUSH_LIST, F_MEM, q, 4, CTL_REP(1), 2, tm, CTL_REP(1), VCORE_TLB_FLUSH_LIST,
                 "list mem", why));
    q[3] = HV_PROBE(3);
    TRY(hv_flush(h, 0, C_FLUSH_LIST, F_XMM, q, 4, CTL_REP(1), 3, tm, CTL_REP(1), VCORE_TLB_FLUSH_LIST,
                 "list xmm", why));
    /* FlushVirtualAddressSpaceEx: AddressSpace, Flags, VP set. */
    uint64_t qe[8] = {0x1000, 0, 0, SPARSE_MASK, SPARSE_B0, SPARSE_B2, SPARSE_B63};
    TRY(hv_flush(h, 6, C_FLUSH_SPACE_EX, F_MEM, qe, 7, CTL_VAR(3), 4, ts, ST_SUCCESS, VCORE_TLB_FLUSH_ALL,
                 "space-ex mem", why));
    TRY(hv_flush(h, 1, C_FLUSH_SPACE_EX, F_XMM, qe, 7, CTL_VAR(3), 5, ts, ST_SUCCESS, VCORE_TLB_FLUSH_ALL,
                 "space-ex xmm", why));
    /* FlushVirtualAddressListEx: header, VP set, then the GVA ranges. */
    qe[7] = HV_PROBE(6);
    TRY(hv_flush(h, 0, C_FLUSH_LIST_EX, F_MEM, qe, 8, CTL_VAR(3) | CTL_REP(1), 6, ts, CTL_REP(1),
                 VCORE_TLB_FLUSH_LIST, "list-ex mem", why));
    qe[7] = HV_PROBE(7);
    TRY(hv_flush(h, 5, C_FLUSH_LIST_EX, F_XMM, qe, 8, CTL_VAR(3) | CTL_REP(1), 7, ts, CTL_REP(1),
                 VCORE_TLB_FLUSH_LIST, "list-ex xmm", why));
    /* ALL_PROCESSORS (flag bit 0) ignores the mask: every vCPU, the
     * sender too, is a target. */
    uint64_t qall[3] = {0x1000, 1, 0};
    TRY(hv_flush(h, 3, C_FLUSH_SPACE, F_XMM, qall, 3, 0, 8, (1u << HV_NV) - 1, ST_SUCCESS,
                 VCORE_TLB_FLUSH_ALL, "space all", why));
    return VTK_PASS;
}

/* One refusal of each TLFS status class the calls can return. */
static int hv_refusals(hv_env_t *h, vtk_why_t *why)
{
    uint64_t q[4] = {0x30, 1ull << 2};
    /* A call code the TLFS does not define: HV_STATUS_INVALID_HYPERCALL_CODE. */
    TRY(hv_refused(h, 0, 0x0fffu, F_FAST, q, 2, 0, ST_INVALID_HYPERCALL_CODE, "unknown code", why));
    /* A reserved bit (30:27 RsvdZ) of the input value: HV_STATUS_INVALID_HYPERCALL_INPUT. */
    TRY(hv_refused(h, 0, C_IPI, F_FAST, q, 2, 1ull << 27, ST_INVALID_HYPERCALL_INPUT, "reserved bit", why));
    /* A rep count on a simple call: HV_STATUS_INVALID_HYPERCALL_INPUT. */
    TRY(hv_refused(h, 0, C_IPI, F_FAST, q, 2, CTL_REP(1), ST_INVALID_HYPERCALL_INPUT, "rep on simple", why));
    /* Input GPA not 8-byte aligned: HV_STATUS_INVALID_ALIGNMENT. */
    {
        uint64_t res = 0;
        /* The memory form with the GPA moved by 4: written by hand. */
        uint64_t *in = hv_q(h, HV_INPUT(0));
        in[0] = 0x30;
        in[1] = 1ull << 2;
        uint64_t *pb = hv_q(h, HV_PARAM(0));
        memset(pb, 0, 0x100);
        pb[12] = C_IPI;
        pb[13] = HV_INPUT(0) + 4;
        pb[15] = HV_HCPAGE;
        TRY(hv_job(h, 0, ghv_call, HV_PARAM(0), 0, 2, NULL, why));
        res = pb[16];
        TRY(hv_expect_status(h, res, ST_INVALID_ALIGNMENT, F_MEM, "misaligned input", why));
        TRY(hv_drain_and_check(h, why));
    }
    /* NON_GLOBAL_MAPPINGS_ONLY on a List call ("an invalid option" there):
     * HV_STATUS_INVALID_PARAMETER. */
    uint64_t ql[4] = {0x1000, 4, 1ull << 1, HV_PROBE(9)};
    TRY(hv_refused(h, 0, C_FLUSH_LIST, F_XMM, ql, 4, CTL_REP(1), ST_INVALID_PARAMETER, "list non-global", why));
    /* Ex: the variable header size must be the number of banks (3 here, 2 given). */
    uint64_t qe[6] = {0x40, 0, SPARSE_MASK, SPARSE_B0, SPARSE_B2, SPARSE_B63};
    TRY(hv_refused(h, 0, C_IPI_EX, F_MEM, qe, 6, CTL_VAR(2), ST_INVALID_HYPERCALL_INPUT, "var header", why));
    return VTK_PASS;
}

int hv_case_run(const hv_case_cfg_t *cfg, char *detail, size_t cap)
{
    static hv_env_t h;
    vtk_why_t w = {detail, cap, 0}, *why = &w;
    detail[0] = '\0';
    memset(&h, 0, sizeof(h));
    hv_cfg = cfg;
    uint64_t cr4;
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | 0x80));
    hv_cur = &h;
    int r = hv_setup(&h, why);
    if (r == VTK_PASS)
        r = hv_ipis(&h, why);
    if (r == VTK_PASS)
        r = hv_flushes(&h, why);
    if (r == VTK_PASS)
        r = hv_refusals(&h, why);
    if (r == VTK_PASS) {
        vtk_puts("HVSTAT ");
        vtk_puts(cfg->backend->name);
        vtk_puts(" calls mem=");
        vtk_putdec(h.calls[F_MEM]);
        vtk_puts(" fast=");
        vtk_putdec(h.calls[F_FAST]);
        vtk_puts(" xmm=");
        vtk_putdec(h.calls[F_XMM]);
        vtk_puts(" refused=");
        vtk_putdec(h.refused);
        vtk_puts(" ipis_counted=");
        vtk_putdec(h.ipis);
        vtk_puts(" flush_ops=");
        vtk_putdec(h.flush_ops);
        vtk_puts(" nontarget_stale=");
        vtk_putdec(h.stale_seen);
        vtk_puts("/");
        vtk_putdec(h.stale_chances);
        vtk_puts(" sender_stale=");
        vtk_putdec(h.sender_stale);
        vtk_puts("/");
        vtk_putdec(h.sender_chances);
        vtk_puts(" inrun_stale=");
        vtk_putdec(h.inrun_stale);
        vtk_puts("/");
        vtk_putdec(h.inrun_chances);
        vtk_puts(" self_flush_checked=");
        vtk_putdec(h.self_checked);
        vtk_puts(" runs=");
        vtk_putdec(h.runs);
        vtk_puts("\n");
    }
    hv_teardown(&h);
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4));
    return r;
}
