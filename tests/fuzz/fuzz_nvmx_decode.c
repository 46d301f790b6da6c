/* libFuzzer target: every VMX instruction with arbitrary instruction
 * information, displacement, registers, modes, segments and page tables.
 * Invariants: no crash; a recorded outcome is one of the classes; an
 * exception is #UD, #SS, #GP or #PF; RIP only moves on VMsucceed/VMfail. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in_t in = {data, size, 0};
    vcore_nvmx_mem_t mem = {sizeof(mem), NULL, fz_read, fz_write};
    vcore_nvmx_insn_t x;
    vcore_nvmx_result_t r;
    vcore_nvmx_t *n = fz_nvmx(32 + (uint32_t)(size % 21));

    memset(fz_ram, 0, sizeof(fz_ram));
    fz_l1(&x);
    /* a few VMCS-looking regions and random RAM bytes */
    for (unsigned i = 0; i < 4; i++) {
        uint32_t rev = VCORE_VMCS12_REVISION | (i == 3 ? 0x80000000u : 0);
        memcpy(fz_ram + 0x8000 + 0x1000 * i, &rev, 4);
    }
    while (in.off < in.n) {
        uint8_t what = (uint8_t)fz_take(&in, 1);
        switch (what & 7) {
        case 0: { /* poke RAM (page tables included) */
            uint32_t off = (uint32_t)fz_take(&in, 2) % (FZ_RAM - 8);
            uint64_t v = fz_take(&in, 8);
            memcpy(fz_ram + off, &v, 8);
            break;
        }
        case 1:
            x.sregs.cr0 ^= fz_take(&in, 8);
            x.sregs.cr4 ^= fz_take(&in, 8);
            x.sregs.efer ^= fz_take(&in, 2);
            break;
        case 2: {
            uint32_t s = (uint32_t)fz_take(&in, 1) & 7;
            x.sregs.seg[s].ar = (uint32_t)fz_take(&in, 4);
            x.sregs.seg[s].limit = (uint32_t)fz_take(&in, 4);
            x.sregs.seg[s].base = fz_take(&in, 8);
            break;
        }
        case 3:
            x.regs.gpr[fz_take(&in, 1) & 15] = fz_take(&in, 8);
            break;
        case 4:
            x.regs.rflags = fz_take(&in, 4) | 2;
            x.interruptibility = (uint32_t)fz_take(&in, 1);
            x.in_l2 = (fz_take(&in, 1) & 1) != 0;
            break;
        default: {
            vcore_nvmx_info_t info = {.size = sizeof(info)};
            uint64_t rip = fz_take(&in, 8);
            x.op = 1 + (uint32_t)(fz_take(&in, 1) % 11);
            x.insn_info = (uint32_t)fz_take(&in, 4);
            x.qualification = fz_take(&in, 8);
            x.regs.rip = rip;
            r.size = sizeof(r);
            int err = vcore_nvmx_emulate(n, &mem, &x, &r);
            if (err == VCORE_ERR_FAULT)
                break;
            if (err != VCORE_OK || r.outcome < VCORE_NVMX_OUT_SUCCEED ||
                r.outcome > VCORE_NVMX_OUT_EXIT_TO_L1)
                abort();
            if (r.outcome == VCORE_NVMX_OUT_EXCEPTION &&
                r.vector != 6 && r.vector != 12 && r.vector != 13 && r.vector != 14)
                abort();
            if ((r.outcome == VCORE_NVMX_OUT_EXCEPTION || r.outcome == VCORE_NVMX_OUT_ENTRY) &&
                r.rip != rip)
                abort();
            if (vcore_nvmx_get_info(n, &info) != VCORE_OK)
                abort();
            break;
        }
        }
    }
    return 0;
}
