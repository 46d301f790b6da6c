/*
 * l1_vmx.h - L1's own VMX instructions and the VMCS encodings it uses
 * (SDM Vol. 3, "VMX Instruction Reference" and "Field Encoding in VMCS"),
 * written for L1 alone: L1 shares no code with the library it runs on.
 */
#ifndef VTK_L1_VMX_H
#define VTK_L1_VMX_H

#include <stdint.h>

/* 16-bit guest-state and host-state selectors. */
#define G_ES_SEL 0x0800u
#define G_CS_SEL 0x0802u
#define G_SS_SEL 0x0804u
#define G_DS_SEL 0x0806u
#define G_FS_SEL 0x0808u
#define G_GS_SEL 0x080au
#define G_LDTR_SEL 0x080cu
#define G_TR_SEL 0x080eu
#define H_ES_SEL 0x0c00u
#define H_CS_SEL 0x0c02u
#define H_SS_SEL 0x0c04u
#define H_DS_SEL 0x0c06u
#define H_FS_SEL 0x0c08u
#define H_GS_SEL 0x0c0au
#define H_TR_SEL 0x0c0cu
#define G_INTR_STATUS 0x0810u /* guest interrupt status: RVI 7:0, SVI 15:8 */
/* 64-bit control fields. */
#define C_IO_BITMAP_A 0x2000u
#define C_IO_BITMAP_B 0x2002u
#define C_MSR_BITMAP 0x2004u
#define C_EXIT_MSR_STORE 0x2006u
#define C_EXIT_MSR_LOAD 0x2008u
#define C_ENTRY_MSR_LOAD 0x200au
#define C_EPTP 0x201au
#define C_VMFUNC 0x2018u    /* VM-function controls */
#define C_EPTP_LIST 0x2024u /* EPTP-list address */
#define C_VMREAD_BITMAP 0x2026u  /* VMREAD-bitmap address */
#define C_VMWRITE_BITMAP 0x2028u /* VMWRITE-bitmap address */
#define C_PML_ADDR 0x200eu  /* PML address */
#define G_PML_INDEX 0x0812u /* guest PML index */
/* 16-bit control field. */
#define C_VPID 0x0000u
#define C_VAPIC 0x2012u /* virtual-APIC address */
#define C_APIC_ACCESS 0x2014u /* APIC-access address */
#define C_TSC_OFFSET 0x2010u
#define C_TSC_MULTIPLIER 0x2032u
#define C_EOI_EXIT0 0x201cu /* EOI-exit bitmap 0 (vectors 0-63); 1-3 follow at +2 each */
/* 64-bit read-only data and guest state. */
#define R_GUEST_PHYS 0x2400u
#define G_LINK_PTR 0x2800u
#define G_DEBUGCTL 0x2802u
#define G_PAT 0x2804u
#define G_EFER 0x2806u
/* 32-bit control fields. */
#define C_PIN 0x4000u
#define C_PROC 0x4002u
#define C_EXC_BITMAP 0x4004u
#define C_PF_MASK 0x4006u
#define C_PF_MATCH 0x4008u
#define C_CR3_TARGETS 0x400au
#define C_EXIT 0x400cu
#define C_EXIT_MSR_STORE_N 0x400eu
#define C_EXIT_MSR_LOAD_N 0x4010u
#define C_ENTRY 0x4012u
#define C_ENTRY_MSR_LOAD_N 0x4014u
#define C_ENTRY_INTR 0x4016u
#define C_PROC2 0x401eu
#define C_TPR_THRESHOLD 0x401cu
/* 32-bit read-only data. */
#define R_VM_ERROR 0x4400u
#define R_EXIT_REASON 0x4402u
#define R_EXIT_INTR 0x4404u
#define R_EXIT_INTR_ERR 0x4406u
#define R_IDT_VECT 0x4408u
#define R_INSN_LEN 0x440cu
#define R_INSN_INFO 0x440eu
/* 32-bit guest state. */
#define G_ES_LIMIT 0x4800u
#define G_CS_LIMIT 0x4802u
#define G_SS_LIMIT 0x4804u
#define G_DS_LIMIT 0x4806u
#define G_FS_LIMIT 0x4808u
#define G_GS_LIMIT 0x480au
#define G_LDTR_LIMIT 0x480cu
#define G_TR_LIMIT 0x480eu
#define G_GDTR_LIMIT 0x4810u
#define G_IDTR_LIMIT 0x4812u
#define G_ES_AR 0x4814u
#define G_CS_AR 0x4816u
#define G_SS_AR 0x4818u
#define G_DS_AR 0x481au
#define G_FS_AR 0x481cu
#define G_GS_AR 0x481eu
#define G_LDTR_AR 0x4820u
#define G_TR_AR 0x4822u
#define G_INTERRUPTIBILITY 0x4824u
#define G_ACTIVITY 0x4826u
#define G_SYSENTER_CS 0x482au
#define G_PREEMPT_TIMER 0x482eu
#define H_SYSENTER_CS 0x4c00u
/* Natural-width control fields and read-only data. */
#define C_CR0_MASK 0x6000u
#define C_CR4_MASK 0x6002u
#define C_CR0_SHADOW 0x6004u
#define C_CR4_SHADOW 0x6006u
#define R_QUAL 0x6400u
#define R_GUEST_LINEAR 0x640au
/* Natural-width guest state. */
#define G_CR0 0x6800u
#define G_CR3 0x6802u
#define G_CR4 0x6804u
#define G_ES_BASE 0x6806u
#define G_CS_BASE 0x6808u
#define G_SS_BASE 0x680au
#define G_DS_BASE 0x680cu
#define G_FS_BASE 0x680eu
#define G_GS_BASE 0x6810u
#define G_LDTR_BASE 0x6812u
#define G_TR_BASE 0x6814u
#define G_GDTR_BASE 0x6816u
#define G_IDTR_BASE 0x6818u
#define G_DR7 0x681au
#define G_RSP 0x681cu
#define G_RIP 0x681eu
#define G_RFLAGS 0x6820u
#define G_PENDING_DBG 0x6822u
#define G_SYSENTER_ESP 0x6824u
#define G_SYSENTER_EIP 0x6826u
/* Natural-width host state. */
#define H_CR0 0x6c00u
#define H_CR3 0x6c02u
#define H_CR4 0x6c04u
#define H_FS_BASE 0x6c06u
#define H_GS_BASE 0x6c08u
#define H_TR_BASE 0x6c0au
#define H_GDTR_BASE 0x6c0cu
#define H_IDTR_BASE 0x6c0eu
#define H_SYSENTER_ESP 0x6c10u
#define H_SYSENTER_EIP 0x6c12u

