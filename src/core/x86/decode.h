/*
 * decode.h - decoding the few instructions a backend must understand to
 * complete an exit the hardware does not describe fully (private).
 *
 * A nested page fault or an EPT violation gives the guest-physical address
 * but neither the access size nor the register (APM Vol. 2, "Nested versus
 * Guest Page Faults, Fault Ordering"; SDM Vol. 3, "Exit Qualification for
 * EPT Violations"); a processor without next-RIP saving or decode assists
 * gives neither the length of an intercepted instruction nor the register
 * of a MOV to a control register. The decoder handles exactly the forms
 * those cases need and refuses everything else (VCORE_ERR_UNSUPPORTED):
 * a backend reports what it cannot decode rather than guessing.
 */
#ifndef VCORE_CORE_X86_DECODE_H
#define VCORE_CORE_X86_DECODE_H

#include "../deps.h"

/* No segment-override prefix (vcore__x86_insn_t::seg). */
#define VCORE__X86_SEG_NONE 0xffu

/* One decoded instruction. */
typedef struct vcore__x86_insn {
    uint8_t len;        /* total length in bytes (at most 15) */
    uint8_t rex;        /* the REX prefix, 0 when there is none (64-bit mode only) */
    uint8_t rep;        /* 0, F2H (REPNE) or F3H (REP/REPE) */
    uint8_t seg;        /* segment override (vcore_x86_seg: ES..GS), or VCORE__X86_SEG_NONE */
    uint16_t opcode;    /* the one-byte opcode, or 0F00H | the second byte of a two-byte one */
    bool has_modrm;     /* a ModRM byte follows the opcode */
    uint8_t mod;        /* ModRM bits 7:6 */
    uint8_t reg;        /* ModRM bits 5:3, extended by REX.R (0-15) */
    uint8_t rm;         /* ModRM bits 2:0, extended by REX.B when mod is 3 (0-15) */
    uint8_t opbytes;    /* operand size of the non-byte forms: 2, 4 or 8 */
    uint8_t addr_bits;  /* address size: 16, 32 or 64 */
    uint8_t imm_bytes;  /* bytes of immediate (0, 1, 2 or 4) */
    uint64_t imm;       /* the immediate, zero-extended */
} vcore__x86_insn_t;

/*
 * Decodes the instruction at insn[0..avail) executed with a code size of
 * code_bits (16, 32 or 64). Understood: MOV 88H/89H/8AH/8BH, MOV C6H/C7H
 * (/0), HLT, INT3, INT n, INTO, IRET, INS/OUTS, CLTS, CPUID, RDMSR, WRMSR,
 * MOV from/to CR (0F 20H/22H) and group 7 (0F 01H: LMSW, VMMCALL, ...).
 * Returns VCORE_OK, or VCORE_ERR_UNSUPPORTED for anything else, a truncated
 * instruction, or one longer than 15 bytes.
 */
int vcore__x86_decode(const uint8_t *insn, size_t avail, uint32_t code_bits, vcore__x86_insn_t *out);

/* The register number of a byte operand: without a REX prefix, 4-7 name
 * AH, CH, DH, BH (*high8 set, the number of the containing register
 * returned); with one they name SPL..DIL. */
uint8_t vcore__x86_byte_reg(const vcore__x86_insn_t *in, uint8_t reg, bool *high8);

/* What a MOV (88H, 89H, 8AH, 8BH, C6H/0, C7H/0) with a memory operand does
 * to that operand: the access a nested page fault or EPT violation stopped. */
typedef struct vcore__x86_mmio_mov {
    bool is_write;  /* a store (88H, 89H, C6H, C7H) */
    bool has_imm;   /* C6H/C7H: the value stored is value, not a register */
    bool high8;     /* the register is AH, CH, DH or BH (bits 15:8 of reg) */
    uint8_t reg;    /* the register operand (0-15) */
    uint32_t size;  /* bytes accessed: 1, 2, 4 or 8 */
    uint64_t value; /* C6H/C7H: the immediate, sign-extended to a 64-bit operand */
} vcore__x86_mmio_mov_t;

/* Fills *out for a decoded MOV with a memory operand; VCORE_ERR_UNSUPPORTED
 * for anything else (SDM Vol. 2 / APM Vol. 3, "MOV"). */
int vcore__x86_mmio_mov(const vcore__x86_insn_t *in, vcore__x86_mmio_mov_t *out);

/* A load of size bytes into a register as MOV and IN do (SDM Vol. 1,
 * "General-Purpose Registers in 64-Bit Mode"): 8- and 16-bit destinations
 * (AH..BH: bits 15:8) keep the other bits, a 32-bit one zero-extends. */
uint64_t vcore__x86_reg_load(uint64_t old, uint64_t v, uint32_t size, bool high8);

#endif /* VCORE_CORE_X86_DECODE_H */
