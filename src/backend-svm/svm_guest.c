/*
 * svm_guest.c - what the backend must read of the guest to complete an
 * exit the processor does not describe fully: its memory through its own
 * paging, and the instruction at CS:RIP.
 *
 * A nested page fault reports the guest-physical address and the access
 * type but not the size or the register (APM Vol. 2, "Nested versus Guest
 * Page Faults, Fault Ordering"); without next-RIP saving the length of an
 * intercepted instruction is not reported either. The instruction is then
 * fetched and decoded (core/x86/decode.c), from the bytes the processor
 * fetched itself when it has decode assists ("Decode Assists"). The
 * linear-to-physical walk is the core's (core/x86/walk.c).
 */
#include "svm.h"

#include "core/x86/x86.h"
#include "virtcore/vm.h"

/* Guest-physical reads of the walk, through the VM's memory map. */
static int vcore__svm_guest_mem_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    return vcore_vm_read_guest(ctx, gpa, buf, len);
}

int vcore__svm_guest_translate(vcore__svm_vcpu_t *c, uint64_t gla, uint64_t *gpa)
{
    vcore_nvmx_mem_t mem = {sizeof(mem), c->vmobj, vcore__svm_guest_mem_read, NULL};
    vcore_x86_sregs_t s;
    vcore__walk_fault_t fault;
    vcore__memset(&s, 0, sizeof(s));
    s.cr0 = VCORE__SVM_RD(c, save.cr0);
    s.cr3 = VCORE__SVM_RD(c, save.cr3);
    s.cr4 = VCORE__SVM_RD(c, save.cr4);
    s.efer = VCORE__SVM_RD(c, save.efer);
    /* The access is the guest's own (an instruction it executed, a string
     * it moves): RFLAGS.AC keeps SMAP out of a walk made on its behalf, and
     * the widest physical address keeps the reserved-bit checks to the
     * architectural ones. */
    int err = vcore__walk_access(&mem, &s, VCORE__RFLAGS_AC, 52, gla, 0, gpa, &fault, NULL);
    return err ? VCORE_ERR_FAULT : VCORE_OK;
}

size_t vcore__svm_guest_read(vcore__svm_vcpu_t *c, uint64_t gla, uint8_t *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        uint64_t gpa;
        if (vcore__svm_guest_translate(c, gla + done, &gpa) != VCORE_OK)
            break;
        size_t chunk = VCORE_PAGE_SIZE - (size_t)(gpa & (VCORE_PAGE_SIZE - 1));
        if (chunk > len - done)
            chunk = len - done;
        if (vcore_vm_read_guest(c->vmobj, gpa, buf + done, chunk) != VCORE_OK)
            break;
        done += chunk;
    }
    return done;
}

int vcore__svm_guest_write(vcore__svm_vcpu_t *c, uint64_t gla, const uint8_t *buf, size_t len)
{
    for (size_t done = 0; done < len;) {
        uint64_t gpa;
        if (vcore__svm_guest_translate(c, gla + done, &gpa) != VCORE_OK)
            return VCORE_ERR_FAULT;
        size_t chunk = VCORE_PAGE_SIZE - (size_t)(gpa & (VCORE_PAGE_SIZE - 1));
        if (chunk > len - done)
            chunk = len - done;
        if (vcore_vm_write_guest(c->vmobj, gpa, buf + done, chunk) != VCORE_OK)
            return VCORE_ERR_FAULT;
        done += chunk;
    }
    return VCORE_OK;
}

int vcore__svm_guest_decode(vcore__svm_vcpu_t *c, vcore__x86_insn_t *out)
{
    uint8_t insn[15];
    size_t got;
    uint32_t bits = vcore__svm_state_code_bits(c);
    uint8_t n = VCORE__SVM_RD(c, control.insn_len) & 0xfu;
    if (n) {
        /* "Decode Assists": the bytes the processor fetched at CS:RIP. */
        c->stats.vmcb_reads++;
        vcore__memcpy(insn, c->vmcb->control.insn_bytes, n);
        got = n;
    } else {
        uint64_t lin = VCORE__SVM_RD(c, save.cs.base) + VCORE__SVM_RD(c, save.rip);
        if (bits != 64)
            lin &= 0xffffffffull;
        got = vcore__svm_guest_read(c, lin, insn, sizeof(insn));
    }
    return vcore__x86_decode(insn, got, bits, out);
}

uint64_t vcore__svm_guest_elem(const vcore__svm_vcpu_t *c, uint64_t reg, uint32_t k)
{
    /* The exit recorded the string's segment base, element size, address
     * size and direction; the addressing rule itself is the core's. */
    vcore__x86_str_t s = {c->io_base, c->io_width, c->io_asize, c->io_down, c->io_long64};
    return vcore__x86_str_elem(&s, reg, k);
}
