/*
 * arm64_fake.c - strict fake of the arm64 EL2 primitives (see arm64_fake.h).
 */
#include "arm64_fake.h"

#include <check.h>
#include <string.h>

arm64_fake_t arm64_fake;

#define GENMASK(hi, lo) ((~0ull >> (63 - (hi))) & ~((1ull << (lo)) - 1ull))

void arm64_fake_reset(void)
{
    memset(&arm64_fake, 0, sizeof(arm64_fake));
    arm64_fake.current_el = 2;
    arm64_fake.mmfr0 = 0x0000032310201126ull; /* QEMU 7.2 -cpu max (shared/reference/emulators.md) */
    arm64_fake.mmfr1 = 0x0000011010211122ull; /* QEMU 7.2 -cpu max as read at EL2: VMIDBits 16, PAN, XNX */
    arm64_fake.host_hcr = 0;
    arm64_fake.vttbr_hw = 0;
}

uint64_t vcore__arm64_prim_current_el(void)
{
    arm64_fake.n_id++;
    return arm64_fake.current_el;
}

uint64_t vcore__arm64_prim_read_mmfr0(void)
{
    arm64_fake.n_id++;
    return arm64_fake.mmfr0;
}

uint64_t vcore__arm64_prim_read_mmfr1(void)
{
    arm64_fake.n_id++;
    return arm64_fake.mmfr1;
}

uint64_t vcore__arm64_prim_read_hcr(void)
{
    arm64_fake.n_id++;
    return arm64_fake.phase == A64F_IDLE ? arm64_fake.host_hcr : arm64_fake.el2.hcr;
}

void vcore__arm64_prim_el2_load(const vcore__arm64_el2_t *c)
{
    arm64_fake_t *f = &arm64_fake;
    f->n_el2_load++;
    ck_assert_msg(f->phase != A64F_RAN, "arm64_fake: EL2 controls changed before the guest's EL1 context was saved");
    /* HCR_EL2: VM (bit 0) and RW (bit 31) for an AArch64 EL1 guest under
     * stage 2; TGE (27) and E2H (34) would route the guest's exceptions to
     * EL2 / change the host's regime. */
    ck_assert_msg((c->hcr & 1u) && (c->hcr & (1ull << 31)), "arm64_fake: HCR_EL2 without VM or RW: 0x%llx",
                  (unsigned long long)c->hcr);
    ck_assert_msg(!(c->hcr & ((1ull << 27) | (1ull << 34))), "arm64_fake: HCR_EL2.TGE/E2H set");
    /* VTCR_EL2 bit 31 is RES1. */
    ck_assert_msg(c->vtcr & (1ull << 31), "arm64_fake: VTCR_EL2 RES1 bit 31 clear");
    /* CPTR_EL2 (E2H = 0): bits 13, 9 and 7:0 are RES1. */
    ck_assert_msg((c->cptr & 0x22ffu) == 0x22ffu, "arm64_fake: CPTR_EL2 RES1 bits clear");
    /* VMPIDR_EL2 bit 31 is RES1. */
    ck_assert_msg(c->vmpidr & (1ull << 31), "arm64_fake: VMPIDR_EL2 RES1 bit 31 clear");
    f->el2 = *c;
    f->vttbr_hw = c->vttbr;
    f->phase = A64F_EL2;
}

uint64_t vcore__arm64_prim_read_vttbr(void)
{
    arm64_fake.n_read_vttbr++;
    return arm64_fake.vttbr_hw;
}

void vcore__arm64_prim_el1_load(const vcore__arm64_el1_t *c)
{
    arm64_fake_t *f = &arm64_fake;
    f->n_el1_load++;
    ck_assert_msg(f->phase == A64F_EL2, "arm64_fake: EL1 context loaded without the vCPU's EL2 controls (phase %d)",
                  f->phase);
    /* The FP/SIMD registers are accessible at EL2 only with CPTR_EL2.TFP = 0. */
    ck_assert_msg(!(f->el2.cptr & (1u << 10)), "arm64_fake: FP/SIMD load with CPTR_EL2.TFP set would trap");
    f->el1 = *c;
    f->phase = A64F_EL1;
}

