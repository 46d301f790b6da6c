/* libFuzzer target: VMREAD/VMWRITE with arbitrary encodings, values,
 * operand registers and widths, on a live nested state. Invariants: no
 * crash, the O(1) table agrees with the metadata API, every outcome is
 * VMsucceed or VMfailValid(12/13). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t page[4096];
    fz_in_t in = {data, size, 0};
    vcore_nvmx_mem_t mem = {sizeof(mem), NULL, fz_read, fz_write};
    vcore_nvmx_insn_t x;
    vcore_nvmx_result_t r;
    vcore_nvmx_t *n = fz_nvmx(40);
    uint32_t rev = VCORE_VMCS12_REVISION;
    uint64_t ptr;

    memset(fz_ram, 0, sizeof(fz_ram));
    fz_l1(&x);
    memcpy(fz_ram + 0x8000, &rev, 4);
    memcpy(fz_ram + 0x9000, &rev, 4);
    x.insn_info = (2u << 7) | (3u << 15) | (1u << 22) | (3u << 23); /* DS:[RBX] */
    x.regs.gpr[3] = 0xa000;
    r.size = sizeof(r);
    ptr = 0x8000; memcpy(fz_ram + 0xa000, &ptr, 8);
    x.op = VCORE_NVMX_VMXON;
    if (vcore_nvmx_emulate(n, &mem, &x, &r) != VCORE_OK || r.outcome != VCORE_NVMX_OUT_SUCCEED)
        abort();
    ptr = 0x9000; memcpy(fz_ram + 0xa000, &ptr, 8);
    x.op = VCORE_NVMX_VMPTRLD;
    if (vcore_nvmx_emulate(n, &mem, &x, &r) != VCORE_OK || r.outcome != VCORE_NVMX_OUT_SUCCEED)
        abort();

    while (in.off < in.n) {
        uint64_t enc = fz_take(&in, 1) & 1 ? fz_take(&in, 8) : fz_take(&in, 2);
        uint64_t val = fz_take(&in, 8);
        uint8_t ctl = (uint8_t)fz_take(&in, 1);
        vcore_vmcs_field_info_t a = {.size = sizeof(a)};
        bool in_table = (enc >> 32) == 0 && vcore_vmcs_field_lookup((uint32_t)enc, &a) == VCORE_OK;
        /* VMREAD/VMWRITE know the fields L1's processor has ("Field Encoding in VMCS"). */
        bool known = in_table && vcore_nvmx_caps_has_field(vcore_nvmx_caps(n), (uint32_t)enc);

        /* raw accessors agree with the metadata */
        if ((enc >> 32) == 0) {
            int e1 = vcore_vmcs12_set(page, (uint32_t)enc, val);
            if ((e1 == VCORE_OK) != in_table)
                abort();
        }
        x.in_l2 = false;
        x.regs.gpr[1] = enc;
        x.regs.gpr[2] = val;
        /* register or memory operand, 64-bit or compatibility-free 32-bit mode */
        x.insn_info = (ctl & 1) ? ((1u << 10) | (2u << 3) | (2u << 7) | (1u << 28))
                                : ((2u << 7) | (3u << 15) | (1u << 22) | (3u << 23) | (1u << 28));
        x.regs.gpr[3] = 0xb000 + (ctl & 0xf0);
        x.op = (ctl & 2) ? VCORE_NVMX_VMWRITE : VCORE_NVMX_VMREAD;
        if (vcore_nvmx_emulate(n, &mem, &x, &r) != VCORE_OK)
            abort();
        if (r.outcome == VCORE_NVMX_OUT_SUCCEED) {
            if (!known)
                abort();
        } else if (r.outcome == VCORE_NVMX_OUT_FAIL_VALID) {
            if (r.vm_error != 12 && r.vm_error != 13)
                abort();
            if (r.vm_error == 12 && known)
                abort();
        } else {
            abort();
        }
    }
    return 0;
}
