/* VMs: configuration, both construction paths, memory map, guest access. */
#define _POSIX_C_SOURCE 200112L /* posix_memalign */
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* A host that counts allocations and can be told to fail them. */
typedef struct counting_host {
    int allocs, frees, fail;
    size_t live;
} counting_host_t;

static void *ch_alloc(void *ctx, size_t len)
{
    counting_host_t *c = ctx;
    if (c->fail)
        return NULL;
    c->allocs++;
    c->live += len;
    return calloc(1, len);
}

static void ch_free(void *ctx, void *p, size_t len)
{
    counting_host_t *c = ctx;
    c->frees++;
    c->live -= len;
    free(p);
}

static vcore_host_t counting_host(counting_host_t *c)
{
    vcore_host_t h = {.size = sizeof(h), .ctx = c, .alloc = ch_alloc, .free = ch_free};
    return h;
}

static vcore_vm_config_t mock_cfg(void)
{
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_mock();
    return cfg;
}

START_TEST(vm_config_defaults)
{
    vcore_vm_config_t cfg;
    memset(&cfg, 0xff, sizeof(cfg));
    vcore_vm_config_init(&cfg);
    ck_assert_uint_eq(cfg.size, sizeof(cfg));
    ck_assert_uint_eq(cfg.arch, VCORE_ARCH_X86_64);
    ck_assert_uint_eq(cfg.max_vcpus, 1);
    ck_assert_ptr_null(cfg.backend);
    ck_assert_ptr_null(cfg.host);
    vcore_vm_config_init(NULL); /* ignored, no crash */
}
END_TEST

START_TEST(vm_create_errors)
{
    vcore_vm_t *vm = NULL;
    vcore_vm_config_t cfg = mock_cfg();
    ck_assert_int_eq(vcore_vm_create(NULL, &vm), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vm_create(&cfg, NULL), VCORE_ERR_INVAL);
    cfg.size--;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_ERR_ABI);
    cfg = mock_cfg();
    cfg.backend = NULL;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_ERR_INVAL);
    cfg = mock_cfg();
    cfg.max_vcpus = 0;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_ERR_INVAL);
    cfg.max_vcpus = VCORE_VM_MAX_VCPUS + 1;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_ERR_INVAL);
    cfg = mock_cfg();
    cfg.flags = 1;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_ERR_INVAL);
    cfg = mock_cfg();
    cfg.arch = 77;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_ERR_INVAL);
    /* A backend that runs only x86 guests refuses an arm64 VM. */
    vcore_backend_t x86only = *vcore_backend_mock();
    x86only.arches = VCORE_BACKEND_ARCH_X86_64;
    cfg.backend = &x86only;
    cfg.arch = VCORE_ARCH_ARM64;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_ERR_UNSUPPORTED);
    /* A backend table of another ABI is refused. */
    vcore_backend_t bad = *vcore_backend_mock();
    bad.abi_version = 99;
    cfg = mock_cfg();
    cfg.backend = &bad;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_ERR_ABI);
    bad = *vcore_backend_mock();
    bad.size = 16;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_ERR_ABI);
    bad = *vcore_backend_mock();
    bad.vcpu_run = NULL;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_ERR_INVAL);
    /* The stage-2 granule (VTCR_EL2.TG0: 4KB, 16KB, 64KB) exists for arm64 only. */
    cfg = mock_cfg();
    cfg.granule = VCORE_ARM64_GRANULE_16K;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_ERR_INVAL);
    cfg.arch = VCORE_ARCH_ARM64;
    static const uint32_t granules[3] = {VCORE_ARM64_GRANULE_4K, VCORE_ARM64_GRANULE_16K,
                                         VCORE_ARM64_GRANULE_64K};
    for (int i = 0; i < 3; i++) {
        cfg.granule = granules[i];
        ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
        vcore_vm_destroy(vm);
        vm = NULL;
    }
    cfg.granule = 8192;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_ERR_INVAL);
    cfg.granule = VCORE_ARM64_GRANULE_4K + 1;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_ERR_INVAL);
    /* Host without an allocator: create needs one, static init does not. */
    vcore_host_t h = *vcore_host_default();
    h.alloc = NULL;
    cfg = mock_cfg();
    cfg.host = &h;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_ERR_INVAL);
    h.size = 1;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_ERR_ABI);
}
END_TEST

