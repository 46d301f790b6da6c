/*
 * vmx_guest.c - what the backend must know about guest code to complete an
 * MMIO access: linear-to-physical translation and MOV decoding.
 *
 * An EPT violation reports the guest-physical address and the access type
 * but neither the size nor the data (SDM Vol. 3, "Exit Qualification for EPT
 * Violations"), so the instruction is fetched and decoded. Only the MOV forms
 * compilers emit for device registers are decoded; anything else is reported
 * to the VMM as an internal error rather than guessed. String I/O moves its
 * elements through guest memory along the string instruction's rules.
 */
#include "vmx.h"
#include "core/x86/x86.h"

#include "virtcore/vm.h"

/* 4-level paging entry bits ("Paging" chapter: "4-Level Paging and 5-Level Paging"). */
#define VCORE__PTE_P (1ull << 0)
#define VCORE__PTE_PS (1ull << 7)
#define VCORE__PTE_ADDR 0x000ffffffffff000ull

int vcore__vmx_guest_translate(const vcore_vm_t *vm, const vcore_x86_sregs_t *sr, uint64_t gla,
                               uint64_t *gpa)
{
    if (!(sr->cr0 & (1ull << 31))) { /* CR0.PG = 0: linear is physical */
        *gpa = gla & 0xffffffffull;
        return VCORE_OK;
    }
    if (!(sr->efer & (1ull << 10)) || (sr->cr4 & (1ull << 12)))
        return VCORE_ERR_UNSUPPORTED; /* 32-bit, PAE or 5-level paging: not walked */
    uint64_t table = sr->cr3 & VCORE__PTE_ADDR;
    for (int level = 4; level >= 1; level--) {
        unsigned shift = (unsigned)(12 + 9 * (level - 1));
        uint64_t e;
        if (vcore_vm_read_guest(vm, table + ((gla >> shift) & 511u) * 8u, &e, sizeof(e)) != VCORE_OK)
            return VCORE_ERR_FAULT;
        if (!(e & VCORE__PTE_P))
            return VCORE_ERR_FAULT;
        if (level == 1 || ((level == 2 || level == 3) && (e & VCORE__PTE_PS))) {
            uint64_t mask = (1ull << shift) - 1;
            *gpa = ((e & VCORE__PTE_ADDR) & ~mask) | (gla & mask);
            return VCORE_OK;
        }
        table = e & VCORE__PTE_ADDR;
    }
    return VCORE_ERR_FAULT;
}

size_t vcore__vmx_guest_read(const vcore_vm_t *vm, const vcore_x86_sregs_t *sr, uint64_t gla,
                             uint8_t *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        uint64_t gpa;
        if (vcore__vmx_guest_translate(vm, sr, gla + done, &gpa) != VCORE_OK)
            break;
        size_t chunk = VCORE_PAGE_SIZE - (size_t)(gpa & (VCORE_PAGE_SIZE - 1));
        if (chunk > len - done)
            chunk = len - done;
        if (vcore_vm_read_guest(vm, gpa, buf + done, chunk) != VCORE_OK)
            break;
        done += chunk;
    }
    return done;
}

int vcore__vmx_guest_write(vcore_vm_t *vm, const vcore_x86_sregs_t *sr, uint64_t gla,
                           const uint8_t *buf, size_t len)
{
    for (size_t done = 0; done < len;) {
        uint64_t gpa;
        if (vcore__vmx_guest_translate(vm, sr, gla + done, &gpa) != VCORE_OK)
            return VCORE_ERR_FAULT;
        size_t chunk = VCORE_PAGE_SIZE - (size_t)(gpa & (VCORE_PAGE_SIZE - 1));
        if (chunk > len - done)
            chunk = len - done;
        if (vcore_vm_write_guest(vm, gpa, buf + done, chunk) != VCORE_OK)
            return VCORE_ERR_FAULT;
        done += chunk;
    }
    return VCORE_OK;
}

uint64_t vcore__vmx_guest_elem(const vcore__vmx_vcpu_t *c, uint64_t reg, uint32_t k)
{
    /* The exit recorded the string's segment base, element size, address
     * size and direction; the addressing rule itself is the core's. */
    vcore__x86_str_t s = {c->io_base, c->io_width, c->io_asize, c->io_down, c->io_long64};
    return vcore__x86_str_elem(&s, reg, k);
}

uint32_t vcore__vmx_decode_asize(const uint8_t *insn, size_t avail, uint32_t code_bits)
{
    /* The address-size prefix (67H) switches 64 -> 32 and 32 <-> 16
     * ("Instruction Prefixes", "Operand-Size and Address-Size Attributes"). */
    bool a16 = false;
    for (size_t i = 0; i < avail && i < 14; i++) {
        uint8_t b = insn[i];
        if (b == 0x67)
            a16 = true; /* repeated, it means the same */
        else if (!(b == 0x66 || b == 0xf2 || b == 0xf3 || b == 0xf0 || b == 0x2e || b == 0x36 ||
                   b == 0x3e || b == 0x26 || b == 0x64 || b == 0x65))
            break;
    }
    if (code_bits == 64)
        return a16 ? 32u : 64u;
    if (code_bits == 32)
        return a16 ? 16u : 32u;
    return a16 ? 32u : 16u;
}

