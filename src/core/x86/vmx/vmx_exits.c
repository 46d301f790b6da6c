/*
 * vmx_exits.c - names of the basic exit reasons and the decoder of the
 * VM-exit instruction-information field (SDM Vol. 3, appendix "VMX Basic
 * Exit Reasons", "VM-Exit Instruction-Information Field").
 */
#include "../../deps.h"
#include "../x86_bits.h"
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
    /* Address sizes 3-7 and segments 6-7 are undefined encodings. */
    uint32_t asize = VCORE__II_ASIZE(info), seg = VCORE__II_SEG(info);
    if (asize > 2 || seg > 5)
        return VCORE_ERR_INVAL;
    out->scale = (uint8_t)VCORE__II_SCALE(info);
    out->reg1 = (uint8_t)VCORE__II_REG1(info);
    out->address_size = (uint8_t)(16u << asize);
    out->is_register = VCORE__II_IS_REG(info) != 0;
    out->segment = (uint8_t)seg;
    out->index_reg = (uint8_t)VCORE__II_INDEX(info);
    out->index_valid = VCORE__II_INDEX_INVALID(info) == 0;
    out->base_reg = (uint8_t)VCORE__II_BASE(info);
    out->base_valid = VCORE__II_BASE_INVALID(info) == 0;
    out->reg2 = (uint8_t)VCORE__II_REG2(info);
    return VCORE_OK;
}
