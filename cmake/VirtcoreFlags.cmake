# Compiler flags shared by every target of the project.

# Warnings the project is clean of; errors with VIRTCORE_WERROR (CI).
function(vcore_apply_warnings tgt)
  target_compile_options(${tgt} PRIVATE
    -Wall -Wextra -Wshadow -Wconversion -Wstrict-prototypes -Wmissing-prototypes
    -Wpointer-arith -Wundef -Wvla)
  if(VIRTCORE_WERROR)
    target_compile_options(${tgt} PRIVATE -Werror)
  endif()
  vcore_apply_sanitizers(${tgt})
endfunction()

function(vcore_apply_sanitizers tgt)
  if(VIRTCORE_SANITIZE AND NOT VIRTCORE_FREESTANDING)
    target_compile_options(${tgt} PRIVATE -fsanitize=address,undefined
                           -fno-sanitize-recover=all -fno-omit-frame-pointer)
    target_link_options(${tgt} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

# What a kernel needs from code it links: no libc, no builtins turned into
# libc calls behind our back, no red zone (interrupts use the stack), no
# stack protector (no __stack_chk_fail), no FPU/SIMD registers (the kernel
# does not save them around our calls).
function(vcore_apply_freestanding tgt)
  target_compile_options(${tgt} PRIVATE -ffreestanding -fno-builtin -nostdlib
                         -fno-stack-protector -fno-pic -fno-pie)
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64")
    target_compile_options(${tgt} PRIVATE -mno-red-zone -mgeneral-regs-only)
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
    # Inline LSE/LL-SC atomics: outline atomics call into libgcc helpers.
    target_compile_options(${tgt} PRIVATE -mgeneral-regs-only -mno-outline-atomics)
  endif()
  set_target_properties(${tgt} PROPERTIES POSITION_INDEPENDENT_CODE OFF)
endfunction()
