/*
 * vmx.h - private state and internal functions of the vmx backend.
 *
 * Everything declared here is pure C over state; the only way to the
 * processor is vmx_prim.h. File map:
 *   vmx_caps.c    capability MSRs, control adjustment, CR fixed bits
 *   vmx_root.c    VMX root operation per physical processor (reference-counted)
 *   vmx_pool.c    per-VM page pool over the host's alloc_pages
 *   vmx_ept.c     EPT builder (prepare / commit), EPTP
 *   vmx_field.c   VMCS field access: VMREAD/VMWRITE, control words, vmcs01 guest fields with a known-field cache
 *   vmx_vmcs.c    VMCS objects (vmcs01 and the hardware VMCS ops), vmcs01 construction
 *   vmx_state.c   field-group sync between the core model and a VMCS, with a known-field cache
 *   vmx_events.c  event injection, IDT-vectoring readback, interruptibility, windows
 *   vmx_guest.c   guest page walk, MOV decoding, string-I/O addressing
 *   vmx_exit.c    exit decoding into vcore_exit_t and completion of the answered exit
 *   vmx_backend.c the ops table
 */
#ifndef VCORE_BACKEND_VMX_H
#define VCORE_BACKEND_VMX_H

#include "core/deps.h"
#include "core/kick.h"
#include "core/x86/x86_bits.h"
#include "virtcore/backend.h"
#include "virtcore/error.h"
#include "virtcore/x86/msr.h"
#include "virtcore/x86/nvmx_pipeline.h"
#include "virtcore/x86/vmcs.h"
#include "virtcore/x86/vmx_exits.h"
#include "vmx_prim.h"

/* ---- capability MSRs (SDM Vol. 3, "VMX Capability Reporting Facility") ---- */
#define VCORE__MSR_FEATURE_CONTROL 0x03au
#define VCORE__MSR_VMX_BASIC 0x480u
#define VCORE__MSR_VMX_PINBASED 0x481u
#define VCORE__MSR_VMX_PROCBASED 0x482u
#define VCORE__MSR_VMX_EXIT 0x483u
#define VCORE__MSR_VMX_ENTRY 0x484u
#define VCORE__MSR_VMX_MISC 0x485u
#define VCORE__MSR_VMX_CR0_FIXED0 0x486u
#define VCORE__MSR_VMX_CR0_FIXED1 0x487u
#define VCORE__MSR_VMX_CR4_FIXED0 0x488u
#define VCORE__MSR_VMX_CR4_FIXED1 0x489u
#define VCORE__MSR_VMX_VMCS_ENUM 0x48au
#define VCORE__MSR_VMX_PROCBASED2 0x48bu
#define VCORE__MSR_VMX_EPT_VPID_CAP 0x48cu
#define VCORE__MSR_VMX_TRUE_PINBASED 0x48du
#define VCORE__MSR_VMX_TRUE_PROCBASED 0x48eu
#define VCORE__MSR_VMX_TRUE_EXIT 0x48fu
#define VCORE__MSR_VMX_TRUE_ENTRY 0x490u
#define VCORE__MSR_VMX_VMFUNC 0x491u
#define VCORE__MSR_SYSENTER_CS 0x174u
#define VCORE__MSR_SYSENTER_ESP 0x175u
#define VCORE__MSR_SYSENTER_EIP 0x176u
#define VCORE__MSR_PAT 0x277u
#define VCORE__MSR_EFER 0xc0000080u

/* IA32_VMX_BASIC and IA32_VMX_MISC bits: core/x86/x86_bits.h. */
/* Bit 31 of the first dword of a VMCS region: shadow-VMCS indicator ("VMCS Region"). */
#define VCORE__VMCS_SHADOW_INDICATOR (1u << 31)

/* Pin-based controls (SDM Vol. 3, "Pin-Based VM-Execution Controls"). */
/* Primary processor-based controls ("Processor-Based VM-Execution Controls"). */
/* Secondary processor-based controls. */
/* VM-exit controls ("VM-Exit Controls"). */
/* VM-entry controls ("VM-Entry Controls"). */

/* IA32_VMX_EPT_VPID_CAP bits ("VPID and EPT Capabilities"). */

/* Exit-reason bit 31: VM-entry failure ("Basic VM-Exit Information"). */
#define VCORE__EXIT_REASON_FAILED_ENTRY VCORE_VMX_EXIT_REASON_FAILED_ENTRY

/* Interruption-information format shared by the VM-entry interruption
 * information, VM-exit interruption information and IDT-vectoring
 * information fields (SDM Vol. 3, "VM-Entry Controls for Event Injection",
 * "Information for VM Exits Due to Vectored Events"). */
