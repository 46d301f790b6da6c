/*
 * vmx_fake.c - strict fake of the vmx primitives (see vmx_fake.h).
 */
#include <stdlib.h>
#include "vmx_fake.h"

#include <check.h>
#include <string.h>

#include <virtcore/error.h>
#include <virtcore/x86/vmcs.h>

vmx_fake_t vmx_fake;

/* The address the fake's exit entry point reports (a host-code address). */
#define VMX_FAKE_EXIT_RIP 0xffffffff81000000ull
#define VMX_FAKE_REVISION 0x2bu
/* Host tests use virtual addresses as physical ones: allow 48 bits. */
#define VMX_FAKE_MAXPHYADDR 48

static const vcore__vmx_rc_t ok = {VCORE__VMX_SUCCEED, 0};

void vmx_fake_set_msr(uint32_t index, uint64_t value)
{
    for (uint32_t i = 0; i < vmx_fake.nmsr; i++)
        if (vmx_fake.msr[i].index == index) {
            vmx_fake.msr[i].value = value;
            return;
        }
    ck_assert_msg(vmx_fake.nmsr < VMX_FAKE_MAX_MSRS, "vmx_fake: MSR table full");
    vmx_fake.msr[vmx_fake.nmsr].index = index;
    vmx_fake.msr[vmx_fake.nmsr].value = value;
    vmx_fake.nmsr++;
}

static uint64_t msr_value(uint32_t index)
{
    for (uint32_t i = 0; i < vmx_fake.nmsr; i++)
        if (vmx_fake.msr[i].index == index)
            return vmx_fake.msr[i].value;
    return 0;
}

void vmx_fake_reset(void)
{
    memset(&vmx_fake, 0, sizeof(vmx_fake));
    for (uint32_t i = 0; i < VMX_FAKE_MAX_CPUS; i++) {
        vmx_fake.cpu[i].current = -1;
        vmx_fake.cpu[i].cr0 = 0x80000033ull; /* PG, NE, ET, MP, PE */
        vmx_fake.cpu[i].cr4 = 0x220ull;      /* OSFXSR, PAE */
    }
    /* x87/SSE registers as at power-up (SDM Vol. 1, "x87 FPU Initialization",
     * "MXCSR Control and Status Register"), MXCSR_MASK FFFFH (DAZ supported);
     * XMM0 holds a host value the guest must never see. */
    vmx_fake.fx[0] = 0x7f;
    vmx_fake.fx[1] = 0x03;
    vmx_fake.fx[24] = 0x80;
    vmx_fake.fx[25] = 0x1f;
    vmx_fake.fx[28] = 0xff;
    vmx_fake.fx[29] = 0xff;
    memset(vmx_fake.fx + 160, 0xa5, 16);
    vmx_fake.cpuid1_ecx = 1u << 5; /* VMX */
    vmx_fake.fail_field = UINT32_MAX;
    vmx_fake.host_rsp = 0x7000f000ull;
    /* The capability MSRs of Bochs' corei7_skylake_x (shared/reference/emulators.md). */
    vmx_fake_set_msr(0x03a, 0x5);
    vmx_fake_set_msr(0x480, 0x00d810000000002bull);
    vmx_fake_set_msr(0x481, 0x0000007f00000016ull);
    vmx_fake_set_msr(0x482, 0xf7f9fffe0401e172ull);
    vmx_fake_set_msr(0x483, 0x007fffff00036dffull);
    vmx_fake_set_msr(0x484, 0x0000ffff000011ffull);
    vmx_fake_set_msr(0x485, 0x00000000600401e0ull);
    vmx_fake_set_msr(0x486, 0x0000000080000021ull);
    vmx_fake_set_msr(0x487, 0x00000000ffffffffull);
    vmx_fake_set_msr(0x488, 0x0000000000002000ull);
    vmx_fake_set_msr(0x489, 0x00000000003727ffull);
    vmx_fake_set_msr(0x48a, 0x0000000000000034ull);
    vmx_fake_set_msr(0x48b, 0x02177fff00000000ull);
    vmx_fake_set_msr(0x48c, 0x00000f0106334141ull);
    vmx_fake_set_msr(0x48d, 0x0000007f00000016ull);
    vmx_fake_set_msr(0x48e, 0xf7f9fffe04006172ull);
    vmx_fake_set_msr(0x48f, 0x007fffff00036dfbull);
    vmx_fake_set_msr(0x490, 0x0000ffff000011fbull);
    vmx_fake_set_msr(0x491, 0x1);
    vmx_fake_set_msr(0x174, 0x10);                /* SYSENTER_CS */
    vmx_fake_set_msr(0x175, 0xffff800000001000ull); /* SYSENTER_ESP */
    vmx_fake_set_msr(0x176, 0xffff800000002000ull); /* SYSENTER_EIP */
    vmx_fake_set_msr(0x277, 0x0007040600070406ull); /* PAT */
    vmx_fake_set_msr(0xc0000080u, 0xd01);           /* EFER: SCE, LME, LMA, NXE */
    vmx_fake_set_msr(0xc0000081u, 0x0023001000000000ull); /* STAR */
    vmx_fake_set_msr(0xc0000082u, 0xffffffff81800000ull); /* LSTAR */
    vmx_fake_set_msr(0xc0000083u, 0xffffffff81800100ull); /* CSTAR */
    vmx_fake_set_msr(0xc0000084u, 0x47700);               /* FMASK */
    vmx_fake_set_msr(0xc0000102u, 0x00007f0000001000ull); /* KERNEL_GS_BASE */
    vmx_fake_set_msr(0xc0000100u, 0);               /* FS_BASE */
    vmx_fake_set_msr(0xc0000101u, 0xffff888000000000ull); /* GS_BASE */
    vmx_fake.host.cr0 = vmx_fake.cpu[0].cr0;
    vmx_fake.host.cr3 = 0x1000;
    vmx_fake.host.cr4 = vmx_fake.cpu[0].cr4;
    vmx_fake.host.cs = 0x08;
    vmx_fake.host.ss = vmx_fake.host.ds = vmx_fake.host.es = 0x10;
    vmx_fake.host.tr = 0x18;
    vmx_fake.host.gs_base = 0xffff888000000000ull;
    vmx_fake.host.tr_base = 0xffff800000003000ull;
    vmx_fake.host.gdtr_base = 0xffff800000004000ull;
    vmx_fake.host.idtr_base = 0xffff800000005000ull;
}

