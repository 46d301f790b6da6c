/**
 * @file virtcore.h
 * @brief Umbrella header: everything a VMM needs.
 */
#ifndef VIRTCORE_VIRTCORE_H
#define VIRTCORE_VIRTCORE_H

#include "backends.h"
#include "common.h"
#include "diag.h"
#include "error.h"
#include "exit.h"
#include "host.h"
#include "kvm.h"
#include "vcpu.h"
#include <virtcore/version.h>
#include "vm.h"
#include "x86/cpuid.h"
#include "x86/msr.h"
#include "x86/regs.h"
#include "x86/vmx_checks.h"

#endif /* VIRTCORE_VIRTCORE_H */