void vcore__arm64_prim_el1_save(vcore__arm64_el1_t *c)
{
    arm64_fake_t *f = &arm64_fake;
    f->n_el1_save++;
    ck_assert_msg(f->phase == A64F_RAN, "arm64_fake: EL1 context saved with no guest run before it");
    *c = f->el1;
    f->el1.cntv_ctl = 0; /* the primitive disables the guest's virtual timer */
    f->phase = A64F_SAVED;
}

uint64_t vcore__arm64_prim_enter(vcore__arm64_gprs_t *g)
{
    arm64_fake_t *f = &arm64_fake;
    f->n_enter++;
    ck_assert_msg(f->phase == A64F_EL1, "arm64_fake: guest entered without its EL1 context (phase %d)", f->phase);
    ck_assert_msg((g->pc & 3u) == 0, "arm64_fake: ERET to a misaligned PC 0x%llx", (unsigned long long)g->pc);
    uint64_t m = g->pstate & 0x1fu;
    ck_assert_msg(m == 0 || m == 4 || m == 5, "arm64_fake: SPSR_EL2.M 0x%llx is not EL0t/EL1t/EL1h",
                  (unsigned long long)m);
    ck_assert_msg(f->guest != NULL, "arm64_fake: no guest scripted for this entry");
    g->esr = g->far = g->hpfar = 0;
    uint64_t kind = f->guest(f, g, f->guest_arg);
    f->phase = A64F_RAN;
    return kind;
}

void vcore__arm64_prim_tlbi_local(void)
{
    arm64_fake_t *f = &arm64_fake;
    f->n_tlbi_local++;
    ck_assert_msg(f->phase == A64F_EL2, "arm64_fake: local TLBI before VTTBR_EL2 names the vCPU's VMID");
}

void vcore__arm64_prim_tlbi_s2(uint64_t vttbr, const vcore_arm64_s2_tlbi_t *req)
{
    arm64_fake_t *f = &arm64_fake;
    f->n_tlbi_s2++;
    ck_assert_msg(f->phase != A64F_RAN, "arm64_fake: TLBI between an exit and the EL1 save");
    ck_assert(req->scope == VCORE_ARM64_S2_TLBI_IPA || req->scope == VCORE_ARM64_S2_TLBI_VMID);
    if (req->scope == VCORE_ARM64_S2_TLBI_IPA)
        ck_assert_msg(req->stride && req->len && req->len % req->stride == 0 && (req->ipa & 0xfffu) == 0,
                      "arm64_fake: malformed TLBI by IPA");
    f->last_tlbi = *req;
    f->last_tlbi_vttbr = vttbr;
}

uint64_t vcore__arm64_prim_at_s1e1(uint64_t va, bool write)
{
    arm64_fake_t *f = &arm64_fake;
    f->n_at++;
    f->last_at_write = write;
    ck_assert_msg(f->phase == A64F_RAN || f->phase == A64F_SAVED, "arm64_fake: AT without the guest's EL1 registers live");
    ck_assert_msg(!(f->el1.sctlr & 1u), "arm64_fake: AT with the guest's stage 1 on is not modelled");
    /* Stage 1 off: the IPA is the VA. PAR_EL1: F = 0, SH[8:7] = 0b11, ATTR[63:56] = 0xff. */
    return (va & GENMASK(47, 12)) | (3ull << 7) | (0xffull << 56);
}

/* ---- the guest's view of stage 2 ---- */

