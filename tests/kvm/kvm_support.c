/* Shared helpers for the /dev/kvm tests. */
#include "kvm_support.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

void kt_require_kvm(void)
{
    if (!vcore_backend_kvm()) {
        printf("SKIP: the kvm backend is not built\n");
        exit(KT_SKIP);
    }
    if (!vcore_backend_available("kvm")) {
        printf("SKIP: /dev/kvm is missing or unusable here\n");
        exit(KT_SKIP);
    }
}

void kt_up(kt_env_t *env)
{
    memset(env, 0, sizeof *env);
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_kvm();
    ck_assert_int_eq(vcore_vm_create(&cfg, &env->vm), VCORE_OK);
    env->ram = mmap(NULL, KT_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    env->rom = mmap(NULL, KT_ROM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(env->ram, MAP_FAILED);
    ck_assert_ptr_ne(env->rom, MAP_FAILED);
    /* Reset stub: mov al,'R'; out KT_RESET_PORT, al; hlt */
    const uint8_t stub[] = {0xb0, 'R', 0xe6, KT_RESET_PORT, 0xf4};
    memcpy(env->rom + KT_RESET_OFF, stub, sizeof stub);
    vcore_mem_region_t r = {.size = sizeof r, .gpa = KT_RAM_GPA, .len = KT_RAM_SIZE, .hva = env->ram};
    ck_assert_int_eq(vcore_vm_map_memory(env->vm, &r), VCORE_OK);
    r.gpa = KT_ROM_GPA;
    r.len = KT_ROM_SIZE;
    r.hva = env->rom;
    ck_assert_int_eq(vcore_vm_map_memory(env->vm, &r), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(env->vm, NULL, &env->vcpu), VCORE_OK);
}

void kt_down(kt_env_t *env)
{
    vcore_vcpu_destroy(env->vcpu);
    vcore_vm_destroy(env->vm);
    munmap(env->ram, KT_RAM_SIZE);
    munmap(env->rom, KT_ROM_SIZE);
    memset(env, 0, sizeof *env);
}

void kt_load(kt_env_t *env, const uint8_t *start, const uint8_t *end)
{
    size_t len = (size_t)(end - start);
    ck_assert_uint_lt(len, KT_RESET_OFF);
    memcpy(env->rom + KT_CODE_OFF, start, len);
    vcore_x86_regs_t regs = {.size = sizeof regs};
    ck_assert_int_eq(vcore_vcpu_get_regs(env->vcpu, &regs), VCORE_OK);
    regs.rip = KT_CODE_OFF;
    ck_assert_int_eq(vcore_vcpu_set_regs(env->vcpu, &regs), VCORE_OK);
}

void kt_start_flat32(kt_env_t *env, const uint8_t *start, const uint8_t *end, uint32_t esp)
{
    kt_load(env, start, end);
    /* GDT (SDM Vol. 3, "Segment Descriptors"): null; 08H code, base 0,
     * limit FFFFFH pages, execute/read, DPL 0, present, 32-bit; 10H data,
     * read/write, otherwise the same. */
    const uint64_t gdt[3] = {0, 0x00cf9b000000ffffull, 0x00cf93000000ffffull};
    memcpy(env->ram + KT_GDT, gdt, sizeof gdt);
    vcore_x86_sregs_t s = {.size = sizeof s};
    ck_assert_int_eq(vcore_vcpu_get_sregs(env->vcpu, &s), VCORE_OK);
    for (unsigned i = 0; i < VCORE_X86_NR_SEGS; i++) {
        if (i == VCORE_X86_LDTR || i == VCORE_X86_TR)
            continue; /* as RESET left them: LDT, busy 32-bit TSS */
        s.seg[i].base = 0;
        s.seg[i].limit = 0xffffffffu;
        s.seg[i].selector = (uint16_t)(i == VCORE_X86_CS ? KT_FLAT_CS : KT_FLAT_DS);
        /* The descriptors' access bytes with G and D/B, accessed type. */
        s.seg[i].ar = i == VCORE_X86_CS ? 0xc09bu : 0xc093u;
    }
    s.gdtr.base = KT_GDT;
    s.gdtr.limit = sizeof gdt - 1;
    s.idtr.base = KT_IDT;
    s.idtr.limit = 256 * 8 - 1;
    s.cr0 = 0x11; /* PE, ET */
    int err = vcore_vcpu_set_sregs(env->vcpu, &s);
    vcore_diag_t d = {.size = sizeof d};
    ck_assert_int_eq(vcore_vcpu_last_diag(env->vcpu, &d), VCORE_OK);
    ck_assert_msg(err == VCORE_OK, "set_sregs: %d (%s)", err, d.name);
    vcore_x86_regs_t r = {.size = sizeof r};
    ck_assert_int_eq(vcore_vcpu_get_regs(env->vcpu, &r), VCORE_OK);
    r.rip = KT_ROM_GPA + KT_CODE_OFF;
    r.gpr[VCORE_X86_RSP] = esp;
    r.rflags = 0x2;
    ck_assert_int_eq(vcore_vcpu_set_regs(env->vcpu, &r), VCORE_OK);
}

void kt_run_expect(kt_env_t *env, vcore_exit_t *ex, uint32_t reason)
{
    ck_assert_int_eq(vcore_vcpu_run(env->vcpu, ex), VCORE_OK);
    ck_assert_msg(ex->reason == reason, "exit %s (kvm %u), expected %s",
                  vcore_exit_reason_name(ex->reason), ex->raw.reason,
                  vcore_exit_reason_name(reason));
    ck_assert_uint_eq(ex->raw.source, VCORE_EXIT_SRC_KVM);
}

vcore_cpuid_entry_t *kt_cpuid_find(vcore_cpuid_entry_t *t, uint32_t n, uint32_t fn, uint32_t idx)
{
    for (uint32_t i = 0; i < n; i++) {
        if (t[i].function == fn &&
            (!(t[i].flags & VCORE_CPUID_FLAG_INDEX_SIGNIFICANT) || t[i].index == idx))
            return &t[i];
    }
    return NULL;
}

uint32_t kt_host_cpuid(vcore_cpuid_entry_t *t, uint32_t cap)
{
    uint32_t n = 0;
    ck_assert_int_eq(vcore_kvm_get_supported_cpuid(NULL, t, cap, &n), VCORE_OK);
    vcore_cpuid_entry_t *xs = kt_cpuid_find(t, n, 0xd, 0);
    vcore_cpuid_entry_t *l1 = kt_cpuid_find(t, n, 1, 0);
    ck_assert_ptr_nonnull(l1);
    if (xs && (xs->eax & 3u) == 3u)
        l1->ecx |= 1u << 26; /* CPUID.1:ECX.XSAVE */
    return n;
}

bool kt_kvm_pvm(void)
{
    return access("/sys/module/kvm_pvm", F_OK) == 0;
}

bool kt_events_wait_for_entry(void)
{
    return kt_kvm_pvm();
}

vcore_nvmx_t *kt_nvmx_object(void)
{
    static uint8_t store[64 * 1024] __attribute__((aligned(8)));
    vcore_nvmx_config_t c;
    vcore_nvmx_t *n = NULL;
    memset(&c, 0, sizeof c);
    c.size = sizeof c;
    c.caps.size = sizeof c.caps;
    c.maxphyaddr = 40;
    ck_assert_int_eq(vcore_nvmx_caps_emulated(&c.caps), VCORE_OK);
    ck_assert_uint_le(vcore_nvmx_storage_size(), sizeof store);
    ck_assert_int_eq(vcore_nvmx_init(store, sizeof store, &c, &n, NULL), VCORE_OK);
    return n;
}

int kt_count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    if (!d)
        return -1;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] != '.')
            n++;
    }
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

int kt_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    /* No fork: a sanitizer report or crash fails the process itself. */
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
