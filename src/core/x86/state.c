/*
 * state.c - copying state groups between two x86 state blocks. A group is
 * exactly its fields (regs.h): the MODE group is the access rights of CS
 * and SS, the SEG_CS/SEG_SS groups the rest of those two segments, and the
 * TSC is apart from the other MSRs.
 */
#include "x86.h"
#include "virtcore/backend.h"

void vcore_x86_state_copy(vcore_x86_state_t *dst, const vcore_x86_state_t *src, uint32_t groups)
{
    if (groups & VCORE_X86_STATE_GPRS)
        for (unsigned i = 0; i < VCORE_X86_NR_GPRS; i++)
            if (i != VCORE_X86_RSP)
                dst->regs.gpr[i] = src->regs.gpr[i];
    if (groups & VCORE_X86_STATE_RSP)
        dst->regs.gpr[VCORE_X86_RSP] = src->regs.gpr[VCORE_X86_RSP];
    if (groups & VCORE_X86_STATE_RIP)
        dst->regs.rip = src->regs.rip;
    if (groups & VCORE_X86_STATE_RFLAGS)
        dst->regs.rflags = src->regs.rflags;
    static const struct {
        uint32_t group;
        uint8_t seg[4];
        uint8_t n;
    } segs[] = {
        {VCORE_X86_STATE_SEG_CS, {VCORE_X86_CS}, 1},
        {VCORE_X86_STATE_SEG_SS, {VCORE_X86_SS}, 1},
        {VCORE_X86_STATE_SEG_DATA, {VCORE_X86_ES, VCORE_X86_DS, VCORE_X86_FS, VCORE_X86_GS}, 4},
        {VCORE_X86_STATE_SEG_SYS, {VCORE_X86_LDTR, VCORE_X86_TR}, 2},
    };
    for (size_t i = 0; i < VCORE__ARRAY_SIZE(segs); i++) {
        if (!(groups & segs[i].group))
            continue;
        for (uint8_t j = 0; j < segs[i].n; j++) {
            vcore_x86_segment_t *d = &dst->sregs.seg[segs[i].seg[j]];
            const vcore_x86_segment_t *s = &src->sregs.seg[segs[i].seg[j]];
            /* CS and SS access rights belong to the MODE group. */
            uint32_t ar = d->ar;
            *d = *s;
            if (segs[i].group == VCORE_X86_STATE_SEG_CS || segs[i].group == VCORE_X86_STATE_SEG_SS)
                d->ar = ar;
        }
    }
    if (groups & VCORE_X86_STATE_MODE) {
        dst->sregs.seg[VCORE_X86_CS].ar = src->sregs.seg[VCORE_X86_CS].ar;
        dst->sregs.seg[VCORE_X86_SS].ar = src->sregs.seg[VCORE_X86_SS].ar;
    }
    if (groups & VCORE_X86_STATE_DTABLES) {
        dst->sregs.gdtr = src->sregs.gdtr;
        dst->sregs.idtr = src->sregs.idtr;
    }
    if (groups & VCORE_X86_STATE_CR0)
        dst->sregs.cr0 = src->sregs.cr0;
    if (groups & VCORE_X86_STATE_CR2)
        dst->sregs.cr2 = src->sregs.cr2;
    if (groups & VCORE_X86_STATE_CR3)
        dst->sregs.cr3 = src->sregs.cr3;
    if (groups & VCORE_X86_STATE_CR4)
        dst->sregs.cr4 = src->sregs.cr4;
    if (groups & VCORE_X86_STATE_CR8)
        dst->sregs.cr8 = src->sregs.cr8;
    if (groups & VCORE_X86_STATE_EFER)
        dst->sregs.efer = src->sregs.efer;
    if (groups & VCORE_X86_STATE_DREGS)
        dst->dregs = src->dregs;
    if (groups & VCORE_X86_STATE_FPU)
        dst->fpu = src->fpu;
    if (groups & VCORE_X86_STATE_XCR0)
        dst->xcr0 = src->xcr0;
    if (groups & VCORE_X86_STATE_MSRS) {
        uint64_t tsc = dst->msrs.tsc; /* the TSC is a group of its own */
        dst->msrs = src->msrs;
        dst->msrs.tsc = tsc;
    }
    if (groups & VCORE_X86_STATE_TSC)
        dst->msrs.tsc = src->msrs.tsc;
    if (groups & VCORE_X86_STATE_EVENTS)
        dst->events = src->events;
    if (groups & VCORE_X86_STATE_XMM)
        vcore__memcpy(dst->xmm, src->xmm, sizeof(dst->xmm));
}

