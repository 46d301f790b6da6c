# Cross-builds the library with the kvm backend for aarch64 and checks that
# the objects really are AArch64 code. Run by CTest (kvm.cross_aarch64):
#   cmake -DSRC=<source dir> -DBIN=<scratch dir> -P cross_aarch64.cmake
file(REMOVE_RECURSE ${BIN})
execute_process(
  COMMAND ${CMAKE_COMMAND} -S ${SRC} -B ${BIN}
          -DCMAKE_TOOLCHAIN_FILE=${SRC}/cmake/aarch64-linux-gnu.cmake
          "-DVIRTCORE_BACKENDS=mock;kvm" -DVIRTCORE_WERROR=ON
          -DVIRTCORE_BUILD_TESTS=OFF -DVIRTCORE_BUILD_EXAMPLES=OFF -DVIRTCORE_BUILD_DOCS=OFF
          -DVIRTCORE_BUILD_TOOLS=OFF -DVIRTCORE_BUILD_BENCH=OFF
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "aarch64 configure failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BIN} --target virtcore_objs -j2
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "aarch64 build of the kvm backend failed")
endif()
file(GLOB_RECURSE objs ${BIN}/*.o)
list(FILTER objs INCLUDE REGEX "(backend-kvm/kvm_[a-z_]+|core/arm64/ipa)\\.c\\.o$")
list(LENGTH objs n)
if(n LESS 11)
  message(FATAL_ERROR "expected the kvm backend and arm64/ipa objects, found ${n}: ${objs}")
endif()
foreach(o IN LISTS objs)
  # ELF e_machine (offset 18, little endian): 0x00b7 = EM_AARCH64.
  file(READ ${o} mach OFFSET 18 LIMIT 2 HEX)
  if(NOT mach STREQUAL "b700")
    message(FATAL_ERROR "${o} is not AArch64 (e_machine ${mach})")
  endif()
endforeach()
message(STATUS "aarch64: ${n} kvm backend / ipa objects built")