/* VMfail: VMfailValid(n) with a current VMCS, VMfailInvalid otherwise
 * (SDM Vol. 3, "Conventions" in "VMX Instruction Reference"). */
static vcore__vmx_rc_t vmfail(uint32_t n)
{
    vcore__vmx_rc_t rc = {VCORE__VMX_FAIL_INVALID, 0};
    if (VMX_FAKE_CPU.current >= 0) {
        rc.kind = VCORE__VMX_FAIL_VALID;
        rc.error = n;
        if (vcore_vmcs12_set(vmx_fake.vmcs[VMX_FAKE_CPU.current].data, VCORE_VMCS_VM_INSTRUCTION_ERROR,
                             n) != VCORE_OK)
            abort();
    }
    return rc;
}

static const vcore__vmx_rc_t fail_invalid = {VCORE__VMX_FAIL_INVALID, 0};

/* Outside VMX operation the VMX instructions (except VMXON) raise #UD: a backend bug. */
static void need_vmx(const char *insn)
{
    ck_assert_msg(VMX_FAKE_CPU.in_vmx, "vmx_fake: %s outside VMX operation would #UD (cpu %u)", insn,
                  vmx_fake.this_cpu);
}

static bool pa_valid(uint64_t pa)
{
    return (pa & 0xfffu) == 0 && (pa >> VMX_FAKE_MAXPHYADDR) == 0;
}

vmx_fake_vmcs_t *vmx_fake_vmcs_at(uint64_t pa)
{
    for (uint32_t i = 0; i < vmx_fake.nvmcs; i++)
        if (vmx_fake.vmcs[i].pa == pa)
            return &vmx_fake.vmcs[i];
    return NULL;
}

static vmx_fake_vmcs_t *vmcs_rec(uint64_t pa)
{
    vmx_fake_vmcs_t *v = vmx_fake_vmcs_at(pa);
    if (v)
        return v;
    ck_assert_msg(vmx_fake.nvmcs < VMX_FAKE_MAX_VMCS, "vmx_fake: too many VMCS regions");
    v = &vmx_fake.vmcs[vmx_fake.nvmcs++];
    memset(v, 0, sizeof(*v));
    /* A field holds what VMWRITE put there; before that its value is
     * undefined ("VMCS Region"): the fake makes it garbage. */
    memset(v->data, 0xa5, sizeof(v->data));
    v->pa = pa;
    v->active_cpu = -1;
    return v;
}

