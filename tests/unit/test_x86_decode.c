/* The instruction decoder backends use to complete exits (core/x86/decode.c).
 * Byte sequences and expected lengths are worked out from the SDM Vol. 2
 * encoding tables ("Instruction Format", "ModR/M and SIB Bytes"). */
#include "support.h"

#include "core/x86/decode.h"

#define DEC(bits, ...)                                                                             \
    vcore__x86_decode((const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}), (bits), &in)

START_TEST(mov_forms)
{
    vcore__x86_insn_t in;
    /* mov eax, [0xfee00000]: 8B 04 25 disp32 (64-bit, SIB without base) */
    ck_assert_int_eq(DEC(64, 0x8b, 0x04, 0x25, 0x00, 0x00, 0xe0, 0xfe), VCORE_OK);
    ck_assert_uint_eq(in.len, 7);
    ck_assert_uint_eq(in.opcode, 0x8b);
    ck_assert_uint_eq(in.reg, 0);
    ck_assert_uint_eq(in.opbytes, 4);
    ck_assert_uint_eq(in.mod, 0);
    /* mov [rbx], r9: 4C 89 0B (REX.W REX.R) */
    ck_assert_int_eq(DEC(64, 0x4c, 0x89, 0x0b), VCORE_OK);
    ck_assert_uint_eq(in.len, 3);
    ck_assert_uint_eq(in.reg, 9);
    ck_assert_uint_eq(in.opbytes, 8);
    ck_assert_uint_eq(in.rex, 0x4c);
    /* mov word [rip+0x10], 0x1234: 66 C7 05 disp32 imm16 */
    ck_assert_int_eq(DEC(64, 0x66, 0xc7, 0x05, 0x10, 0, 0, 0, 0x34, 0x12), VCORE_OK);
    ck_assert_uint_eq(in.len, 9);
    ck_assert_uint_eq(in.opbytes, 2);
    ck_assert_uint_eq(in.imm_bytes, 2);
    ck_assert_uint_eq(in.imm, 0x1234);
    /* mov byte [eax+ecx*4+0x7f], 0x80: C6 44 88 7F 80 (32-bit) */
    ck_assert_int_eq(DEC(32, 0xc6, 0x44, 0x88, 0x7f, 0x80), VCORE_OK);
    ck_assert_uint_eq(in.len, 5);
    ck_assert_uint_eq(in.imm, 0x80);
    /* mov qword [rax], imm32: 48 C7 00 imm32 */
    ck_assert_int_eq(DEC(64, 0x48, 0xc7, 0x00, 0xff, 0xff, 0xff, 0xff), VCORE_OK);
    ck_assert_uint_eq(in.len, 7);
    ck_assert_uint_eq(in.opbytes, 8);
    ck_assert_uint_eq(in.imm_bytes, 4);
    /* mov al, [bx+si+0x1234] (16-bit): 8A 80 34 12 */
    ck_assert_int_eq(DEC(16, 0x8a, 0x80, 0x34, 0x12), VCORE_OK);
    ck_assert_uint_eq(in.len, 4);
    ck_assert_uint_eq(in.addr_bits, 16);
    /* mov [0x1234], ax (16-bit direct): 89 06 34 12; with 66: eax */
    ck_assert_int_eq(DEC(16, 0x89, 0x06, 0x34, 0x12), VCORE_OK);
    ck_assert_uint_eq(in.len, 4);
    ck_assert_uint_eq(in.opbytes, 2);
    ck_assert_int_eq(DEC(16, 0x66, 0x89, 0x06, 0x34, 0x12), VCORE_OK);
    ck_assert_uint_eq(in.opbytes, 4);
    /* 67 in 64-bit mode: 32-bit addressing, [ebx+disp8] */
    ck_assert_int_eq(DEC(64, 0x67, 0x8b, 0x43, 0x08), VCORE_OK);
    ck_assert_uint_eq(in.addr_bits, 32);
    ck_assert_uint_eq(in.len, 4);
    /* 32-bit code with 67: 16-bit addressing */
    ck_assert_int_eq(DEC(32, 0x67, 0x8b, 0x06, 0x00, 0x10), VCORE_OK);
    ck_assert_uint_eq(in.addr_bits, 16);
    ck_assert_uint_eq(in.len, 5);
    /* segment override and LOCK are prefixes; FS override recorded */
    ck_assert_int_eq(DEC(64, 0x64, 0x89, 0x18), VCORE_OK);
    ck_assert_uint_eq(in.seg, 4);
    ck_assert_uint_eq(in.len, 3);
    /* disp32 with mod 2 and a SIB */
    ck_assert_int_eq(DEC(64, 0x8b, 0x84, 0x24, 1, 2, 3, 4), VCORE_OK);
    ck_assert_uint_eq(in.len, 7);
    ck_assert_uint_eq(in.seg, VCORE__X86_SEG_NONE);
}
END_TEST

