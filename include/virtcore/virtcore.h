/**
 * @file virtcore.h
 * @brief Umbrella header: everything a VMM needs.
 *
 * It includes every user-facing header. backend.h is the one it leaves out
 * on purpose: it is the implementer-facing contract for those who write a
 * backend (the ops table, the state protocol), not API a VMM calls.
 */
#ifndef VIRTCORE_VIRTCORE_H
#define VIRTCORE_VIRTCORE_H

#include "arm64/el2.h"
#include "arm64/ipa.h"
#include "arm64/regs.h"
#include "arm64/stage2.h"
#include "backends.h"
#include "common.h"
#include "diag.h"
#include "error.h"
#include "exit.h"
#include "host.h"
#include "kvm.h"
#include "mock.h"
#include "vcpu.h"
#include <virtcore/version.h>
#include "vm.h"
#include "x86/cpuid.h"
#include "x86/hyperv.h"
#include "x86/msr.h"
#include "x86/nvmx.h"
#include "x86/nvmx_pipeline.h"
#include "x86/nvmx_ept02.h"
#include "x86/regs.h"
#include "x86/svm_checks.h"
#include "x86/vmcb.h"
#include "x86/vmcs.h"
#include "x86/vmx_exits.h"
#include "x86/vmx_checks.h"

#endif /* VIRTCORE_VIRTCORE_H */
