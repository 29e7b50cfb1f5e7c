// Collectives across the processes of one data-parallel job: rank and world size, all-reduce,
// broadcast, all-gather, barrier, abort. One interface, three implementations:
//   single process  world size 1, every collective the identity (no library needed)
//   MPI             CPU tensors and host data (OpenMPI; the job is launched by mpirun or srun);
//                   compiled when MPI is found (mpi_communicator.cpp)
//   NCCL            CUDA tensors, its unique id broadcast over MPI; compiled in CUDA builds with
//                   NCCL and MPI (nccl_communicator.cu)
// The process group (process_group.h) holds one host communicator and, once a CUDA tensor is
// reduced, one device communicator, and picks between them by the tensor's device.
//
// Every rank must call the same collectives in the same order with tensors of the same shape and
// dtype, as with MPI itself; a rank that fails calls dist::abort() (process_group.h), which ends
// every rank of the job.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "framework/core/tensor.h"

namespace effnet::dist {

enum class ReduceOp { Sum, Mean };

// An outstanding non-blocking collective. wait() returns once the tensor holds the result (for
// CUDA: once the result is ordered before later work on the compute stream).
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual const char* backend() const = 0;  // "single", "mpi", "nccl"
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // t = op over the ranks of t, in place on every rank. t: float32, float64 or int64 (Mean:
  // floating only), contiguous, on the device this communicator serves.
  virtual std::unique_ptr<Work> all_reduce_async(const Tensor& t, ReduceOp op) = 0;
  void all_reduce(const Tensor& t, ReduceOp op = ReduceOp::Sum) { all_reduce_async(t, op)->wait(); }
  // t = root's t on every rank.
  virtual void broadcast(const Tensor& t, int root) = 0;
  // Every rank's bytes, concatenated in rank order; the sizes may differ between ranks.
  virtual std::vector<uint8_t> all_gather_bytes(const void* data, size_t bytes) = 0;
  virtual void barrier() = 0;
  // Lets outstanding non-blocking collectives advance (MPI progresses them only inside its calls).
  virtual void progress() {}
};

// The single-process communicator: rank 0 of 1.
std::unique_ptr<Communicator> make_single_process();

}  // namespace effnet::dist