static int vmcs_index(const vmx_fake_vmcs_t *v)
{
    return (int)(v - vmx_fake.vmcs);
}

static uint32_t region_dword(uint64_t pa)
{
    uint32_t d;
    memcpy(&d, (const void *)(uintptr_t)pa, 4);
    return d;
}

vcore__vmx_rc_t vcore__vmx_on(uint64_t pa)
{
    vmx_fake_cpu_t *cpu = &VMX_FAKE_CPU;
    vmx_fake.n_vmxon++;
    cpu->n_vmxon++;
    /* "VMXON": #UD unless CR4.VMXE; #GP if CR0/CR4 break the fixed bits. */
    ck_assert_msg(cpu->cr4 & (1u << 13), "vmx_fake: VMXON with CR4.VMXE = 0 would #UD");
    ck_assert_msg((cpu->cr0 & 0x80000021ull) == 0x80000021ull,
                  "vmx_fake: VMXON with CR0 outside IA32_VMX_CR0_FIXED0 would #GP");
    if (cpu->in_vmx)
        return vmfail(VCORE_VMXERR_VMXON_IN_ROOT);
    if (!pa_valid(pa))
        return fail_invalid;
    if ((region_dword(pa) & 0x7fffffffu) != VMX_FAKE_REVISION || (region_dword(pa) >> 31))
        return fail_invalid;
    cpu->in_vmx = true;
    cpu->vmxon_pa = pa;
    cpu->current = -1;
    return ok;
}

vcore__vmx_rc_t vcore__vmx_off(void)
{
    vmx_fake_cpu_t *cpu = &VMX_FAKE_CPU;
    vmx_fake.n_vmxoff++;
    cpu->n_vmxoff++;
    need_vmx("VMXOFF");
    /* "VMXOFF": VMCSs still active here would be left undefined; the fake
     * holds software to VMCLEARing them first. */
    for (uint32_t i = 0; i < vmx_fake.nvmcs; i++)
        ck_assert_msg(vmx_fake.vmcs[i].active_cpu != (int)vmx_fake.this_cpu,
                      "vmx_fake: VMXOFF with VMCS %#llx still active",
                      (unsigned long long)vmx_fake.vmcs[i].pa);
    cpu->in_vmx = false;
    cpu->current = -1;
    return ok;
}

/* A VMCS active on another processor cannot be touched here ("VMCS Life Cycle"). */
static void need_local(const vmx_fake_vmcs_t *v, const char *insn)
{
    ck_assert_msg(v->active_cpu < 0 || v->active_cpu == (int)vmx_fake.this_cpu,
                  "vmx_fake: %s on cpu %u of a VMCS active on cpu %d", insn, vmx_fake.this_cpu,
                  v->active_cpu);
}

vcore__vmx_rc_t vcore__vmx_clear(uint64_t pa)
{
    vmx_fake.n_vmclear++;
    need_vmx("VMCLEAR");
    if (!pa_valid(pa))
        return vmfail(VCORE_VMXERR_VMCLEAR_INVALID_ADDR);
    if (pa == VMX_FAKE_CPU.vmxon_pa)
        return vmfail(VCORE_VMXERR_VMCLEAR_VMXON_PTR);
    vmx_fake_vmcs_t *v = vmcs_rec(pa);
    need_local(v, "VMCLEAR");
    v->cleared_once = true;
    v->launched = false;
    v->active_cpu = -1;
    if (VMX_FAKE_CPU.current == vmcs_index(v))
        VMX_FAKE_CPU.current = -1;
    return ok;
}

vcore__vmx_rc_t vcore__vmx_ptrld(uint64_t pa)
{
    vmx_fake.n_vmptrld++;
    need_vmx("VMPTRLD");
    if (!pa_valid(pa))
        return vmfail(VCORE_VMXERR_VMPTRLD_INVALID_ADDR);
    if (pa == VMX_FAKE_CPU.vmxon_pa)
        return vmfail(VCORE_VMXERR_VMPTRLD_VMXON_PTR);
    if ((region_dword(pa) & 0x7fffffffu) != VMX_FAKE_REVISION)
        return vmfail(VCORE_VMXERR_VMPTRLD_BAD_REVISION);
    vmx_fake_vmcs_t *v = vmcs_rec(pa);
    /* A region made active without VMCLEAR has an undefined launch state
     * ("VMCS Life Cycle"): the fake does not guess. */
    ck_assert_msg(v->cleared_once, "vmx_fake: VMPTRLD of a region never VMCLEARed");
    need_local(v, "VMPTRLD");
    v->active_cpu = (int)vmx_fake.this_cpu;
    VMX_FAKE_CPU.current = vmcs_index(v);
    return ok;
}