START_TEST(system_forms)
{
    vcore__x86_insn_t in;
    /* IN/OUT (SDM Vol. 2, "IN", "OUT"): E4-E7 take an imm8 port, EC-EF
     * use DX; the address size is the mode's unless 67H flips it. */
    ck_assert_int_eq(DEC(64, 0xe7, 0x90), VCORE_OK);
    ck_assert_uint_eq(in.len, 2);
    ck_assert_uint_eq(in.addr_bits, 64);
    ck_assert_int_eq(DEC(64, 0x67, 0xe4, 0x90), VCORE_OK);
    ck_assert_uint_eq(in.len, 3);
    ck_assert_uint_eq(in.addr_bits, 32);
    ck_assert_int_eq(DEC(32, 0xec), VCORE_OK);
    ck_assert_uint_eq(in.len, 1);
    ck_assert_uint_eq(in.addr_bits, 32);
    ck_assert_int_eq(DEC(16, 0x66, 0xef), VCORE_OK);
    ck_assert_uint_eq(in.len, 2);
    ck_assert_uint_eq(in.addr_bits, 16);
    ck_assert_int_eq(DEC(64, 0x0f, 0xa2), VCORE_OK);
    ck_assert_uint_eq(in.len, 2);
    ck_assert_uint_eq(in.opcode, 0x0fa2);
    ck_assert_int_eq(DEC(64, 0x0f, 0x32), VCORE_OK);
    ck_assert_uint_eq(in.len, 2);
    ck_assert_int_eq(DEC(32, 0x0f, 0x30), VCORE_OK);
    ck_assert_uint_eq(in.len, 2);
    ck_assert_int_eq(DEC(16, 0xf4), VCORE_OK);
    ck_assert_uint_eq(in.len, 1);
    /* VMMCALL: 0F 01 D9 */
    ck_assert_int_eq(DEC(64, 0x0f, 0x01, 0xd9), VCORE_OK);
    ck_assert_uint_eq(in.len, 3);
    ck_assert_uint_eq(in.mod, 3);
    ck_assert_uint_eq(in.reg, 3);
    ck_assert_uint_eq(in.rm, 1);
    /* LMSW [rax+0x10]: 0F 01 70 10 (/6, memory) */
    ck_assert_int_eq(DEC(64, 0x0f, 0x01, 0x70, 0x10), VCORE_OK);
    ck_assert_uint_eq(in.len, 4);
    ck_assert_uint_eq(in.reg, 6);
    ck_assert_uint_eq(in.mod, 1);
    /* MOV CR4, r13: 44 0F 22 E5 would be REX.R; 41 0F 22 E5 is MOV CR4, r13 */
    ck_assert_int_eq(DEC(64, 0x41, 0x0f, 0x22, 0xe5), VCORE_OK);
    ck_assert_uint_eq(in.opcode, 0x0f22);
    ck_assert_uint_eq(in.reg, 4);
    ck_assert_uint_eq(in.rm, 13);
    ck_assert_uint_eq(in.len, 4);
    /* the mod field of MOV CR is ignored: 0F 20 00 is MOV rax, CR0, no displacement */
    ck_assert_int_eq(DEC(64, 0x0f, 0x20, 0x00), VCORE_OK);
    ck_assert_uint_eq(in.len, 3);
    ck_assert_uint_eq(in.mod, 3);
    ck_assert_int_eq(DEC(32, 0x0f, 0x06), VCORE_OK);
    ck_assert_uint_eq(in.len, 2);
    /* INT 0x80, INT3, INTO, IRETQ */
    ck_assert_int_eq(DEC(32, 0xcd, 0x80), VCORE_OK);
    ck_assert_uint_eq(in.len, 2);
    ck_assert_uint_eq(in.imm, 0x80);
    ck_assert_int_eq(DEC(64, 0xcc), VCORE_OK);
    ck_assert_uint_eq(in.len, 1);
    ck_assert_int_eq(DEC(32, 0xce), VCORE_OK);
    ck_assert_int_eq(DEC(64, 0x48, 0xcf), VCORE_OK);
    ck_assert_uint_eq(in.len, 2);
    /* REP OUTSB with a GS override */
    ck_assert_int_eq(DEC(64, 0xf3, 0x65, 0x6e), VCORE_OK);
    ck_assert_uint_eq(in.rep, 0xf3);
    ck_assert_uint_eq(in.seg, 5);
    ck_assert_uint_eq(in.len, 3);
}
END_TEST

