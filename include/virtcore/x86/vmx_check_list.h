/**
 * @file vmx_check_list.h
 * @brief The table of VM-entry consistency checks: one row per rule of SDM
 *        Vol. 3, chapter "VM Entries".
 *
 * Each row is R(X, NAME, value, CLASS, "manual section title", "message", inputs):
 * - NAME: the stable name (enum ::vcore_vmx_check_id_t gets VCORE_VMX_CHECK_NAME);
 * - value: the pinned identifier (range 0x4000-0x4fff, append-only, shared
 *   with the diagnostic identifiers of diag.h);
 * - CLASS: the outcome a failure of the rule produces (::vcore_vmx_check_class_t
 *   without its prefix);
 * - the title of the SDM Vol. 3 section that states the rule;
 * - a one-line description of what is required;
 * - the inputs: VCORE_VMX_IN_* bits naming the often-written vmcs12 fields
 *   the rule reads (0: none of them; the rule still reads other fields).
 *
 * The rows are written R(X, NAME, ...): VCORE_VMX_CHECK_LIST(X) hands X the
 * first five columns, VCORE_VMX_CHECK_INPUT_LIST(X) all six.
 *
 * The rows of each list are in the order the SDM states the rules; the lists
 * are concatenated in the order VM entry performs the checks, so the table
 * order is the architectural order (the verdict is the first failure in it).
 */
#ifndef VIRTCORE_X86_VMX_CHECK_LIST_H
#define VIRTCORE_X86_VMX_CHECK_LIST_H

/** @name Manual section titles (SDM Vol. 3, chapter "VM Entries")
 * @{ */
#define VCORE_VMX_SEC_BASIC "Basic VM-Entry Checks"                                   /**< Before any VMCS check. */
#define VCORE_VMX_SEC_EXEC "Checks on VM-Execution Control Fields"                   /**< VMfailValid 7. */
#define VCORE_VMX_SEC_EXIT "Checks on VM-Exit Control Fields"                        /**< VMfailValid 7. */
#define VCORE_VMX_SEC_ENTRY "Checks on VM-Entry Control Fields"                      /**< VMfailValid 7. */
#define VCORE_VMX_SEC_HOST_CR "Checks on Host Control Registers, MSRs, and SSP"       /**< VMfailValid 8. */
#define VCORE_VMX_SEC_HOST_SEG "Checks on Host Segment and Descriptor-Table Registers" /**< VMfailValid 8. */
#define VCORE_VMX_SEC_ADDR "Checks Related to Address-Space Size"                    /**< VMfailValid 8. */
#define VCORE_VMX_SEC_GUEST_CR "Checks on Guest Control Registers, Debug Registers, and MSRs" /**< Exit 33. */
#define VCORE_VMX_SEC_GUEST_SEG "Checks on Guest Segment Registers"                  /**< Exit 33. */
#define VCORE_VMX_SEC_GUEST_DT "Checks on Guest Descriptor-Table Registers"          /**< Exit 33. */
#define VCORE_VMX_SEC_GUEST_RIP "Checks on Guest RIP, RFLAGS, and SSP"               /**< Exit 33. */
#define VCORE_VMX_SEC_GUEST_NONREG "Checks on Guest Non-Register State"              /**< Exit 33 (link pointer: qualification 4). */
#define VCORE_VMX_SEC_GUEST_PDPTE "Checks on Guest Page-Directory-Pointer-Table Entries" /**< Exit 33, qualification 2. */
#define VCORE_VMX_SEC_MSR_LOAD "Loading MSRs"                                        /**< Exit 34. */
/** @} */

/** @name Inputs of a rule (the last column)
 * The vmcs12 fields a rule reads that L1 or the library write often, as a
 * set of these bits. Every rule also reads, implicitly, every other vmcs12
 * field that some rule reads (VCORE_VMX_IN_OTHER), the capability MSRs,
 * L1's CPUID and MAXPHYADDR and IA32_EFER of L1: a change to any of those
 * re-runs every rule. VCORE_VMX_IN_ALWAYS marks a rule whose inputs change
 * without a vmcs12 write (L1 memory, the instruction, the launch state): it
 * runs on every entry.
 * @{ */
#define VCORE_VMX_IN_ALWAYS (1u << 0) /**< Runs on every VM entry. */
#define VCORE_VMX_IN_RIP (1u << 1)    /**< Guest RIP. */
#define VCORE_VMX_IN_RFLAGS (1u << 2) /**< Guest RFLAGS. */
#define VCORE_VMX_IN_CR0 (1u << 3)    /**< Guest CR0. */
#define VCORE_VMX_IN_CR3 (1u << 4)    /**< Guest CR3. */
#define VCORE_VMX_IN_CR4 (1u << 5)    /**< Guest CR4. */
#define VCORE_VMX_IN_EFER (1u << 6)   /**< Guest IA32_EFER. */
#define VCORE_VMX_IN_CSSS (1u << 7)   /**< Guest CS and SS access rights. */
#define VCORE_VMX_IN_INTR (1u << 8)   /**< Guest interruptibility state. */
#define VCORE_VMX_IN_ACT (1u << 9)    /**< Guest activity state. */
#define VCORE_VMX_IN_EVENT (1u << 10) /**< VM-entry interruption information, exception error code, instruction length. */
#define VCORE_VMX_IN_OTHER (1u << 30) /**< Any other vmcs12 field a rule reads (implied for every rule). */
/** @} */
/* Segment-register rules: the segment fields (OTHER), RFLAGS.VM (virtual-8086
 * mode), CR0.PE and the CS/SS access rights. */
#define VCORE__VMX_IN_SEG (VCORE_VMX_IN_RFLAGS | VCORE_VMX_IN_CR0 | VCORE_VMX_IN_CSSS)

/** @brief "Basic VM-Entry Checks": VMfailInvalid and VMfailValid 26, 4, 5. */
#define VCORE_VMX_CHECK_ROWS_BASIC(R, X)                                                              \
    R(X, BASIC_NO_CURRENT_VMCS, 0x4000, PRE, VCORE_VMX_SEC_BASIC,                                      \
      "there must be a current VMCS (VMfailInvalid)", VCORE_VMX_IN_ALWAYS) \
    R(X, BASIC_SHADOW_CURRENT, 0x4001, PRE, VCORE_VMX_SEC_BASIC,                                       \
      "the current VMCS must not be a shadow VMCS (VMfailInvalid)", VCORE_VMX_IN_ALWAYS) \
    R(X, BASIC_MOV_SS, 0x4002, PRE, VCORE_VMX_SEC_BASIC,                                               \
      "events must not be blocked by MOV SS (VM-instruction error 26)", VCORE_VMX_IN_ALWAYS) \
    R(X, BASIC_LAUNCH_NOT_CLEAR, 0x4003, PRE, VCORE_VMX_SEC_BASIC,                                     \
      "VMLAUNCH needs a VMCS whose launch state is clear (error 4)", VCORE_VMX_IN_ALWAYS) \
    R(X, BASIC_RESUME_NOT_LAUNCHED, 0x4004, PRE, VCORE_VMX_SEC_BASIC,                                  \
      "VMRESUME needs a VMCS whose launch state is launched (error 5)", VCORE_VMX_IN_ALWAYS)

