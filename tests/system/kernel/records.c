/*
 * records.c - complete VMCS states loaded with the raw primitives, and what
 * the emulated processor does with them.
 *
 * vtk_vmcs_minimal() builds a full, valid VMCS for a 64-bit guest that
 * shares the kernel's page tables (no EPT) and executes VMCALL: the
 * reference state. Variants break one rule each; later work adds hundreds
 * of them and compares the library's verdicts with these records.
 */
#include "cases.h"

#include "backend-vmx/vmx_prim.h"
#include "virtcore/x86/vmcs.h"

#define VTK_MAX_FIELDS 80

extern const uint8_t vtk_vmcall_code[];
__asm__(".section .rodata\n"
        "vtk_vmcall_code:\n"
        "    vmcall\n"
        "    hlt\n"
        ".previous\n");

static uint64_t vtk_msr(uint32_t msr)
{
    return vcore__vmx_rdmsr(msr);
}

/* Allowed-0 settings of a (TRUE) control MSR plus `want`, within the allowed-1 settings. */
static uint64_t vtk_ctl(uint32_t msr, uint32_t want)
{
    uint64_t cap = vtk_msr(msr);
    return ((uint32_t)cap | want) & (uint32_t)(cap >> 32);
}

static uint8_t vtk_guest_stack[4096] __attribute__((aligned(16)));

/* The reference state: returns the number of fields written to f. */
static uint32_t vtk_vmcs_minimal(vtk_vmcs_field_t *f)
{
    vcore__vmx_host_regs_t h;
    vcore__vmx_host_regs(&h);
    uint32_t n = 0;
#define F(name, val)                                                                                \
    do {                                                                                            \
        f[n].field = VCORE_VMCS_##name;                                                             \
        f[n].value = (val);                                                                         \
        n++;                                                                                        \
    } while (0)
    /* Controls: what the CPU requires, 64-bit host, IA-32e guest (TRUE MSRs). */
    F(PIN_BASED_VM_EXEC_CONTROL, vtk_ctl(0x48d, 0));
    F(CPU_BASED_VM_EXEC_CONTROL, vtk_ctl(0x48e, 0));
    F(VM_EXIT_CONTROLS, vtk_ctl(0x48f, 1u << 9));
    F(VM_ENTRY_CONTROLS, vtk_ctl(0x490, 1u << 9));
    F(EXCEPTION_BITMAP, 0);
    F(CR3_TARGET_COUNT, 0);
    F(VM_EXIT_MSR_STORE_COUNT, 0);
    F(VM_EXIT_MSR_LOAD_COUNT, 0);
    F(VM_ENTRY_MSR_LOAD_COUNT, 0);
    F(VM_ENTRY_INTR_INFO_FIELD, 0);
    F(VMCS_LINK_POINTER, ~0ull);
    /* Host state: the running kernel. HOST_RIP/RSP come from the harness. */
    F(HOST_CR0, h.cr0);
    F(HOST_CR3, h.cr3);
    F(HOST_CR4, h.cr4);
    F(HOST_CS_SELECTOR, h.cs);
    F(HOST_SS_SELECTOR, h.ss);
    F(HOST_DS_SELECTOR, h.ds);
    F(HOST_ES_SELECTOR, h.es);
    F(HOST_FS_SELECTOR, h.fs);
    F(HOST_GS_SELECTOR, h.gs);
    F(HOST_TR_SELECTOR, h.tr);
    F(HOST_FS_BASE, h.fs_base);
    F(HOST_GS_BASE, h.gs_base);
    F(HOST_TR_BASE, h.tr_base);
    F(HOST_GDTR_BASE, h.gdtr_base);
    F(HOST_IDTR_BASE, h.idtr_base);
    F(HOST_IA32_SYSENTER_CS, vtk_msr(0x174));
    F(HOST_IA32_SYSENTER_ESP, vtk_msr(0x175));
    F(HOST_IA32_SYSENTER_EIP, vtk_msr(0x176));
    /* Guest state: 64-bit, flat, the kernel's paging, running vtk_vmcall_code. */
    F(GUEST_CR0, h.cr0);
    F(GUEST_CR3, h.cr3);
    F(GUEST_CR4, h.cr4);
    F(GUEST_DR7, 0x400);
    F(GUEST_RSP, (uint64_t)(uintptr_t)(vtk_guest_stack + sizeof(vtk_guest_stack)));
    F(GUEST_RIP, (uint64_t)(uintptr_t)vtk_vmcall_code);
    F(GUEST_RFLAGS, 2);
    F(GUEST_CS_SELECTOR, VTK_SEL_CODE);
    F(GUEST_CS_BASE, 0);
    F(GUEST_CS_LIMIT, 0xffffffffu);
    F(GUEST_CS_AR_BYTES, 0xa09b);
    F(GUEST_SS_SELECTOR, VTK_SEL_DATA);
    F(GUEST_SS_BASE, 0);
    F(GUEST_SS_LIMIT, 0xffffffffu);
    F(GUEST_SS_AR_BYTES, 0xc093);
    F(GUEST_DS_SELECTOR, VTK_SEL_DATA);
    F(GUEST_DS_BASE, 0);
    F(GUEST_DS_LIMIT, 0xffffffffu);
    F(GUEST_DS_AR_BYTES, 0xc093);
    F(GUEST_ES_SELECTOR, VTK_SEL_DATA);
    F(GUEST_ES_BASE, 0);
    F(GUEST_ES_LIMIT, 0xffffffffu);
    F(GUEST_ES_AR_BYTES, 0xc093);
    F(GUEST_FS_SELECTOR, 0);
    F(GUEST_FS_BASE, 0);
    F(GUEST_FS_LIMIT, 0);
    F(GUEST_FS_AR_BYTES, 0x10000);
    F(GUEST_GS_SELECTOR, 0);
    F(GUEST_GS_BASE, 0);
    F(GUEST_GS_LIMIT, 0);
    F(GUEST_GS_AR_BYTES, 0x10000);
    F(GUEST_LDTR_SELECTOR, 0);
    F(GUEST_LDTR_BASE, 0);
    F(GUEST_LDTR_LIMIT, 0);
    F(GUEST_LDTR_AR_BYTES, 0x10000);
    F(GUEST_TR_SELECTOR, h.tr);
    F(GUEST_TR_BASE, h.tr_base);
    F(GUEST_TR_LIMIT, 0x67);
    F(GUEST_TR_AR_BYTES, 0x8b);
    F(GUEST_GDTR_BASE, h.gdtr_base);
    F(GUEST_GDTR_LIMIT, 0x27);
    F(GUEST_IDTR_BASE, h.idtr_base);
    F(GUEST_IDTR_LIMIT, 0x1ff);
    F(GUEST_IA32_DEBUGCTL, 0);
    F(GUEST_SYSENTER_CS, 0);
    F(GUEST_SYSENTER_ESP, 0);
    F(GUEST_SYSENTER_EIP, 0);
    F(GUEST_ACTIVITY_STATE, 0);
    F(GUEST_INTERRUPTIBILITY_INFO, 0);
    F(GUEST_PENDING_DBG_EXCEPTIONS, 0);
#undef F
    return n;
}

