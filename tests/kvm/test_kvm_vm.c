/* /dev/kvm: VM and vCPU lifecycle, guest memory map, bad input. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kvm_support.h"

KT_GUEST(g_hlt, "hlt");
/* Reads a byte at DS:0x2000 (DS = 0) and writes it out to port 0x10. */
KT_GUEST(g_read_ram, "xor %ax, %ax\n mov %ax, %ds\n mov 0x2000, %al\n out %al, $0x10\n hlt");
/* Writes 0xAB to 0x9000:0000 = GPA 0x90000, then halts. */
KT_GUEST(g_write_page, "mov $0x9000, %ax\n mov %ax, %ds\n movb $0xab, 0\n hlt");

static vcore_vm_t *new_vm(void)
{
    vcore_vm_config_t cfg;
    vcore_vm_t *vm = NULL;
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_kvm();
    cfg.max_vcpus = 64;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    return vm;
}

START_TEST(vm_create_destroy_no_fd_leak)
{
    int before = kt_count_fds();
    for (int i = 0; i < 8; i++) {
        vcore_vm_t *vm = new_vm();
        vcore_vcpu_t *vcpu = NULL;
        ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &vcpu), VCORE_OK);
        vcore_vm_destroy(vm); /* destroys the vCPU too */
    }
    ck_assert_int_eq(kt_count_fds(), before);
}
END_TEST

START_TEST(vcpus_64_create_destroy)
{
    int before = kt_count_fds();
    for (int round = 0; round < 3; round++) {
        vcore_vm_t *vm = new_vm();
        vcore_vcpu_t *v[64];
        for (uint32_t i = 0; i < 64; i++) {
            vcore_vcpu_config_t c;
            vcore_vcpu_config_init(&c);
            c.id = i;
            c.bsp = i == 0;
            ck_assert_int_eq(vcore_vcpu_create(vm, &c, &v[i]), VCORE_OK);
            ck_assert_uint_eq(vcore_vcpu_id(v[i]), i);
        }
        /* One more than max_vcpus is refused by the core, not by KVM. */
        vcore_vcpu_t *extra = NULL;
        ck_assert_int_ne(vcore_vcpu_create(vm, NULL, &extra), VCORE_OK);
        /* Every vCPU took its RESET state in KVM: an AP is not the BSP. */
        uint64_t apic = 0;
        ck_assert_int_eq(vcore_vcpu_get_msr(v[0], VCORE_MSR_IA32_APIC_BASE, &apic), VCORE_OK);
        ck_assert(apic & VCORE_APIC_BASE_BSP);
        ck_assert_int_eq(vcore_vcpu_get_msr(v[63], VCORE_MSR_IA32_APIC_BASE, &apic), VCORE_OK);
        ck_assert(!(apic & VCORE_APIC_BASE_BSP));
        for (int i = 63; i >= 0; i--)
            vcore_vcpu_destroy(v[i]);
        /* 64 vCPU fds + 64 kvm_run mappings are gone: fds back to VM-only. */
        vcore_vm_destroy(vm);
        ck_assert_int_eq(kt_count_fds(), before);
    }
}
END_TEST

START_TEST(vcpu_static_storage)
{
    vcore_vm_t *vm = new_vm();
    size_t need = 0;
    ck_assert_int_eq(vcore_vcpu_storage_size(vm, &need), VCORE_OK);
    void *mem = aligned_alloc(64, (need + 63) / 64 * 64);
    vcore_vcpu_t *vcpu = NULL;
    ck_assert_int_eq(vcore_vcpu_init_static(vm, mem, need - 1, NULL, &vcpu), VCORE_ERR_BUFSZ);
    ck_assert_int_eq(vcore_vcpu_init_static(vm, mem, need, NULL, &vcpu), VCORE_OK);
    vcore_x86_regs_t r = {.size = sizeof r};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    ck_assert_uint_eq(r.rip, 0xfff0);
    ck_assert_int_eq(vcore_vcpu_fini(vcpu), VCORE_OK);
    free(mem);
    vcore_vm_destroy(vm);
}
END_TEST

START_TEST(bad_vm_config)
{
    vcore_vm_config_t cfg;
    vcore_vm_t *vm = NULL;
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_kvm();
    cfg.size = sizeof cfg - 1;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_ERR_ABI);
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_kvm();
    cfg.arch = VCORE_ARCH_ARM64; /* an x86 host's KVM runs x86 guests only */
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_ERR_UNSUPPORTED);
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_kvm();
    cfg.ipa_bits = 44; /* no IPA-size encoding on x86 */
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_ERR_INVAL);
    ck_assert_ptr_null(vm);
    ck_assert_int_eq(vcore_vm_create(NULL, &vm), VCORE_ERR_INVAL);
}
END_TEST

