/*
 * vmx.h - private state and internal functions of the vmx backend.
 *
 * Everything declared here is pure C over state; the only way to the
 * processor is vmx_prim.h. File map:
 *   vmx_caps.c    capability MSRs, control adjustment, CR fixed bits
 *   vmx_pool.c    per-VM page pool over the host's alloc_pages
 *   vmx_ept.c     EPT builder (prepare / commit), EPTP
 *   vmx_vmcs.c    VMXON / VMCS regions, vmcs01 construction, bitmaps
 *   vmx_state.c   lazy register sync between the core model and the VMCS
 *   vmx_guest.c   guest page walk and MOV decoding for MMIO exits
 *   vmx_exit.c    exit decoding into vcore_exit_t and reply completion
 *   vmx_backend.c the ops table
 */
#ifndef VCORE_BACKEND_VMX_H
#define VCORE_BACKEND_VMX_H

#include "core/deps.h"
#include "virtcore/backend.h"
#include "virtcore/error.h"
#include "virtcore/x86/msr.h"
#include "virtcore/x86/vmcs.h"
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
#define VCORE__MSR_VMX_PROCBASED2 0x48bu
#define VCORE__MSR_VMX_EPT_VPID_CAP 0x48cu
#define VCORE__MSR_VMX_TRUE_PINBASED 0x48du
#define VCORE__MSR_VMX_TRUE_PROCBASED 0x48eu
#define VCORE__MSR_VMX_TRUE_EXIT 0x48fu
#define VCORE__MSR_VMX_TRUE_ENTRY 0x490u
#define VCORE__MSR_SYSENTER_CS 0x174u
#define VCORE__MSR_SYSENTER_ESP 0x175u
#define VCORE__MSR_SYSENTER_EIP 0x176u
#define VCORE__MSR_PAT 0x277u
#define VCORE__MSR_EFER 0xc0000080u

/* IA32_FEATURE_CONTROL: bit 0 lock, bit 2 VMXON outside SMX. */
#define VCORE__FEATCTL_LOCK (1ull << 0)
#define VCORE__FEATCTL_VMX_OUTSIDE_SMX (1ull << 2)
/* IA32_VMX_BASIC: bits 30:0 revision, 44:32 region size, 53:50 memory type, bit 55 TRUE_* MSRs. */
#define VCORE__VMX_BASIC_REVISION(b) ((uint32_t)((b)&0x7fffffffu))
#define VCORE__VMX_BASIC_TRUE_CTLS (1ull << 55)

/* Pin-based controls (SDM Vol. 3, "Pin-Based VM-Execution Controls"). */
#define VCORE__PIN_EXT_INTR (1u << 0) /* external-interrupt exiting */
#define VCORE__PIN_NMI (1u << 3)      /* NMI exiting */
/* Primary processor-based controls ("Processor-Based VM-Execution Controls"). */
#define VCORE__PROC_HLT (1u << 7)          /* HLT exiting */
#define VCORE__PROC_CR3_LOAD (1u << 15)    /* CR3-load exiting */
#define VCORE__PROC_CR3_STORE (1u << 16)   /* CR3-store exiting */
#define VCORE__PROC_CR8_LOAD (1u << 19)    /* CR8-load exiting: the guest never touches the real TPR */
#define VCORE__PROC_CR8_STORE (1u << 20)   /* CR8-store exiting */
#define VCORE__PROC_UNCOND_IO (1u << 24)   /* unconditional I/O exiting */
#define VCORE__PROC_IO_BITMAPS (1u << 25)  /* use I/O bitmaps */
#define VCORE__PROC_MSR_BITMAPS (1u << 28) /* use MSR bitmaps */
#define VCORE__PROC_SECONDARY (1u << 31)   /* activate secondary controls */
/* Secondary processor-based controls. */
#define VCORE__PROC2_EPT (1u << 1)          /* enable EPT */
#define VCORE__PROC2_RDTSCP (1u << 3)       /* enable RDTSCP */
#define VCORE__PROC2_VPID (1u << 5)         /* enable VPID */
#define VCORE__PROC2_UNRESTRICTED (1u << 7) /* unrestricted guest */
#define VCORE__PROC2_INVPCID (1u << 12)     /* enable INVPCID */
/* VM-exit controls ("VM-Exit Controls"). */
#define VCORE__EXIT_HOST_64 (1u << 9)     /* host address-space size */
#define VCORE__EXIT_SAVE_PAT (1u << 18)   /* save IA32_PAT */
#define VCORE__EXIT_LOAD_PAT (1u << 19)   /* load IA32_PAT */
#define VCORE__EXIT_SAVE_EFER (1u << 20)  /* save IA32_EFER */
#define VCORE__EXIT_LOAD_EFER (1u << 21)  /* load IA32_EFER */
/* VM-entry controls ("VM-Entry Controls"). */
#define VCORE__ENTRY_IA32E (1u << 9)      /* IA-32e mode guest */
#define VCORE__ENTRY_LOAD_PAT (1u << 14)  /* load IA32_PAT */
#define VCORE__ENTRY_LOAD_EFER (1u << 15) /* load IA32_EFER */