START_TEST(refusals)
{
    vcore__x86_insn_t in;
    ck_assert_int_eq(DEC(64, 0x90), VCORE_ERR_UNSUPPORTED);          /* NOP: not a promised form */
    ck_assert_int_eq(DEC(64, 0x0f, 0x05), VCORE_ERR_UNSUPPORTED);    /* SYSCALL */
    ck_assert_int_eq(DEC(64, 0x8b), VCORE_ERR_UNSUPPORTED);          /* ModRM missing */
    ck_assert_int_eq(DEC(64, 0x8b, 0x04), VCORE_ERR_UNSUPPORTED);    /* SIB missing */
    ck_assert_int_eq(DEC(64, 0x8b, 0x80, 1, 2, 3), VCORE_ERR_UNSUPPORTED); /* disp32 cut */
    ck_assert_int_eq(DEC(64, 0xc7, 0x00, 1, 2), VCORE_ERR_UNSUPPORTED);    /* imm32 cut */
    ck_assert_int_eq(DEC(64, 0x0f), VCORE_ERR_UNSUPPORTED);
    ck_assert_int_eq(DEC(64, 0x66, 0x66), VCORE_ERR_UNSUPPORTED);    /* prefixes only */
    ck_assert_int_eq(DEC(64, 0x0f, 0x22), VCORE_ERR_UNSUPPORTED);    /* ModRM missing */
    /* REX is a prefix only in 64-bit mode: 48 is DEC eax in 32-bit code */
    ck_assert_int_eq(DEC(32, 0x48, 0x89, 0x00), VCORE_ERR_UNSUPPORTED);
    /* 15 bytes at most: 14 prefixes + HLT is 15, 15 prefixes + HLT is too long */
    static const uint8_t p14[15] = {0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                                    0x66, 0x66, 0x66, 0x66, 0xf4};
    ck_assert_int_eq(vcore__x86_decode(p14, sizeof(p14), 64, &in), VCORE_OK);
    ck_assert_uint_eq(in.len, 15);
    static const uint8_t p15[16] = {0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                                    0x66, 0x66, 0x66, 0x66, 0x66, 0xf4};
    ck_assert_int_eq(vcore__x86_decode(p15, sizeof(p15), 64, &in), VCORE_ERR_UNSUPPORTED);
}
END_TEST

START_TEST(byte_registers)
{
    vcore__x86_insn_t in;
    bool high;
    /* mov [rbx], ah: 88 23 -> reg 4 without REX is AH (RAX, high byte) */
    ck_assert_int_eq(DEC(64, 0x88, 0x23), VCORE_OK);
    ck_assert_uint_eq(vcore__x86_byte_reg(&in, in.reg, &high), 0);
    ck_assert(high);
    /* with REX (40 88 23) it is SPL */
    ck_assert_int_eq(DEC(64, 0x40, 0x88, 0x23), VCORE_OK);
    ck_assert_uint_eq(vcore__x86_byte_reg(&in, in.reg, &high), 4);
    ck_assert(!high);
    /* mov [rbx], bl: 88 1B -> reg 3 */
    ck_assert_int_eq(DEC(64, 0x88, 0x1b), VCORE_OK);
    ck_assert_uint_eq(vcore__x86_byte_reg(&in, in.reg, &high), 3);
    ck_assert(!high);
    ck_assert_int_eq(DEC(64, 0x88, 0x3b), VCORE_OK); /* BH */
    ck_assert_uint_eq(vcore__x86_byte_reg(&in, in.reg, &high), 3);
    ck_assert(high);
}
END_TEST

static Suite *decode_suite(void)
{
    Suite *s = suite_create("x86_decode");
    TCase *tc = tcase_create("decode");
    tcase_add_test(tc, mov_forms);
    tcase_add_test(tc, system_forms);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, byte_registers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(decode_suite());
}