START_TEST(memory_map_rules)
{
    kt_env_t env;
    kt_up(&env);
    uint8_t *page = mmap(NULL, 0x4000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    vcore_mem_region_t r = {.size = sizeof r, .gpa = 0x80000, .len = 0x1000, .hva = page};
    /* Overlap with the RAM at 0..1 MiB. */
    ck_assert_int_eq(vcore_vm_map_memory(env.vm, &r), VCORE_ERR_EXISTS);
    /* Misaligned GPA, length, host address; zero length; wrong size; bad flags. */
    r.gpa = 0x200800;
    ck_assert_int_eq(vcore_vm_map_memory(env.vm, &r), VCORE_ERR_INVAL);
    r.gpa = 0x200000;
    r.len = 0x800;
    ck_assert_int_eq(vcore_vm_map_memory(env.vm, &r), VCORE_ERR_INVAL);
    r.len = 0x1000;
    r.hva = page + 8;
    ck_assert_int_eq(vcore_vm_map_memory(env.vm, &r), VCORE_ERR_INVAL);
    r.hva = page;
    r.len = 0;
    ck_assert_int_eq(vcore_vm_map_memory(env.vm, &r), VCORE_ERR_INVAL);
    r.len = 0x1000;
    r.size = 3;
    ck_assert_int_eq(vcore_vm_map_memory(env.vm, &r), VCORE_ERR_ABI);
    r.size = sizeof r;
    r.flags = 0x80;
    ck_assert_int_eq(vcore_vm_map_memory(env.vm, &r), VCORE_ERR_INVAL);
    r.flags = 0;
    ck_assert_int_eq(vcore_vm_unmap_memory(env.vm, 0x123000), VCORE_ERR_NOENT);
    /* A good map, unmap, map again at the same place. */
    ck_assert_int_eq(vcore_vm_map_memory(env.vm, &r), VCORE_OK);
    ck_assert_int_eq(vcore_vm_unmap_memory(env.vm, 0x200000), VCORE_OK);
    ck_assert_int_eq(vcore_vm_map_memory(env.vm, &r), VCORE_OK);

    /* After all the refusals the VM still runs guests and reads memory. */
    env.ram[0x2000] = 0x5a;
    kt_load(&env, g_read_ram_start, g_read_ram_end);
    vcore_exit_t ex = {.size = sizeof ex};
    kt_run_expect(&env, &ex, VCORE_EXIT_IO);
    ck_assert_uint_eq(ex.u.io.port, 0x10);
    ck_assert_uint_eq(ex.u.io.data[0], 0x5a);
    kt_run_expect(&env, &ex, VCORE_EXIT_HLT);
    munmap(page, 0x4000);
    kt_down(&env);
}
END_TEST

START_TEST(unmapped_then_mapped)
{
    kt_env_t env;
    kt_up(&env);
    /* Remove the RAM: the guest's data read becomes an MMIO exit. */
    ck_assert_int_eq(vcore_vm_unmap_memory(env.vm, KT_RAM_GPA), VCORE_OK);
    kt_load(&env, g_read_ram_start, g_read_ram_end);
    vcore_exit_t ex = {.size = sizeof ex};
    kt_run_expect(&env, &ex, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(ex.u.mmio.gpa, 0x2000);
    ck_assert_uint_eq(ex.u.mmio.len, 1);
    ck_assert(!ex.u.mmio.is_write);
    ck_assert(ex.flags & VCORE_EXIT_F_NEEDS_REPLY);
    ex.u.mmio.data[0] = 0x77;
    kt_run_expect(&env, &ex, VCORE_EXIT_IO);
    ck_assert_uint_eq(ex.u.io.data[0], 0x77);
    kt_down(&env);
}
END_TEST

START_TEST(readonly_memory)
{
    kt_env_t env;
    kt_up(&env);
    uint8_t *ro = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ro[0] = 0x11;
    /* Replace 0x90000 with a read-only page: split the RAM mapping. */
    ck_assert_int_eq(vcore_vm_unmap_memory(env.vm, KT_RAM_GPA), VCORE_OK);
    vcore_mem_region_t r = {.size = sizeof r, .gpa = 0, .len = 0x90000, .hva = env.ram};
    ck_assert_int_eq(vcore_vm_map_memory(env.vm, &r), VCORE_OK);
    r.gpa = 0x90000;
    r.len = 0x1000;
    r.hva = ro;
    r.flags = VCORE_MEM_READONLY;
    ck_assert_int_eq(vcore_vm_map_memory(env.vm, &r), VCORE_OK);
    kt_load(&env, g_write_page_start, g_write_page_end);
    vcore_exit_t ex = {.size = sizeof ex};
    /* The write to read-only memory exits as an MMIO write; memory unchanged. */
    kt_run_expect(&env, &ex, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(ex.u.mmio.gpa, 0x90000);
    ck_assert(ex.u.mmio.is_write);
    ck_assert_uint_eq(ex.u.mmio.data[0], 0xab);
    ck_assert_uint_eq(ro[0], 0x11);
    kt_run_expect(&env, &ex, VCORE_EXIT_HLT);
    munmap(ro, 0x1000);
    kt_down(&env);
}
END_TEST

START_TEST(dirty_log)
{
    kt_env_t env;
    kt_up(&env);
    uint8_t *pages = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_int_eq(vcore_vm_unmap_memory(env.vm, KT_RAM_GPA), VCORE_OK);
    vcore_mem_region_t r = {.size = sizeof r, .gpa = 0, .len = 0x80000, .hva = env.ram};
    ck_assert_int_eq(vcore_vm_map_memory(env.vm, &r), VCORE_OK);
    r.gpa = 0x90000;
    r.len = 0x10000;
    r.hva = pages;
    r.flags = VCORE_MEM_LOG_DIRTY;
    ck_assert_int_eq(vcore_vm_map_memory(env.vm, &r), VCORE_OK);
    uint64_t bitmap[1] = {~0ull};
    /* Too small a buffer is refused. */
    ck_assert_int_eq(vcore_vm_get_dirty_log(env.vm, 0x90000, bitmap, 4), VCORE_ERR_BUFSZ);
    /* Read and clear before the guest runs. */
    ck_assert_int_eq(vcore_vm_get_dirty_log(env.vm, 0x90000, bitmap, sizeof bitmap), VCORE_OK);
    kt_load(&env, g_write_page_start, g_write_page_end);
    vcore_exit_t ex = {.size = sizeof ex};
    kt_run_expect(&env, &ex, VCORE_EXIT_HLT);
    ck_assert_uint_eq(pages[0], 0xab);
    ck_assert_int_eq(vcore_vm_get_dirty_log(env.vm, 0x90000, bitmap, sizeof bitmap), VCORE_OK);
    ck_assert_uint_eq(bitmap[0], 1u); /* exactly page 0 of the slot */
    ck_assert_int_eq(vcore_vm_get_dirty_log(env.vm, 0x90000, bitmap, sizeof bitmap), VCORE_OK);
    ck_assert_uint_eq(bitmap[0], 0u); /* cleared by the previous read */
    /* A slot without logging has no log. */
    ck_assert_int_ne(vcore_vm_get_dirty_log(env.vm, 0, bitmap, sizeof bitmap), VCORE_OK);
    munmap(pages, 0x10000);
    kt_down(&env);
}
END_TEST

START_TEST(run_bad_input)
{
    kt_env_t env;
    kt_up(&env);
    vcore_exit_t ex = {.size = sizeof ex - 8};
    ck_assert_int_eq(vcore_vcpu_run(env.vcpu, &ex), VCORE_ERR_ABI);
    ck_assert_int_eq(vcore_vcpu_run(env.vcpu, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vcpu_run(NULL, &ex), VCORE_ERR_INVAL);
    vcore_x86_regs_t regs = {.size = 1};
    ck_assert_int_eq(vcore_vcpu_get_regs(env.vcpu, &regs), VCORE_ERR_ABI);
    /* Still runs afterwards. */
    kt_load(&env, g_hlt_start, g_hlt_end);
    ex.size = sizeof ex;
    kt_run_expect(&env, &ex, VCORE_EXIT_HLT);
    kt_down(&env);
}
END_TEST

int main(void)
{
    kt_require_kvm();
    Suite *s = suite_create("kvm_vm");
    TCase *tc = tcase_create("vm");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, vm_create_destroy_no_fd_leak);
    tcase_add_test(tc, vcpus_64_create_destroy);
    tcase_add_test(tc, vcpu_static_storage);
    tcase_add_test(tc, bad_vm_config);
    tcase_add_test(tc, memory_map_rules);
    tcase_add_test(tc, unmapped_then_mapped);
    tcase_add_test(tc, readonly_memory);
    tcase_add_test(tc, dirty_log);
    tcase_add_test(tc, run_bad_input);
    suite_add_tcase(s, tc);
    return kt_run_suite(s);
}