vcore__vmx_rc_t vcore__vmx_ptrst(uint64_t *pa)
{
    vmx_fake.n_vmptrst++;
    need_vmx("VMPTRST");
    *pa = VMX_FAKE_CPU.current >= 0 ? vmx_fake.vmcs[VMX_FAKE_CPU.current].pa : ~0ull;
    return ok;
}

/* A field the modelled processor supports: in the library's table (SDM
 * appendix "Field Encoding in VMCS"). Others are VMfailValid 12. */
static bool have_field(uint32_t field, vcore_vmcs_field_info_t *info)
{
    info->size = sizeof(*info);
    return field != vmx_fake.fail_field && vcore_vmcs_field_lookup(field, info) == VCORE_OK;
}

static void log_access(uint32_t field, bool write)
{
    if (vmx_fake.logging && vmx_fake.nlog < VMX_FAKE_LOG) {
        vmx_fake.log[vmx_fake.nlog].field = field;
        vmx_fake.log[vmx_fake.nlog].write = write;
        vmx_fake.nlog++;
    }
}

vcore__vmx_rc_t vcore__vmx_read(uint32_t field, uint64_t *value)
{
    vmx_fake.n_vmread++;
    need_vmx("VMREAD");
    if (VMX_FAKE_CPU.current < 0)
        return fail_invalid;
    vcore_vmcs_field_info_t info;
    if (!have_field(field, &info))
        return vmfail(VCORE_VMXERR_UNSUPPORTED_FIELD);
    vmx_fake.n_read_type[info.type & 3u]++;
    log_access(field, false);
    ck_assert_int_eq(vcore_vmcs12_get(vmx_fake.vmcs[VMX_FAKE_CPU.current].data, field, value), VCORE_OK);
    return ok;
}

vcore__vmx_rc_t vcore__vmx_write(uint32_t field, uint64_t value)
{
    vmx_fake.n_vmwrite++;
    need_vmx("VMWRITE");
    if (VMX_FAKE_CPU.current < 0)
        return fail_invalid;
    vcore_vmcs_field_info_t info;
    if (!have_field(field, &info))
        return vmfail(VCORE_VMXERR_UNSUPPORTED_FIELD);
    /* "VMWRITE": exit-information fields are read-only unless IA32_VMX_MISC
     * bit 29 ("VMWRITE to any supported field") is 1. */
    if (info.type == VCORE_VMCS_TYPE_RO_DATA && !((msr_value(0x485) >> 29) & 1u))
        return vmfail(VCORE_VMXERR_VMWRITE_READ_ONLY);
    vmx_fake.n_write_type[info.type & 3u]++;
    log_access(field, true);
    ck_assert_int_eq(vcore_vmcs12_set(vmx_fake.vmcs[VMX_FAKE_CPU.current].data, field, value), VCORE_OK);
    return ok;
}

vcore__vmx_rc_t vcore__vmx_invept(uint64_t type, uint64_t eptp)
{
    vmx_fake.n_invept++;
    need_vmx("INVEPT");
    vmx_fake.invept_type = type;
    vmx_fake.invept_eptp = eptp;
    /* EPT_VPID_CAP: single-context (bit 25) and all-context (bit 26) supported. */
    if (type != 1 && type != 2)
        return vmfail(VCORE_VMXERR_INVALID_INVEPT_INVVPID);
    return ok;
}

vcore__vmx_rc_t vcore__vmx_invvpid(uint64_t type, uint16_t vpid, uint64_t gla)
{
    vmx_fake.n_invvpid++;
    need_vmx("INVVPID");
    vmx_fake.invvpid[vmx_fake.ninvvpid % VMX_FAKE_LOG].type = type;
    vmx_fake.invvpid[vmx_fake.ninvvpid % VMX_FAKE_LOG].vpid = vpid;
    vmx_fake.invvpid[vmx_fake.ninvvpid % VMX_FAKE_LOG].gla = gla;
    vmx_fake.ninvvpid++;
    if (type > 3 || (type != 2 && vpid == 0))
        return vmfail(VCORE_VMXERR_INVALID_INVEPT_INVVPID);
    /* "INVVPID": individual-address with a non-canonical address (48-bit
     * linear addresses) fails. */
    uint64_t top = gla >> 47;
    if (type == 0 && top != 0 && top != 0x1ffffull)
        return vmfail(VCORE_VMXERR_INVALID_INVEPT_INVVPID);
    return ok;
}