/** @brief "Checks on VM-Execution Control Fields" (VMfailValid 7). */
#define VCORE_VMX_CHECK_ROWS_EXEC(R, X)                                                               \
    R(X, EXEC_PIN_ALLOWED0, 0x4100, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                    \
      "pin-based controls: a control whose allowed 0-setting is 1 must be 1", 0) \
    R(X, EXEC_PIN_ALLOWED1, 0x4101, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                    \
      "pin-based controls: a control whose allowed 1-setting is 0 must be 0", 0) \
    R(X, EXEC_PROC_ALLOWED0, 0x4102, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                   \
      "primary processor-based controls: a control whose allowed 0-setting is 1 must be 1", 0) \
    R(X, EXEC_PROC_ALLOWED1, 0x4103, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                   \
      "primary processor-based controls: a control whose allowed 1-setting is 0 must be 0", 0) \
    R(X, EXEC_PROC2_ALLOWED0, 0x4104, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                  \
      "secondary processor-based controls: a control whose allowed 0-setting is 1 must be 1", 0) \
    R(X, EXEC_PROC2_ALLOWED1, 0x4105, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                  \
      "secondary processor-based controls: reserved controls must be 0", 0) \
    R(X, EXEC_PROC3_RESERVED, 0x4106, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                  \
      "tertiary processor-based controls: reserved controls must be 0 (none is offered)", 0) \
    R(X, EXEC_CR3_TARGET_COUNT, 0x4107, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                \
      "CR3-target count must not exceed IA32_VMX_MISC[24:16]", 0) \
    R(X, EXEC_IO_BITMAP_A_ALIGN, 0x4108, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                               \
      "use I/O bitmaps: bits 11:0 of the I/O-bitmap A address must be 0", 0) \
    R(X, EXEC_IO_BITMAP_A_WIDTH, 0x4109, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                               \
      "use I/O bitmaps: I/O-bitmap A address must be within the physical-address width", 0) \
    R(X, EXEC_IO_BITMAP_B_ALIGN, 0x410a, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                               \
      "use I/O bitmaps: bits 11:0 of the I/O-bitmap B address must be 0", 0) \
    R(X, EXEC_IO_BITMAP_B_WIDTH, 0x410b, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                               \
      "use I/O bitmaps: I/O-bitmap B address must be within the physical-address width", 0) \
    R(X, EXEC_MSR_BITMAP_ALIGN, 0x410c, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                \
      "use MSR bitmaps: bits 11:0 of the MSR-bitmap address must be 0", 0) \
    R(X, EXEC_MSR_BITMAP_WIDTH, 0x410d, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                \
      "use MSR bitmaps: MSR-bitmap address must be within the physical-address width", 0) \
    R(X, EXEC_VAPIC_ALIGN, 0x410e, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                     \
      "use TPR shadow: bits 11:0 of the virtual-APIC address must be 0", 0) \
    R(X, EXEC_VAPIC_WIDTH, 0x410f, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                     \
      "use TPR shadow: virtual-APIC address must be within the physical-address width", 0) \
    R(X, EXEC_TPR_THRESHOLD_RESERVED, 0x4110, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                          \
      "use TPR shadow without virtual-interrupt delivery: TPR threshold bits 31:4 must be 0", 0) \
    R(X, EXEC_TPR_THRESHOLD_VTPR, 0x4111, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                              \
      "use TPR shadow without APIC-access virtualization or virtual-interrupt delivery: "           \
      "TPR threshold bits 3:0 must not exceed VTPR bits 7:4", VCORE_VMX_IN_ALWAYS) \
    R(X, EXEC_VNMI_NMI_EXITING, 0x4112, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                \
      "virtual NMIs needs NMI exiting", 0) \
    R(X, EXEC_NMI_WINDOW_VNMI, 0x4113, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                 \
      "NMI-window exiting needs virtual NMIs", 0) \
    R(X, EXEC_APIC_ACCESS_ALIGN, 0x4114, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                               \
      "virtualize APIC accesses: bits 11:0 of the APIC-access address must be 0", 0) \
    R(X, EXEC_APIC_ACCESS_WIDTH, 0x4115, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                               \
      "virtualize APIC accesses: APIC-access address must be within the physical-address width", 0) \
    R(X, EXEC_X2APIC_TPR_SHADOW, 0x4116, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                               \
      "virtualize x2APIC mode needs use TPR shadow", 0) \
    R(X, EXEC_APIC_REG_TPR_SHADOW, 0x4117, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                             \
      "APIC-register virtualization needs use TPR shadow", 0) \
    R(X, EXEC_VID_TPR_SHADOW, 0x4118, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                  \
      "virtual-interrupt delivery needs use TPR shadow", 0) \
    R(X, EXEC_X2APIC_APIC_ACCESS, 0x4119, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                              \
      "virtualize x2APIC mode and virtualize APIC accesses must not both be 1", 0) \
    R(X, EXEC_VID_EXT_INT, 0x411a, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                     \
      "virtual-interrupt delivery needs external-interrupt exiting", 0) \
    R(X, EXEC_PI_VID, 0x411b, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                          \
      "process posted interrupts needs virtual-interrupt delivery", 0) \
    R(X, EXEC_PI_ACK_INTR, 0x411c, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                     \
      "process posted interrupts needs the acknowledge-interrupt-on-exit VM-exit control", 0) \
    R(X, EXEC_PI_VECTOR, 0x411d, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                       \
      "process posted interrupts: bits 15:8 of the notification vector must be 0", 0) \
    R(X, EXEC_PI_DESC_ALIGN, 0x411e, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                   \
      "process posted interrupts: bits 5:0 of the descriptor address must be 0", 0) \
    R(X, EXEC_PI_DESC_WIDTH, 0x411f, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                   \
      "process posted interrupts: descriptor address must be within the physical-address width", 0) \
    R(X, EXEC_VPID_ZERO, 0x4120, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                       \
      "enable VPID: the VPID must not be 0", 0) \
    R(X, EXEC_EPTP_MEMTYPE, 0x4121, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                    \
      "enable EPT: EPTP memory type (bits 2:0) must be UC or WB as IA32_VMX_EPT_VPID_CAP allows", 0) \
    R(X, EXEC_EPTP_WALK, 0x4122, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                       \
      "enable EPT: EPTP bits 5:3 must name a page-walk length IA32_VMX_EPT_VPID_CAP supports", 0) \
    R(X, EXEC_EPTP_AD, 0x4123, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                         \
      "enable EPT: EPTP bit 6 (accessed/dirty flags) needs IA32_VMX_EPT_VPID_CAP[21]", 0) \
    R(X, EXEC_EPTP_SSS, 0x4124, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                        \
      "enable EPT: EPTP bit 7 (supervisor shadow-stack control) needs IA32_VMX_EPT_VPID_CAP[23]", 0) \
    R(X, EXEC_EPTP_RESERVED, 0x4125, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                   \
      "enable EPT: EPTP bits 11:8 must be 0", 0) \
    R(X, EXEC_EPTP_WIDTH, 0x4126, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                      \
      "enable EPT: EPTP bits 63:MAXPHYADDR must be 0", 0) \
    R(X, EXEC_PML_EPT, 0x4127, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                         \
      "enable PML needs enable EPT", 0) \
    R(X, EXEC_PML_ALIGN, 0x4128, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                       \
      "enable PML: bits 11:0 of the PML address must be 0", 0) \
    R(X, EXEC_PML_WIDTH, 0x4129, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                       \
      "enable PML: PML address must be within the physical-address width", 0) \
    R(X, EXEC_URG_EPT, 0x412a, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                         \
      "unrestricted guest needs enable EPT", 0) \
    R(X, EXEC_MBEC_EPT, 0x412b, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                        \
      "mode-based execute control for EPT needs enable EPT", 0) \
    R(X, EXEC_SPP_EPT, 0x412c, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                         \
      "sub-page write permissions for EPT needs enable EPT", 0) \
    R(X, EXEC_SPPTP_ALIGN, 0x412d, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                     \
      "sub-page write permissions: bits 11:0 of the SPPTP must be 0", 0) \
    R(X, EXEC_SPPTP_WIDTH, 0x412e, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                     \
      "sub-page write permissions: SPPTP must be within the physical-address width", 0) \
    R(X, EXEC_VMFUNC_RESERVED, 0x412f, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                 \
      "enable VM functions: VM-function controls must be allowed by IA32_VMX_VMFUNC", 0) \
    R(X, EXEC_EPTP_SWITCH_EPT, 0x4130, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                 \
      "EPTP switching needs enable EPT", 0) \
    R(X, EXEC_EPTP_LIST_ALIGN, 0x4131, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                 \
      "EPTP switching: bits 11:0 of the EPTP-list address must be 0", 0) \
    R(X, EXEC_EPTP_LIST_WIDTH, 0x4132, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                 \
      "EPTP switching: EPTP-list address must be within the physical-address width", 0) \
    R(X, EXEC_VMREAD_BITMAP_ALIGN, 0x4133, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                             \
      "VMCS shadowing: bits 11:0 of the VMREAD-bitmap address must be 0", 0) \
    R(X, EXEC_VMREAD_BITMAP_WIDTH, 0x4134, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                             \
      "VMCS shadowing: VMREAD-bitmap address must be within the physical-address width", 0) \
    R(X, EXEC_VMWRITE_BITMAP_ALIGN, 0x4135, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                            \
      "VMCS shadowing: bits 11:0 of the VMWRITE-bitmap address must be 0", 0) \
    R(X, EXEC_VMWRITE_BITMAP_WIDTH, 0x4136, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                            \
      "VMCS shadowing: VMWRITE-bitmap address must be within the physical-address width", 0) \
    R(X, EXEC_VE_INFO_ALIGN, 0x4137, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                   \
      "EPT-violation #VE: bits 11:0 of the virtualization-exception information address must be 0", 0) \
    R(X, EXEC_VE_INFO_WIDTH, 0x4138, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                   \
      "EPT-violation #VE: virtualization-exception information address must be within the "         \
      "physical-address width", 0) \
    R(X, EXEC_PT_GPA_EPT, 0x4139, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                      \
      "Intel PT uses guest physical addresses needs enable EPT", 0) \
    R(X, EXEC_PT_GPA_LOAD_RTIT, 0x413a, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                                \
      "Intel PT uses guest physical addresses needs the load IA32_RTIT_CTL VM-entry control", 0) \
    R(X, EXEC_PT_GPA_CLEAR_RTIT, 0x413b, VMFAIL_CTL, VCORE_VMX_SEC_EXEC,                               \
      "Intel PT uses guest physical addresses needs the clear IA32_RTIT_CTL VM-exit control", 0)

/** @brief "Checks on VM-Exit Control Fields" (VMfailValid 7). */
#define VCORE_VMX_CHECK_ROWS_EXIT(R, X)                                                               \
    R(X, EXIT_CTL_ALLOWED0, 0x4180, VMFAIL_CTL, VCORE_VMX_SEC_EXIT,                                    \
      "VM-exit controls: a control whose allowed 0-setting is 1 must be 1", 0) \
    R(X, EXIT_CTL_ALLOWED1, 0x4181, VMFAIL_CTL, VCORE_VMX_SEC_EXIT,                                    \
      "VM-exit controls: a control whose allowed 1-setting is 0 must be 0", 0) \
    R(X, EXIT_CTL2_RESERVED, 0x4182, VMFAIL_CTL, VCORE_VMX_SEC_EXIT,                                   \
      "secondary VM-exit controls: reserved controls must be 0 (none is offered)", 0) \
    R(X, EXIT_SAVE_TIMER, 0x4183, VMFAIL_CTL, VCORE_VMX_SEC_EXIT,                                      \
      "save VMX-preemption timer value needs activate VMX-preemption timer", 0) \
    R(X, EXIT_MSR_STORE_ALIGN, 0x4184, VMFAIL_CTL, VCORE_VMX_SEC_EXIT,                                 \
      "VM-exit MSR-store count non-zero: bits 3:0 of the address must be 0", 0) \
    R(X, EXIT_MSR_STORE_WIDTH, 0x4185, VMFAIL_CTL, VCORE_VMX_SEC_EXIT,                                 \
      "VM-exit MSR-store count non-zero: address must be within the physical-address width", 0) \
    R(X, EXIT_MSR_STORE_END, 0x4186, VMFAIL_CTL, VCORE_VMX_SEC_EXIT,                                   \
      "VM-exit MSR-store count non-zero: last byte of the area must be within the "                 \
      "physical-address width", 0) \
    R(X, EXIT_MSR_LOAD_ALIGN, 0x4187, VMFAIL_CTL, VCORE_VMX_SEC_EXIT,                                  \
      "VM-exit MSR-load count non-zero: bits 3:0 of the address must be 0", 0) \
    R(X, EXIT_MSR_LOAD_WIDTH, 0x4188, VMFAIL_CTL, VCORE_VMX_SEC_EXIT,                                  \
      "VM-exit MSR-load count non-zero: address must be within the physical-address width", 0) \
    R(X, EXIT_MSR_LOAD_END, 0x4189, VMFAIL_CTL, VCORE_VMX_SEC_EXIT,                                    \
      "VM-exit MSR-load count non-zero: last byte of the area must be within the "                  \
      "physical-address width", 0)

