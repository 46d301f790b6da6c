/* Shared helpers for the /dev/kvm tests (tests/kvm). */
#ifndef VCORE_TEST_KVM_SUPPORT_H
#define VCORE_TEST_KVM_SUPPORT_H

#include <check.h>
#include <stdint.h>
#include <virtcore/virtcore.h>

/* CTest's skip code: only used when /dev/kvm is missing or unusable. */
#define KT_SKIP 77

/* Guest memory layout of every test VM. */
#define KT_RAM_GPA 0x0ull          /* 1 MiB of RAM for data and stacks */
#define KT_RAM_SIZE (1u << 20)
#define KT_ROM_GPA 0xffff0000ull   /* 64 KiB at the top of 4 GiB: CS.base after RESET */
#define KT_ROM_SIZE 0x10000u
#define KT_CODE_OFF 0x0000u        /* snippets load at ROM offset 0 (IP 0 with CS.base FFFF0000H) */
#define KT_RESET_OFF 0xfff0u       /* the reset vector inside the ROM */
#define KT_RESET_PORT 0x52         /* the reset-vector stub writes 'R' to this port, then HLTs */

/* A 16-bit guest snippet assembled into the test binary's .rodata. The
 * code must be position independent (relative jumps, no label addresses). */
#define KT_GUEST(name, body)                                                   \
    extern const uint8_t name##_start[], name##_end[];                         \
    __asm__(".pushsection .rodata\n"                                           \
            ".globl " #name "_start\n.globl " #name "_end\n"                   \
            #name "_start:\n.code16\n" body "\n.code64\n" #name "_end:\n"      \
            ".popsection\n")

typedef struct kt_env {
    vcore_vm_t *vm;
    vcore_vcpu_t *vcpu;
    uint8_t *ram; /* KT_RAM_SIZE bytes at KT_RAM_GPA */
    uint8_t *rom; /* KT_ROM_SIZE bytes at KT_ROM_GPA */
} kt_env_t;

/* Exits with KT_SKIP when /dev/kvm cannot be used (call first in main). */
void kt_require_kvm(void);

/* A VM on the kvm backend with RAM, ROM (reset stub at FFF0H) and one vCPU. */
void kt_up(kt_env_t *env);
void kt_down(kt_env_t *env);
/* Copies a snippet to ROM offset 0 and points RIP at it (CS stays as RESET left it). */
void kt_load(kt_env_t *env, const uint8_t *start, const uint8_t *end);
/* Loads a snippet and starts it in flat 32-bit protected mode at its first
 * byte (linear KT_ROM_GPA + KT_CODE_OFF): GDT at KT_GDT with code KT_FLAT_CS
 * and data KT_FLAT_DS (base 0, 4 GiB), IDTR at KT_IDT (256 gates, which the
 * caller fills), ESP as given, EFLAGS 2. */
#define KT_GDT 0x1000u
#define KT_IDT 0x2000u
#define KT_FLAT_CS 0x08u
#define KT_FLAT_DS 0x10u
void kt_start_flat32(kt_env_t *env, const uint8_t *start, const uint8_t *end, uint32_t esp);
/* Runs once and asserts the exit reason; returns the exit. */
void kt_run_expect(kt_env_t *env, vcore_exit_t *ex, uint32_t reason);
/* A CPUID table from KVM_GET_SUPPORTED_CPUID, made consistent for the core
 * (CPUID.1:ECX.XSAVE set when leaf 0DH lists x87+SSE, as this host's KVM
 * reports it without the bit). Returns the entry count. */
uint32_t kt_host_cpuid(vcore_cpuid_entry_t *t, uint32_t cap);
/* Finds (function, index) in a table; NULL if absent. */
vcore_cpuid_entry_t *kt_cpuid_find(vcore_cpuid_entry_t *t, uint32_t n, uint32_t fn, uint32_t idx);
/* True on a kernel that takes a pending event only at the next VM entry,
 * not at the instruction boundary where it becomes deliverable (after the
 * IRET that unblocks NMIs, after STI's shadow), and never reports the
 * VMM's interrupt window (KVM_EXIT_IRQ_WINDOW_OPEN). Seen with kvm_pvm (KVM
 * without hardware virtualization, on this kind of machine: it emulates
 * these test guests instruction by instruction); a hardware KVM
 * takes the event at the boundary, as the SDM describes ("NMI Handling",
 * "STI-Set Interrupt Flag"), and exits when the window opens. */
bool kt_events_wait_for_entry(void);
/* True on a kvm_pvm kernel (KVM without hardware virtualization, seen on
 * this kind of machine): it also ignores the host's writes to the guest's
 * IA32_TIME_STAMP_COUNTER. */
bool kt_kvm_pvm(void);
/* A nested VMX state with the library's emulated capabilities (MAXPHYADDR
 * 40), in storage of this file: one at a time. */
vcore_nvmx_t *kt_nvmx_object(void);
/* Number of open file descriptors of this process. */
int kt_count_fds(void);
/* Runs a suite; returns the exit status. */
int kt_run_suite(Suite *s);



/* Asserts that the vCPU's last diagnostic is `id`. */
#define ck_assert_diag(vcpu, expected_id)                                      \
    do {                                                                       \
        vcore_diag_t d_ = {.size = sizeof(vcore_diag_t)};                      \
        ck_assert_int_eq(vcore_vcpu_last_diag((vcpu), &d_), VCORE_OK);         \
        ck_assert_msg(d_.id == (uint32_t)(expected_id), "diag %#x (%s), expected %#x", d_.id, \
                      d_.name, (unsigned)(expected_id));                       \
    } while (0)
#endif