arm64_fake_walk_t arm64_fake_s2_walk(uint64_t ipa)
{
    const arm64_fake_t *f = &arm64_fake;
    arm64_fake_walk_t w;
    memset(&w, 0, sizeof(w));
    uint64_t vtcr = f->el2.vtcr;
    unsigned t0sz = (unsigned)(vtcr & 0x3fu), sl0 = (unsigned)((vtcr >> 6) & 3u);
    unsigned tg0 = (unsigned)((vtcr >> 14) & 3u);
    unsigned g = tg0 == 0 ? 12 : tg0 == 1 ? 16 : 14;
    unsigned stride = g - 3;
    unsigned ipa_bits = 64 - t0sz;
    /* VTCR_EL2.SL0: 4KB 0 = level 2, 1 = level 1, 2 = level 0; 16KB/64KB 0 = 3, 1 = 2, 2 = 1, 3 = 0. */
    int level = g == 12 ? 2 - (int)sl0 : 3 - (int)sl0;
    ck_assert_msg(ipa >> ipa_bits == 0, "arm64_fake: IPA 0x%llx outside the %u-bit IPA space",
                  (unsigned long long)ipa, ipa_bits);
    const uint64_t *table = (const uint64_t *)(uintptr_t)(f->el2.vttbr & GENMASK(47, 1));
    bool start = true;
    for (;;) {
        unsigned shift = g + stride * (unsigned)(3 - level);
        uint64_t index = ipa >> shift;
        if (!start)
            index &= (1ull << stride) - 1u;
        start = false;
        uint64_t d = table[index];
        w.level = level;
        w.desc = d;
        if (!(d & 1u) || (level == 3 && !(d & 2u)))
            return w; /* invalid (or reserved at level 3): translation fault */
        if (level < 3 && (d & 2u)) {
            table = (const uint64_t *)(uintptr_t)(d & GENMASK(47, g));
            level++;
            continue;
        }
        ck_assert_msg(d & (1u << 10), "arm64_fake: leaf without AF (the walk would take an Access flag fault)");
        w.mapped = true;
        w.pa = (d & GENMASK(47, shift)) | (ipa & ((1ull << shift) - 1u));
        w.read = (d >> 6) & 1u;
        w.write = (d >> 7) & 1u;
        unsigned xn = (unsigned)((d >> 53) & 3u);
        w.exec_el1 = xn == 0 || xn == 3;
        return w;
    }
}

uint64_t arm64_fake_esr(uint32_t ec, uint32_t iss)
{
    return (uint64_t)ec << 26 | 1ull << 25 | iss; /* EC, IL (32-bit instruction), ISS */
}

bool arm64_fake_access(vcore__arm64_gprs_t *g, uint64_t ipa, uint32_t size, uint32_t reg, bool write,
                       bool sign_extend)
{
    arm64_fake_walk_t w = arm64_fake_s2_walk(ipa);
    bool ok = w.mapped && (write ? w.write : w.read);
    if (ok) {
        uint8_t *p = (uint8_t *)(uintptr_t)w.pa;
        uint64_t v = 0;
        if (write) {
            v = reg < 31 ? g->x[reg] : 0;
            memcpy(p, &v, size);
        } else {
            memcpy(&v, p, size);
            if (sign_extend && size < 8) {
                uint64_t s = 1ull << (8 * size - 1);
                v = (v ^ s) - s;
            }
            if (reg < 31)
                g->x[reg] = v;
        }
        return true;
    }
    /* ISS of a data abort: ISV, SAS, SSE, SRT, SF, WnR, DFSC. */
    uint32_t sas = size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : 3;
    uint32_t dfsc = (w.mapped ? 0x0cu : 0x04u) | (uint32_t)(w.level & 3);
    uint32_t iss = 1u << 24 | sas << 22 | (sign_extend ? 1u << 21 : 0) | reg << 16 |
                   (size == 8 ? 1u << 15 : 0) | (write ? 1u << 6 : 0) | dfsc;
    g->esr = arm64_fake_esr(0x24, iss);
    g->far = ipa;
    /* HPFAR_EL2 holds the IPA for a translation fault; for a permission
     * fault it is UNKNOWN: the fake makes it wrong on purpose. */
    g->hpfar = w.mapped ? 0xdead0ull : (ipa >> 12) << 4;
    return false;
}
