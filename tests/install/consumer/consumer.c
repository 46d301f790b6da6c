/* An out-of-tree program built against the installed library. */
#include <stdio.h>
#include <string.h>
#include <virtcore/virtcore.h>

int main(void)
{
    if (vcore_version() != VCORE_VERSION_NUMBER ||
        strcmp(vcore_version_string(), VCORE_VERSION_STRING) != 0) {
        fprintf(stderr, "header/library version mismatch\n");
        return 1;
    }
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_mock();
    vcore_vm_t *vm = NULL;
    vcore_vcpu_t *vcpu = NULL;
    if (vcore_vm_create(&cfg, &vm) || vcore_vcpu_create(vm, NULL, &vcpu)) {
        fprintf(stderr, "create failed\n");
        return 1;
    }
    vcore_x86_regs_t regs = {.size = sizeof(regs)};
    if (vcore_vcpu_get_regs(vcpu, &regs) || regs.rip != 0xfff0) {
        fprintf(stderr, "unexpected RESET RIP\n");
        return 1;
    }
    printf("consumer: libvirtcore %s, RESET RIP=%#llx: ok\n", vcore_version_string(),
           (unsigned long long)regs.rip);
    vcore_vm_destroy(vm);
    return 0;
}