/** @brief "Checks on VM-Entry Control Fields", event injection included (VMfailValid 7). */
#define VCORE_VMX_CHECK_ROWS_ENTRY(R, X)                                                              \
    R(X, ENTRY_CTL_ALLOWED0, 0x41c0, VMFAIL_CTL, VCORE_VMX_SEC_ENTRY,                                  \
      "VM-entry controls: a control whose allowed 0-setting is 1 must be 1", 0) \
    R(X, ENTRY_CTL_ALLOWED1, 0x41c1, VMFAIL_CTL, VCORE_VMX_SEC_ENTRY,                                  \
      "VM-entry controls: a control whose allowed 1-setting is 0 must be 0", 0) \
    R(X, ENTRY_INTR_TYPE, 0x41c2, VMFAIL_CTL, VCORE_VMX_SEC_ENTRY,                                     \
      "event injection: interruption type 1, or 7 without monitor trap flag, is reserved", VCORE_VMX_IN_EVENT) \
    R(X, ENTRY_INTR_NMI_VECTOR, 0x41c3, VMFAIL_CTL, VCORE_VMX_SEC_ENTRY,                               \
      "event injection: an NMI must have vector 2", VCORE_VMX_IN_EVENT) \
    R(X, ENTRY_INTR_HW_VECTOR, 0x41c4, VMFAIL_CTL, VCORE_VMX_SEC_ENTRY,                                \
      "event injection: a hardware exception must have a vector of at most 31", VCORE_VMX_IN_EVENT) \
    R(X, ENTRY_INTR_OTHER_VECTOR, 0x41c5, VMFAIL_CTL, VCORE_VMX_SEC_ENTRY,                             \
      "event injection: an other event (pending MTF VM exit) must have vector 0", VCORE_VMX_IN_EVENT) \
    R(X, ENTRY_INTR_ERRCODE_SET, 0x41c6, VMFAIL_CTL, VCORE_VMX_SEC_ENTRY,                              \
      "event injection: deliver-error-code must be 1 for #DF, #TS, #NP, #SS, #GP, #PF, #AC "        \
      "in protected mode (unless IA32_VMX_BASIC[56])", VCORE_VMX_IN_EVENT | VCORE_VMX_IN_CR0) \
    R(X, ENTRY_INTR_ERRCODE_CLEAR, 0x41c7, VMFAIL_CTL, VCORE_VMX_SEC_ENTRY,                            \
      "event injection: deliver-error-code must be 0 for other events, for real-mode "              \
      "unrestricted guests, and (unless IA32_VMX_BASIC[56]) for vectors without an error code", VCORE_VMX_IN_EVENT | VCORE_VMX_IN_CR0) \
    R(X, ENTRY_INTR_RESERVED, 0x41c8, VMFAIL_CTL, VCORE_VMX_SEC_ENTRY,                                 \
      "event injection: bits 30:12 of the interruption-information field must be 0", VCORE_VMX_IN_EVENT) \
    R(X, ENTRY_INTR_ERRCODE_HIGH, 0x41c9, VMFAIL_CTL, VCORE_VMX_SEC_ENTRY,                             \
      "event injection: bits 31:16 of the VM-entry exception error code must be 0", VCORE_VMX_IN_EVENT) \
    R(X, ENTRY_INTR_LEN_RANGE, 0x41ca, VMFAIL_CTL, VCORE_VMX_SEC_ENTRY,                                \
      "event injection: software interrupt or exception needs an instruction length of at most 15", VCORE_VMX_IN_EVENT) \
    R(X, ENTRY_INTR_LEN_ZERO, 0x41cb, VMFAIL_CTL, VCORE_VMX_SEC_ENTRY,                                 \
      "event injection: instruction length 0 needs IA32_VMX_MISC[30]", VCORE_VMX_IN_EVENT) \
    R(X, ENTRY_MSR_LOAD_ALIGN, 0x41cc, VMFAIL_CTL, VCORE_VMX_SEC_ENTRY,                                \
      "VM-entry MSR-load count non-zero: bits 3:0 of the address must be 0", 0) \
    R(X, ENTRY_MSR_LOAD_WIDTH, 0x41cd, VMFAIL_CTL, VCORE_VMX_SEC_ENTRY,                                \
      "VM-entry MSR-load count non-zero: address must be within the physical-address width", 0) \
    R(X, ENTRY_MSR_LOAD_END, 0x41ce, VMFAIL_CTL, VCORE_VMX_SEC_ENTRY,                                  \
      "VM-entry MSR-load count non-zero: last byte of the area must be within the "                 \
      "physical-address width", 0) \
    R(X, ENTRY_SMM_OUTSIDE_SMM, 0x41cf, VMFAIL_CTL, VCORE_VMX_SEC_ENTRY,                               \
      "entry to SMM must be 0 outside SMM", 0) \
    R(X, ENTRY_DUAL_MONITOR_OUTSIDE_SMM, 0x41d0, VMFAIL_CTL, VCORE_VMX_SEC_ENTRY,                      \
      "deactivate dual-monitor treatment must be 0 outside SMM", 0) \
    R(X, ENTRY_SMM_AND_DUAL_MONITOR, 0x41d1, VMFAIL_CTL, VCORE_VMX_SEC_ENTRY,                          \
      "entry to SMM and deactivate dual-monitor treatment must not both be 1", 0)

/** @brief "Checks on Host Control Registers, MSRs, and SSP" (VMfailValid 8). */
#define VCORE_VMX_CHECK_ROWS_HOST_CR(R, X)                                                            \
    R(X, HOST_CR0_FIXED0, 0x4200, VMFAIL_HOST, VCORE_VMX_SEC_HOST_CR,                                  \
      "host CR0: bits set in IA32_VMX_CR0_FIXED0 must be 1", 0) \
    R(X, HOST_CR0_FIXED1, 0x4201, VMFAIL_HOST, VCORE_VMX_SEC_HOST_CR,                                  \
      "host CR0: bits clear in IA32_VMX_CR0_FIXED1 must be 0", 0) \
    R(X, HOST_CR4_FIXED0, 0x4202, VMFAIL_HOST, VCORE_VMX_SEC_HOST_CR,                                  \
      "host CR4: bits set in IA32_VMX_CR4_FIXED0 must be 1", 0) \
    R(X, HOST_CR4_FIXED1, 0x4203, VMFAIL_HOST, VCORE_VMX_SEC_HOST_CR,                                  \
      "host CR4: bits clear in IA32_VMX_CR4_FIXED1 must be 0", 0) \
    R(X, HOST_CR4_CET_WP, 0x4204, VMFAIL_HOST, VCORE_VMX_SEC_HOST_CR,                                  \
      "host CR4.CET needs host CR0.WP", 0) \
    R(X, HOST_CR3_WIDTH, 0x4205, VMFAIL_HOST, VCORE_VMX_SEC_HOST_CR,                                   \
      "host CR3 must not set bits beyond the physical-address width", 0) \
    R(X, HOST_SYSENTER_ESP_CANONICAL, 0x4206, VMFAIL_HOST, VCORE_VMX_SEC_HOST_CR,                      \
      "host IA32_SYSENTER_ESP must be canonical", 0) \
    R(X, HOST_SYSENTER_EIP_CANONICAL, 0x4207, VMFAIL_HOST, VCORE_VMX_SEC_HOST_CR,                      \
      "host IA32_SYSENTER_EIP must be canonical", 0) \
    R(X, HOST_S_CET_CANONICAL, 0x4208, VMFAIL_HOST, VCORE_VMX_SEC_HOST_CR,                             \
      "load CET state: host IA32_S_CET must be canonical", 0) \
    R(X, HOST_SSP_TABLE_CANONICAL, 0x4209, VMFAIL_HOST, VCORE_VMX_SEC_HOST_CR,                         \
      "load CET state: host IA32_INTERRUPT_SSP_TABLE_ADDR must be canonical", 0) \
    R(X, HOST_S_CET_RESERVED, 0x420a, VMFAIL_HOST, VCORE_VMX_SEC_HOST_CR,                              \
      "load CET state: host IA32_S_CET bits 9:6 must be 0", 0) \
    R(X, HOST_S_CET_SUPPRESS_TRACKER, 0x420b, VMFAIL_HOST, VCORE_VMX_SEC_HOST_CR,                      \
      "load CET state: host IA32_S_CET must not set both SUPPRESS (10) and TRACKER (11)", 0) \
    R(X, HOST_SSP_ALIGN, 0x420c, VMFAIL_HOST, VCORE_VMX_SEC_HOST_CR,                                   \
      "load CET state: bits 1:0 of the host SSP must be 0", 0) \
    R(X, HOST_PERF_GLOBAL_CTRL, 0x420d, VMFAIL_HOST, VCORE_VMX_SEC_HOST_CR,                            \
      "load IA32_PERF_GLOBAL_CTRL: bits reserved in the MSR must be 0", 0) \
    R(X, HOST_PAT, 0x420e, VMFAIL_HOST, VCORE_VMX_SEC_HOST_CR,                                         \
      "load IA32_PAT: every entry must be a valid memory type (0, 1, 4, 5, 6, 7)", 0) \
    R(X, HOST_EFER_RESERVED, 0x420f, VMFAIL_HOST, VCORE_VMX_SEC_HOST_CR,                               \
      "load IA32_EFER: bits reserved in IA32_EFER must be 0", 0) \
    R(X, HOST_EFER_LMA, 0x4210, VMFAIL_HOST, VCORE_VMX_SEC_HOST_CR,                                    \
      "load IA32_EFER: LMA must equal host address-space size", 0) \
    R(X, HOST_EFER_LME, 0x4211, VMFAIL_HOST, VCORE_VMX_SEC_HOST_CR,                                    \
      "load IA32_EFER: LME must equal host address-space size", 0) \
    R(X, HOST_PKRS, 0x4212, VMFAIL_HOST, VCORE_VMX_SEC_HOST_CR,                                        \
      "load PKRS: bits 63:32 of the host IA32_PKRS must be 0", 0)

