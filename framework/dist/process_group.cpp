// The job's process group (see process_group.h).
#include "framework/dist/process_group.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "framework/dist/backends.h"

namespace effnet::dist {
namespace {

struct Group {
  std::unique_ptr<Communicator> host = make_single_process();
  std::unique_ptr<Communicator> device;  // NCCL, made on the first CUDA collective
  bool launched = false;                 // MPI initialised by init()
};

Group& group() {
  static Group g;
  return g;
}

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

bool launched_by_mpi() {
  return env("OMPI_COMM_WORLD_SIZE") || env("PMIX_RANK") || env("PMI_RANK") || env("PMI_SIZE") ||
         (env("EFFNET_MPI") && std::string(env("EFFNET_MPI")) == "1");
}

}  // namespace

int init() {
  Group& g = group();
  if (g.launched) return g.host->size();
  if (launched_by_mpi()) {
#ifdef EFFNET_WITH_MPI
    g.host = detail::make_mpi_world();
    g.launched = true;
    return g.host->size();
#else
    EFFNET_THROW("this process was started by an MPI launcher (mpirun/srun), but effnet was built without MPI: "
                 "run scripts/setup.sh (it installs OpenMPI) and rebuild");
#endif
  }
  if (const char* ws = env("WORLD_SIZE")) {
    EFFNET_CHECK(std::atoll(ws) <= 1, "WORLD_SIZE=", ws,
                 " is set (torchrun / a Slurm script), but effnet joins a multi-process job only through MPI: "
                 "launch it with `mpirun -np N effnet ...` or `srun --mpi=pmix effnet ...` "
                 "(docs/distributed.md); the RANK/WORLD_SIZE/MASTER_ADDR rendezvous is not implemented");
  }
  return 1;
}

void finalize() {
  Group& g = group();
  if (!g.launched) return;
  g.device.reset();
  g.host = make_single_process();
  g.launched = false;
#ifdef EFFNET_WITH_MPI
  detail::finalize_mpi();
#endif
}

bool distributed() { return group().launched; }
int rank() { return group().host->rank(); }
int world_size() { return group().host->size(); }

const char* backend() {
  Group& g = group();
  if (!g.launched) return "single";
  return g.device ? "mpi+nccl" : "mpi";
}

Communicator& communicator(Device device) {
  Group& g = group();
  if (!device.is_cuda() || !g.launched) return *g.host;
  if (!g.device) {
#ifdef EFFNET_WITH_NCCL
    g.device = detail::make_nccl(*g.host);
#else
    EFFNET_THROW("a collective on a CUDA tensor needs NCCL, and this build has none (a CUDA build with NCCL and MPI)");
#endif
  }
  return *g.device;
}

void all_reduce(const Tensor& t, ReduceOp op) { communicator(t.device()).all_reduce(t, op); }
std::unique_ptr<Work> all_reduce_async(const Tensor& t, ReduceOp op) {
  return communicator(t.device()).all_reduce_async(t, op);
}
void broadcast(const Tensor& t, int root) { communicator(t.device()).broadcast(t, root); }
void barrier() { host().barrier(); }

void abort(int code) {
#ifdef EFFNET_WITH_MPI
  if (group().launched) detail::abort_mpi(code);
#endif
  std::_Exit(code);
}

Range shard_of(int64_t n, int r, int world) {
  const int64_t base = n / world, extra = n % world;
  Range out;
  out.begin = r * base + std::min<int64_t>(r, extra);
  out.end = out.begin + base + (r < extra ? 1 : 0);
  return out;
}

}  // namespace effnet::dist
