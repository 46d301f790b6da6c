/*
 * decode.c - the instruction forms backends decode to complete exits (see
 * decode.h). SDM Vol. 2, chapter "Instruction Format" and APM Vol. 3,
 * "Instruction Encoding": legacy prefixes, REX (64-bit mode only, and only
 * directly before the opcode), opcode, ModRM, SIB, displacement, immediate.
 */
#include "decode.h"

#include "virtcore/error.h"

#define DECODE_MAX_LEN 15u

/* How an opcode continues after its opcode bytes. */
enum {
    DECODE_NONE = 0,       /* nothing follows */
    DECODE_MODRM = 1,      /* ModRM (+ SIB, displacement) */
    DECODE_IMM8 = 2,       /* an 8-bit immediate */
    DECODE_MODRM_IMM8 = 3, /* ModRM, then imm8 */
    DECODE_MODRM_IMMZ = 4, /* ModRM, then imm16 (16-bit operand) or imm32 */
    DECODE_MODRM_REG = 5,  /* ModRM whose mod field is ignored: always a register (MOV CR) */
};

/* The forms decode.h promises, by opcode (0F00H | byte for two-byte ones). */
static int decode_shape(uint16_t op)
{
    switch (op) {
    case 0x88: /* MOV r/m8, r8 */
    case 0x89: /* MOV r/m, r */
    case 0x8a: /* MOV r8, r/m8 */
    case 0x8b: /* MOV r, r/m */
        return DECODE_MODRM;
    case 0xc6: /* MOV r/m8, imm8 (/0) */
        return DECODE_MODRM_IMM8;
    case 0xc7: /* MOV r/m, imm16/32 (/0) */
        return DECODE_MODRM_IMMZ;
    case 0xcd: /* INT n */
    case 0xe4: /* IN AL, imm8 */
    case 0xe5: /* IN eAX, imm8 */
    case 0xe6: /* OUT imm8, AL */
    case 0xe7: /* OUT imm8, eAX */
        return DECODE_IMM8;
    case 0xf4: /* HLT */
    case 0xcc: /* INT3 */
    case 0xce: /* INTO */
    case 0xcf: /* IRET */
    case 0x6c: /* INSB */
    case 0x6d: /* INSW/INSD */
    case 0x6e: /* OUTSB */
    case 0x6f: /* OUTSW/OUTSD */
    case 0xec: /* IN AL, DX */
    case 0xed: /* IN eAX, DX */
    case 0xee: /* OUT DX, AL */
    case 0xef: /* OUT DX, eAX */
    case 0x0f06: /* CLTS */
    case 0x0f30: /* WRMSR */
    case 0x0f32: /* RDMSR */
    case 0x0fa2: /* CPUID */
        return DECODE_NONE;
    case 0x0f01: /* group 7: SGDT ... LMSW, VMRUN, VMMCALL ... */
        return DECODE_MODRM;
    case 0x0f20: /* MOV r, CRn */
    case 0x0f22: /* MOV CRn, r */
        return DECODE_MODRM_REG;
    default:
        return -1;
    }
}

/* Bytes of ModRM, SIB and displacement ("ModR/M and SIB Bytes"). */
static int decode_modrm_len(const uint8_t *p, size_t avail, uint32_t addr_bits, uint32_t *len)
{
    if (avail < 1)
        return VCORE_ERR_UNSUPPORTED;
    uint32_t mod = p[0] >> 6, rm = p[0] & 7u, n = 1;
    if (mod == 3) {
        *len = 1;
        return VCORE_OK;
    }
    if (addr_bits == 16) {
        /* 16-bit addressing: [disp16] for mod 0, rm 6; disp8 / disp16 for mod 1 / 2. */
        n += (mod == 0 && rm == 6) ? 2u : mod == 1 ? 1u : mod == 2 ? 2u : 0u;
    } else {
        if (rm == 4) {
            /* SIB; base 5 with mod 0 means disp32 without base. */
            if (avail < 2)
                return VCORE_ERR_UNSUPPORTED;
            n += 1;
            if (mod == 0 && (p[1] & 7u) == 5)
                n += 4;
        }
        /* mod 0, rm 5: disp32 (RIP-relative in 64-bit mode). */
        n += (mod == 0 && rm == 5) ? 4u : mod == 1 ? 1u : mod == 2 ? 4u : 0u;
    }
    *len = n;
    return VCORE_OK;
}

