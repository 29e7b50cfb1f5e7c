# The checking builds (docs/testing.md), as compile and link flags for every target of the build:
#   EFFNET_SANITIZE=ON  AddressSanitizer + UndefinedBehaviorSanitizer (GCC or clang; CPU only, since
#                       nvcc-built code cannot be instrumented): build-asan/ of scripts/test.sh.
#   EFFNET_FUZZ=ON      the same sanitizers plus libFuzzer's coverage instrumentation, and the fuzz
#                       targets of tests/fuzz/ (clang only; with another compiler they are skipped
#                       with a message and the build is an ordinary one). scripts/fuzz.sh.
# Sets EFFNET_FUZZ_TARGETS (the fuzz targets are built) and EFFNET_SANITIZED (sanitizers are on).
set(EFFNET_SANITIZER_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
set(EFFNET_SANITIZED ${EFFNET_SANITIZE})
set(EFFNET_FUZZ_TARGETS OFF)
if(EFFNET_FUZZ)
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    set(EFFNET_FUZZ_TARGETS ON)
    set(EFFNET_SANITIZED ON)
    # Coverage feedback for libFuzzer in every library; only the fuzz targets link libFuzzer itself
    # (-fsanitize=fuzzer, tests/fuzz/CMakeLists.txt), which brings its own main().
    add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fsanitize=fuzzer-no-link>)
  else()
    message(WARNING "effnet: EFFNET_FUZZ needs clang (configure with -DCMAKE_CXX_COMPILER=clang++; "
                    "Debian: clang libclang-rt-dev libomp-dev); the fuzz targets are skipped")
  endif()
endif()
if(EFFNET_SANITIZED)
  if(EFFNET_WITH_CUDA)
    message(FATAL_ERROR "effnet: sanitizer and fuzz builds are CPU-only: configure with -DEFFNET_CUDA=OFF")
  endif()
  # -g1: line tables only, so reports name file:line without the cost of full debug info.
  add_compile_options("$<$<COMPILE_LANGUAGE:CXX>:${EFFNET_SANITIZER_FLAGS};-g1>")
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    # The instrumentation keeps clang from vectorizing a few `omp simd` loops, which it reports as
    # a warning (-Wpass-failed); in these builds speed does not matter.
    add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-Wno-pass-failed>)
  endif()
  add_link_options(${EFFNET_SANITIZER_FLAGS})
  # stb_image_write's JPEG encoder left-shifts negative values (defined since C++20 and by GCC and
  # clang, undefined in C++17): not checked in the file that compiles stb; every other check stays.
  set_source_files_properties(${CMAKE_SOURCE_DIR}/framework/data/image.cpp PROPERTIES
                              COMPILE_OPTIONS "-fno-sanitize=shift-base")
  message(STATUS "effnet: sanitizers on (${EFFNET_SANITIZER_FLAGS})")
endif()
