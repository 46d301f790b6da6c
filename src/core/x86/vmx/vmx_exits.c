/*
 * vmx_exits.c - names of the basic exit reasons and the decoder of the
 * VM-exit instruction-information field (SDM Vol. 3, appendix "VMX Basic
 * Exit Reasons", "VM-Exit Instruction-Information Field").
 */
#include "../../deps.h"
#include "virtcore/error.h"
#include "virtcore/x86/vmx_exits.h"

static const char *const vcore__vmx_exit_names[VCORE_VMX_EXIT_MAX_] = {
#define VCORE__VMX_EXIT_NAME(name, value) [value] = #name,
    VCORE_VMX_EXIT_REASON_LIST(VCORE__VMX_EXIT_NAME)
#undef VCORE__VMX_EXIT_NAME
};

const char *vcore_vmx_exit_reason_name(uint32_t basic)
{
    basic = VCORE_VMX_EXIT_REASON_BASIC(basic);
    if (basic >= VCORE_VMX_EXIT_MAX_ || !vcore__vmx_exit_names[basic])
        return "UNKNOWN";
    return vcore__vmx_exit_names[basic];
}

int vcore_vmx_insn_info_decode(uint32_t info, vcore_vmx_insn_info_t *out)
{
    if (!out)
        return VCORE_ERR_INVAL;
    if (out->size != sizeof(*out))
        return VCORE_ERR_ABI;
    /* Bits 9:7 address size: 0 = 16-bit, 1 = 32-bit, 2 = 64-bit, others undefined. */
    uint32_t asize = (info >> 7) & 7u;
    /* Bits 17:15 segment: ES, CS, SS, DS, FS, GS; 6 and 7 are undefined. */
    uint32_t seg = (info >> 15) & 7u;
    if (asize > 2 || seg > 5)
        return VCORE_ERR_INVAL;
    out->scale = (uint8_t)(info & 3u);
    out->reg1 = (uint8_t)((info >> 3) & 0xfu);
    out->address_size = (uint8_t)(16u << asize);
    out->is_register = ((info >> 10) & 1u) != 0;
    out->segment = (uint8_t)seg;
    out->index_reg = (uint8_t)((info >> 18) & 0xfu);
    out->index_valid = ((info >> 22) & 1u) == 0;
    out->base_reg = (uint8_t)((info >> 23) & 0xfu);
    out->base_valid = ((info >> 27) & 1u) == 0;
    out->reg2 = (uint8_t)((info >> 28) & 0xfu);
    return VCORE_OK;
}