START_TEST(vm_create_uses_only_the_host)
{
    counting_host_t c = {0};
    vcore_host_t h = counting_host(&c);
    vcore_vm_config_t cfg = mock_cfg();
    cfg.host = &h;
    cfg.max_vcpus = 4;
    vcore_vm_t *vm = NULL;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    ck_assert_str_eq(vcore_vm_backend_name(vm), "mock");
    ck_assert_ptr_eq(vcore_vm_host(vm)->ctx, &c);
    ck_assert_uint_eq(vcore_vm_config(vm)->max_vcpus, 4);
    vcore_vcpu_t *v[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &v[i]), VCORE_OK);
    ck_assert_int_eq(c.allocs, 5);
    vcore_vm_destroy(vm); /* destroys the vCPUs too */
    ck_assert_int_eq(c.frees, 5);
    ck_assert_uint_eq(c.live, 0);
    /* Allocation failure is reported, nothing leaks. */
    c.fail = 1;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_ERR_NOMEM);
    vcore_vm_destroy(NULL);
}
END_TEST

START_TEST(vm_static_never_allocates)
{
    counting_host_t c = {0};
    vcore_host_t h = counting_host(&c);
    vcore_vm_config_t cfg = mock_cfg();
    cfg.host = &h;
    size_t need = 0;
    ck_assert_int_eq(vcore_vm_storage_size(&cfg, &need), VCORE_OK);
    ck_assert_uint_gt(need, 0);
    ck_assert_int_eq(vcore_vm_storage_size(&cfg, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vm_storage_size(NULL, &need), VCORE_ERR_INVAL);
    void *mem = NULL;
    ck_assert_int_eq(posix_memalign(&mem, 64, need), 0);
    vcore_vm_t *vm = NULL;
    ck_assert_int_eq(vcore_vm_init_static(mem, need - 1, &cfg, &vm), VCORE_ERR_BUFSZ);
    ck_assert_int_eq(vcore_vm_init_static((char *)mem + 1, need - 1, &cfg, &vm),
                     VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vm_init_static(NULL, need, &cfg, &vm), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vm_init_static(mem, need, &cfg, &vm), VCORE_OK);
    ck_assert_ptr_eq(vm, mem);
    size_t vneed = 0;
    ck_assert_int_eq(vcore_vcpu_storage_size(vm, &vneed), VCORE_OK);
    void *vmem = NULL;
    ck_assert_int_eq(posix_memalign(&vmem, 64, vneed), 0);
    vcore_vcpu_t *vcpu = NULL;
    ck_assert_int_eq(vcore_vcpu_init_static(vm, vmem, vneed - 1, NULL, &vcpu), VCORE_ERR_BUFSZ);
    ck_assert_int_eq(vcore_vcpu_init_static(vm, vmem, vneed, NULL, &vcpu), VCORE_OK);
    ck_assert_int_eq(c.allocs, 0);
    /* Order: vCPUs first, then the VM; the wrong teardown is refused. */
    ck_assert_int_eq(vcore_vm_fini(vm), VCORE_ERR_STATE);
    vcore_vcpu_destroy(vcpu); /* not ours to free: ignored */
    ck_assert_int_eq(vcore_vcpu_id(vcpu), 0);
    ck_assert_int_eq(vcore_vcpu_fini(vcpu), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_fini(vcpu), VCORE_ERR_INVAL); /* already gone */
    ck_assert_int_eq(vcore_vm_fini(vm), VCORE_OK);
    ck_assert_int_eq(vcore_vm_fini(vm), VCORE_ERR_INVAL);
    ck_assert_int_eq(c.allocs, 0);
    free(vmem);
    free(mem);
    /* vcore_vm_fini is for static VMs only. */
    cfg = mock_cfg();
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    ck_assert_int_eq(vcore_vm_fini(vm), VCORE_ERR_STATE);
    vcore_vm_destroy(vm);
}
END_TEST

typedef struct mem_env {
    vcore_vm_t *vm;
    unsigned char *ram;
} mem_env_t;

static void mem_up(mem_env_t *e)
{
    vcore_vm_config_t cfg = mock_cfg();
    ck_assert_int_eq(vcore_vm_create(&cfg, &e->vm), VCORE_OK);
    ck_assert_int_eq(posix_memalign((void **)&e->ram, 4096, 16 * 4096), 0);
    memset(e->ram, 0, 16 * 4096);
}

static void mem_down(mem_env_t *e)
{
    vcore_vm_destroy(e->vm);
    free(e->ram);
}

static vcore_mem_region_t region(uint64_t gpa, uint64_t len, void *hva, uint32_t flags)
{
    vcore_mem_region_t r = {.size = sizeof(r), .gpa = gpa, .len = len, .hva = hva, .flags = flags};
    return r;
}

static void expect_diag(vcore_vm_t *vm, uint32_t id)
{
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vm_last_diag(vm, &d), VCORE_OK);
    ck_assert_uint_eq(d.id, id);
}