#define VCORE__INTR_VECTOR(i) ((uint8_t)((i)&0xffu)) /* bits 7:0: vector */
#define VCORE__INTR_TYPE(i) (((i) >> 8) & 7u)        /* bits 10:8: interruption type */
#define VCORE__INTR_HAS_ERR (1u << 11)               /* bit 11: deliver / delivered an error code */
#define VCORE__INTR_VALID (1u << 31)                 /* bit 31: valid */
#define VCORE__INTR_TYPE_EXT 0u                      /* external interrupt */
#define VCORE__INTR_TYPE_NMI 2u                      /* non-maskable interrupt */
#define VCORE__INTR_TYPE_HW_EXC 3u                   /* hardware exception */
#define VCORE__INTR_TYPE_SOFT_INT 4u                 /* software interrupt (INT n) */
#define VCORE__INTR_TYPE_PRIV_SOFT_EXC 5u            /* privileged software exception (INT1) */
#define VCORE__INTR_TYPE_SOFT_EXC 6u                 /* software exception (INT3, INTO) */

/* Interruptibility state ("Guest Non-Register State"). */

/* Exceptions the backend intercepts (exception bitmap): #DB, #BP, #UD, #AC
 * for the VMM, and #MC, which belongs to the host (SDM Vol. 3, "Machine-Check
 * Considerations" in "Virtual-Machine Monitor Programming Considerations").
 * A #DF is left to the guest, so a guest that cannot handle it triple-faults
 * (VCORE_EXIT_SHUTDOWN) as it would on bare metal. */
#define VCORE__VEC_AC 17u
#define VCORE__VEC_MC 18u
#define VCORE__VMX_EXC_BITMAP                                                                       \
    ((1u << VCORE__VEC_DB) | (1u << VCORE__VEC_BP) | (1u << VCORE__VEC_UD) | (1u << VCORE__VEC_AC) | \
     (1u << VCORE__VEC_MC))

/* Capabilities read once from the IA32_VMX_* MSRs. */
typedef struct vcore__vmx_caps {
    uint64_t msr[VCORE_NVMX_NR_CAPS];     /* 480H + i as read (0 where the MSR does not exist) */
    uint64_t basic, misc, ept_vpid;
    uint64_t pin, proc, proc2, exit, entry; /* TRUE_* variants when BASIC bit 55 is set */
    uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
} vcore__vmx_caps_t;

/* The five control words chosen for the VM's VMCSs (without the bits that
 * follow the guest: window exiting, IA-32e mode guest). */
typedef struct vcore__vmx_ctls {
    uint32_t pin, proc, proc2, exit, entry;
} vcore__vmx_ctls_t;

/* Page pool: chunks from host alloc_pages, handed out page by page. */
#define VCORE__VMX_POOL_CHUNKS 64u
#define VCORE__VMX_POOL_CHUNK_PAGES 8u
typedef struct vcore__vmx_pool {
    const vcore_host_t *host;
    struct {
        uint8_t *va;
        uint64_t pa;
    } chunk[VCORE__VMX_POOL_CHUNKS];
    uint32_t nchunks;
    void *free_list; /* free pages linked through their first 8 bytes */
    uint32_t nfree;
} vcore__vmx_pool_t;

/* EPT of one VM. */
typedef struct vcore__vmx_ept {
    uint64_t *root; /* PML4 */
    uint64_t root_pa;
    bool allow_2m;  /* 2 MiB leaves allowed (capability) */
    uint32_t gen;   /* bumped when a translation is removed (vCPUs then INVEPT) */
} vcore__vmx_ept_t;

/* Per-VM state. */
typedef struct vcore__vmx_vm {
    vcore__vmx_caps_t caps;
    vcore__vmx_ctls_t ctls;
    vcore__vmx_pool_t pool;
    vcore__vmx_ept_t ept;
    uint64_t eptp;
    uint8_t *msr_bitmap; /* 1 page */
    uint64_t msr_bitmap_pa;
    uint8_t *io_bitmap;  /* 2 pages: A (ports 0-7FFFH), B (8000H-FFFFH) */
    uint64_t io_bitmap_pa;
} vcore__vmx_vm_t;

/*
 * The guest-state fields a VMCS holds for the core's state groups, one
 * table generating the field indices, the encodings, the groups, the
 * member each maps to and which fields the processor changes while the
 * guest runs ("volatile": forgotten after every VM exit).
 *
 * X(name, encoding, state group, volatile, offset in vcore_x86_state_t,
 *   width of that member in bytes, kind). Kinds:
 *   PLAIN   the field holds the member's value;
 *   CR0_HW / CR4_HW  the control register the guest runs with: the member
 *           plus the bits VMX operation forces; the guest reads the read
 *           shadow (CR0/CR4 are host-owned in every bit: "Guest/Host Masks
 *           and Read Shadows for CR0 and CR4"), so these are written only;
 *   EFER    written with LMA following LME and CR0.PG ("Initializing IA-32e Mode");
 *   EVENTS  the interruptibility state, mapped by vmx_events.c.
 * CR0, CR4 and EFER are not volatile: every guest write to them exits (CR
 * masks all ones, EFER writes intercepted in the MSR bitmap), so the
 * backend always knows them.
 */
