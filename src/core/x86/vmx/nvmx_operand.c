/*
 * nvmx_operand.c - operands of VMX instructions: registers and memory
 * operands decoded from the VM-exit instruction-information field and the
 * exit qualification (SDM Vol. 3, "VM-Exit Instruction-Information Field"
 * and "Exit Qualification for VM Exits Due to Instruction Execution"),
 * then segmentation (SDM Vol. 3, "Segment-Level Protection") and paging.
 */
#include "nvmx_priv.h"

void vcore__nvmx_phys_read(const vcore_nvmx_mem_t *m, uint64_t gpa, void *buf, size_t len)
{
    /* Reads of physical addresses with no RAM behind them return all ones. */
    if (m->read(m->ctx, gpa, buf, len) != VCORE_OK)
        vcore__memset(buf, 0xff, len);
}

void vcore__nvmx_phys_write(const vcore_nvmx_mem_t *m, uint64_t gpa, const void *buf, size_t len)
{
    /* Writes to physical addresses with no RAM behind them are dropped. */
    (void)m->write(m->ctx, gpa, buf, len);
}

uint64_t vcore__nvmx_reg(const vcore__nvmx_ctx_t *c, uint32_t reg)
{
    uint64_t v = c->in.regs.gpr[reg & 0xfu];
    return c->long64 ? v : (uint64_t)(uint32_t)v;
}

/* Segment fault: #SS(0) for SS, #GP(0) otherwise (SDM "Protected Mode
 * Exceptions" / "64-Bit Mode Exceptions" of each VMX instruction). */
static int nvmx_operand_segfault(vcore__nvmx_ctx_t *c, uint32_t seg)
{
    if (seg == VCORE_X86_SS)
        vcore__nvmx_exception(c, VCORE__VEC_SS, true, 0, VCORE_DIAG_NVMX_SS_SEGMENT);
    else
        vcore__nvmx_exception(c, VCORE__VEC_GP, true, 0, VCORE_DIAG_NVMX_GP_SEGMENT);
    return VCORE_ERR_INVAL;
}

/* Effective address -> linear address with the segment checks. */
static int nvmx_operand_linear(vcore__nvmx_ctx_t *c, uint32_t len, bool write, uint64_t *la_out)
{
    uint32_t ii = c->in.insn_info;
    uint32_t asize = VCORE__II_ASIZE(ii), seg = VCORE__II_SEG(ii);
    uint64_t ea = c->in.qualification, amask;
    const vcore_x86_segment_t *s;

    /* Address size 0/1/2 = 16/32/64 bits. 64-bit mode addresses with 64 or
     * (67H prefix) 32 bits; 64-bit addressing exists only there and 16-bit
     * addressing only outside it (SDM Vol. 1, "Address-Size Attributes for
     * Instruction Operands" / "64-Bit Mode Address Calculation"). */
    if (asize > 2 || seg > VCORE_X86_GS || (c->long64 ? asize == 0 : asize == 2)) {
        vcore__nvmx_exception(c, VCORE__VEC_UD, false, 0, VCORE_DIAG_NVMX_UD_BAD_INSN_INFO);
        return VCORE_ERR_INVAL;
    }
    if (!VCORE__II_BASE_INVALID(ii))
        ea += c->in.regs.gpr[VCORE__II_BASE(ii)];
    if (!VCORE__II_INDEX_INVALID(ii))
        ea += c->in.regs.gpr[VCORE__II_INDEX(ii)] << VCORE__II_SCALE(ii);
    amask = asize == 0 ? 0xffffull : asize == 1 ? 0xffffffffull : ~0ull;
    ea &= amask;
    s = &c->in.sregs.seg[seg];

    /* 64-bit mode: only FS and GS bases apply (after a 32-bit effective
     * address was truncated), no limit checks, the whole access canonical;
     * protected mode: usable segment, right type, offset within limit. */
    vcore_x86_segment_t sc = *s;
    if (c->long64 && seg != VCORE_X86_FS && seg != VCORE_X86_GS)
        sc.base = 0;
    uint32_t bits = (c->in.sregs.cr4 & VCORE__CR4_LA57) ? 57u : 48u;
    if (!vcore__x86_seg_linear(&sc, c->long64 ? VCORE__SEG_MODE_64 : VCORE__SEG_MODE_PROT, ea, len, write, bits,
                               la_out))
        return nvmx_operand_segfault(c, seg);
    return VCORE_OK;
}

/* Translates [la, la+len) into at most two physical pieces, recording the
 * accessed/dirty flags each piece's walk sets (not written yet). */
