# CMake glue for the system dependencies (all from Debian packages, see scripts/setup.sh).
# Produces one interface target per dependency, named for what it is, so that each layer links
# only what it uses (CMakeLists.txt): effnet::openmp, effnet::openblas, effnet::hdf5, effnet::stb,
# effnet::zlib, effnet::mpi when MPI is found, and in a CUDA build effnet::cuda (runtime, cuBLAS,
# cuDNN) and effnet::nccl when NCCL is found. Sets EFFNET_WITH_CUDA, EFFNET_WITH_MPI, EFFNET_WITH_NCCL.

find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
# HDF5: Debian's through CMake's module, or one named outright (scripts/gpu-env.sh, on a machine
# whose image lacks it, names the carried Debian package's header folder and library).
if(EFFNET_HDF5_INCLUDE_DIR AND EFFNET_HDF5_LIBRARY)
  set(HDF5_INCLUDE_DIRS ${EFFNET_HDF5_INCLUDE_DIR})
  set(HDF5_C_LIBRARIES ${EFFNET_HDF5_LIBRARY})
else()
  find_package(HDF5 REQUIRED COMPONENTS C)
endif()
find_package(ZLIB REQUIRED)  # Fashion-MNIST IDX files are gzip

# OpenBLAS: Debian's libopenblas-dev provides cblas.h and libopenblas.
find_path(OPENBLAS_INCLUDE_DIR cblas.h PATHS /usr/include/x86_64-linux-gnu/openblas-pthread
          /usr/include/openblas /usr/include)
find_library(OPENBLAS_LIBRARY NAMES openblas)
if(NOT OPENBLAS_INCLUDE_DIR OR NOT OPENBLAS_LIBRARY)
  message(FATAL_ERROR "OpenBLAS not found: run scripts/setup.sh (libopenblas-dev)")
endif()

# stb_image comes from Debian's libstb-dev as headers under /usr/include/stb.
find_path(STB_INCLUDE_DIR stb_image.h PATHS /usr/include/stb ${CMAKE_SOURCE_DIR}/.deps/stb)

add_library(effnet::openmp INTERFACE IMPORTED)
target_link_libraries(effnet::openmp INTERFACE OpenMP::OpenMP_CXX Threads::Threads)
add_library(effnet::openblas INTERFACE IMPORTED)
target_include_directories(effnet::openblas INTERFACE ${OPENBLAS_INCLUDE_DIR})
target_link_libraries(effnet::openblas INTERFACE ${OPENBLAS_LIBRARY})
add_library(effnet::hdf5 INTERFACE IMPORTED)
target_include_directories(effnet::hdf5 INTERFACE ${HDF5_INCLUDE_DIRS})
target_link_libraries(effnet::hdf5 INTERFACE ${HDF5_C_LIBRARIES})
add_library(effnet::zlib INTERFACE IMPORTED)
target_link_libraries(effnet::zlib INTERFACE ZLIB::ZLIB)
add_library(effnet::stb INTERFACE IMPORTED)
if(STB_INCLUDE_DIR)
  target_include_directories(effnet::stb INTERFACE ${STB_INCLUDE_DIR})
endif()

# ---- CUDA: nvcc + cuBLAS + cuDNN, all three or none -------------------------------------------
set(EFFNET_WITH_CUDA OFF)
if(EFFNET_CUDA)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    # Architectures: what the user set, else the visible GPU ("native"), else sm_90 (H100/H200).
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      execute_process(COMMAND nvidia-smi --query-gpu=compute_cap --format=csv,noheader
                      OUTPUT_VARIABLE _cap RESULT_VARIABLE _rc ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
      if(_rc EQUAL 0 AND _cap)
        string(REGEX REPLACE "\n.*" "" _cap "${_cap}")
        string(REPLACE "." "" _cap "${_cap}")
        set(CMAKE_CUDA_ARCHITECTURES ${_cap})
      else()
        set(CMAKE_CUDA_ARCHITECTURES 90)
      endif()
    endif()
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 17)
    find_package(CUDAToolkit REQUIRED)
    find_path(CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/include/x86_64-linux-gnu /usr/include)
    find_library(CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/lib/x86_64-linux-gnu)
    if(TARGET CUDA::cublas AND CUDNN_INCLUDE_DIR AND CUDNN_LIBRARY)
      set(EFFNET_WITH_CUDA ON)
      add_library(effnet::cuda INTERFACE IMPORTED)
      target_include_directories(effnet::cuda INTERFACE ${CUDNN_INCLUDE_DIR})
      target_link_libraries(effnet::cuda INTERFACE CUDA::cudart CUDA::cublas ${CUDNN_LIBRARY})
      target_compile_definitions(effnet::cuda INTERFACE EFFNET_WITH_CUDA=1)
      message(STATUS "effnet: CUDA architectures ${CMAKE_CUDA_ARCHITECTURES}, cuDNN ${CUDNN_LIBRARY}")
    else()
      message(STATUS "effnet: nvcc found but cuBLAS or cuDNN missing; CPU-only build")
    endif()
  else()
    message(STATUS "effnet: nvcc not found; CPU-only build")
  endif()
endif()

# ---- data parallelism: MPI (launch, rendezvous, CPU collectives) and NCCL (GPU collectives) ----
# Both optional, like CUDA: without MPI the distributed layer has only its single-process backend
# (framework/dist/communicator.h), and `mpirun -np N effnet` is refused with a clear message.
set(EFFNET_WITH_MPI OFF)
option(EFFNET_MPI "Build the MPI backend of the distributed layer when MPI is found" ON)
if(EFFNET_MPI)
  find_package(MPI COMPONENTS CXX QUIET)
  if(MPI_CXX_FOUND)
    set(EFFNET_WITH_MPI ON)
    add_library(effnet::mpi INTERFACE IMPORTED)
    target_link_libraries(effnet::mpi INTERFACE MPI::MPI_CXX)
    target_compile_definitions(effnet::mpi INTERFACE EFFNET_WITH_MPI=1)
    find_program(EFFNET_MPIEXEC NAMES mpiexec mpirun)
    message(STATUS "effnet: MPI ${MPI_CXX_VERSION} (${EFFNET_MPIEXEC})")
  else()
    message(STATUS "effnet: MPI not found; single-process build (scripts/setup.sh installs OpenMPI)")
  endif()
endif()
set(EFFNET_WITH_NCCL OFF)
# Without MPI too: at world size 1 the NCCL communicator needs no peer (its CUDA tests).
if(EFFNET_WITH_CUDA)
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/include)
  find_library(NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/lib/x86_64-linux-gnu)
  if(NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
    set(EFFNET_WITH_NCCL ON)
    add_library(effnet::nccl INTERFACE IMPORTED)
    target_include_directories(effnet::nccl INTERFACE ${NCCL_INCLUDE_DIR})
    target_link_libraries(effnet::nccl INTERFACE ${NCCL_LIBRARY})
    target_compile_definitions(effnet::nccl INTERFACE EFFNET_WITH_NCCL=1)
    message(STATUS "effnet: NCCL ${NCCL_LIBRARY}")
  endif()
endif()