#define VCORE__VMX_OFF(m) offsetof(vcore_x86_state_t, m)
#define VCORE__VMX_SEG_FIELDS(X, S, grp, argrp)                                                     \
    X(S##_SEL, VCORE_VMCS_GUEST_##S##_SELECTOR, grp, 1,                                            \
      VCORE__VMX_OFF(sregs.seg[VCORE_X86_##S].selector), 2, PLAIN)                                \
    X(S##_BASE, VCORE_VMCS_GUEST_##S##_BASE, grp, 1, VCORE__VMX_OFF(sregs.seg[VCORE_X86_##S].base), \
      8, PLAIN)                                                                                     \
    X(S##_LIMIT, VCORE_VMCS_GUEST_##S##_LIMIT, grp, 1,                                             \
      VCORE__VMX_OFF(sregs.seg[VCORE_X86_##S].limit), 4, PLAIN)                                   \
    X(S##_AR, VCORE_VMCS_GUEST_##S##_AR_BYTES, argrp, 1, VCORE__VMX_OFF(sregs.seg[VCORE_X86_##S].ar), \
      4, PLAIN)
#define VCORE__VMX_FIELD_LIST(X)                                                                    \
    X(RIP, VCORE_VMCS_GUEST_RIP, VCORE_X86_STATE_RIP, 1, VCORE__VMX_OFF(regs.rip), 8, PLAIN)       \
    X(RSP, VCORE_VMCS_GUEST_RSP, VCORE_X86_STATE_RSP, 1,                                          \
      VCORE__VMX_OFF(regs.gpr[VCORE_X86_RSP]), 8, PLAIN)                                           \
    X(RFLAGS, VCORE_VMCS_GUEST_RFLAGS, VCORE_X86_STATE_RFLAGS, 1, VCORE__VMX_OFF(regs.rflags), 8,  \
      PLAIN)                                                                                        \
    VCORE__VMX_SEG_FIELDS(X, CS, VCORE_X86_STATE_SEG_CS, VCORE_X86_STATE_MODE)                      \
    VCORE__VMX_SEG_FIELDS(X, SS, VCORE_X86_STATE_SEG_SS, VCORE_X86_STATE_MODE)                      \
    VCORE__VMX_SEG_FIELDS(X, ES, VCORE_X86_STATE_SEG_DATA, VCORE_X86_STATE_SEG_DATA)                \
    VCORE__VMX_SEG_FIELDS(X, DS, VCORE_X86_STATE_SEG_DATA, VCORE_X86_STATE_SEG_DATA)                \
    VCORE__VMX_SEG_FIELDS(X, FS, VCORE_X86_STATE_SEG_DATA, VCORE_X86_STATE_SEG_DATA)                \
    VCORE__VMX_SEG_FIELDS(X, GS, VCORE_X86_STATE_SEG_DATA, VCORE_X86_STATE_SEG_DATA)                \
    VCORE__VMX_SEG_FIELDS(X, LDTR, VCORE_X86_STATE_SEG_SYS, VCORE_X86_STATE_SEG_SYS)                \
    VCORE__VMX_SEG_FIELDS(X, TR, VCORE_X86_STATE_SEG_SYS, VCORE_X86_STATE_SEG_SYS)                  \
    X(GDTR_BASE, VCORE_VMCS_GUEST_GDTR_BASE, VCORE_X86_STATE_DTABLES, 1,                           \
      VCORE__VMX_OFF(sregs.gdtr.base), 8, PLAIN)                                                    \
    X(GDTR_LIMIT, VCORE_VMCS_GUEST_GDTR_LIMIT, VCORE_X86_STATE_DTABLES, 1,                         \
      VCORE__VMX_OFF(sregs.gdtr.limit), 2, PLAIN)                                                   \
    X(IDTR_BASE, VCORE_VMCS_GUEST_IDTR_BASE, VCORE_X86_STATE_DTABLES, 1,                           \
      VCORE__VMX_OFF(sregs.idtr.base), 8, PLAIN)                                                    \
    X(IDTR_LIMIT, VCORE_VMCS_GUEST_IDTR_LIMIT, VCORE_X86_STATE_DTABLES, 1,                         \
      VCORE__VMX_OFF(sregs.idtr.limit), 2, PLAIN)                                                   \
    X(CR0_SHADOW, VCORE_VMCS_CR0_READ_SHADOW, VCORE_X86_STATE_CR0, 0, VCORE__VMX_OFF(sregs.cr0), 8, \
      PLAIN)                                                                                        \
    X(CR0_HW, VCORE_VMCS_GUEST_CR0, VCORE_X86_STATE_CR0, 0, VCORE__VMX_OFF(sregs.cr0), 8, CR0_HW)  \
    X(CR3, VCORE_VMCS_GUEST_CR3, VCORE_X86_STATE_CR3, 1, VCORE__VMX_OFF(sregs.cr3), 8, PLAIN)      \
    X(CR4_SHADOW, VCORE_VMCS_CR4_READ_SHADOW, VCORE_X86_STATE_CR4, 0, VCORE__VMX_OFF(sregs.cr4), 8, \
      PLAIN)                                                                                        \
    X(CR4_HW, VCORE_VMCS_GUEST_CR4, VCORE_X86_STATE_CR4, 0, VCORE__VMX_OFF(sregs.cr4), 8, CR4_HW)  \
    X(EFER, VCORE_VMCS_GUEST_IA32_EFER, VCORE_X86_STATE_EFER, 0, VCORE__VMX_OFF(sregs.efer), 8,    \
      EFER)                                                                                         \
    X(DR7, VCORE_VMCS_GUEST_DR7, VCORE_X86_STATE_DREGS, 1, VCORE__VMX_OFF(dregs.dr7), 8, PLAIN)    \
    X(SYSENTER_CS, VCORE_VMCS_GUEST_SYSENTER_CS, VCORE_X86_STATE_MSRS, 1,                          \
      VCORE__VMX_OFF(msrs.sysenter_cs), 8, PLAIN)                                                   \
    X(SYSENTER_ESP, VCORE_VMCS_GUEST_SYSENTER_ESP, VCORE_X86_STATE_MSRS, 1,                        \
      VCORE__VMX_OFF(msrs.sysenter_esp), 8, PLAIN)                                                  \
    X(SYSENTER_EIP, VCORE_VMCS_GUEST_SYSENTER_EIP, VCORE_X86_STATE_MSRS, 1,                        \
      VCORE__VMX_OFF(msrs.sysenter_eip), 8, PLAIN)                                                  \
    X(PAT, VCORE_VMCS_GUEST_IA32_PAT, VCORE_X86_STATE_MSRS, 1, VCORE__VMX_OFF(msrs.pat), 8, PLAIN) \
    X(DEBUGCTL, VCORE_VMCS_GUEST_IA32_DEBUGCTL, VCORE_X86_STATE_MSRS, 1, VCORE__VMX_OFF(msrs.debugctl), 8, \
      PLAIN)                                                                                        \
    X(INTR_STATE, VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO, VCORE_X86_STATE_EVENTS, 1, 0, 4, EVENTS)

/* Field indices: VCORE__VMX_F_RIP ... */
enum vcore__vmx_field {
#define VCORE__VMX_FIELD_ENUM(name, enc, grp, vol, off, width, kind) VCORE__VMX_F_##name,
    VCORE__VMX_FIELD_LIST(VCORE__VMX_FIELD_ENUM)
#undef VCORE__VMX_FIELD_ENUM
    VCORE__VMX_NR_FIELDS
};
#define VCORE__VMX_FBIT(name) (1ull << VCORE__VMX_F_##name)
/* The fields the processor may change while the guest runs. */
#define VCORE__VMX_FIELD_VOLBIT(name, enc, grp, vol, off, width, kind) | ((uint64_t)(vol) << VCORE__VMX_F_##name)
#define VCORE__VMX_VOLATILE (0ull VCORE__VMX_FIELD_LIST(VCORE__VMX_FIELD_VOLBIT))

/*
 * One hardware VMCS: the vCPU's vmcs01, or one made by the vmcs_alloc op.
 * It carries everything that belongs to the VMCS rather than to the vCPU,
 * so a vCPU switches between VMCSs without re-reading anything.
 */
struct vcore_hw_vmcs {
    uint8_t *region;              /* the VMCS region (4 KiB, revision identifier first) */
    uint64_t pa;                  /* its physical address */
    bool launched;                /* launch state: launched since the last VMCLEAR ("VMCS Life Cycle") */
    bool shadow;                  /* shadow-VMCS indicator set: never entered */
    bool host_valid;              /* host[] and the static host fields are written */
    bool lists;                   /* the MSR-list fields name the vCPU's lists (msr_area) */
    uint64_t host_rsp;            /* HOST_RSP as written (0: not written) */
    vcore__vmx_host_regs_t host;  /* host state as written */
    vcore_vmcs_ctl_shadow_t ctl;  /* the five major controls as written */
    uint64_t known;               /* bit i: cache[i] is what field i (VCORE__VMX_F_*) holds */
    uint64_t cache[VCORE__VMX_NR_FIELDS];
    uint32_t entry_intr;          /* VM-entry interruption information as the VMCS holds it */
    bool entry_intr_known;        /* ... and entry_intr is known */
    struct vcore_hw_vmcs *next;   /* the vCPU's list of VMCSs made by vmcs_alloc */
};

/* MSRs switched through the VM-entry/exit MSR lists ("VM-Entry Controls for
 * MSRs", "VM-Exit Controls for MSRs"): the VMCS has no fields for them. */
#define VCORE__VMX_NR_LIST_MSRS 5u
/* One MSR-list entry: index, reserved, value ("VM-Entry Controls for MSRs"). */
typedef struct vcore__vmx_msr_entry {
    uint32_t index;
    uint32_t reserved;
    uint64_t value;
} vcore__vmx_msr_entry_t;
extern const uint32_t vcore__vmx_list_msrs[VCORE__VMX_NR_LIST_MSRS];

/* Size of the string-I/O buffer. */
#define VCORE__VMX_IO_BUF 256u

/* Per-vCPU state. */
typedef struct vcore__vmx_vcpu {
    vcore__vmx_gprs_t g;          /* guest GPRs and CR2 (the entry primitive moves them) */
    struct vcore_hw_vmcs vmcs01;  /* the VMCS the vCPU's guest runs on */
    struct vcore_hw_vmcs *cur;    /* the VMCS this vCPU made current last (NULL: none) */
    struct vcore_hw_vmcs *objs;   /* VMCSs made by vmcs_alloc */
    vcore_host_cpu_t *cpu;        /* the processor's record (host cpus[]) */
    uint32_t cpu_index;           /* the processor the vCPU lives on */
    bool root_held;               /* counted in cpu->users */
    /* MSR lists (one page): guest values at offset 0 (entry load + exit store), host at 16. */
    vcore__vmx_msr_entry_t *msr_area;
    uint64_t msr_area_pa;
    bool built;                   /* vmcs01 constant part written */
    uint16_t vpid;
    uint32_t ept_gen;             /* EPT generation last flushed */
    uint64_t cr0_forced;          /* CR0 bits VMX operation forces to 1 in the guest */
    /* Guest state the VMCS does not hold (kept as last set). */
    uint64_t cr8;
    vcore_x86_dregs_t dregs;      /* DR0-3, DR6 (DR7 is a VMCS field) */
    uint64_t xcr0;
    vcore_x86_msrs_t msrs;        /* the MSRs neither the VMCS nor the lists hold */
    uint64_t tsc_offset;          /* the guest's TSC minus the host's: vmcs01's TSC offset */
    vcore_x86_events_t ev;        /* event state; interruptibility bits come from the VMCS */
    bool injected;                /* the last entry of vmcs01 injected an event */
    /* VMCS shadowing of vmcs01 ("VMCS Shadowing"): the linked shadow VMCS
     * (NULL: control 14 is 0) and the VMREAD bitmap page followed by the
     * VMWRITE bitmap page (NULL until the first link). */
    struct vcore_hw_vmcs *shadow_link;
    uint8_t *shadow_bitmaps;
    uint64_t shadow_bitmaps_pa;
    /* Exit being answered: VCORE_EXIT_* reason that needs completing, 0 if none. */
    uint32_t pending;
    bool pending_reply;           /* ... and its exit asked the VMM for a reply */
    uint32_t instr_len;           /* of the instruction that exited */
    /* MMIO completion data. */
    uint8_t mmio_reg;             /* destination GPR of an MMIO read */
    uint8_t mmio_high8;           /* AH..BH form of an 8-bit register */
    uint32_t mmio_len;
    /* Port I/O completion data. */
    uint32_t io_count;            /* elements moved by this exit */
    uint8_t io_width;             /* element size */
    uint8_t io_string, io_rep;    /* INS/OUTS, REP prefix */
    uint8_t io_in;                /* IN / INS */
    uint8_t io_asize;             /* address size of a string instruction: 16, 32 or 64 */
    bool io_down;                 /* RFLAGS.DF: the string walks downwards */
    bool io_long64;               /* executed in 64-bit mode */
    uint64_t io_base;             /* linear address of the memory operand minus its offset register */
    uint8_t iobuf[VCORE__VMX_IO_BUF];
    vcore_vcpu_t *vcpu;
    vcore_vm_t *vmobj;
    /* x87/SSE state (vmx_fpu.c): one page, the guest's FXSAVE image at 0,
     * the host's (saved around each entry) at VCORE__VMX_FX_HOST. */
    uint8_t *fx;
    uint32_t mxcsr_mask;          /* the processor's writable MXCSR bits */
    vcore__kick_t kick; /* vmx_kick.c, core/kick.h */
} vcore__vmx_vcpu_t;

/* ---- vmx_caps.c ---- */
/* Reads the capability MSRs. VCORE_ERR_NODEV if VMX is missing or locked off. */
int vcore__vmx_caps_read(vcore__vmx_caps_t *caps);
/*
 * Control adjustment by allowed-0 / allowed-1 settings: the result has every
 * bit the CPU requires, every @p required bit, and the @p optional bits the
 * CPU allows. A required bit the CPU cannot set is VCORE_ERR_UNSUPPORTED.
 */
int vcore__vmx_ctl_adjust(uint64_t cap, uint32_t required, uint32_t optional, uint32_t *out);
/* Chooses the VM's control words. */
int vcore__vmx_caps_choose(const vcore__vmx_caps_t *caps, vcore__vmx_ctls_t *out);
/* Bits of CR0 that VMX operation forces to 1 in the guest (fixed0, less PE/PG
 * with unrestricted guest). */
uint64_t vcore__vmx_cr0_forced(const vcore__vmx_caps_t *caps, bool unrestricted);
/* The capability MSRs 480H-491H (the vmx_caps op). */
int vcore__vmx_caps_op(vcore_vm_t *vm, void *priv, vcore_nvmx_caps_t *out);

/* ---- vmx_root.c ---- */
/* Counts the vCPU as a user of VMX root operation on the current processor,
 * entering it (CR4.VMXE, VMXON) for the first user. */
int vcore__vmx_root_enter(vcore__vmx_vcpu_t *c, const vcore__vmx_vm_t *v, const vcore_host_t *host);
/* Drops the vCPU's use; the last user leaves VMX operation it entered. */
void vcore__vmx_root_leave(vcore__vmx_vcpu_t *c);
/* The call runs on the processor the vCPU lives on (VCORE_ERR_STATE otherwise). */
int vcore__vmx_root_here(const vcore__vmx_vcpu_t *c, const vcore_host_t *host);

/* ---- vmx_pool.c ---- */
void vcore__vmx_pool_init(vcore__vmx_pool_t *p, const vcore_host_t *host);
/* A zeroed page (VCORE_ERR_NOMEM when the host has none). */
int vcore__vmx_pool_get(vcore__vmx_pool_t *p, uint64_t **va, uint64_t *pa);
void vcore__vmx_pool_put(vcore__vmx_pool_t *p, void *va);
/* Host-virtual address of a pool page from its physical address (NULL if foreign). */
uint64_t *vcore__vmx_pool_va(const vcore__vmx_pool_t *p, uint64_t pa);
void vcore__vmx_pool_fini(vcore__vmx_pool_t *p);

/* ---- vmx_ept.c ---- */
int vcore__vmx_ept_init(vcore__vmx_ept_t *e, vcore__vmx_pool_t *p, const vcore__vmx_caps_t *caps);
uint64_t vcore__vmx_ept_eptp(const vcore__vmx_ept_t *e);
/* Phase 1: every paging structure the mapping needs exists (may fail; translations unchanged). */
int vcore__vmx_ept_prepare(vcore__vmx_ept_t *e, vcore__vmx_pool_t *p, const vcore_host_t *host,
                           const vcore_mem_region_t *r);
/* Phase 2: writes the leaves; cannot fail after a successful prepare. */
void vcore__vmx_ept_commit(vcore__vmx_ept_t *e, const vcore__vmx_pool_t *p, const vcore_host_t *host,
                           const vcore_mem_region_t *r);
/* Removes the leaves of a region. */
void vcore__vmx_ept_unmap(vcore__vmx_ept_t *e, const vcore__vmx_pool_t *p, const vcore_mem_region_t *r);
/* Walks the EPT: leaf entry for gpa (0 if not present) and its page size. */
uint64_t vcore__vmx_ept_lookup(const vcore__vmx_ept_t *e, const vcore__vmx_pool_t *p, uint64_t gpa,
                               uint64_t *page_size);

/* ---- vmx_field.c ---- */
/* Checked VMWRITE/VMREAD: VCORE_ERR_HWFAIL on VMfail. */
int vcore__vmx_field_write(uint32_t field, uint64_t value);
int vcore__vmx_field_read(uint32_t field, uint64_t *value);
/* Writes a major control word through the VMCS's control shadow (skipped when unchanged). */
int vcore__vmx_field_ctl(struct vcore_hw_vmcs *o, uint32_t field, uint32_t value);
/* Kinds of vmcs01 guest fields (see VCORE__VMX_FIELD_LIST). */
enum { VCORE__VMX_K_PLAIN, VCORE__VMX_K_CR0_HW, VCORE__VMX_K_CR4_HW, VCORE__VMX_K_EFER, VCORE__VMX_K_EVENTS };
/* vmcs01's guest fields the state groups map to, by index (VCORE__VMX_F_*). */
typedef struct vcore__vmx_field_row {
    uint32_t encoding; /* VMCS field encoding */
    uint32_t group;    /* VCORE_X86_STATE_* group of the member */
    uint16_t offset;   /* offset of the member in vcore_x86_state_t */
    uint8_t width;     /* its size in bytes */
    uint8_t kind;      /* VCORE__VMX_K_* */
} vcore__vmx_field_row_t;
extern const vcore__vmx_field_row_t vcore__vmx_fields[VCORE__VMX_NR_FIELDS];
/* One field of vmcs01 through the cache (VMREAD only when unknown). */
int vcore__vmx_field_get(vcore__vmx_vcpu_t *c, uint32_t f, uint64_t *value);
/* Writes one field of vmcs01 unless it is known to hold the value. */
int vcore__vmx_field_put(vcore__vmx_vcpu_t *c, uint32_t f, uint64_t value);
/* The field index (VCORE__VMX_F_*) of an encoding, or VCORE__VMX_NR_FIELDS. */
uint32_t vcore__vmx_field_index(uint32_t encoding);

/* ---- vmx_vmcs.c ---- */
int vcore__vmx_vm_setup(vcore__vmx_vm_t *v, const vcore_host_t *host);
void vcore__vmx_vm_teardown(vcore__vmx_vm_t *v, const vcore_host_t *host);
/* VMX root operation, the MSR lists and vmcs01 (VMCLEARed and current). */
int vcore__vmx_vcpu_setup(vcore__vmx_vcpu_t *c, const vcore__vmx_vm_t *v, const vcore_host_t *host,
                          uint32_t id);
void vcore__vmx_vcpu_teardown(vcore__vmx_vcpu_t *c, const vcore_host_t *host);
/* Makes vmcs01 current (it may not be: other vCPUs and VMCSs share the processor)
 * and writes its constant part on first use. */
int vcore__vmx_vmcs_ready(vcore__vmx_vcpu_t *c, const vcore__vmx_vm_t *v);
/* Host state of a VMCS: written when it differs from what the VMCS holds. */
int vcore__vmx_vmcs_host(struct vcore_hw_vmcs *o);
/* Before each entry of vmcs01: host state that moved, the host MSR list, EPT flushes. */
int vcore__vmx_vmcs_prepare_entry(vcore__vmx_vcpu_t *c, vcore__vmx_vm_t *v);
/* VMLAUNCH/VMRESUME of the current VMCS o with the vCPU's GPRs: *rc is the
 * instruction's outcome, *reason the exit reason after an exit; the launch
 * state and the known-field cache follow the hardware. */
int vcore__vmx_vmcs_run(vcore__vmx_vcpu_t *c, struct vcore_hw_vmcs *o, vcore__vmx_rc_t *rc,
                        uint32_t *reason);
/* The hardware VMCS ops of vcore_backend_t. */
int vcore__vmx_vmcs_alloc(vcore_vcpu_t *vcpu, void *priv, bool shadow, vcore_hw_vmcs_t **out);
void vcore__vmx_vmcs_free(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcs_t *vmcs);
int vcore__vmx_vmcs_load(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcs_t *vmcs);
int vcore__vmx_vmcs_clear(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcs_t *vmcs);
int vcore__vmx_vmcs_read(vcore_vcpu_t *vcpu, void *priv, uint32_t field, uint64_t *value);
int vcore__vmx_vmcs_read_many(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcs_t *vmcs, const uint32_t *fields,
                              uint64_t *values, uint32_t count);
int vcore__vmx_vmcs_write(vcore_vcpu_t *vcpu, void *priv, uint32_t field, uint64_t value);
int vcore__vmx_vmcs_enter(vcore_vcpu_t *vcpu, void *priv, vcore_hw_entry_t *out);
int vcore__vmx_vmcs_shadow_link(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcs_t *shadow,
                                const uint8_t *vmread_bitmap, const uint8_t *vmwrite_bitmap);

/* ---- vmx_state.c ---- */
/* The state groups this backend reads and writes in the VMCS or keeps itself. */
#define VCORE__VMX_GROUPS (VCORE_X86_STATE_ALL | VCORE_X86_STATE_XMM)
/* Copies exactly the groups asked for into st, reading unknown fields. */
int vcore__vmx_state_get(vcore__vmx_vcpu_t *c, const vcore__vmx_vm_t *v, vcore_x86_state_t *st,
                         uint32_t groups);
/* Writes the groups of st, skipping fields the VMCS is known to hold. */
int vcore__vmx_state_set(vcore__vmx_vcpu_t *c, const vcore__vmx_vm_t *v, const vcore_x86_state_t *st,
                         uint32_t groups);
/* Completes the exited instruction: RIP past it (32 bits outside 64-bit
 * mode), and blocking by STI / MOV SS ends with it. */
int vcore__vmx_state_skip(vcore__vmx_vcpu_t *c);
/* The guest executes 64-bit code (EFER.LMA and CS.L). */
int vcore__vmx_state_long64(vcore__vmx_vcpu_t *c, bool *long64);

/* ---- vmx_events.c ---- */
/* Events group: get (interruptibility from the VMCS) and set. */
int vcore__vmx_events_get(vcore__vmx_vcpu_t *c, vcore_x86_events_t *out);
int vcore__vmx_events_set(vcore__vmx_vcpu_t *c, const vcore_x86_events_t *in);
/* Before an entry of vmcs01: window exiting and event injection. */
int vcore__vmx_events_entry(vcore__vmx_vcpu_t *c, const vcore__vmx_vm_t *v);
/* After a VM exit (or failed entry) of vmcs01: what became of the injected event. */
void vcore__vmx_events_exited(vcore__vmx_vcpu_t *c, bool failed_entry);
/* Reads the IDT-vectoring information (exits that can happen during event
 * delivery) and turns an interrupted delivery into an injected event. */
int vcore__vmx_events_idt_vectoring(vcore__vmx_vcpu_t *c, vcore_exit_t *exit);
/* Ends blocking by STI / MOV SS (an instruction completed). */
int vcore__vmx_events_end_blocking(vcore__vmx_vcpu_t *c);

/* ---- vmx_guest.c ---- */
/* Decoded MOV between a register/immediate and memory. */
typedef struct vcore__vmx_mov {
    uint32_t len;     /* instruction length */
    uint32_t size;    /* access size in bytes */
    bool is_write;    /* memory is the destination */
    bool has_imm;     /* source is an immediate */
    uint8_t reg;      /* register operand (GPR index) */
    bool high8;       /* AH/CH/DH/BH */
    uint64_t imm;     /* immediate (sign-extended to the operand size) */
} vcore__vmx_mov_t;
/* code_bits: 16, 32 or 64. VCORE_ERR_UNSUPPORTED for anything but MOV r/m<->r, MOV r/m,imm. */
int vcore__vmx_decode_mov(const uint8_t *insn, size_t avail, uint32_t code_bits, vcore__vmx_mov_t *out);
/* Address size (16, 32, 64) of an instruction from its prefixes ("Instruction Prefixes"). */
uint32_t vcore__vmx_decode_asize(const uint8_t *insn, size_t avail, uint32_t code_bits);
/* Translates a guest linear address (no paging or 4-level paging). */
int vcore__vmx_guest_translate(const vcore_vm_t *vm, const vcore_x86_sregs_t *sr, uint64_t gla,
                               uint64_t *gpa);
/* Reads up to len bytes at a guest linear address (stops at an unmapped page). */
size_t vcore__vmx_guest_read(const vcore_vm_t *vm, const vcore_x86_sregs_t *sr, uint64_t gla,
                             uint8_t *buf, size_t len);
/* Writes len bytes at a guest linear address (VCORE_ERR_FAULT if a page is not guest RAM). */
int vcore__vmx_guest_write(vcore_vm_t *vm, const vcore_x86_sregs_t *sr, uint64_t gla,
                           const uint8_t *buf, size_t len);
/* The linear address of string element k ("INS/INSB/INSW/INSD"). */
uint64_t vcore__vmx_guest_elem(const vcore__vmx_vcpu_t *c, uint64_t reg, uint32_t k);

/* ---- vmx_fpu.c ---- */
#define VCORE__VMX_FX_SIZE 512u  /* an FXSAVE area */
#define VCORE__VMX_FX_HOST 512u  /* offset of the host's image in c->fx */
/* Allocates and initialises the guest image (the x87 state FINIT leaves,
 * MXCSR 1F80H) and reads the processor's MXCSR_MASK. */
int vcore__vmx_fpu_setup(vcore__vmx_vcpu_t *c, const vcore_host_t *host);
void vcore__vmx_fpu_teardown(vcore__vmx_vcpu_t *c, const vcore_host_t *host);
/* Around each VM entry: the host's state out, the guest's in, and back.
 * VCORE_ERR_STATE when the host's CR0/CR4 forbid FXSAVE. */
int vcore__vmx_fpu_enter(vcore__vmx_vcpu_t *c);
void vcore__vmx_fpu_exit(vcore__vmx_vcpu_t *c);
/* The FPU group in the model's form (full tag word) and back; set refuses
 * (VCORE_ERR_INVAL, nothing changed) an MXCSR outside the processor's mask. */
void vcore__vmx_fpu_get(const vcore__vmx_vcpu_t *c, vcore_x86_fpu_t *out);
bool vcore__vmx_fpu_ok(const vcore__vmx_vcpu_t *c, const vcore_x86_fpu_t *in);
void vcore__vmx_fpu_set(vcore__vmx_vcpu_t *c, const vcore_x86_fpu_t *in);
/* XMM0-XMM15 of the guest image. */
void vcore__vmx_fpu_get_xmm(const vcore__vmx_vcpu_t *c, uint64_t xmm[16][2]);
void vcore__vmx_fpu_set_xmm(vcore__vmx_vcpu_t *c, const uint64_t xmm[16][2]);

/* ---- vmx_tlb.c ---- */
int vcore__vmx_flush_tlb(vcore_vcpu_t *vcpu, void *priv, const vcore_tlb_flush_t *req);
/* vmx_tlb.c: the vCPU's vpid02 (vmcs01's VPID | 8000H) and its invalidation. */
int vcore__vmx_vpid02(vcore_vcpu_t *vcpu, void *priv, uint16_t *vpid);
/* vmx_vmcs.c: the vmx_msr_exits op (vmcs01's MSR bitmap). */
bool vcore__vmx_msr_exits(vcore_vcpu_t *vcpu, void *priv, uint32_t msr, bool write);
int vcore__vmx_flush_vpid02(vcore_vcpu_t *vcpu, void *priv, const vcore_tlb_flush_t *req);
/* vmx_tlb.c: the vcpu_invept op (INVEPT of a shadow EPT the core changed). */
int vcore__vmx_invept_op(vcore_vcpu_t *vcpu, void *priv, uint64_t eptp);

/* ---- vmx_kick.c ---- */
int vcore__vmx_kick(vcore_vcpu_t *vcpu, void *priv);
/* The run loop before an entry: marks the vCPU in guest mode; true (and
 * the mark undone) when a kick is pending, which the run then reports. */
bool vcore__vmx_kick_check(vcore__vmx_vcpu_t *c);
/* The run loop after the entry returned. */
void vcore__vmx_kick_left(vcore__vmx_vcpu_t *c);

/* ---- vmx_exit.c ---- */
/* Decodes the exit that just happened into *exit; *again when the backend
 * handled it itself (a host NMI or machine check) and the guest re-enters. */
int vcore__vmx_exit_decode(vcore__vmx_vcpu_t *c, vcore_exit_t *exit, uint32_t reason, bool *again);
/* vmx_exit.c: an exception-or-NMI exit (basic reason 0) whose
 * interruption information is info: a processor NMI or machine check is
 * the host's and goes to its handler (true); else false. */
bool vcore__vmx_exit_host_event(uint64_t info);
/* Completes the previous exit with the reply in *exit before the next entry. */
int vcore__vmx_exit_complete(vcore__vmx_vcpu_t *c, const vcore_exit_t *exit);

#endif /* VCORE_BACKEND_VMX_H */
