/*
 * kvm_sys.c - the real system calls behind vcore_kvm_sys_t, and errno mapping.
 *
 * The rest of the backend never calls open/ioctl/mmap/munmap/close directly,
 * so tests can replace every one of them per VM (see kvm_priv.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvm_priv.h"

static int sys_open(void *ctx, const char *path, int flags)
{
    (void)ctx;
    int fd = open(path, flags);
    return fd < 0 ? -errno : fd;
}

static int sys_ioctl(void *ctx, int fd, unsigned long request, unsigned long arg)
{
    (void)ctx;
    int r = ioctl(fd, request, arg);
    return r < 0 ? -errno : r;
}

static void *sys_mmap(void *ctx, size_t len, int fd, int *err)
{
    (void)ctx;
    /* kvm_run is shared with the kernel: MAP_SHARED, read/write. */
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        *err = errno;
        return NULL;
    }
    return p;
}

static int sys_munmap(void *ctx, void *addr, size_t len)
{
    (void)ctx;
    return munmap(addr, len) < 0 ? -errno : 0;
}

static int sys_close(void *ctx, int fd)
{
    (void)ctx;
    return close(fd) < 0 ? -errno : 0;
}

void vcore__kvm_sys_defaults(vcore_kvm_sys_t *sys)
{
    if (!sys->open)
        sys->open = sys_open;
    if (!sys->ioctl)
        sys->ioctl = sys_ioctl;
    if (!sys->mmap)
        sys->mmap = sys_mmap;
    if (!sys->munmap)
        sys->munmap = sys_munmap;
    if (!sys->close)
        sys->close = sys_close;
}

int vcore__kvm_err(int neg_errno)
{
    switch (-neg_errno) {
    case 0:
        return VCORE_OK;
    case ENOMEM:
    case ENOSPC:
        return VCORE_ERR_NOMEM;
    case EFAULT:
        return VCORE_ERR_FAULT;
    case EINTR:
        return VCORE_ERR_INTR;
    case EBUSY:
        return VCORE_ERR_BUSY;
    case EEXIST:
        return VCORE_ERR_EXISTS;
    case E2BIG:
        return VCORE_ERR_BUFSZ;
    case ENOENT:
    case ENODEV:
    case ENXIO:
    case EACCES:
    case EPERM:
        return VCORE_ERR_NODEV;
    case ENOTTY:
    case ENOSYS:
    case EOPNOTSUPP:
        return VCORE_ERR_UNSUPPORTED;
    default:
        /* EINVAL and the rest: the kernel refused what we asked. */
        return VCORE_ERR_HWFAIL;
    }
}

int vcore__kvm_ioctl(const vcore_kvm_vm_t *kvm, int fd, unsigned long request, unsigned long arg)
{
    /* A signal (e.g. a kick meant for KVM_RUN) may interrupt any ioctl;
     * these ioctls have no side effect until they succeed: retry. Bounded
     * so a fake that always fails cannot hang a test. */
    int r = -EINTR;
    for (int tries = 0; tries < 1000; tries++) {
        r = kvm->sys.ioctl(kvm->sys.ctx, fd, request, arg);
        if (r != -EINTR && r != -EAGAIN)
            break;
    }
    return r;
}

void vcore__kvm_log_errno(const vcore_vm_t *vm, const char *what, int neg_errno)
{
    char line[160];
    char buf[96];
    const char *msg = buf;
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    msg = strerror_r(-neg_errno, buf, sizeof buf);
#else
    if (strerror_r(-neg_errno, buf, sizeof buf) != 0)
        snprintf(buf, sizeof buf, "errno %d", -neg_errno);
#endif
    snprintf(line, sizeof line, "kvm: %s failed: %s (errno %d)", what, msg, -neg_errno);
    vcore_vm_log(vm, VCORE_LOG_WARN, line);
}