/* Bytes of ModRM + SIB + displacement after the opcode ("Instruction Formats"). */
static int vcore__vmx_modrm_len(const uint8_t *p, size_t avail, bool addr16, uint32_t *len)
{
    if (avail < 1)
        return VCORE_ERR_UNSUPPORTED;
    uint8_t modrm = p[0];
    unsigned mod = modrm >> 6, rm = modrm & 7u;
    if (mod == 3)
        return VCORE_ERR_UNSUPPORTED; /* register operand: not a memory access */
    uint32_t n = 1;
    if (addr16) {
        if (mod == 0 && rm == 6)
            n += 2;
        else if (mod == 1)
            n += 1;
        else if (mod == 2)
            n += 2;
    } else {
        if (rm == 4) {
            if (avail < 2)
                return VCORE_ERR_UNSUPPORTED;
            n += 1;
            if (mod == 0 && (p[1] & 7u) == 5)
                n += 4;
        }
        if (mod == 0 && rm == 5)
            n += 4;
        else if (mod == 1)
            n += 1;
        else if (mod == 2)
            n += 4;
    }
    *len = n;
    return VCORE_OK;
}

int vcore__vmx_decode_mov(const uint8_t *insn, size_t avail, uint32_t code_bits, vcore__vmx_mov_t *out)
{
    size_t i = 0;
    bool opsize = false, addrsize = false;
    uint8_t rex = 0;
    vcore__memset(out, 0, sizeof(*out));
    /* Legacy prefixes, then REX (64-bit mode only, must be last). */
    for (; i < avail && i < 14; i++) {
        uint8_t b = insn[i];
        if (b == 0x66)
            opsize = true;
        else if (b == 0x67)
            addrsize = true;
        else if (b == 0x2e || b == 0x36 || b == 0x3e || b == 0x26 || b == 0x64 || b == 0x65 || b == 0xf0)
            continue;
        else
            break;
    }
    if (code_bits == 64 && i < avail && (insn[i] & 0xf0u) == 0x40)
        rex = insn[i++];
    if (i >= avail)
        return VCORE_ERR_UNSUPPORTED;
    uint8_t op = insn[i++];
    bool addr16 = (code_bits == 16) != addrsize && code_bits != 64;
    uint32_t opbytes = (code_bits == 16) ? (opsize ? 4u : 2u) : (opsize ? 2u : 4u);
    if (rex & 0x08u)
        opbytes = 8;
    uint32_t mlen;
    switch (op) {
    case 0x88: /* MOV r/m8, r8 */
    case 0x8a: /* MOV r8, r/m8 */
    case 0x89: /* MOV r/m, r */
    case 0x8b: /* MOV r, r/m */
    case 0xc6: /* MOV r/m8, imm8 */
    case 0xc7: /* MOV r/m, imm16/32 */
        break;
    default:
        return VCORE_ERR_UNSUPPORTED;
    }
    if (vcore__vmx_modrm_len(insn + i, avail - i, addr16, &mlen))
        return VCORE_ERR_UNSUPPORTED;
    uint8_t modrm = insn[i];
    unsigned reg = ((modrm >> 3) & 7u) | ((rex & 0x04u) ? 8u : 0u);
    i += mlen;
    bool byte_op = (op == 0x88 || op == 0x8a || op == 0xc6);
    out->size = byte_op ? 1u : opbytes;
    out->is_write = (op == 0x88 || op == 0x89 || op == 0xc6 || op == 0xc7);
    if (op == 0xc6 || op == 0xc7) {
        if (((modrm >> 3) & 7u) != 0)
            return VCORE_ERR_UNSUPPORTED; /* /0 is the only MOV in this group */
        uint32_t ib = byte_op ? 1u : (out->size == 2 ? 2u : 4u);
        if (avail < i + ib)
            return VCORE_ERR_UNSUPPORTED;
        uint64_t imm = 0;
        for (uint32_t b = 0; b < ib; b++)
            imm |= (uint64_t)insn[i + b] << (8 * b);
        /* A 32-bit immediate is sign-extended to a 64-bit operand. */
        if (ib == 4 && out->size == 8 && (imm & 0x80000000ull))
            imm |= 0xffffffff00000000ull;
        out->imm = imm;
        out->has_imm = true;
        i += ib;
    } else {
        /* Without REX, byte registers 4-7 are AH, CH, DH, BH. */
        if (byte_op && !rex && reg >= 4 && reg < 8) {
            out->high8 = true;
            reg -= 4;
        }
        out->reg = (uint8_t)reg;
    }
    if (i > 15)
        return VCORE_ERR_UNSUPPORTED;
    out->len = (uint32_t)i;
    return VCORE_OK;
}