/* FXSAVE/FXRSTOR: #UD with CR0.EM or without CR4.OSFXSR in this model (the
 * backend needs the XMM registers saved), #NM with CR0.TS, #GP on a
 * misaligned area or an MXCSR bit outside MXCSR_MASK (SDM Vol. 2, "FXSAVE",
 * "FXRSTOR"). */
static void fx_check(const void *area, const char *what)
{
    ck_assert_msg(((uintptr_t)area & 15u) == 0, "vmx_fake: %s of a misaligned area would #GP", what);
    ck_assert_msg(VMX_FAKE_CPU.cr4 & (1u << 9), "vmx_fake: %s without CR4.OSFXSR", what);
    ck_assert_msg(!(VMX_FAKE_CPU.cr0 & 0xcu), "vmx_fake: %s with CR0.EM or CR0.TS would fault", what);
}

void vcore__vmx_fxsave(void *area)
{
    fx_check(area, "FXSAVE");
    vmx_fake.n_fxsave++;
    memcpy(area, vmx_fake.fx, sizeof(vmx_fake.fx));
}

void vcore__vmx_fxrstor(const void *area)
{
    fx_check(area, "FXRSTOR");
    const uint8_t *a = area;
    uint32_t mxcsr = (uint32_t)a[24] | (uint32_t)a[25] << 8 | (uint32_t)a[26] << 16 | (uint32_t)a[27] << 24;
    uint32_t mask = (uint32_t)vmx_fake.fx[28] | (uint32_t)vmx_fake.fx[29] << 8;
    ck_assert_msg((mxcsr & ~mask) == 0, "vmx_fake: FXRSTOR of MXCSR %#x would #GP", mxcsr);
    vmx_fake.n_fxrstor++;
    /* MXCSR_MASK is the processor's; FXRSTOR does not load it. */
    uint8_t keep[4];
    memcpy(keep, vmx_fake.fx + 28, 4);
    memcpy(vmx_fake.fx, a, sizeof(vmx_fake.fx));
    memcpy(vmx_fake.fx + 28, keep, 4);
}

uint64_t vmx_fake_get(uint32_t field)
{
    uint64_t v = 0;
    ck_assert_msg(VMX_FAKE_CPU.current >= 0, "vmx_fake: no current VMCS");
    ck_assert_int_eq(vcore_vmcs12_get(vmx_fake.vmcs[VMX_FAKE_CPU.current].data, field, &v), VCORE_OK);
    return v;
}

void vmx_fake_set(uint32_t field, uint64_t value)
{
    ck_assert_msg(VMX_FAKE_CPU.current >= 0, "vmx_fake: no current VMCS");
    ck_assert_int_eq(vcore_vmcs12_set(vmx_fake.vmcs[VMX_FAKE_CPU.current].data, field, value), VCORE_OK);
}

void vmx_fake_exit(uint32_t reason, uint64_t qualification, uint32_t instr_len)
{
    vmx_fake_set(VCORE_VMCS_VM_EXIT_REASON, reason);
    vmx_fake_set(VCORE_VMCS_EXIT_QUALIFICATION, qualification);
    vmx_fake_set(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN, instr_len);
    vmx_fake.exit_set = true;
}

/* A control word against its capability MSR ("Checks on VM-Execution Control Fields"). */
static bool ctl_ok(uint32_t field, uint32_t msr)
{
    uint64_t cap = msr_value(msr);
    uint32_t v = (uint32_t)vmx_fake_get(field);
    return (v & (uint32_t)cap) == (uint32_t)cap && (v & ~(uint32_t)(cap >> 32)) == 0;
}