START_TEST(vm_map_rules)
{
    mem_env_t e;
    mem_up(&e);
    vcore_mem_region_t r = region(0x10000, 4 * 4096, e.ram, 0);
    ck_assert_int_eq(vcore_vm_map_memory(e.vm, &r), VCORE_OK);
    /* Overlaps on either side and inside are refused. */
    r = region(0x13000, 4096, e.ram + 8 * 4096, 0);
    ck_assert_int_eq(vcore_vm_map_memory(e.vm, &r), VCORE_ERR_EXISTS);
    expect_diag(e.vm, VCORE_DIAG_MEM_OVERLAP);
    r = region(0xf000, 2 * 4096, e.ram + 8 * 4096, 0);
    ck_assert_int_eq(vcore_vm_map_memory(e.vm, &r), VCORE_ERR_EXISTS);
    r = region(0x8000, 0x20000, e.ram + 8 * 4096, 0);
    ck_assert_int_eq(vcore_vm_map_memory(e.vm, &r), VCORE_ERR_EXISTS);
    /* Adjacent is fine. */
    r = region(0x14000, 4096, e.ram + 4 * 4096, 0);
    ck_assert_int_eq(vcore_vm_map_memory(e.vm, &r), VCORE_OK);
    /* Alignment, length, wrap, flags, size. */
    r = region(0x20001, 4096, e.ram, 0);
    ck_assert_int_eq(vcore_vm_map_memory(e.vm, &r), VCORE_ERR_INVAL);
    expect_diag(e.vm, VCORE_DIAG_MEM_ALIGN);
    r = region(0x20000, 100, e.ram, 0);
    ck_assert_int_eq(vcore_vm_map_memory(e.vm, &r), VCORE_ERR_INVAL);
    r = region(0x20000, 4096, e.ram + 1, 0);
    ck_assert_int_eq(vcore_vm_map_memory(e.vm, &r), VCORE_ERR_INVAL);
    r = region(0x20000, 0, e.ram, 0);
    ck_assert_int_eq(vcore_vm_map_memory(e.vm, &r), VCORE_ERR_INVAL);
    r = region(0xfffffffffffff000ull, 0x2000, e.ram, 0);
    ck_assert_int_eq(vcore_vm_map_memory(e.vm, &r), VCORE_ERR_INVAL);
    r = region(0x20000, 4096, NULL, 0);
    ck_assert_int_eq(vcore_vm_map_memory(e.vm, &r), VCORE_ERR_INVAL);
    r = region(0x20000, 4096, e.ram, 0x80);
    ck_assert_int_eq(vcore_vm_map_memory(e.vm, &r), VCORE_ERR_INVAL);
    r = region(0x20000, 4096, e.ram, VCORE_MEM_LOG_DIRTY); /* the mock does not log */
    ck_assert_int_eq(vcore_vm_map_memory(e.vm, &r), VCORE_ERR_UNSUPPORTED);
    r = region(0x20000, 4096, e.ram, 0);
    r.size = 4;
    ck_assert_int_eq(vcore_vm_map_memory(e.vm, &r), VCORE_ERR_ABI);
    ck_assert_int_eq(vcore_vm_map_memory(e.vm, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vm_map_memory(NULL, &r), VCORE_ERR_INVAL);
    /* Unmap needs the exact start. */
    ck_assert_int_eq(vcore_vm_unmap_memory(e.vm, 0x11000), VCORE_ERR_NOENT);
    expect_diag(e.vm, VCORE_DIAG_MEM_UNMAPPED);
    ck_assert_int_eq(vcore_vm_unmap_memory(e.vm, 0x14000), VCORE_OK);
    ck_assert_int_eq(vcore_vm_unmap_memory(e.vm, 0x14000), VCORE_ERR_NOENT);
    ck_assert_int_eq(vcore_vm_unmap_memory(NULL, 0), VCORE_ERR_INVAL);
    uint64_t bm[1];
    ck_assert_int_eq(vcore_vm_get_dirty_log(e.vm, 0x10000, bm, sizeof(bm)), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vm_get_dirty_log(e.vm, 0x50000, bm, sizeof(bm)), VCORE_ERR_NOENT);
    ck_assert_int_eq(vcore_vm_get_dirty_log(e.vm, 0x10000, NULL, 8), VCORE_ERR_INVAL);
    mem_down(&e);
}
END_TEST

START_TEST(vm_map_slots_run_out)
{
    mem_env_t e;
    mem_up(&e);
    for (uint32_t i = 0; i < VCORE_VM_MAX_REGIONS; i++) {
        vcore_mem_region_t r = region(0x100000ull * i, 4096, e.ram, 0);
        ck_assert_int_eq(vcore_vm_map_memory(e.vm, &r), VCORE_OK);
    }
    vcore_mem_region_t r = region(0x100000ull * VCORE_VM_MAX_REGIONS, 4096, e.ram, 0);
    ck_assert_int_eq(vcore_vm_map_memory(e.vm, &r), VCORE_ERR_RANGE);
    ck_assert_int_eq(vcore_vm_unmap_memory(e.vm, 0x100000), VCORE_OK);
    ck_assert_int_eq(vcore_vm_map_memory(e.vm, &r), VCORE_OK); /* the slot is reused */
    mem_down(&e);
}
END_TEST

START_TEST(vm_guest_access)
{
    mem_env_t e;
    mem_up(&e);
    /* Two adjacent regions backed by non-adjacent host memory, then a hole,
     * then a read-only region. */
    vcore_mem_region_t r = region(0x0, 4096, e.ram + 4096, 0);
    ck_assert_int_eq(vcore_vm_map_memory(e.vm, &r), VCORE_OK);
    r = region(0x1000, 4096, e.ram + 8 * 4096, 0);
    ck_assert_int_eq(vcore_vm_map_memory(e.vm, &r), VCORE_OK);
    r = region(0x3000, 4096, e.ram + 12 * 4096, VCORE_MEM_READONLY);
    ck_assert_int_eq(vcore_vm_map_memory(e.vm, &r), VCORE_OK);

    unsigned char buf[64];
    for (int i = 0; i < 64; i++)
        buf[i] = (unsigned char)(i + 1);
    ck_assert_int_eq(vcore_vm_write_guest(e.vm, 0xfe0, buf, 64), VCORE_OK); /* spans regions */
    ck_assert_int_eq(e.ram[4096 + 0xfe0], 1);
    ck_assert_int_eq(e.ram[8 * 4096], 33);
    unsigned char back[64] = {0};
    ck_assert_int_eq(vcore_vm_read_guest(e.vm, 0xfe0, back, 64), VCORE_OK);
    ck_assert_mem_eq(back, buf, 64);
    /* Into the hole: refused, nothing written (not even the mapped part). */
    memset(back, 0xee, sizeof(back));
    ck_assert_int_eq(vcore_vm_write_guest(e.vm, 0x1fe0, back, 64), VCORE_ERR_FAULT);
    ck_assert_int_eq(e.ram[8 * 4096 + 0xfe0], 0);
    ck_assert_int_eq(vcore_vm_read_guest(e.vm, 0x1fe0, back, 64), VCORE_ERR_FAULT);
    ck_assert_int_eq(back[0], 0xee); /* nothing copied on failure */
    ck_assert_int_eq(vcore_vm_read_guest(e.vm, 0x9000, back, 1), VCORE_ERR_FAULT);
    /* Read-only: readable, not writable. */
    e.ram[12 * 4096] = 0x5a;
    ck_assert_int_eq(vcore_vm_read_guest(e.vm, 0x3000, back, 1), VCORE_OK);
    ck_assert_int_eq(back[0], 0x5a);
    ck_assert_int_eq(vcore_vm_write_guest(e.vm, 0x3000, buf, 1), VCORE_ERR_FAULT);
    expect_diag(e.vm, VCORE_DIAG_MEM_READ_ONLY);
    ck_assert_int_eq(e.ram[12 * 4096], 0x5a);
    /* The top of the address space does not wrap to 0. */
    ck_assert_int_eq(vcore_vm_read_guest(e.vm, 0xffffffffffffffffull, back, 2), VCORE_ERR_FAULT);
    /* Zero-length and NULL handling. */
    ck_assert_int_eq(vcore_vm_read_guest(e.vm, 0x9000, NULL, 0), VCORE_OK);
    ck_assert_int_eq(vcore_vm_read_guest(e.vm, 0, NULL, 1), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vm_write_guest(NULL, 0, buf, 1), VCORE_ERR_INVAL);
    mem_down(&e);
}
END_TEST

START_TEST(vm_handles_are_checked)
{
    char junk[512];
    memset(junk, 0x41, sizeof(junk));
    vcore_vm_t *fake = (vcore_vm_t *)(void *)junk;
    ck_assert_int_eq(vcore_vm_unmap_memory(fake, 0), VCORE_ERR_INVAL);
    ck_assert_str_eq(vcore_vm_backend_name(fake), "");
    ck_assert_ptr_null(vcore_vm_host(fake));
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vm_last_diag(fake, &d), VCORE_ERR_INVAL);
    mem_env_t e;
    mem_up(&e);
    ck_assert_int_eq(vcore_vm_last_diag(e.vm, NULL), VCORE_ERR_INVAL);
    d.size = 1;
    ck_assert_int_eq(vcore_vm_last_diag(e.vm, &d), VCORE_ERR_ABI);
    mem_down(&e);
}
END_TEST