/* IA32_VMX_EPT_VPID_CAP bits ("VPID and EPT Capabilities"). */
#define VCORE__EPTCAP_WALK4 (1ull << 6)          /* page-walk length 4 */
#define VCORE__EPTCAP_WB (1ull << 14)            /* EPT paging-structure memory type WB */
#define VCORE__EPTCAP_2M (1ull << 16)            /* 2 MiB EPT pages */
#define VCORE__EPTCAP_INVEPT (1ull << 20)        /* INVEPT supported */
#define VCORE__EPTCAP_INVEPT_SINGLE (1ull << 25) /* single-context INVEPT */
#define VCORE__EPTCAP_INVEPT_ALL (1ull << 26)    /* all-context INVEPT */
#define VCORE__EPTCAP_INVVPID (1ull << 32)       /* INVVPID supported */
#define VCORE__EPTCAP_INVVPID_SINGLE (1ull << 41) /* single-context INVVPID */

/* Basic exit reasons (SDM Vol. 3, appendix "VMX Basic Exit Reasons"). */
#define VCORE__EXIT_EXCEPTION_NMI 0u
#define VCORE__EXIT_EXTERNAL_INTR 1u
#define VCORE__EXIT_TRIPLE_FAULT 2u
#define VCORE__EXIT_INIT 3u
#define VCORE__EXIT_CPUID 10u
#define VCORE__EXIT_HLT 12u
#define VCORE__EXIT_VMCALL 18u
#define VCORE__EXIT_CR_ACCESS 28u
#define VCORE__EXIT_IO 30u
#define VCORE__EXIT_RDMSR 31u
#define VCORE__EXIT_WRMSR 32u
#define VCORE__EXIT_ENTRY_GUEST 33u
#define VCORE__EXIT_ENTRY_MSR 34u
#define VCORE__EXIT_EPT_VIOLATION 48u
#define VCORE__EXIT_EPT_MISCONFIG 49u
/* Exit-reason bit 31: VM-entry failure. */
#define VCORE__EXIT_REASON_FAILED_ENTRY (1u << 31)

/* Exceptions the backend intercepts (exception bitmap): #DB, #BP, #UD, #AC, #MC. A
 * #DF is left to the guest, so a guest that cannot handle it triple-faults
 * (VCORE_EXIT_SHUTDOWN) as it would on bare metal. */
#define VCORE__VMX_EXC_BITMAP ((1u << 1) | (1u << 3) | (1u << 6) | (1u << 17) | (1u << 18))

/* Capabilities read once from the IA32_VMX_* MSRs. */
typedef struct vcore__vmx_caps {
    uint64_t basic, misc, ept_vpid;
    uint64_t pin, proc, proc2, exit, entry; /* TRUE_* variants when BASIC bit 55 is set */
    uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
} vcore__vmx_caps_t;

/* The five control words chosen for the VMCS. */
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

