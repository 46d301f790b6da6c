/*
 * hv_case.h - the Hyper-V PV IPI / PV TLB flush case (hv_cases.c and its
 * guest code hv_guest.S), shared by the VMX and the SVM test kernels: the
 * same guests, calls and expectations on each backend.
 */
#ifndef VTK_HV_CASE_H
#define VTK_HV_CASE_H

#include "kernel.h"

#include "virtcore/virtcore.h"

typedef struct hv_case_cfg {
    const vcore_backend_t *backend; /* the ring-0 backend under test (its vcpu_flush_tlb is counted) */
    const vcore_host_t *host;       /* the kernel's host services */
    int (*set_cpuid)(vcore_vcpu_t *vcpu); /* the guest CPUID table (the processor's vendor) */
    uint8_t hc_modrm;               /* third byte of the vendor's hypercall instruction: C1 VMCALL, D9 VMMCALL */
} hv_case_cfg_t;

/* Runs the case; 0 when it passed, else 1 with the reason in detail
 * (cap bytes). Prints one "HVSTAT <backend> ..." line with the counts. */
int hv_case_run(const hv_case_cfg_t *cfg, char *detail, size_t cap);

#endif /* VTK_HV_CASE_H */