/* "Checks on VM-Entry Control Fields": event injection. */
static bool entry_injection_ok(void)
{
    uint32_t info = (uint32_t)vmx_fake_get(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD);
    if (!(info >> 31))
        return true;
    uint32_t type = (info >> 8) & 7u, vec = info & 0xffu;
    bool has_err = (info >> 11) & 1u;
    if (type == 1 || type == 7) /* reserved; "other event" is never used by the backend */
        return false;
    if ((type == 2 && vec != 2) || (type == 3 && vec > 31))
        return false;
    /* An error code exactly for the hardware exceptions that push one, in protected mode. */
    bool pe = vmx_fake_get(VCORE_VMCS_GUEST_CR0) & 1u;
    bool wants = type == 3 && pe && (vec == 8 || (vec >= 10 && vec <= 14) || vec == 17);
    if (has_err != wants)
        return false;
    if (info & 0x7ffff000u) /* bits 30:12 reserved */
        return false;
    if (has_err && (vmx_fake_get(VCORE_VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE) >> 16))
        return false;
    /* Software events need an instruction length 1-15 (0 too with MISC bit 30). */
    if (type >= 4 && type <= 6) {
        uint64_t len = vmx_fake_get(VCORE_VMCS_VM_ENTRY_INSTRUCTION_LEN);
        bool zero_ok = (msr_value(0x485) >> 30) & 1u;
        if (len > 15 || (len == 0 && !zero_ok))
            return false;
    }
    return true;
}

/* The guest-state checks the backend is responsible for ("Checks on Guest
 * Control Registers...", "Checks on Guest RIP and RFLAGS", "Checks on Guest
 * Non-Register State"). */
static bool guest_ok(uint64_t *qual)
{
    *qual = 0;
    uint64_t cr0 = vmx_fake_get(VCORE_VMCS_GUEST_CR0), cr4 = vmx_fake_get(VCORE_VMCS_GUEST_CR4);
    uint32_t proc2 = (uint32_t)vmx_fake_get(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL);
    bool unrestricted = (vmx_fake_get(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL) >> 31) && (proc2 & (1u << 7));
    uint64_t fixed0 = msr_value(0x486) & (unrestricted ? ~0x80000001ull : ~0ull);
    if ((cr0 & fixed0) != fixed0 || (cr0 >> 32) || ((cr0 >> 31) && !(cr0 & 1u)))
        return false;
    if (!(cr4 & (1u << 13)) || (cr4 & ~msr_value(0x489)))
        return false;
    /* "load IA32_EFER": LMA equals "IA-32e mode guest"; with CR0.PG so does LME. */
    uint32_t entry = (uint32_t)vmx_fake_get(VCORE_VMCS_VM_ENTRY_CONTROLS);
    bool ia32e = (entry >> 9) & 1u;
    uint64_t efer = vmx_fake_get(VCORE_VMCS_GUEST_IA32_EFER);
    if ((entry >> 15) & 1u) {
        if (((efer >> 10) & 1u) != ia32e || ((cr0 >> 31) && ((efer >> 8) & 1u) != ia32e))
            return false;
    }
    if (ia32e && !(cr4 & (1u << 5)))
        return false;
    uint64_t rflags = vmx_fake_get(VCORE_VMCS_GUEST_RFLAGS);
    uint32_t intr = (uint32_t)vmx_fake_get(VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO);
    uint32_t info = (uint32_t)vmx_fake_get(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD);
    uint32_t type = (info >> 8) & 7u;
    bool inject = info >> 31;
    if ((intr & ~0x1fu) || (intr & 3u) == 3u)
        return false;
    if ((intr & 1u) && !(rflags & (1u << 9)))
        return false;
    if (inject && type == 0 && ((intr & 3u) || !(rflags & (1u << 9))))
        return false;
    if (inject && type == 2 && (intr & 2u))
        return false;
    bool vnmi = (vmx_fake_get(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL) >> 5) & 1u;
    if (inject && type == 2 && vnmi && (intr & 8u))
        return false;
    if (vmx_fake_get(VCORE_VMCS_GUEST_ACTIVITY_STATE) != 0)
        return false;
    /* "Checks on Guest Non-Register State", VMCS link pointer: all ones,
     * or 4-KByte aligned, within the physical-address width, naming a
     * region whose bits 30:0 are the revision identifier and whose bit 31
     * equals "VMCS shadowing" (secondary control 14, active with bit 31 of
     * the primary controls). */
    uint64_t link = vmx_fake_get(VCORE_VMCS_VMCS_LINK_POINTER);
    if (link != ~0ull) {
        bool shadowing = ((vmx_fake_get(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL) >> 31) & 1u) &&
                         ((vmx_fake_get(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL) >> 14) & 1u);
        if ((link & 0xfffu) || !pa_valid(link) || (region_dword(link) & 0x7fffffffu) != VMX_FAKE_REVISION ||
            ((region_dword(link) >> 31) & 1u) != (shadowing ? 1u : 0u)) {
            *qual = 4;
            return false;
        }
    }
    return true;
}

