// The constructors of the library-backed communicators, for the process group only
// (process_group.cpp); each is compiled only where its library was found (CMakeLists.txt).
#pragma once

#include <memory>

#include "framework/dist/communicator.h"

namespace effnet::dist::detail {

#ifdef EFFNET_WITH_MPI
// Calls MPI_Init_thread (MPI_THREAD_FUNNELED: only the main thread calls MPI; the loader's
// workers never do) unless MPI is already initialised, and wraps MPI_COMM_WORLD.
std::unique_ptr<Communicator> make_mpi_world();
// MPI_Finalize, once, if make_mpi_world initialised MPI. Every rank must call it.
void finalize_mpi();
// MPI_Abort on MPI_COMM_WORLD: ends every rank of the job (mpirun reports the code).
[[noreturn]] void abort_mpi(int code);
#endif

#ifdef EFFNET_WITH_NCCL
// A NCCL communicator over the same ranks as `host`, on the current CUDA device: rank 0 makes the
// unique id and `host` broadcasts it. Collective over `host`; with the single-process host it is
// a world of one (tests/test_nccl.cpp compares it with the plain CUDA path).
std::unique_ptr<Communicator> make_nccl(Communicator& host);
#endif

}  // namespace effnet::dist::detail