/** @brief "Checks on Host Segment and Descriptor-Table Registers" (VMfailValid 8). */
#define VCORE_VMX_CHECK_ROWS_HOST_SEG(R, X)                                                           \
    R(X, HOST_CS_SELECTOR, 0x4240, VMFAIL_HOST, VCORE_VMX_SEC_HOST_SEG,                                \
      "host CS selector: RPL and TI must be 0", 0) \
    R(X, HOST_SS_SELECTOR, 0x4241, VMFAIL_HOST, VCORE_VMX_SEC_HOST_SEG,                                \
      "host SS selector: RPL and TI must be 0", 0) \
    R(X, HOST_DS_SELECTOR, 0x4242, VMFAIL_HOST, VCORE_VMX_SEC_HOST_SEG,                                \
      "host DS selector: RPL and TI must be 0", 0) \
    R(X, HOST_ES_SELECTOR, 0x4243, VMFAIL_HOST, VCORE_VMX_SEC_HOST_SEG,                                \
      "host ES selector: RPL and TI must be 0", 0) \
    R(X, HOST_FS_SELECTOR, 0x4244, VMFAIL_HOST, VCORE_VMX_SEC_HOST_SEG,                                \
      "host FS selector: RPL and TI must be 0", 0) \
    R(X, HOST_GS_SELECTOR, 0x4245, VMFAIL_HOST, VCORE_VMX_SEC_HOST_SEG,                                \
      "host GS selector: RPL and TI must be 0", 0) \
    R(X, HOST_TR_SELECTOR, 0x4246, VMFAIL_HOST, VCORE_VMX_SEC_HOST_SEG,                                \
      "host TR selector: RPL and TI must be 0", 0) \
    R(X, HOST_CS_NULL, 0x4247, VMFAIL_HOST, VCORE_VMX_SEC_HOST_SEG,                                    \
      "host CS selector must not be 0000H", 0) \
    R(X, HOST_TR_NULL, 0x4248, VMFAIL_HOST, VCORE_VMX_SEC_HOST_SEG,                                    \
      "host TR selector must not be 0000H", 0) \
    R(X, HOST_SS_NULL, 0x4249, VMFAIL_HOST, VCORE_VMX_SEC_HOST_SEG,                                    \
      "host SS selector must not be 0000H when host address-space size is 0", 0) \
    R(X, HOST_FS_BASE_CANONICAL, 0x424a, VMFAIL_HOST, VCORE_VMX_SEC_HOST_SEG,                          \
      "host FS base must be canonical", 0) \
    R(X, HOST_GS_BASE_CANONICAL, 0x424b, VMFAIL_HOST, VCORE_VMX_SEC_HOST_SEG,                          \
      "host GS base must be canonical", 0) \
    R(X, HOST_GDTR_BASE_CANONICAL, 0x424c, VMFAIL_HOST, VCORE_VMX_SEC_HOST_SEG,                        \
      "host GDTR base must be canonical", 0) \
    R(X, HOST_IDTR_BASE_CANONICAL, 0x424d, VMFAIL_HOST, VCORE_VMX_SEC_HOST_SEG,                        \
      "host IDTR base must be canonical", 0) \
    R(X, HOST_TR_BASE_CANONICAL, 0x424e, VMFAIL_HOST, VCORE_VMX_SEC_HOST_SEG,                          \
      "host TR base must be canonical", 0)

/** @brief "Checks Related to Address-Space Size" (VMfailValid 8). */
#define VCORE_VMX_CHECK_ROWS_ADDR(R, X)                                                               \
    R(X, ADDR_IA32E_GUEST_L1_LEGACY, 0x4280, VMFAIL_HOST, VCORE_VMX_SEC_ADDR,                          \
      "IA-32e mode guest must be 0 when VM entry starts outside IA-32e mode", 0) \
    R(X, ADDR_HOST_64_L1_LEGACY, 0x4281, VMFAIL_HOST, VCORE_VMX_SEC_ADDR,                              \
      "host address-space size must be 0 when VM entry starts outside IA-32e mode", 0) \
    R(X, ADDR_HOST_32_L1_LONG, 0x4282, VMFAIL_HOST, VCORE_VMX_SEC_ADDR,                                \
      "host address-space size must be 1 when VM entry starts in IA-32e mode", 0) \
    R(X, ADDR_HOST_32_IA32E_GUEST, 0x4283, VMFAIL_HOST, VCORE_VMX_SEC_ADDR,                            \
      "host address-space size 0: IA-32e mode guest must be 0", 0) \
    R(X, ADDR_HOST_32_PCIDE, 0x4284, VMFAIL_HOST, VCORE_VMX_SEC_ADDR,                                  \
      "host address-space size 0: host CR4.PCIDE must be 0", 0) \
    R(X, ADDR_HOST_32_RIP_HIGH, 0x4285, VMFAIL_HOST, VCORE_VMX_SEC_ADDR,                               \
      "host address-space size 0: bits 63:32 of the host RIP must be 0", 0) \
    R(X, ADDR_HOST_32_S_CET_HIGH, 0x4286, VMFAIL_HOST, VCORE_VMX_SEC_ADDR,                             \
      "host address-space size 0 with load CET state: bits 63:32 of the host IA32_S_CET must be 0", 0) \
    R(X, ADDR_HOST_32_SSP_HIGH, 0x4287, VMFAIL_HOST, VCORE_VMX_SEC_ADDR,                               \
      "host address-space size 0 with load CET state: bits 63:32 of the host SSP must be 0", 0) \
    R(X, ADDR_HOST_64_PAE, 0x4288, VMFAIL_HOST, VCORE_VMX_SEC_ADDR,                                    \
      "host address-space size 1: host CR4.PAE must be 1", 0) \
    R(X, ADDR_HOST_64_RIP_CANONICAL, 0x4289, VMFAIL_HOST, VCORE_VMX_SEC_ADDR,                          \
      "host address-space size 1: host RIP must be canonical", 0) \
    R(X, ADDR_HOST_64_SSP_CANONICAL, 0x428a, VMFAIL_HOST, VCORE_VMX_SEC_ADDR,                          \
      "host address-space size 1 with load CET state: host SSP must be canonical", 0)

/** @brief "Checks on Guest Control Registers, Debug Registers, and MSRs" (exit 33). */
#define VCORE_VMX_CHECK_ROWS_GUEST_CR(R, X)                                                           \
    R(X, GUEST_CR0_FIXED0, 0x4300, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                                 \
      "guest CR0: bits set in IA32_VMX_CR0_FIXED0 must be 1 (PE, PG exempt with unrestricted "      \
      "guest; NW, CD never checked)", VCORE_VMX_IN_CR0) \
    R(X, GUEST_CR0_FIXED1, 0x4301, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                                 \
      "guest CR0: bits clear in IA32_VMX_CR0_FIXED1 must be 0 (NW, CD never checked)", VCORE_VMX_IN_CR0) \
    R(X, GUEST_CR0_PG_PE, 0x4302, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                                  \
      "guest CR0.PG needs CR0.PE", VCORE_VMX_IN_CR0) \
    R(X, GUEST_CR4_FIXED0, 0x4303, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                                 \
      "guest CR4: bits set in IA32_VMX_CR4_FIXED0 must be 1", VCORE_VMX_IN_CR4) \
    R(X, GUEST_CR4_FIXED1, 0x4304, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                                 \
      "guest CR4: bits clear in IA32_VMX_CR4_FIXED1 must be 0", VCORE_VMX_IN_CR4) \
    R(X, GUEST_CR4_CET_WP, 0x4305, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                                 \
      "guest CR4.CET needs guest CR0.WP", VCORE_VMX_IN_CR0 | VCORE_VMX_IN_CR4) \
    R(X, GUEST_DEBUGCTL, 0x4306, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                                   \
      "load debug controls: bits reserved in IA32_DEBUGCTL must be 0", 0) \
    R(X, GUEST_IA32E_PG, 0x4307, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                                   \
      "IA-32e mode guest needs guest CR0.PG", VCORE_VMX_IN_CR0) \
    R(X, GUEST_IA32E_PAE, 0x4308, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                                  \
      "IA-32e mode guest needs guest CR4.PAE", VCORE_VMX_IN_CR4) \
    R(X, GUEST_CR4_PCIDE, 0x4309, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                                  \
      "guest CR4.PCIDE needs IA-32e mode guest", VCORE_VMX_IN_CR4) \
    R(X, GUEST_CR3_WIDTH, 0x430a, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                                  \
      "guest CR3 must not set bits beyond the physical-address width", VCORE_VMX_IN_CR3) \
    R(X, GUEST_DR7_HIGH, 0x430b, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                                   \
      "load debug controls: bits 63:32 of guest DR7 must be 0", 0) \
    R(X, GUEST_SYSENTER_ESP_CANONICAL, 0x430c, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                     \
      "guest IA32_SYSENTER_ESP must be canonical", 0) \
    R(X, GUEST_SYSENTER_EIP_CANONICAL, 0x430d, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                     \
      "guest IA32_SYSENTER_EIP must be canonical", 0) \
    R(X, GUEST_S_CET_CANONICAL, 0x430e, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                            \
      "load CET state: guest IA32_S_CET must be canonical", 0) \
    R(X, GUEST_SSP_TABLE_CANONICAL, 0x430f, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                        \
      "load CET state: guest IA32_INTERRUPT_SSP_TABLE_ADDR must be canonical", 0) \
    R(X, GUEST_S_CET_RESERVED, 0x4310, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                             \
      "load CET state: guest IA32_S_CET bits 9:6 must be 0", 0) \
    R(X, GUEST_S_CET_SUPPRESS_TRACKER, 0x4311, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                     \
      "load CET state: guest IA32_S_CET must not set both SUPPRESS (10) and TRACKER (11)", 0) \
    R(X, GUEST_PERF_GLOBAL_CTRL, 0x4312, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                           \
      "load IA32_PERF_GLOBAL_CTRL: bits reserved in the MSR must be 0", 0) \
    R(X, GUEST_PAT, 0x4313, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                                        \
      "load IA32_PAT: every entry must be a valid memory type (0, 1, 4, 5, 6, 7)", 0) \
    R(X, GUEST_EFER_RESERVED, 0x4314, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                              \
      "load IA32_EFER: bits reserved in IA32_EFER must be 0", VCORE_VMX_IN_EFER) \
    R(X, GUEST_EFER_LMA, 0x4315, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                                   \
      "load IA32_EFER: LMA must equal IA-32e mode guest", VCORE_VMX_IN_EFER) \
    R(X, GUEST_EFER_LME, 0x4316, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                                   \
      "load IA32_EFER with guest CR0.PG: LME must equal IA-32e mode guest", VCORE_VMX_IN_EFER | VCORE_VMX_IN_CR0) \
    R(X, GUEST_BNDCFGS_RESERVED, 0x4317, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                           \
      "load IA32_BNDCFGS: bits 11:2 must be 0", 0) \
    R(X, GUEST_BNDCFGS_CANONICAL, 0x4318, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                          \
      "load IA32_BNDCFGS: the base in bits 63:12 must be canonical", 0) \
    R(X, GUEST_RTIT_CTL, 0x4319, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                                   \
      "load IA32_RTIT_CTL: bits reserved in IA32_RTIT_CTL must be 0", 0) \
    R(X, GUEST_LBR_CTL, 0x431a, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                                    \
      "load guest IA32_LBR_CTL: bits reserved in IA32_LBR_CTL must be 0", 0) \
    R(X, GUEST_PKRS, 0x431b, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                                       \
      "load PKRS: bits 63:32 of the guest IA32_PKRS must be 0", 0) \
    R(X, GUEST_UINV, 0x431c, EXIT_GUEST, VCORE_VMX_SEC_GUEST_CR,                                       \
      "load UINV: bits 15:8 of the guest UINV field must be 0", 0)