uint32_t vtk_vmcs_reference(vtk_vmcs_field_t *f, uint32_t cap)
{
    return cap >= VTK_MAX_FIELDS ? vtk_vmcs_minimal(f) : 0;
}

/* Replaces one field of a state. */
static void vtk_vmcs_patch(vtk_vmcs_field_t *f, uint32_t n, uint32_t field, uint64_t value)
{
    for (uint32_t i = 0; i < n; i++)
        if (f[i].field == field)
            f[i].value = value;
}

static vtk_vmcs_field_t vtk_state[VTK_MAX_FIELDS];

static int vtk_record(const char *name, uint32_t n, vtk_outcome_t *o)
{
    if (vtk_vmcs_record(vtk_state, n, o) != 0)
        return VTK_FAIL;
    vtk_puts("RECORD ");
    vtk_puts(name);
    vtk_print_outcome(o);
    return VTK_PASS;
}

/* The reference state enters the guest, which exits with VMCALL (18). */
int vtk_case_vmcs_minimal(vtk_env_t *env, vtk_why_t *why)
{
    (void)env;
    vtk_outcome_t o;
    uint32_t n = vtk_vmcs_minimal(vtk_state);
    if (vtk_vmcs_record(vtk_state, n, &o) != 0 || o.write_fail || o.kind != 0 || o.exit_reason != 18) {
        vtk_why_str(why, "outcome kind/error/reason/write_fail ");
        vtk_why_hex(why, o.kind);
        vtk_why_str(why, "/");
        vtk_why_hex(why, o.error);
        vtk_why_str(why, "/");
        vtk_why_hex(why, o.exit_reason);
        vtk_why_str(why, "/");
        vtk_why_hex(why, o.write_fail);
        return VTK_FAIL;
    }
    return VTK_PASS;
}

int vtk_record_vmcs_minimal(vtk_env_t *env, vtk_why_t *why)
{
    (void)env;
    (void)why;
    vtk_outcome_t o;
    return vtk_record("record.vmcs_minimal", vtk_vmcs_minimal(vtk_state), &o);
}

/* CS unusable: "Checks on Guest Segment Registers" -> VM-entry failure, reason 33. */
int vtk_record_guest_cs_unusable(vtk_env_t *env, vtk_why_t *why)
{
    (void)env;
    (void)why;
    vtk_outcome_t o;
    uint32_t n = vtk_vmcs_minimal(vtk_state);
    vtk_vmcs_patch(vtk_state, n, VCORE_VMCS_GUEST_CS_AR_BYTES, 0x10000);
    return vtk_record("record.guest_cs_unusable", n, &o);
}

/* Host CR3 beyond MAXPHYADDR: "Checks on Host Control Registers" -> VMfailValid 8. */
int vtk_record_host_cr3_wide(vtk_env_t *env, vtk_why_t *why)
{
    (void)env;
    (void)why;
    vtk_outcome_t o;
    uint32_t n = vtk_vmcs_minimal(vtk_state);
    vtk_vmcs_patch(vtk_state, n, VCORE_VMCS_HOST_CR3, 1ull << 52);
    return vtk_record("record.host_cr3_wide", n, &o);
}

/* Link pointer not all ones (and not a valid VMCS): "Checks on Guest Non-Register State". */
int vtk_record_link_pointer(vtk_env_t *env, vtk_why_t *why)
{
    (void)env;
    (void)why;
    vtk_outcome_t o;
    uint32_t n = vtk_vmcs_minimal(vtk_state);
    vtk_vmcs_patch(vtk_state, n, VCORE_VMCS_VMCS_LINK_POINTER, 0x1000);
    return vtk_record("record.link_pointer_bad", n, &o);
}