/* Outcome of a VMX instruction ("Conventions"): 0 VMsucceed, 1 VMfailInvalid (CF), 2 VMfailValid (ZF). */
static inline int l1_vmx_rc(uint8_t cf, uint8_t zf)
{
    return cf ? 1 : zf ? 2 : 0;
}

static inline int l1_vmxon(uint64_t pa)
{
    uint8_t cf, zf;
    __asm__ volatile("vmxon %2; setc %0; setz %1" : "=qm"(cf), "=qm"(zf) : "m"(pa) : "cc", "memory");
    return l1_vmx_rc(cf, zf);
}

static inline int l1_vmxoff(void)
{
    uint8_t cf, zf;
    __asm__ volatile("vmxoff; setc %0; setz %1" : "=qm"(cf), "=qm"(zf) : : "cc", "memory");
    return l1_vmx_rc(cf, zf);
}

static inline int l1_vmclear(uint64_t pa)
{
    uint8_t cf, zf;
    __asm__ volatile("vmclear %2; setc %0; setz %1" : "=qm"(cf), "=qm"(zf) : "m"(pa) : "cc", "memory");
    return l1_vmx_rc(cf, zf);
}

static inline int l1_vmptrld(uint64_t pa)
{
    uint8_t cf, zf;
    __asm__ volatile("vmptrld %2; setc %0; setz %1" : "=qm"(cf), "=qm"(zf) : "m"(pa) : "cc", "memory");
    return l1_vmx_rc(cf, zf);
}

static inline int l1_vmptrst(uint64_t *pa)
{
    uint8_t cf, zf;
    __asm__ volatile("vmptrst %2; setc %0; setz %1" : "=qm"(cf), "=qm"(zf), "=m"(*pa) : : "cc", "memory");
    return l1_vmx_rc(cf, zf);
}

/* INVVPID of `type` with a 128-bit descriptor: VPID in bits 15:0, the
 * linear address in bits 127:64 ("INVVPID-Invalidate Translations Based
 * on VPID"). */
static inline int l1_invvpid(uint64_t type, uint16_t vpid, uint64_t addr)
{
    uint8_t cf, zf;
    uint64_t desc[2] = {vpid, addr};
    __asm__ volatile("invvpid %2, %3; setc %0; setz %1"
                     : "=qm"(cf), "=qm"(zf)
                     : "m"(desc), "r"(type)
                     : "cc", "memory");
    return l1_vmx_rc(cf, zf);
}

/* VMWRITE and VMREAD with register operands. */
static inline int l1_vmwrite(uint64_t field, uint64_t value)
{
    uint8_t cf, zf;
    __asm__ volatile("vmwrite %2, %3; setc %0; setz %1"
                     : "=qm"(cf), "=qm"(zf)
                     : "r"(value), "r"(field)
                     : "cc", "memory");
    return l1_vmx_rc(cf, zf);
}

static inline int l1_vmread(uint64_t field, uint64_t *value)
{
    uint8_t cf, zf;
    uint64_t v = 0;
    __asm__ volatile("vmread %3, %2; setc %0; setz %1" : "=qm"(cf), "=qm"(zf), "=r"(v) : "r"(field) : "cc");
    *value = v;
    return l1_vmx_rc(cf, zf);
}

static inline uint64_t l1_rd(uint64_t field)
{
    uint64_t v = 0;
    (void)l1_vmread(field, &v);
    return v;
}

static inline uint64_t l1_rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static inline void l1_wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

/* The stub of l1_entry.S: 0 after a VM exit, 1 / 2 for VMfailInvalid / VMfailValid. */
int l1_vmenter(uint64_t *gprs, int resume);

#endif /* VTK_L1_VMX_H */
