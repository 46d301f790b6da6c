/*
 * seg.c - segmentation of a data access: offset -> linear address with the
 * checks the processor makes before paging (SDM Vol. 3, "Segment-Level
 * Protection", "Limit Checking", "Type Checking"; Vol. 1, "Canonical
 * Addressing"; the "Protected Mode Exceptions" and "64-Bit Mode Exceptions"
 * of each instruction in Vol. 2). One copy of the rule for every emulated
 * memory operand (VMX instructions of L1 and L2, L2's string I/O).
 */
#include "x86.h"

bool vcore__x86_seg_linear(const vcore_x86_segment_t *s, uint32_t mode, uint64_t ea, uint32_t len, bool write,
                           uint32_t la_bits, uint64_t *la)
{
    if (mode == VCORE__SEG_MODE_64) {
        /* 64-bit mode: no limit or type checks; the caller passes the base
         * only for FS and GS. Every byte of the access must be canonical. */
        uint64_t lin = s->base + ea;
        if (!vcore__x86_is_canonical(lin, la_bits) || !vcore__x86_is_canonical(lin + len - 1u, la_bits))
            return false;
        *la = lin;
        return true;
    }
    uint64_t last = ea + len - 1u;
    uint32_t type = s->ar & VCORE_X86_AR_TYPE_MASK;
    bool code = (type & 8u) != 0;
    if (mode == VCORE__SEG_MODE_PROT) {
        /* A usable, present code/data segment; a write needs a writable
         * data segment, a read anything but an execute-only code segment. */
        if ((s->ar & VCORE_X86_AR_UNUSABLE) || !(s->ar & VCORE_X86_AR_S) || !(s->ar & VCORE_X86_AR_P))
            return false;
        if (write && (code || !(type & 2u)))
            return false;
        if (!write && code && !(type & 2u))
            return false;
    }
    if (!code && (type & 4u)) {
        /* Expand-down: valid offsets are limit+1 .. 64K-1 or 4G-1 (D/B). */
        uint64_t upper = (s->ar & VCORE_X86_AR_DB) ? 0xffffffffull : 0xffffull;
        if (ea <= s->limit || last > upper)
            return false;
    } else if (last > s->limit) {
        return false;
    }
    *la = (s->base + ea) & 0xffffffffull;
    return true;
}