/* Per-register rows of "Checks on Guest Segment Registers", in the SDM's
 * register order CS, SS, DS, ES, FS, GS. */
#define VCORE__VMX_SEG6(R, X, what, first, msg)                                                        \
    R(X, GUEST_CS_##what, (first) + 0, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG, "CS: " msg, VCORE__VMX_IN_SEG)                \
    R(X, GUEST_SS_##what, (first) + 1, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG, "SS: " msg, VCORE__VMX_IN_SEG)                \
    R(X, GUEST_DS_##what, (first) + 2, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG, "DS: " msg, VCORE__VMX_IN_SEG)                \
    R(X, GUEST_ES_##what, (first) + 3, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG, "ES: " msg, VCORE__VMX_IN_SEG)                \
    R(X, GUEST_FS_##what, (first) + 4, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG, "FS: " msg, VCORE__VMX_IN_SEG)                \
    R(X, GUEST_GS_##what, (first) + 5, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG, "GS: " msg, VCORE__VMX_IN_SEG)
/* The same rule for DS, ES, FS, GS only. */
#define VCORE__VMX_SEG4(R, X, what, first, msg)                                                        \
    R(X, GUEST_DS_##what, (first) + 0, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG, "DS: " msg, VCORE__VMX_IN_SEG)                \
    R(X, GUEST_ES_##what, (first) + 1, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG, "ES: " msg, VCORE__VMX_IN_SEG)                \
    R(X, GUEST_FS_##what, (first) + 2, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG, "FS: " msg, VCORE__VMX_IN_SEG)                \
    R(X, GUEST_GS_##what, (first) + 3, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG, "GS: " msg, VCORE__VMX_IN_SEG)

/** @brief "Checks on Guest Segment Registers" (exit 33): selectors, bases, limits, access rights. */
#define VCORE_VMX_CHECK_ROWS_GUEST_SEG(R, X)                                                          \
    R(X, GUEST_TR_SELECTOR_TI, 0x4400, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                            \
      "TR: selector TI flag must be 0", VCORE__VMX_IN_SEG) \
    R(X, GUEST_LDTR_SELECTOR_TI, 0x4401, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                          \
      "LDTR (usable): selector TI flag must be 0", VCORE__VMX_IN_SEG) \
    R(X, GUEST_SS_RPL_CS_RPL, 0x4402, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                             \
      "SS.RPL must equal CS.RPL (outside virtual-8086 mode, without unrestricted guest)", VCORE__VMX_IN_SEG) \
    VCORE__VMX_SEG6(R, X, V86_BASE, 0x4403, "virtual-8086 mode: base must be the selector shifted left by 4") \
    R(X, GUEST_TR_BASE_CANONICAL, 0x4409, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                         \
      "TR: base must be canonical", VCORE__VMX_IN_SEG) \
    R(X, GUEST_FS_BASE_CANONICAL, 0x440a, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                         \
      "FS: base must be canonical", VCORE__VMX_IN_SEG) \
    R(X, GUEST_GS_BASE_CANONICAL, 0x440b, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                         \
      "GS: base must be canonical", VCORE__VMX_IN_SEG) \
    R(X, GUEST_LDTR_BASE_CANONICAL, 0x440c, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                       \
      "LDTR (usable): base must be canonical", VCORE__VMX_IN_SEG) \
    R(X, GUEST_CS_BASE_HIGH, 0x440d, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                              \
      "CS: bits 63:32 of the base must be 0", VCORE__VMX_IN_SEG) \
    R(X, GUEST_SS_BASE_HIGH, 0x440e, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                              \
      "SS (usable): bits 63:32 of the base must be 0", VCORE__VMX_IN_SEG) \
    R(X, GUEST_DS_BASE_HIGH, 0x440f, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                              \
      "DS (usable): bits 63:32 of the base must be 0", VCORE__VMX_IN_SEG) \
    R(X, GUEST_ES_BASE_HIGH, 0x4410, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                              \
      "ES (usable): bits 63:32 of the base must be 0", VCORE__VMX_IN_SEG) \
    VCORE__VMX_SEG6(R, X, V86_LIMIT, 0x4411, "virtual-8086 mode: limit must be 0000FFFFH")             \
    VCORE__VMX_SEG6(R, X, V86_AR, 0x4417, "virtual-8086 mode: access rights must be 000000F3H")        \
    R(X, GUEST_CS_TYPE, 0x441d, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                                   \
      "CS: type must be 9, 11, 13 or 15 (accessed code), or 3 with unrestricted guest", VCORE__VMX_IN_SEG) \
    R(X, GUEST_SS_TYPE, 0x441e, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                                   \
      "SS (usable): type must be 3 or 7 (read/write accessed data)", VCORE__VMX_IN_SEG) \
    VCORE__VMX_SEG4(R, X, TYPE_ACCESSED, 0x441f, "(usable) type bit 0 (accessed) must be 1")           \
    VCORE__VMX_SEG4(R, X, TYPE_READABLE, 0x4423, "(usable) a code segment must be readable (type bit 1)") \
    VCORE__VMX_SEG6(R, X, S, 0x4427, "S (bit 4) must be 1 (CS always, the others when usable)")       \
    R(X, GUEST_CS_DPL_DATA, 0x442d, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                               \
      "CS: with type 3 (unrestricted guest) the DPL must be 0", VCORE__VMX_IN_SEG) \
    R(X, GUEST_CS_DPL_NONCONFORMING, 0x442e, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                      \
      "CS: a non-conforming code segment (type 9, 11) must have DPL equal to SS.DPL", VCORE__VMX_IN_SEG) \
    R(X, GUEST_CS_DPL_CONFORMING, 0x442f, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                         \
      "CS: a conforming code segment (type 13, 15) must have DPL at most SS.DPL", VCORE__VMX_IN_SEG) \
    R(X, GUEST_SS_DPL_RPL, 0x4430, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                                \
      "SS: DPL must equal the selector RPL (without unrestricted guest)", VCORE__VMX_IN_SEG) \
    R(X, GUEST_SS_DPL_REAL, 0x4431, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                               \
      "SS: DPL must be 0 when CS type is 3 or CR0.PE is 0", VCORE__VMX_IN_SEG) \
    VCORE__VMX_SEG4(R, X, DPL_RPL, 0x4432,                                                             \
                    "(usable, data or non-conforming code, without unrestricted guest) DPL must "   \
                    "not be less than the selector RPL")                                            \
    VCORE__VMX_SEG6(R, X, P, 0x4436, "P (bit 7) must be 1 (CS always, the others when usable)")        \
    VCORE__VMX_SEG6(R, X, AR_RESERVED_LOW, 0x443c,                                                     \
                    "access-rights bits 11:8 must be 0 (CS always, the others when usable)")        \
    R(X, GUEST_CS_DB_LONG, 0x4442, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                                \
      "CS: D/B must be 0 for a 64-bit code segment (IA-32e mode guest and L=1)", VCORE__VMX_IN_SEG) \
    VCORE__VMX_SEG6(R, X, LIMIT_G0, 0x4443,                                                            \
                    "G must be 0 if any of limit bits 11:0 is 0 (CS always, the others when usable)") \
    VCORE__VMX_SEG6(R, X, LIMIT_G1, 0x4449,                                                            \
                    "G must be 1 if any of limit bits 31:20 is 1 (CS always, the others when usable)") \
    VCORE__VMX_SEG6(R, X, AR_RESERVED_HIGH, 0x444f,                                                    \
                    "access-rights bits 31:17 must be 0 (CS always, the others when usable)")       \
    R(X, GUEST_TR_TYPE, 0x4455, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                                   \
      "TR: type must be 11 (busy 32/64-bit TSS), or 3 (busy 16-bit TSS) outside IA-32e mode", VCORE__VMX_IN_SEG) \
    R(X, GUEST_TR_S, 0x4456, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG, "TR: S (bit 4) must be 0", VCORE__VMX_IN_SEG) \
    R(X, GUEST_TR_P, 0x4457, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG, "TR: P (bit 7) must be 1", VCORE__VMX_IN_SEG) \
    R(X, GUEST_TR_AR_RESERVED_LOW, 0x4458, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                        \
      "TR: access-rights bits 11:8 must be 0", VCORE__VMX_IN_SEG) \
    R(X, GUEST_TR_LIMIT_G0, 0x4459, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                               \
      "TR: G must be 0 if any of limit bits 11:0 is 0", VCORE__VMX_IN_SEG) \
    R(X, GUEST_TR_LIMIT_G1, 0x445a, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                               \
      "TR: G must be 1 if any of limit bits 31:20 is 1", VCORE__VMX_IN_SEG) \
    R(X, GUEST_TR_UNUSABLE, 0x445b, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                               \
      "TR: must be usable (access-rights bit 16 must be 0)", VCORE__VMX_IN_SEG) \
    R(X, GUEST_TR_AR_RESERVED_HIGH, 0x445c, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                       \
      "TR: access-rights bits 31:17 must be 0", VCORE__VMX_IN_SEG) \
    R(X, GUEST_LDTR_TYPE, 0x445d, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                                 \
      "LDTR (usable): type must be 2 (LDT)", VCORE__VMX_IN_SEG) \
    R(X, GUEST_LDTR_S, 0x445e, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                                    \
      "LDTR (usable): S (bit 4) must be 0", VCORE__VMX_IN_SEG) \
    R(X, GUEST_LDTR_P, 0x445f, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                                    \
      "LDTR (usable): P (bit 7) must be 1", VCORE__VMX_IN_SEG) \
    R(X, GUEST_LDTR_AR_RESERVED_LOW, 0x4460, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                      \
      "LDTR (usable): access-rights bits 11:8 must be 0", VCORE__VMX_IN_SEG) \
    R(X, GUEST_LDTR_LIMIT_G0, 0x4461, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                             \
      "LDTR (usable): G must be 0 if any of limit bits 11:0 is 0", VCORE__VMX_IN_SEG) \
    R(X, GUEST_LDTR_LIMIT_G1, 0x4462, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                             \
      "LDTR (usable): G must be 1 if any of limit bits 31:20 is 1", VCORE__VMX_IN_SEG) \
    R(X, GUEST_LDTR_AR_RESERVED_HIGH, 0x4463, EXIT_GUEST, VCORE_VMX_SEC_GUEST_SEG,                     \
      "LDTR (usable): access-rights bits 31:17 must be 0", VCORE__VMX_IN_SEG)

/** @brief "Checks on Guest Descriptor-Table Registers" (exit 33). */
#define VCORE_VMX_CHECK_ROWS_GUEST_DT(R, X)                                                           \
    R(X, GUEST_GDTR_BASE_CANONICAL, 0x4500, EXIT_GUEST, VCORE_VMX_SEC_GUEST_DT,                        \
      "GDTR base must be canonical", 0) \
    R(X, GUEST_IDTR_BASE_CANONICAL, 0x4501, EXIT_GUEST, VCORE_VMX_SEC_GUEST_DT,                        \
      "IDTR base must be canonical", 0) \
    R(X, GUEST_GDTR_LIMIT, 0x4502, EXIT_GUEST, VCORE_VMX_SEC_GUEST_DT,                                 \
      "bits 31:16 of the GDTR limit must be 0", 0) \
    R(X, GUEST_IDTR_LIMIT, 0x4503, EXIT_GUEST, VCORE_VMX_SEC_GUEST_DT,                                 \
      "bits 31:16 of the IDTR limit must be 0", 0)

/** @brief "Checks on Guest RIP, RFLAGS, and SSP" (exit 33). */
#define VCORE_VMX_CHECK_ROWS_GUEST_RIP(R, X)                                                          \
    R(X, GUEST_RIP_HIGH, 0x4510, EXIT_GUEST, VCORE_VMX_SEC_GUEST_RIP,                                  \
      "RIP bits 63:32 must be 0 unless IA-32e mode guest with CS.L=1", VCORE_VMX_IN_RIP | VCORE_VMX_IN_CSSS) \
    R(X, GUEST_RIP_LINEAR_WIDTH, 0x4511, EXIT_GUEST, VCORE_VMX_SEC_GUEST_RIP,                          \
      "IA-32e mode guest with CS.L=1: RIP bits 63:N must be identical (N = linear-address width)", VCORE_VMX_IN_RIP | VCORE_VMX_IN_CSSS) \
    R(X, GUEST_RFLAGS_RESERVED, 0x4512, EXIT_GUEST, VCORE_VMX_SEC_GUEST_RIP,                           \
      "RFLAGS bits 63:22, 15, 5 and 3 must be 0", VCORE_VMX_IN_RFLAGS) \
    R(X, GUEST_RFLAGS_BIT1, 0x4513, EXIT_GUEST, VCORE_VMX_SEC_GUEST_RIP,                               \
      "RFLAGS bit 1 must be 1", VCORE_VMX_IN_RFLAGS) \
    R(X, GUEST_RFLAGS_VM_IA32E, 0x4514, EXIT_GUEST, VCORE_VMX_SEC_GUEST_RIP,                           \
      "RFLAGS.VM must be 0 for an IA-32e mode guest", VCORE_VMX_IN_RFLAGS) \
    R(X, GUEST_RFLAGS_VM_REAL, 0x4515, EXIT_GUEST, VCORE_VMX_SEC_GUEST_RIP,                            \
      "RFLAGS.VM must be 0 when guest CR0.PE is 0", VCORE_VMX_IN_RFLAGS | VCORE_VMX_IN_CR0) \
    R(X, GUEST_RFLAGS_IF_EXTINT, 0x4516, EXIT_GUEST, VCORE_VMX_SEC_GUEST_RIP,                          \
      "RFLAGS.IF must be 1 when an external interrupt is injected", VCORE_VMX_IN_RFLAGS | VCORE_VMX_IN_EVENT) \
    R(X, GUEST_SSP_ALIGN, 0x4517, EXIT_GUEST, VCORE_VMX_SEC_GUEST_RIP,                                 \
      "load CET state: bits 1:0 of the guest SSP must be 0", 0) \
    R(X, GUEST_SSP_HIGH, 0x4518, EXIT_GUEST, VCORE_VMX_SEC_GUEST_RIP,                                  \
      "load CET state: SSP bits 63:32 must be 0 unless IA-32e mode guest with CS.L=1", VCORE_VMX_IN_CSSS) \
    R(X, GUEST_SSP_LINEAR_WIDTH, 0x4519, EXIT_GUEST, VCORE_VMX_SEC_GUEST_RIP,                          \
      "load CET state, IA-32e mode guest with CS.L=1: SSP bits 63:N must be identical", VCORE_VMX_IN_CSSS)

/** @brief "Checks on Guest Non-Register State" (exit 33; the VMCS link pointer gives qualification 4). */
#define VCORE_VMX_CHECK_ROWS_GUEST_NONREG(R, X)                                                       \
    R(X, GUEST_ACTIVITY_STATE, 0x4540, EXIT_GUEST, VCORE_VMX_SEC_GUEST_NONREG,                         \
      "activity state must be 0-3 and supported by IA32_VMX_MISC[8:6]", VCORE_VMX_IN_ACT) \
    R(X, GUEST_ACTIVITY_HLT_SS_DPL, 0x4541, EXIT_GUEST, VCORE_VMX_SEC_GUEST_NONREG,                    \
      "activity state HLT needs SS.DPL 0", VCORE_VMX_IN_ACT | VCORE_VMX_IN_CSSS) \
    R(X, GUEST_ACTIVITY_BLOCKING, 0x4542, EXIT_GUEST, VCORE_VMX_SEC_GUEST_NONREG,                      \
      "activity state must be active with blocking by STI or MOV SS", VCORE_VMX_IN_ACT | VCORE_VMX_IN_INTR) \
    R(X, GUEST_ACTIVITY_EVENT_HLT, 0x4543, EXIT_GUEST, VCORE_VMX_SEC_GUEST_NONREG,                     \
      "HLT: only external interrupts, NMIs, #DB, #MC and pending MTF may be injected", VCORE_VMX_IN_ACT | VCORE_VMX_IN_EVENT) \
    R(X, GUEST_ACTIVITY_EVENT_SHUTDOWN, 0x4544, EXIT_GUEST, VCORE_VMX_SEC_GUEST_NONREG,                \
      "shutdown: only NMIs and #MC may be injected", VCORE_VMX_IN_ACT | VCORE_VMX_IN_EVENT) \
    R(X, GUEST_ACTIVITY_EVENT_SIPI, 0x4545, EXIT_GUEST, VCORE_VMX_SEC_GUEST_NONREG,                    \
      "wait-for-SIPI: no event may be injected", VCORE_VMX_IN_ACT | VCORE_VMX_IN_EVENT) \
    R(X, GUEST_ACTIVITY_SIPI_SMM, 0x4546, EXIT_GUEST, VCORE_VMX_SEC_GUEST_NONREG,                      \
      "activity state wait-for-SIPI is not allowed with entry to SMM", VCORE_VMX_IN_ACT) \
    R(X, GUEST_INTR_RESERVED, 0x4547, EXIT_GUEST, VCORE_VMX_SEC_GUEST_NONREG,                          \
      "interruptibility state bits 31:5 must be 0", VCORE_VMX_IN_INTR) \
    R(X, GUEST_INTR_STI_MOVSS, 0x4548, EXIT_GUEST, VCORE_VMX_SEC_GUEST_NONREG,                         \
      "blocking by STI and blocking by MOV SS must not both be 1", VCORE_VMX_IN_INTR) \
    R(X, GUEST_INTR_STI_IF, 0x4549, EXIT_GUEST, VCORE_VMX_SEC_GUEST_NONREG,                            \
      "blocking by STI needs RFLAGS.IF", VCORE_VMX_IN_INTR | VCORE_VMX_IN_RFLAGS) \
    R(X, GUEST_INTR_EXTINT, 0x454a, EXIT_GUEST, VCORE_VMX_SEC_GUEST_NONREG,                            \
      "injecting an external interrupt needs no blocking by STI or MOV SS", VCORE_VMX_IN_INTR | VCORE_VMX_IN_EVENT) \
    R(X, GUEST_INTR_NMI_MOVSS, 0x454b, EXIT_GUEST, VCORE_VMX_SEC_GUEST_NONREG,                         \
      "injecting an NMI needs no blocking by MOV SS", VCORE_VMX_IN_INTR | VCORE_VMX_IN_EVENT) \
    R(X, GUEST_INTR_SMI, 0x454c, EXIT_GUEST, VCORE_VMX_SEC_GUEST_NONREG,                               \
      "blocking by SMI must be 0 outside SMM", VCORE_VMX_IN_INTR) \
    R(X, GUEST_INTR_SMI_ENTRY_SMM, 0x454d, EXIT_GUEST, VCORE_VMX_SEC_GUEST_NONREG,                     \
      "blocking by SMI must be 1 with entry to SMM", VCORE_VMX_IN_INTR) \
    R(X, GUEST_INTR_NMI_STI, 0x454e, EXIT_GUEST, VCORE_VMX_SEC_GUEST_NONREG,                           \
      "injecting an NMI needs no blocking by STI (a requirement the SDM allows a processor to make)", VCORE_VMX_IN_INTR | VCORE_VMX_IN_EVENT) \
    R(X, GUEST_INTR_VNMI_BLOCKED, 0x454f, EXIT_GUEST, VCORE_VMX_SEC_GUEST_NONREG,                      \
      "virtual NMIs: injecting an NMI needs no blocking by NMI", VCORE_VMX_IN_INTR | VCORE_VMX_IN_EVENT) \
    R(X, GUEST_INTR_ENCLAVE_MOVSS, 0x4550, EXIT_GUEST, VCORE_VMX_SEC_GUEST_NONREG,                     \
      "enclave interruption must not be combined with blocking by MOV SS", VCORE_VMX_IN_INTR) \
    R(X, GUEST_INTR_ENCLAVE_SGX, 0x4551, EXIT_GUEST, VCORE_VMX_SEC_GUEST_NONREG,                       \
      "enclave interruption needs SGX (CPUID.(EAX=07H,ECX=0):EBX[2])", VCORE_VMX_IN_INTR) \
    R(X, GUEST_PENDDBG_RESERVED, 0x4552, EXIT_GUEST, VCORE_VMX_SEC_GUEST_NONREG,                       \
      "pending debug exceptions bits 11:4, 13, 15 and 63:17 must be 0", 0) \
    R(X, GUEST_PENDDBG_BS_SET, 0x4553, EXIT_GUEST, VCORE_VMX_SEC_GUEST_NONREG,                         \
      "blocking by STI/MOV SS or HLT with RFLAGS.TF=1 and DEBUGCTL.BTF=0: pending BS must be 1", VCORE_VMX_IN_INTR | VCORE_VMX_IN_ACT | VCORE_VMX_IN_RFLAGS) \
    R(X, GUEST_PENDDBG_BS_CLEAR, 0x4554, EXIT_GUEST, VCORE_VMX_SEC_GUEST_NONREG,                       \
      "blocking by STI/MOV SS or HLT with RFLAGS.TF=0 or DEBUGCTL.BTF=1: pending BS must be 0", VCORE_VMX_IN_INTR | VCORE_VMX_IN_ACT | VCORE_VMX_IN_RFLAGS) \
    R(X, GUEST_PENDDBG_RTM_UNSUPPORTED, 0x4555, EXIT_GUEST, VCORE_VMX_SEC_GUEST_NONREG,                \
      "pending RTM (bit 16) needs RTM (CPUID.(EAX=07H,ECX=0):EBX[11])", 0) \
    R(X, GUEST_PENDDBG_RTM_BITS, 0x4556, EXIT_GUEST, VCORE_VMX_SEC_GUEST_NONREG,                       \
      "pending RTM (bit 16): bits 11:0 and 15:13 must be 0", 0) \
    R(X, GUEST_PENDDBG_RTM_BIT12, 0x4557, EXIT_GUEST, VCORE_VMX_SEC_GUEST_NONREG,                      \
      "pending RTM (bit 16): bit 12 (enabled breakpoint) must be 1", 0) \
    R(X, GUEST_PENDDBG_RTM_MOVSS, 0x4558, EXIT_GUEST, VCORE_VMX_SEC_GUEST_NONREG,                      \
      "pending RTM (bit 16) must not be combined with blocking by MOV SS", VCORE_VMX_IN_INTR)

/** @brief The VMCS link pointer, part of "Checks on Guest Non-Register State" (exit 33, qualification 4). */
#define VCORE_VMX_CHECK_ROWS_GUEST_LINK(R, X)                                                         \
    R(X, GUEST_LINK_ALIGN, 0x4580, EXIT_LINK, VCORE_VMX_SEC_GUEST_NONREG,                              \
      "VMCS link pointer (not all ones): bits 11:0 must be 0", VCORE_VMX_IN_ALWAYS) \
    R(X, GUEST_LINK_WIDTH, 0x4581, EXIT_LINK, VCORE_VMX_SEC_GUEST_NONREG,                              \
      "VMCS link pointer (not all ones): must be within the physical-address width", VCORE_VMX_IN_ALWAYS) \
    R(X, GUEST_LINK_REVISION, 0x4582, EXIT_LINK, VCORE_VMX_SEC_GUEST_NONREG,                           \
      "VMCS link pointer: bits 30:0 of the referenced VMCS must be the VMCS revision identifier", VCORE_VMX_IN_ALWAYS) \
    R(X, GUEST_LINK_SHADOW, 0x4583, EXIT_LINK, VCORE_VMX_SEC_GUEST_NONREG,                             \
      "VMCS link pointer: bit 31 of the referenced VMCS must equal VMCS shadowing", VCORE_VMX_IN_ALWAYS) \
    R(X, GUEST_LINK_CURRENT, 0x4584, EXIT_LINK, VCORE_VMX_SEC_GUEST_NONREG,                            \
      "VMCS link pointer must not be the current-VMCS pointer", VCORE_VMX_IN_ALWAYS)

/** @brief "Checks on Guest Page-Directory-Pointer-Table Entries" (exit 33, qualification 2). */
#define VCORE_VMX_CHECK_ROWS_GUEST_PDPTE(R, X)                                                        \
    R(X, GUEST_PDPTE0_RESERVED, 0x45a0, EXIT_PDPTE, VCORE_VMX_SEC_GUEST_PDPTE,                         \
      "PAE paging: present PDPTE0 must have bits 2:1 and 8:5 clear", VCORE_VMX_IN_ALWAYS) \
    R(X, GUEST_PDPTE0_WIDTH, 0x45a1, EXIT_PDPTE, VCORE_VMX_SEC_GUEST_PDPTE,                            \
      "PAE paging: present PDPTE0 must have bits 63:MAXPHYADDR clear", VCORE_VMX_IN_ALWAYS) \
    R(X, GUEST_PDPTE1_RESERVED, 0x45a2, EXIT_PDPTE, VCORE_VMX_SEC_GUEST_PDPTE,                         \
      "PAE paging: present PDPTE1 must have bits 2:1 and 8:5 clear", VCORE_VMX_IN_ALWAYS) \
    R(X, GUEST_PDPTE1_WIDTH, 0x45a3, EXIT_PDPTE, VCORE_VMX_SEC_GUEST_PDPTE,                            \
      "PAE paging: present PDPTE1 must have bits 63:MAXPHYADDR clear", VCORE_VMX_IN_ALWAYS) \
    R(X, GUEST_PDPTE2_RESERVED, 0x45a4, EXIT_PDPTE, VCORE_VMX_SEC_GUEST_PDPTE,                         \
      "PAE paging: present PDPTE2 must have bits 2:1 and 8:5 clear", VCORE_VMX_IN_ALWAYS) \
    R(X, GUEST_PDPTE2_WIDTH, 0x45a5, EXIT_PDPTE, VCORE_VMX_SEC_GUEST_PDPTE,                            \
      "PAE paging: present PDPTE2 must have bits 63:MAXPHYADDR clear", VCORE_VMX_IN_ALWAYS) \
    R(X, GUEST_PDPTE3_RESERVED, 0x45a6, EXIT_PDPTE, VCORE_VMX_SEC_GUEST_PDPTE,                         \
      "PAE paging: present PDPTE3 must have bits 2:1 and 8:5 clear", VCORE_VMX_IN_ALWAYS) \
    R(X, GUEST_PDPTE3_WIDTH, 0x45a7, EXIT_PDPTE, VCORE_VMX_SEC_GUEST_PDPTE,                            \
      "PAE paging: present PDPTE3 must have bits 63:MAXPHYADDR clear", VCORE_VMX_IN_ALWAYS)

/** @brief "Loading MSRs" (exit 34, qualification = 1-based index of the entry). */
#define VCORE_VMX_CHECK_ROWS_MSR_LOAD(R, X)                                                           \
    R(X, MSR_LOAD_COUNT, 0x4600, EXIT_MSR_LOAD, VCORE_VMX_SEC_MSR_LOAD,                                \
      "the entry lies beyond the recommended maximum 512 * (IA32_VMX_MISC[27:25] + 1)", VCORE_VMX_IN_ALWAYS) \
    R(X, MSR_LOAD_FS_GS_BASE, 0x4601, EXIT_MSR_LOAD, VCORE_VMX_SEC_MSR_LOAD,                           \
      "IA32_FS_BASE and IA32_GS_BASE cannot be loaded", VCORE_VMX_IN_ALWAYS) \
    R(X, MSR_LOAD_X2APIC, 0x4602, EXIT_MSR_LOAD, VCORE_VMX_SEC_MSR_LOAD,                               \
      "x2APIC MSRs (800H-8FFH) cannot be loaded", VCORE_VMX_IN_ALWAYS) \
    R(X, MSR_LOAD_SMM, 0x4603, EXIT_MSR_LOAD, VCORE_VMX_SEC_MSR_LOAD,                                  \
      "MSRs writable only in SMM (IA32_SMM_MONITOR_CTL, IA32_SMBASE) cannot be loaded", VCORE_VMX_IN_ALWAYS) \
    R(X, MSR_LOAD_MODEL_SPECIFIC, 0x4604, EXIT_MSR_LOAD, VCORE_VMX_SEC_MSR_LOAD,                       \
      "microcode-update MSRs (79H, 8BH) cannot be loaded on VM entry", VCORE_VMX_IN_ALWAYS) \
    R(X, MSR_LOAD_RESERVED, 0x4605, EXIT_MSR_LOAD, VCORE_VMX_SEC_MSR_LOAD,                             \
      "bits 63:32 of the entry must be 0", VCORE_VMX_IN_ALWAYS) \
    R(X, MSR_LOAD_UNKNOWN, 0x4606, EXIT_MSR_LOAD, VCORE_VMX_SEC_MSR_LOAD,                              \
      "WRMSR would raise #GP: the MSR does not exist on this processor", VCORE_VMX_IN_ALWAYS) \
    R(X, MSR_LOAD_EFER_RESERVED, 0x4607, EXIT_MSR_LOAD, VCORE_VMX_SEC_MSR_LOAD,                        \
      "WRMSR would raise #GP: IA32_EFER reserved bit set", VCORE_VMX_IN_ALWAYS) \
    R(X, MSR_LOAD_EFER_LME, 0x4608, EXIT_MSR_LOAD, VCORE_VMX_SEC_MSR_LOAD,                             \
      "WRMSR would raise #GP: IA32_EFER.LME changed while guest CR0.PG is 1", VCORE_VMX_IN_ALWAYS) \
    R(X, MSR_LOAD_PAT, 0x4609, EXIT_MSR_LOAD, VCORE_VMX_SEC_MSR_LOAD,                                  \
      "WRMSR would raise #GP: IA32_PAT entry with an invalid memory type", VCORE_VMX_IN_ALWAYS) \
    R(X, MSR_LOAD_PERF_GLOBAL_CTRL, 0x460a, EXIT_MSR_LOAD, VCORE_VMX_SEC_MSR_LOAD,                     \
      "WRMSR would raise #GP: IA32_PERF_GLOBAL_CTRL reserved bit set", VCORE_VMX_IN_ALWAYS) \
    R(X, MSR_LOAD_DEBUGCTL, 0x460b, EXIT_MSR_LOAD, VCORE_VMX_SEC_MSR_LOAD,                             \
      "WRMSR would raise #GP: IA32_DEBUGCTL reserved bit set", VCORE_VMX_IN_ALWAYS) \
    R(X, MSR_LOAD_NONCANONICAL, 0x460c, EXIT_MSR_LOAD, VCORE_VMX_SEC_MSR_LOAD,                         \
      "WRMSR would raise #GP: non-canonical address in an address MSR", VCORE_VMX_IN_ALWAYS) \
    R(X, MSR_LOAD_HIGH_BITS, 0x460d, EXIT_MSR_LOAD, VCORE_VMX_SEC_MSR_LOAD,                            \
      "WRMSR would raise #GP: bits 63:32 are reserved in this MSR", VCORE_VMX_IN_ALWAYS) \
    R(X, MSR_LOAD_APIC_BASE, 0x460e, EXIT_MSR_LOAD, VCORE_VMX_SEC_MSR_LOAD,                            \
      "WRMSR would raise #GP: IA32_APIC_BASE reserved bit or invalid x2APIC setting", VCORE_VMX_IN_ALWAYS) \
    R(X, MSR_LOAD_BNDCFGS, 0x460f, EXIT_MSR_LOAD, VCORE_VMX_SEC_MSR_LOAD,                              \
      "WRMSR would raise #GP: IA32_BNDCFGS reserved bit set or base not canonical", VCORE_VMX_IN_ALWAYS) \
    R(X, MSR_LOAD_CET, 0x4610, EXIT_MSR_LOAD, VCORE_VMX_SEC_MSR_LOAD,                                  \
      "WRMSR would raise #GP: IA32_U_CET/IA32_S_CET reserved bits, SUPPRESS with TRACKER, or "      \
      "non-canonical", VCORE_VMX_IN_ALWAYS) \
    R(X, MSR_LOAD_SSP, 0x4611, EXIT_MSR_LOAD, VCORE_VMX_SEC_MSR_LOAD,                                  \
      "WRMSR would raise #GP: IA32_PLi_SSP not 4-byte aligned or not canonical", VCORE_VMX_IN_ALWAYS) \
    R(X, MSR_LOAD_XSS, 0x4612, EXIT_MSR_LOAD, VCORE_VMX_SEC_MSR_LOAD,                                  \
      "WRMSR would raise #GP: IA32_XSS bit not supported by CPUID.(EAX=0DH,ECX=1)", VCORE_VMX_IN_ALWAYS) \
    R(X, MSR_LOAD_SPEC_CTRL, 0x4613, EXIT_MSR_LOAD, VCORE_VMX_SEC_MSR_LOAD,                            \
      "WRMSR would raise #GP: IA32_SPEC_CTRL bit not enumerated by CPUID", VCORE_VMX_IN_ALWAYS) \
    R(X, MSR_LOAD_COMMAND, 0x4614, EXIT_MSR_LOAD, VCORE_VMX_SEC_MSR_LOAD,                              \
      "WRMSR would raise #GP: IA32_PRED_CMD/IA32_FLUSH_CMD allow only bit 0", VCORE_VMX_IN_ALWAYS) \
    R(X, MSR_LOAD_FIXED_CTR_CTRL, 0x4615, EXIT_MSR_LOAD, VCORE_VMX_SEC_MSR_LOAD,                       \
      "WRMSR would raise #GP: IA32_FIXED_CTR_CTRL bits beyond the fixed counters", VCORE_VMX_IN_ALWAYS) \
    R(X, MSR_LOAD_REFUSED, 0x4616, EXIT_MSR_LOAD, VCORE_VMX_SEC_MSR_LOAD,                              \
      "WRMSR would raise #GP: the VMM's model of this MSR refuses the value", VCORE_VMX_IN_ALWAYS)

/** @brief The whole table, in architectural order. */
/** @brief Row adapters: a row with its input column for a five-column X. */
#define VCORE_VMX_ROW5(X, name, value, cls, sec, msg, in) X(name, value, cls, sec, msg)
/** @brief Row adapter keeping the input column: X(NAME, value, CLASS, section, message, inputs). */
#define VCORE_VMX_ROW6(X, name, value, cls, sec, msg, in) X(name, value, cls, sec, msg, in)

#define VCORE_VMX_CHECKS_BASIC(X) VCORE_VMX_CHECK_ROWS_BASIC(VCORE_VMX_ROW5, X) /**< Five columns. */
#define VCORE_VMX_CHECKS_EXEC(X) VCORE_VMX_CHECK_ROWS_EXEC(VCORE_VMX_ROW5, X) /**< Five columns. */
#define VCORE_VMX_CHECKS_EXIT(X) VCORE_VMX_CHECK_ROWS_EXIT(VCORE_VMX_ROW5, X) /**< Five columns. */
#define VCORE_VMX_CHECKS_ENTRY(X) VCORE_VMX_CHECK_ROWS_ENTRY(VCORE_VMX_ROW5, X) /**< Five columns. */
#define VCORE_VMX_CHECKS_HOST_CR(X) VCORE_VMX_CHECK_ROWS_HOST_CR(VCORE_VMX_ROW5, X) /**< Five columns. */
#define VCORE_VMX_CHECKS_HOST_SEG(X) VCORE_VMX_CHECK_ROWS_HOST_SEG(VCORE_VMX_ROW5, X) /**< Five columns. */
#define VCORE_VMX_CHECKS_ADDR(X) VCORE_VMX_CHECK_ROWS_ADDR(VCORE_VMX_ROW5, X) /**< Five columns. */
#define VCORE_VMX_CHECKS_GUEST_CR(X) VCORE_VMX_CHECK_ROWS_GUEST_CR(VCORE_VMX_ROW5, X) /**< Five columns. */
#define VCORE_VMX_CHECKS_GUEST_SEG(X) VCORE_VMX_CHECK_ROWS_GUEST_SEG(VCORE_VMX_ROW5, X) /**< Five columns. */
#define VCORE_VMX_CHECKS_GUEST_DT(X) VCORE_VMX_CHECK_ROWS_GUEST_DT(VCORE_VMX_ROW5, X) /**< Five columns. */
#define VCORE_VMX_CHECKS_GUEST_RIP(X) VCORE_VMX_CHECK_ROWS_GUEST_RIP(VCORE_VMX_ROW5, X) /**< Five columns. */
#define VCORE_VMX_CHECKS_GUEST_NONREG(X) VCORE_VMX_CHECK_ROWS_GUEST_NONREG(VCORE_VMX_ROW5, X) /**< Five columns. */
#define VCORE_VMX_CHECKS_GUEST_LINK(X) VCORE_VMX_CHECK_ROWS_GUEST_LINK(VCORE_VMX_ROW5, X) /**< Five columns. */
#define VCORE_VMX_CHECKS_GUEST_PDPTE(X) VCORE_VMX_CHECK_ROWS_GUEST_PDPTE(VCORE_VMX_ROW5, X) /**< Five columns. */
#define VCORE_VMX_CHECKS_MSR_LOAD(X) VCORE_VMX_CHECK_ROWS_MSR_LOAD(VCORE_VMX_ROW5, X) /**< Five columns. */

/** @brief Every row with its input column, in table (architectural) order. */
#define VCORE_VMX_CHECK_INPUT_LIST(X)                                                            \
    VCORE_VMX_CHECK_ROWS_BASIC(VCORE_VMX_ROW6, X) \
    VCORE_VMX_CHECK_ROWS_EXEC(VCORE_VMX_ROW6, X) \
    VCORE_VMX_CHECK_ROWS_EXIT(VCORE_VMX_ROW6, X) \
    VCORE_VMX_CHECK_ROWS_ENTRY(VCORE_VMX_ROW6, X) \
    VCORE_VMX_CHECK_ROWS_HOST_CR(VCORE_VMX_ROW6, X) \
    VCORE_VMX_CHECK_ROWS_HOST_SEG(VCORE_VMX_ROW6, X) \
    VCORE_VMX_CHECK_ROWS_ADDR(VCORE_VMX_ROW6, X) \
    VCORE_VMX_CHECK_ROWS_GUEST_CR(VCORE_VMX_ROW6, X) \
    VCORE_VMX_CHECK_ROWS_GUEST_SEG(VCORE_VMX_ROW6, X) \
    VCORE_VMX_CHECK_ROWS_GUEST_DT(VCORE_VMX_ROW6, X) \
    VCORE_VMX_CHECK_ROWS_GUEST_RIP(VCORE_VMX_ROW6, X) \
    VCORE_VMX_CHECK_ROWS_GUEST_NONREG(VCORE_VMX_ROW6, X) \
    VCORE_VMX_CHECK_ROWS_GUEST_LINK(VCORE_VMX_ROW6, X) \
    VCORE_VMX_CHECK_ROWS_GUEST_PDPTE(VCORE_VMX_ROW6, X) \
    VCORE_VMX_CHECK_ROWS_MSR_LOAD(VCORE_VMX_ROW6, X)

/** @brief The table with five columns (name, value, class, section, message). */
#define VCORE_VMX_CHECK_LIST(X)                                                                     \
    VCORE_VMX_CHECKS_BASIC(X)                                                                       \
    VCORE_VMX_CHECKS_EXEC(X)                                                                        \
    VCORE_VMX_CHECKS_EXIT(X)                                                                        \
    VCORE_VMX_CHECKS_ENTRY(X)                                                                       \
    VCORE_VMX_CHECKS_HOST_CR(X)                                                                     \
    VCORE_VMX_CHECKS_HOST_SEG(X)                                                                    \
    VCORE_VMX_CHECKS_ADDR(X)                                                                        \
    VCORE_VMX_CHECKS_GUEST_CR(X)                                                                    \
    VCORE_VMX_CHECKS_GUEST_SEG(X)                                                                   \
    VCORE_VMX_CHECKS_GUEST_DT(X)                                                                    \
    VCORE_VMX_CHECKS_GUEST_RIP(X)                                                                   \
    VCORE_VMX_CHECKS_GUEST_NONREG(X)                                                                \
    VCORE_VMX_CHECKS_GUEST_LINK(X)                                                                  \
    VCORE_VMX_CHECKS_GUEST_PDPTE(X)                                                                 \
    VCORE_VMX_CHECKS_MSR_LOAD(X)

#endif /* VIRTCORE_X86_VMX_CHECK_LIST_H */
