#include "runtime/backend/cuda/nccl_communicator.hpp"

#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <nccl.h>

#include <atomic>
#include <mutex>
#include <string>

#include "kernels/cuda/device.hpp"
#include "runtime/backend/cuda/cuda_backend.hpp"

namespace troupe::backend {

// The NCCL entry points troupe uses, resolved from libnccl.so.2.
struct nccl_group::library {
  void* handle = nullptr;
  decltype(&ncclCommInitAll) comm_init_all = nullptr;
  decltype(&ncclCommDestroy) comm_destroy = nullptr;
  decltype(&ncclCommAbort) comm_abort = nullptr;
  decltype(&ncclAllReduce) all_reduce = nullptr;
  decltype(&ncclAllGather) all_gather = nullptr;
  decltype(&ncclBroadcast) broadcast = nullptr;
  decltype(&ncclGetErrorString) error_string = nullptr;
  std::atomic<bool> aborted{false};
  std::mutex abort_mutex;

  ~library() {
    if (handle != nullptr) dlclose(handle);
  }

  status load() {
    handle = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      return error{
          std::string("tensor parallelism on GPUs needs NCCL: cannot load libnccl.so.2 (") +
          dlerror() + ")"};
    }
    bool missing = false;
    auto resolve = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(handle, name));
      missing = missing || fn == nullptr;
    };
    resolve(comm_init_all, "ncclCommInitAll");
    resolve(comm_destroy, "ncclCommDestroy");
    resolve(comm_abort, "ncclCommAbort");
    resolve(all_reduce, "ncclAllReduce");
    resolve(all_gather, "ncclAllGather");
    resolve(broadcast, "ncclBroadcast");
    resolve(error_string, "ncclGetErrorString");
    if (missing) return error{"libnccl.so.2 lacks an NCCL function troupe needs"};
    return ok_status();
  }
};

result<std::shared_ptr<nccl_group>> nccl_group::create(int32_t world_size, int32_t first_device) {
  const int devices = kernels::cuda::cuda_device_count();
  if (first_device + world_size > devices) {
    return error{"--tensor-parallel-size " + std::to_string(world_size) + " needs " +
                 std::to_string(first_device + world_size) + " GPUs; " + std::to_string(devices) +
                 " found"};
  }
  std::shared_ptr<nccl_group> group(new nccl_group());
  group->first_device_ = first_device;
  group->lib_ = std::make_unique<library>();
  if (auto st = group->lib_->load(); !st) return st.err();
  std::vector<ncclComm_t> comms(static_cast<size_t>(world_size));
  std::vector<int> devlist(static_cast<size_t>(world_size));
  for (int i = 0; i < world_size; ++i)
    devlist[static_cast<size_t>(i)] = first_device + i;
  const ncclResult_t r = group->lib_->comm_init_all(comms.data(), world_size, devlist.data());
  if (r != ncclSuccess) {
    return error{std::string("NCCL initialization failed: ") + group->lib_->error_string(r)};
  }
  for (int32_t i = 0; i < world_size; ++i) {
    group->ranks_.push_back(std::unique_ptr<nccl_communicator>(
        new nccl_communicator(*group, i, comms[static_cast<size_t>(i)])));
  }
  return group;
}

nccl_group::~nccl_group() {
  for (auto& r : ranks_) {
    cudaSetDevice(first_device_ + r->rank());
    if (lib_->aborted) continue;  // an aborted communicator is already freed
    lib_->comm_destroy(static_cast<ncclComm_t>(r->comm_));
  }
}

bool nccl_group::aborted() const {
  return lib_->aborted;
}

void nccl_group::abort_all() {
  std::lock_guard lock(lib_->abort_mutex);
  if (lib_->aborted) return;
  for (auto& r : ranks_)
    lib_->comm_abort(static_cast<ncclComm_t>(r->comm_));
  lib_->aborted = true;
}

nccl_communicator::~nccl_communicator() = default;

int32_t nccl_communicator::world_size() const {
  return group_.world_size();
}

void nccl_communicator::check(int result, const char* what) const {
  if (result == ncclSuccess) return;
  throw cuda_backend_error(std::string("NCCL ") + what + " failed at rank " +
                           std::to_string(rank_) + ": " +
                           group_.lib_->error_string(static_cast<ncclResult_t>(result)));
}

void nccl_communicator::begin_step() {
  if (group_.aborted()) throw collective_aborted("the NCCL group was aborted by a failed step");
}

void nccl_communicator::all_reduce_sum(float* data, int64_t n) {
  begin_step();
  check(group_.lib_->all_reduce(data, data, static_cast<size_t>(n), ncclFloat32, ncclSum,
                                static_cast<ncclComm_t>(comm_), static_cast<cudaStream_t>(stream_)),
        "all-reduce");
}

void nccl_communicator::all_gather(const float* in, int64_t n, float* out) {
  begin_step();
  check(group_.lib_->all_gather(in, out, static_cast<size_t>(n), ncclFloat32,
                                static_cast<ncclComm_t>(comm_), static_cast<cudaStream_t>(stream_)),
        "all-gather");
}

void nccl_communicator::broadcast(float* data, int64_t n, int32_t root) {
  begin_step();
  check(group_.lib_->broadcast(data, data, static_cast<size_t>(n), ncclFloat32, root,
                               static_cast<ncclComm_t>(comm_), static_cast<cudaStream_t>(stream_)),
        "broadcast");
}

void nccl_communicator::abort() {
  group_.abort_all();
}

}  // namespace troupe::backend
