/*
 * vmx_fake.h - a strict in-memory model of the vmx backend's primitives
 * (src/backend-vmx/vmx_prim.h), linked instead of vmx_prim.c in host tests.
 *
 * It follows the SDM's rules for VMX operation and the VMCS life cycle
 * (current / active / launched / clear; "VMCS Life Cycle", "VMX Instruction
 * Reference") on several logical processors, and answers VMfailInvalid /
 * VMfailValid as the processor would. Anything it does not model - an
 * instruction that would #UD, a field that does not exist, an MSR it does
 * not know, a VMCS used on a processor where it is not active - fails the
 * test.
 *
 * The guest is a callback: at each VMLAUNCH/VMRESUME that passes the
 * modelled checks (controls, event injection, host state, the guest state
 * the backend is responsible for), the event being injected is recorded
 * and delivered as VM entry would, then the callback plays the guest
 * (reads the VMCS, changes registers) and describes the VM exit with
 * vmx_fake_exit().
 */
#ifndef VCORE_TEST_VMX_FAKE_H
#define VCORE_TEST_VMX_FAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "backend-vmx/vmx_prim.h"

#define VMX_FAKE_MAX_VMCS 16
#define VMX_FAKE_MAX_MSRS 48
#define VMX_FAKE_MAX_CPUS 4
#define VMX_FAKE_LOG 256

typedef struct vmx_fake_vmcs {
    uint64_t pa;
    bool cleared_once; /* VMCLEARed at least once (launch state defined) */
    bool launched;     /* launch state: launched (true) or clear */
    int active_cpu;    /* processor it is active on, -1 when inactive */
    uint8_t data[4096]; /* field storage, vmcs12 layout (vcore_vmcs12_get/set) */
} vmx_fake_vmcs_t;

/* One logical processor. */
typedef struct vmx_fake_cpu {
    uint64_t cr0, cr4;
    bool in_vmx;
    uint64_t vmxon_pa;
    int current; /* index into vmcs[], -1 when no VMCS is current */
    uint64_t n_vmxon, n_vmxoff;
} vmx_fake_cpu_t;

typedef struct vmx_fake vmx_fake_t;
/* Plays the guest for one entry; must call vmx_fake_exit(). */
typedef void (*vmx_fake_guest_fn)(vmx_fake_t *f, vcore__vmx_gprs_t *g, void *arg);

struct vmx_fake {
    vmx_fake_cpu_t cpu[VMX_FAKE_MAX_CPUS];
    uint32_t this_cpu; /* the processor the code runs on (what the test host's cpu_index says) */
    uint32_t cpuid1_ecx;
    vmx_fake_vmcs_t vmcs[VMX_FAKE_MAX_VMCS];
    uint32_t nvmcs;
    struct {
        uint32_t index;
        uint64_t value;
    } msr[VMX_FAKE_MAX_MSRS];
    uint32_t nmsr;
    /* the host's time-stamp counter: each RDTSC returns it, then it
     * advances by tsc_step */
    uint64_t tsc, tsc_step;
    vcore__vmx_host_regs_t host;
    uint64_t host_rsp; /* the RSP the "entry primitive" runs on */
    /* the guest */
    vmx_fake_guest_fn guest;
    void *guest_arg;
    bool exit_set;
    /* the event the last vectoring VM entry delivered */
    uint32_t inj_info, inj_error, inj_len;
    uint64_t n_injected;
    /* counters */
    uint64_t n_vmread, n_vmwrite, n_enter, n_launch, n_resume, n_vmptrld, n_vmptrst, n_vmclear,
        n_invept, n_invvpid, n_vmxon, n_vmxoff, n_rdmsr, n_host_nmi, n_host_mc;
    uint64_t n_read_type[4], n_write_type[4]; /* per vcore_vmcs_type_t */
    uint64_t mark_read, mark_write;           /* vmx_fake_counts() baseline */
    /* VMREAD/VMWRITE of this field (UINT32_MAX: none) answer VMfailValid 12, as
     * for a field the processor does not support: every failure must reach
     * the caller as an error. */
    uint32_t fail_field;
    /* access log (vmx_fake_log_start) */
    struct {
        uint32_t field;
        bool write;
    } log[VMX_FAKE_LOG];
    uint32_t nlog;
    bool logging;
    /* The x87/SSE register file of the processor, in FXSAVE64 layout (the
     * guest script reads and changes it: it is the guest's while it runs). */
    uint8_t fx[512];
    uint64_t n_fxsave, n_fxrstor;
    /* INVVPIDs executed (the last VMX_FAKE_LOG of them). */
    struct {
        uint64_t type;
        uint16_t vpid;
        uint64_t gla;
    } invvpid[VMX_FAKE_LOG];
    uint32_t ninvvpid;
    /* The last INVEPT executed. */
    uint64_t invept_type, invept_eptp;
};

extern vmx_fake_t vmx_fake;

/* The processor the code runs on. */
#define VMX_FAKE_CPU (vmx_fake.cpu[vmx_fake.this_cpu])

/* Resets the model: processors with the corei7_skylake_x VMX MSRs Bochs reports. */
void vmx_fake_reset(void);
/* Sets or adds an MSR value. */
void vmx_fake_set_msr(uint32_t index, uint64_t value);
/* The VMCS record of a region (NULL if the fake never saw it). */
vmx_fake_vmcs_t *vmx_fake_vmcs_at(uint64_t pa);
/* Field access of the current VMCS without VMREAD/VMWRITE semantics or counting (the "hardware" side). */
uint64_t vmx_fake_get(uint32_t field);
void vmx_fake_set(uint32_t field, uint64_t value);
/* Describes the VM exit the guest callback produced (writes the exit-information fields). */
void vmx_fake_exit(uint32_t reason, uint64_t qualification, uint32_t instr_len);
/* Counters of VMREAD + VMWRITE since the last call. */
void vmx_fake_counts(uint64_t *reads, uint64_t *writes);
/* Starts recording the fields accessed by VMREAD/VMWRITE. */
void vmx_fake_log_start(void);
/* The interrupt window is open (interrupt-window exiting armed, RFLAGS.IF = 1,
 * no blocking by STI or MOV SS: "Interrupt-Window Exiting"). */
bool vmx_fake_irq_window_open(void);
/* The NMI window is open (NMI-window exiting armed, no virtual-NMI blocking,
 * no blocking by MOV SS: "NMI-Window Exiting"). */
bool vmx_fake_nmi_window_open(void);

#endif