/* Field-cache bits of vcore__vmx_vcpu_t::known (guest values read from / written to the VMCS). */
#define VCORE__VMX_K_RIP (1u << 0)
#define VCORE__VMX_K_RSP (1u << 1)
#define VCORE__VMX_K_RFLAGS (1u << 2)
#define VCORE__VMX_K_SREGS (1u << 3)
#define VCORE__VMX_K_DR7 (1u << 4)
#define VCORE__VMX_K_MSRS (1u << 5)
/* Values the hardware may change while the guest runs. */
#define VCORE__VMX_K_VOLATILE                                                                       \
    (VCORE__VMX_K_RIP | VCORE__VMX_K_RSP | VCORE__VMX_K_RFLAGS | VCORE__VMX_K_SREGS |                \
     VCORE__VMX_K_DR7 | VCORE__VMX_K_MSRS)

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
    vcore__vmx_gprs_t g;     /* guest GPRs (first: the asm addresses it) */
    uint8_t *vmxon;          /* VMXON region (only if this vCPU executed VMXON) */
    uint64_t vmxon_pa;
    bool owns_vmxon;         /* VMXON succeeded here: VMXOFF at fini */
    bool set_vmxe;           /* CR4.VMXE was set here: cleared at fini */
    /* MSR lists (one page): guest values at offset 0 (entry load + exit store), host at 256. */
    vcore__vmx_msr_entry_t *msr_area;
    uint64_t msr_area_pa;
    uint8_t *vmcs;           /* VMCS region */
    uint64_t vmcs_pa;
    bool built;              /* vmcs01 constant part written */
    uint16_t vpid;
    uint32_t ept_gen;        /* EPT generation last flushed */
    vcore__vmx_host_regs_t host; /* host state as written to the VMCS */
    /* Lazy sync: the guest values the VMCS holds, valid per VCORE__VMX_K_* bit. */
    uint32_t known;
    vcore_x86_state_t vm;
    uint32_t entry_ctls;     /* VM-entry controls as written (IA-32e bit follows EFER.LMA) */
    uint64_t cr0_mask, cr4_mask; /* guest/host masks: bits the host owns (guest sees the shadow) */
    uint64_t cr0_forced;     /* CR0 bits VMX operation forces to 1 in the guest */
    /* Exit being answered: VCORE_EXIT_* reason that needs completing, 0 if none. */
    uint32_t pending;
    bool pending_reply;      /* ... and its exit asked the VMM for a reply */
    uint32_t instr_len;      /* of the instruction that exited */
    /* MMIO / I/O completion data. */
    uint8_t mmio_reg;        /* destination GPR of an MMIO read */
    uint8_t mmio_high8;      /* AH..BH form of an 8-bit register */
    uint32_t mmio_len;
    uint32_t io_count;       /* repetitions in this exit */
    uint8_t io_width;
    uint8_t io_string, io_rep;
    uint8_t iobuf[VCORE__VMX_IO_BUF];
    vcore_vcpu_t *vcpu;
    vcore_vm_t *vmobj;
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
/* Bits of CR0 / CR4 that VMX operation forces to 1 (fixed0) and to 0 (~fixed1). */
uint64_t vcore__vmx_cr0_forced(const vcore__vmx_caps_t *caps, bool unrestricted);

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

/* ---- vmx_vmcs.c ---- */
/* Checked VMWRITE/VMREAD: VCORE_ERR_HWFAIL on VMfail. */
int vcore__vmx_vmwrite(uint32_t field, uint64_t value);
int vcore__vmx_vmread(uint32_t field, uint64_t *value);
int vcore__vmx_vm_setup(vcore__vmx_vm_t *v, const vcore_host_t *host);
void vcore__vmx_vm_teardown(vcore__vmx_vm_t *v, const vcore_host_t *host);
/* VMXON (if needed) and VMCS allocation + VMCLEAR + VMPTRLD. */
int vcore__vmx_vcpu_setup(vcore__vmx_vcpu_t *c, const vcore__vmx_vm_t *v, const vcore_host_t *host,
                          uint32_t id);
void vcore__vmx_vcpu_teardown(vcore__vmx_vcpu_t *c, const vcore_host_t *host);
/* Writes the constant part of vmcs01 (controls, host state, link pointer...). */
int vcore__vmx_vmcs_build(vcore__vmx_vcpu_t *c, const vcore__vmx_vm_t *v);
/* Before each entry: host state that moved, EPT flushes. */
int vcore__vmx_vmcs_prepare_entry(vcore__vmx_vcpu_t *c, vcore__vmx_vm_t *v);

/* ---- vmx_state.c ---- */
int vcore__vmx_state_get(vcore__vmx_vcpu_t *c, vcore_x86_state_t *st, uint32_t classes);
int vcore__vmx_state_set(vcore__vmx_vcpu_t *c, const vcore__vmx_vm_t *v, const vcore_x86_state_t *st,
                         uint32_t classes);
/* Reads (once per exit) the guest RIP. */
int vcore__vmx_state_rip(vcore__vmx_vcpu_t *c, uint64_t *rip);
/* Advances RIP past the exited instruction. */
int vcore__vmx_state_skip(vcore__vmx_vcpu_t *c);

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
/* Translates a guest linear address (no paging or 4-level paging). */
int vcore__vmx_guest_translate(const vcore_vm_t *vm, const vcore_x86_sregs_t *sr, uint64_t gla,
                               uint64_t *gpa);
/* Reads up to len bytes at a guest linear address (stops at an unmapped page). */
size_t vcore__vmx_guest_read(const vcore_vm_t *vm, const vcore_x86_sregs_t *sr, uint64_t gla,
                             uint8_t *buf, size_t len);

/* ---- vmx_exit.c ---- */
/* Decodes the exit that just happened into *exit. */
int vcore__vmx_exit_decode(vcore__vmx_vcpu_t *c, vcore_exit_t *exit);
/* Completes the previous exit with the reply in *exit before the next entry. */
int vcore__vmx_exit_complete(vcore__vmx_vcpu_t *c, const vcore_exit_t *exit);

#endif /* VCORE_BACKEND_VMX_H */