int vcore__x86_decode(const uint8_t *insn, size_t avail, uint32_t code_bits, vcore__x86_insn_t *out)
{
    static const uint8_t seg_of[6][2] = {{0x26, 0}, {0x2e, 1}, {0x36, 2}, {0x3e, 3}, {0x64, 4}, {0x65, 5}};
    bool opsize = false, asize = false;
    size_t i = 0;

    vcore__memset(out, 0, sizeof(*out));
    out->seg = VCORE__X86_SEG_NONE;
    if (avail > DECODE_MAX_LEN)
        avail = DECODE_MAX_LEN;
    /* Legacy prefixes, in any order; the last segment override wins. */
    for (; i < avail; i++) {
        uint8_t b = insn[i];
        bool seg = false;
        for (size_t k = 0; k < 6; k++) {
            if (b == seg_of[k][0]) {
                out->seg = seg_of[k][1];
                seg = true;
            }
        }
        if (seg)
            continue;
        if (b == 0x66)
            opsize = true;
        else if (b == 0x67)
            asize = true;
        else if (b == 0xf2 || b == 0xf3)
            out->rep = b;
        else if (b != 0xf0) /* LOCK */
            break;
    }
    /* REX counts only as the last prefix, and only in 64-bit mode. */
    if (code_bits == 64 && i < avail && (insn[i] & 0xf0u) == 0x40)
        out->rex = insn[i++];
    if (i >= avail)
        return VCORE_ERR_UNSUPPORTED;
    uint16_t op = insn[i++];
    if (op == 0x0f) {
        if (i >= avail)
            return VCORE_ERR_UNSUPPORTED;
        op = (uint16_t)(0x0f00u | insn[i++]);
    }
    int shape = decode_shape(op);
    if (shape < 0)
        return VCORE_ERR_UNSUPPORTED;
    out->opcode = op;

    /* "Operand-Size and Address-Size Attributes": 66H and 67H flip the
     * default of the code size; REX.W makes the operand 64-bit. */
    if (code_bits == 64)
        out->addr_bits = asize ? 32 : 64;
    else if (code_bits == 32)
        out->addr_bits = asize ? 16 : 32;
    else
        out->addr_bits = asize ? 32 : 16;
    out->opbytes = (code_bits == 16) != opsize ? 2 : 4;
    if (out->rex & 0x08u)
        out->opbytes = 8;

    if (shape == DECODE_MODRM || shape == DECODE_MODRM_IMM8 || shape == DECODE_MODRM_IMMZ ||
        shape == DECODE_MODRM_REG) {
        uint32_t mlen;
        if (shape == DECODE_MODRM_REG) {
            if (i >= avail)
                return VCORE_ERR_UNSUPPORTED;
            mlen = 1;
        } else if (decode_modrm_len(insn + i, avail - i, out->addr_bits, &mlen) != VCORE_OK) {
            return VCORE_ERR_UNSUPPORTED;
        }
        uint8_t m = insn[i];
        out->has_modrm = true;
        out->mod = shape == DECODE_MODRM_REG ? 3u : (uint8_t)(m >> 6);
        out->reg = (uint8_t)(((m >> 3) & 7u) | ((out->rex & 0x04u) ? 8u : 0u));
        out->rm = (uint8_t)(m & 7u);
        if (out->mod == 3 && (out->rex & 0x01u))
            out->rm |= 8u;
        i += mlen;
    }
    if (shape == DECODE_IMM8 || shape == DECODE_MODRM_IMM8)
        out->imm_bytes = 1;
    else if (shape == DECODE_MODRM_IMMZ)
        out->imm_bytes = out->opbytes == 2 ? 2 : 4;
    if (i + out->imm_bytes > avail)
        return VCORE_ERR_UNSUPPORTED;
    for (uint32_t b = 0; b < out->imm_bytes; b++)
        out->imm |= (uint64_t)insn[i + b] << (8 * b);
    i += out->imm_bytes;
    out->len = (uint8_t)i;
    return VCORE_OK;
}

uint8_t vcore__x86_byte_reg(const vcore__x86_insn_t *in, uint8_t reg, bool *high8)
{
    /* "Byte registers": without REX, encodings 4-7 are AH, CH, DH, BH. */
    *high8 = !in->rex && reg >= 4 && reg < 8;
    return *high8 ? (uint8_t)(reg - 4) : reg;
}

int vcore__x86_mmio_mov(const vcore__x86_insn_t *in, vcore__x86_mmio_mov_t *out)
{
    uint16_t op = in->opcode;
    bool imm = (op == 0xc6 || op == 0xc7) && (in->reg & 7u) == 0;
    if (in->mod == 3 || !(op == 0x88 || op == 0x89 || op == 0x8a || op == 0x8b || imm))
        return VCORE_ERR_UNSUPPORTED;
    bool byte_op = op == 0x88 || op == 0x8a || op == 0xc6;
    out->is_write = op != 0x8a && op != 0x8b;
    out->has_imm = imm;
    out->size = byte_op ? 1u : in->opbytes;
    out->high8 = false;
    out->reg = byte_op && !imm ? vcore__x86_byte_reg(in, in->reg, &out->high8) : in->reg;
    out->value = imm ? in->imm : 0;
    /* "MOV r/m64, imm32": the immediate is sign-extended to 64 bits. */
    if (imm && out->size == 8 && (out->value & 0x80000000ull))
        out->value |= 0xffffffff00000000ull;
    return VCORE_OK;
}

uint64_t vcore__x86_reg_load(uint64_t old, uint64_t v, uint32_t size, bool high8)
{
    if (high8)
        return (old & ~0xff00ull) | ((v & 0xffu) << 8);
    if (size == 1)
        return (old & ~0xffull) | (v & 0xffu);
    if (size == 2)
        return (old & ~0xffffull) | (v & 0xffffu);
    return size == 4 ? (v & 0xffffffffull) : v;
}
