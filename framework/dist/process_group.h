// The job's process group: which rank this process is among how many, and the collectives over
// them, as torch.distributed's default group. One per process, set up once by init():
//   launched by mpirun / mpiexec / srun (OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_RANK set, or
//   EFFNET_MPI=1): MPI, world size N (1 included: `mpirun -np 1` runs the distributed code path)
//   otherwise: the single-process group, world size 1, no library involved.
// Collectives pick their backend by the tensor's device: CPU tensors go over MPI, CUDA tensors
// over NCCL (made on first use, the current GPU). Every rank must call the same collectives in the
// same order (communicator.h). Without init() the group is the single-process one.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <memory>
#include <vector>

#include "framework/dist/communicator.h"

namespace effnet::dist {

// Sets up the group from the environment; returns its world size. Throws when the environment
// asks for more than one process in a way this build cannot serve (torchrun's RANK/WORLD_SIZE
// without MPI, or mpirun with a build that has no MPI).
int init();
// Ends MPI (every rank calls it once, at the end); the group is single-process again after.
void finalize();
// True between init() of a launched job (MPI) and finalize(): the data-parallel code paths run,
// also at world size 1.
bool distributed();
int rank();
int world_size();
inline bool is_main() { return rank() == 0; }
const char* backend();  // "single", "mpi" (and "mpi+nccl" once a CUDA tensor was reduced)

// The communicator serving tensors on `device`: the host one for the CPU, NCCL for CUDA.
Communicator& communicator(Device device);
inline Communicator& host() { return communicator(Device::cpu()); }

void all_reduce(const Tensor& t, ReduceOp op = ReduceOp::Sum);
std::unique_ptr<Work> all_reduce_async(const Tensor& t, ReduceOp op = ReduceOp::Sum);
void broadcast(const Tensor& t, int root = 0);
void barrier();
// Ends every rank of the job with this exit code (MPI_Abort), or this process when single.
[[noreturn]] void abort(int code);

// Every rank's values, concatenated in rank order (the counts may differ between ranks).
template <class T>
std::vector<T> all_gather(const std::vector<T>& mine) {
  static_assert(std::is_trivially_copyable<T>::value, "all_gather: plain values only");
  std::vector<uint8_t> bytes = host().all_gather_bytes(mine.data(), mine.size() * sizeof(T));
  std::vector<T> out(bytes.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
  return out;
}

// [begin, end) of rank r's contiguous share of n items (the first n % world ranks get one more):
// how evaluation and prediction split their images, gathered back in rank order.
struct Range {
  int64_t begin = 0, end = 0;
};
Range shard_of(int64_t n, int r, int world);

}  // namespace effnet::dist
