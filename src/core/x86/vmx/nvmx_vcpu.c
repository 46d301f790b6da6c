/*
 * nvmx_vcpu.c - glue between the pure nested-VMX emulation and a vCPU,
 * using only the public VM/vCPU API (register get/set, guest memory).
 */
#include "nvmx_priv.h"
#include "virtcore/backend.h"
#include "virtcore/vcpu.h"

static int nvmx_vcpu_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    return vcore_vm_read_guest((const vcore_vm_t *)ctx, gpa, buf, len);
}

static int nvmx_vcpu_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    return vcore_vm_write_guest((vcore_vm_t *)ctx, gpa, buf, len);
}

int vcore_nvmx_mem_from_vm(vcore_vm_t *vm, vcore_nvmx_mem_t *out)
{
    if (!vm || !out)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(out))
        return VCORE_ERR_ABI;
    out->ctx = vm;
    out->read = nvmx_vcpu_read;
    out->write = nvmx_vcpu_write;
    return VCORE_OK;
}

int vcore_nvmx_vcpu_emulate(vcore_nvmx_t *nvmx, vcore_vcpu_t *vcpu, const vcore_nvmx_insn_t *exit_info,
                            vcore_nvmx_result_t *res)
{
    vcore_nvmx_insn_t in;
    vcore_nvmx_mem_t mem;
    vcore_x86_regs_t regs;
    int err;

    if (!vcpu || !exit_info || !res)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(exit_info))
        return VCORE_ERR_ABI;
    in = *exit_info;
    in.regs.size = sizeof(in.regs);
    in.sregs.size = sizeof(in.sregs);
    mem.size = sizeof(mem);
    err = vcore_nvmx_mem_from_vm(vcore_vcpu_vm(vcpu), &mem);
    if (err)
        return err;
    err = vcore_vcpu_get_regs(vcpu, &in.regs);
    if (err)
        return err;
    err = vcore_vcpu_get_sregs(vcpu, &in.sregs);
    if (err)
        return err;
    err = vcore_nvmx_emulate(nvmx, &mem, &in, res);
    if (err)
        return err;
    if (res->outcome != VCORE_NVMX_OUT_SUCCEED && res->outcome != VCORE_NVMX_OUT_FAIL_INVALID &&
        res->outcome != VCORE_NVMX_OUT_FAIL_VALID)
        return VCORE_OK;
    regs = in.regs;
    err = vcore_nvmx_result_apply(res, &regs);
    if (err)
        return err;
    return vcore_vcpu_set_regs(vcpu, &regs);
}