bool vmx_fake_irq_window_open(void)
{
    return ((vmx_fake_get(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL) >> 2) & 1u) &&
           ((vmx_fake_get(VCORE_VMCS_GUEST_RFLAGS) >> 9) & 1u) &&
           !(vmx_fake_get(VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO) & 3u);
}

bool vmx_fake_nmi_window_open(void)
{
    return ((vmx_fake_get(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL) >> 22) & 1u) &&
           !(vmx_fake_get(VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO) & 0xau);
}

vcore__vmx_rc_t vcore__vmx_enter(vcore__vmx_gprs_t *g)
{
    vmx_fake.n_enter++;
    need_vmx(g->launched ? "VMRESUME" : "VMLAUNCH");
    /* The real primitive rewrites HOST_RSP when the stack moved. */
    if (g->host_rsp != vmx_fake.host_rsp) {
        g->host_rsp = vmx_fake.host_rsp;
        vcore__vmx_rc_t rc = vcore__vmx_write(VCORE_VMCS_HOST_RSP, vmx_fake.host_rsp);
        if (rc.kind) {
            g->host_rsp = 0;
            return rc;
        }
    }
    if (VMX_FAKE_CPU.current < 0)
        return fail_invalid;
    vmx_fake_vmcs_t *v = &vmx_fake.vmcs[VMX_FAKE_CPU.current];
    /* "VMLAUNCH/VMRESUME": a shadow VMCS is never entered (VMfailInvalid). */
    if (region_dword(v->pa) >> 31)
        return fail_invalid;
    /* Launch-state checks first. */
    if (!g->launched && v->launched)
        return vmfail(VCORE_VMXERR_VMLAUNCH_NONCLEAR);
    if (g->launched && !v->launched)
        return vmfail(VCORE_VMXERR_VMRESUME_NONLAUNCHED);
    g->launched ? vmx_fake.n_resume++ : vmx_fake.n_launch++;
    /* Control checks (TRUE_* MSRs: IA32_VMX_BASIC bit 55 is set). */
    if (!ctl_ok(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x48d) ||
        !ctl_ok(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x48e) ||
        !ctl_ok(VCORE_VMCS_VM_EXIT_CONTROLS, 0x48f) || !ctl_ok(VCORE_VMCS_VM_ENTRY_CONTROLS, 0x490) ||
        ((vmx_fake_get(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL) >> 31) &&
         !ctl_ok(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 0x48b)) ||
        !entry_injection_ok())
        return vmfail(VCORE_VMXERR_ENTRY_INVALID_CONTROL);
    /* "virtual NMIs" needs "NMI exiting"; "NMI-window exiting" needs "virtual NMIs". */
    uint32_t pin = (uint32_t)vmx_fake_get(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL);
    uint32_t proc = (uint32_t)vmx_fake_get(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL);
    if (((pin >> 5) & 1u && !((pin >> 3) & 1u)) || (((proc >> 22) & 1u) && !((pin >> 5) & 1u)))
        return vmfail(VCORE_VMXERR_ENTRY_INVALID_CONTROL);
    /* "VMCS shadowing": the VMREAD and VMWRITE bitmap addresses are 4-KByte
     * aligned and within the physical-address width ("Checks on VM-Execution
     * Control Fields"). */
    if (((proc >> 31) & 1u) && ((vmx_fake_get(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL) >> 14) & 1u)) {
        uint64_t rbm = vmx_fake_get(VCORE_VMCS_VMREAD_BITMAP), wbm = vmx_fake_get(VCORE_VMCS_VMWRITE_BITMAP);
        if ((rbm & 0xfffu) || (wbm & 0xfffu) || !pa_valid(rbm) || !pa_valid(wbm))
            return vmfail(VCORE_VMXERR_ENTRY_INVALID_CONTROL);
    }
    /* Host-state checks the fake models: RIP is the exit entry, selectors, CR4.VMXE. */
    if (vmx_fake_get(VCORE_VMCS_HOST_RIP) != VMX_FAKE_EXIT_RIP ||
        vmx_fake_get(VCORE_VMCS_HOST_CS_SELECTOR) == 0 || vmx_fake_get(VCORE_VMCS_HOST_TR_SELECTOR) == 0 ||
        !(vmx_fake_get(VCORE_VMCS_HOST_CR4) & (1u << 13)))
        return vmfail(VCORE_VMXERR_ENTRY_INVALID_HOST);
    uint64_t qual;
    if (!guest_ok(&qual)) {
        vmx_fake_exit(0x80000000u | 33u, qual, 0);
        return ok;
    }
    /* Event injection ("Event Injection" in "VM Entries"): delivered before
     * the guest's first instruction; a vectoring entry leaves no blocking by
     * STI or MOV SS, and an injected NMI sets virtual-NMI blocking. */
    uint32_t info = (uint32_t)vmx_fake_get(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD);
    if (info >> 31) {
        vmx_fake.inj_info = info;
        vmx_fake.inj_error = (uint32_t)vmx_fake_get(VCORE_VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE);
        vmx_fake.inj_len = (uint32_t)vmx_fake_get(VCORE_VMCS_VM_ENTRY_INSTRUCTION_LEN);
        vmx_fake.n_injected++;
        uint64_t intr = vmx_fake_get(VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO) & ~3ull;
        if (((info >> 8) & 7u) == 2 && ((pin >> 5) & 1u))
            intr |= 8u;
        vmx_fake_set(VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO, intr);
    }
    /* The exit is not during event delivery unless the guest script says so. */
    vmx_fake_set(VCORE_VMCS_IDT_VECTORING_INFO_FIELD, 0);
    vmx_fake_set(VCORE_VMCS_VM_EXIT_INTR_INFO, 0);
    ck_assert_msg(vmx_fake.guest != NULL, "vmx_fake: VM entry without a guest script");
    vmx_fake.exit_set = false;
    vmx_fake.guest(&vmx_fake, g, vmx_fake.guest_arg);
    ck_assert_msg(vmx_fake.exit_set, "vmx_fake: the guest script described no exit");
    if (!(vmx_fake_get(VCORE_VMCS_VM_EXIT_REASON) & 0x80000000u)) {
        v->launched = true;
        /* Every VM exit clears the valid bit of the VM-entry
         * interruption-information field. */
        vmx_fake_set(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, info & 0x7fffffffu);
    }
    return ok;
}