/* A host whose log callback records what it was given. */
typedef struct log_capture {
    int lines;
    int last_level;
    char last[160];
} log_capture_t;

static void capture_log(void *ctx, int level, const char *msg)
{
    log_capture_t *c = ctx;
    c->lines++;
    c->last_level = level;
    strncpy(c->last, msg, sizeof(c->last) - 1);
}

START_TEST(vm_backend_accessors_and_log)
{
    log_capture_t cap = {0};
    vcore_host_t h = *vcore_host_default();
    h.ctx = &cap;
    h.log = capture_log;
    h.log_level = VCORE_LOG_WARN;
    vcore_vm_config_t cfg = mock_cfg();
    cfg.host = &h;
    vcore_vm_t *vm;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    ck_assert_ptr_nonnull(vcore_vm_backend_priv(vm));
    ck_assert_ptr_null(vcore_vm_backend_priv(NULL));
    ck_assert_ptr_null(vcore_vm_config(NULL));
    vcore_vm_log(vm, VCORE_LOG_DEBUG, "filtered out");
    ck_assert_int_eq(cap.lines, 0);
    vcore_vm_log(vm, VCORE_LOG_ERROR, "kept");
    ck_assert_int_eq(cap.lines, 1);
    ck_assert_str_eq(cap.last, "kept");
    vcore_vm_log(NULL, VCORE_LOG_ERROR, "no vm");
    vcore_vm_log(vm, VCORE_LOG_ERROR, NULL);
    ck_assert_int_eq(cap.lines, 1);
    /* A refused value is logged as a warning with the rule's message. */
    vcore_mem_region_t r = {.size = sizeof(r), .gpa = 1, .len = 4096, .hva = &cap};
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_ERR_INVAL);
    ck_assert_int_eq(cap.lines, 2);
    ck_assert_int_eq(cap.last_level, VCORE_LOG_WARN);
    vcore_vm_destroy(vm);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("vm");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, vm_config_defaults);
    tcase_add_test(tc, vm_create_errors);
    tcase_add_test(tc, vm_create_uses_only_the_host);
    tcase_add_test(tc, vm_static_never_allocates);
    tcase_add_test(tc, vm_map_rules);
    tcase_add_test(tc, vm_map_slots_run_out);
    tcase_add_test(tc, vm_guest_access);
    tcase_add_test(tc, vm_handles_are_checked);
    tcase_add_test(tc, vm_backend_accessors_and_log);
    suite_add_tcase(s, tc);
    return vcore_test_run(s);
}