static int nvmx_operand_translate(vcore__nvmx_ctx_t *c, uint64_t la, uint32_t len, bool write,
                                  uint64_t gpa[2], uint32_t plen[2], uint32_t *npieces,
                                  vcore__walk_ad_t ad[2])
{
    uint64_t amask = c->long64 ? ~0ull : 0xffffffffull;
    uint32_t done = 0, n = 0;
    vcore__walk_fault_t f;
    int err;

    while (done < len) {
        uint64_t cur = (la + done) & amask;
        uint32_t chunk = (uint32_t)(0x1000u - (cur & 0xfffu));
        if (chunk > len - done)
            chunk = len - done;
        c->op_la = cur;
        c->op_final = false;
        c->op_write = c->ps_write;
        err = vcore__walk_access(c->opmem, &c->in.sregs, c->in.regs.rflags, c->n->maxphyaddr, cur,
                                 (write ? VCORE__WALK_WRITE : 0u) | c->n->walk_1g, &gpa[n], &f, &ad[n]);
        c->op_write = false;
        if (err == VCORE_ERR_INVAL) {
            vcore__nvmx_exception(c, f.vector, true, f.error_code, VCORE_DIAG_NVMX_PF);
            c->res->cr2 = f.cr2;
            return VCORE_ERR_INVAL;
        }
        if (err != VCORE_OK)
            return err;
        plen[n++] = chunk;
        done += chunk;
    }
    *npieces = n;
    return VCORE_OK;
}

/* The access of the operand itself (n pieces, len bytes) finds no memory
 * at gpa: the caller may complete it as MMIO when it is one piece. */
static int nvmx_operand_unbacked(vcore__nvmx_ctx_t *c, uint64_t gpa, uint32_t len, uint32_t n)
{
    if (n == 1) {
        c->res->mmio_gpa = gpa;
        c->res->mmio_len = len;
    }
    return VCORE_ERR_FAULT;
}

/* The data access at byte off of the operand at la is under way. */
static void nvmx_operand_at(vcore__nvmx_ctx_t *c, uint64_t la, uint32_t off)
{
    c->op_la = c->long64 ? la + off : (uint32_t)(la + off);
    c->op_final = true;
}

int vcore__nvmx_mem_read(vcore__nvmx_ctx_t *c, void *buf, uint32_t len)
{
    uint64_t la, gpa[2];
    uint32_t plen[2], n = 0, i, off = 0;
    vcore__walk_ad_t ad[2];
    int err;

    err = nvmx_operand_linear(c, len, false, &la);
    if (err)
        return err;
    err = nvmx_operand_translate(c, la, len, false, gpa, plen, &n, ad);
    if (err)
        return err;
    /* Every page translated: the walks' accessed flags are set. */
    for (i = 0; i < n; i++)
        vcore__walk_commit_ad(c->opmem, &ad[i]);
    for (i = 0; i < n; i++) {
        nvmx_operand_at(c, la, off);
        if (c->opmem->read(c->opmem->ctx, gpa[i], (uint8_t *)buf + off, plen[i]) != VCORE_OK)
            return nvmx_operand_unbacked(c, gpa[i], len, n);
        off += plen[i];
    }
    return VCORE_OK;
}

/* A write must reach every piece or none: each piece is first written with
 * its own current bytes, which fails where the memory is unbacked or
 * read-only and changes nothing where it is writable. */
static bool nvmx_operand_writable(vcore__nvmx_ctx_t *c, uint64_t gpa, uint32_t len)
{
    uint8_t old[8];
    uint32_t off, n;

    for (off = 0; off < len; off += n) {
        n = len - off < (uint32_t)sizeof(old) ? len - off : (uint32_t)sizeof(old);
        if (c->opmem->read(c->opmem->ctx, gpa + off, old, n) != VCORE_OK ||
            c->opmem->write(c->opmem->ctx, gpa + off, old, n) != VCORE_OK)
            return false;
    }
    return true;
}

int vcore__nvmx_mem_write(vcore__nvmx_ctx_t *c, const void *buf, uint32_t len)
{
    uint64_t la, gpa[2];
    uint32_t plen[2], n = 0, i, off = 0;
    vcore__walk_ad_t ad[2];
    int err;

    err = nvmx_operand_linear(c, len, true, &la);
    if (err)
        return err;
    /* Translate every page, then check every piece is writable, before
     * writing any byte: a fault or an unwritable second page leaves the
     * first one (and the paging structures' A/D flags) untouched. */
    err = nvmx_operand_translate(c, la, len, true, gpa, plen, &n, ad);
    if (err)
        return err;
    /* The probe's read is part of the write (an EPT violation reports a write). */
    c->op_write = true;
    for (i = 0; i < n; i++) {
        nvmx_operand_at(c, la, off);
        if (!nvmx_operand_writable(c, gpa[i], plen[i])) {
            c->op_write = false;
            return nvmx_operand_unbacked(c, gpa[i], len, n);
        }
        off += plen[i];
    }
    c->op_write = false;
    off = 0;
    for (i = 0; i < n; i++)
        vcore__walk_commit_ad(c->opmem, &ad[i]);
    for (i = 0; i < n; i++) {
        if (c->opmem->write(c->opmem->ctx, gpa[i], (const uint8_t *)buf + off, plen[i]) != VCORE_OK)
            return VCORE_ERR_FAULT;
        off += plen[i];
    }
    return VCORE_OK;
}