uint64_t vcore__vmx_exit_rip(void)
{
    return VMX_FAKE_EXIT_RIP;
}

void vcore__vmx_host_nmi(void)
{
    vmx_fake.n_host_nmi++;
}

void vcore__vmx_host_mc(void)
{
    vmx_fake.n_host_mc++;
}

uint64_t vcore__vmx_rdtsc(void)
{
    uint64_t t = vmx_fake.tsc;
    vmx_fake.tsc += vmx_fake.tsc_step;
    return t;
}

uint64_t vcore__vmx_rdmsr(uint32_t msr)
{
    vmx_fake.n_rdmsr++;
    for (uint32_t i = 0; i < vmx_fake.nmsr; i++)
        if (vmx_fake.msr[i].index == msr)
            return vmx_fake.msr[i].value;
    ck_abort_msg("vmx_fake: RDMSR of unmodelled MSR %#x", msr);
    return 0;
}

void vcore__vmx_wrmsr(uint32_t msr, uint64_t value)
{
    ck_abort_msg("vmx_fake: WRMSR %#x <- %#llx not modelled", msr, (unsigned long long)value);
}

uint64_t vcore__vmx_read_cr0(void)
{
    return VMX_FAKE_CPU.cr0;
}

uint64_t vcore__vmx_read_cr4(void)
{
    return VMX_FAKE_CPU.cr4;
}

void vcore__vmx_write_cr4(uint64_t value)
{
    /* MOV to CR4 clearing VMXE in VMX operation is a #GP. */
    ck_assert_msg(!(VMX_FAKE_CPU.in_vmx && !(value & (1u << 13))),
                  "vmx_fake: CR4.VMXE cleared in VMX operation");
    VMX_FAKE_CPU.cr4 = value;
    vmx_fake.host.cr4 = value;
}

uint32_t vcore__vmx_cpl(void)
{
    return 0;
}

uint32_t vcore__vmx_cpuid1_ecx(void)
{
    return vmx_fake.cpuid1_ecx;
}

void vcore__vmx_host_regs(vcore__vmx_host_regs_t *out)
{
    *out = vmx_fake.host;
    out->cr4 = VMX_FAKE_CPU.cr4;
}

void vmx_fake_counts(uint64_t *reads, uint64_t *writes)
{
    *reads = vmx_fake.n_vmread - vmx_fake.mark_read;
    *writes = vmx_fake.n_vmwrite - vmx_fake.mark_write;
    vmx_fake.mark_read = vmx_fake.n_vmread;
    vmx_fake.mark_write = vmx_fake.n_vmwrite;
}

void vmx_fake_log_start(void)
{
    vmx_fake.nlog = 0;
    vmx_fake.logging = true;
}
