// The CUDA runtime API on the host, but memory (memory.cpp): devices, errors, streams, events,
// kernel attributes (contract: include/cuda_runtime_api.h). A destroyed stream or event is kept
// (a tombstone), so a later use is reported rather than reaching reused memory.
#include <cuda_runtime_api.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "registry.hpp"

struct CUgraph_st {
  std::vector<std::function<void()>> ops;
};
struct CUgraphExec_st {
  std::vector<std::function<void()>> ops;
};
struct CUstream_st {
  unsigned int flags;
  CUgraph_st* capture = nullptr;  // the graph being recorded, between Begin/EndCapture
};
struct CUevent_st {
  unsigned int flags;
  bool recorded;
};

namespace emu {

void fail(const char* format, ...) {
  std::fprintf(stderr, "cuda_emu: ");
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fprintf(stderr, "\n");
  std::fflush(stderr);
  std::abort();
}

namespace {

thread_local cudaError_t last_error = cudaSuccess;
int current_device = 0;
std::atomic<int> streams_capturing{0};

void check_graph(const void* graph, const char* what) {
  std::lock_guard lock(reg().mutex);
  if (reg().live_graphs.count(graph) == 0)
    fail("%s: %p is not a live graph or executable graph", what, graph);
}

void check_event(cudaEvent_t event, const char* what) {
  std::lock_guard lock(reg().mutex);
  if (reg().live_events.count(event) == 0) fail("%s: %p is not a live event", what, (void*)event);
}

}  // namespace

cudaError_t record(cudaError_t error) {
  if (error != cudaSuccess) last_error = error;
  return error;
}

void check_stream(cudaStream_t stream, const char* what) {
  if (stream == nullptr) return;
  std::lock_guard lock(reg().mutex);
  if (reg().live_streams.count(stream) == 0)
    fail("%s: stream %p was destroyed or never created", what, (void*)stream);
}

bool capturing(cudaStream_t stream) {
  if (stream == nullptr) return false;
  std::lock_guard lock(reg().mutex);
  return stream->capture != nullptr;
}

void forbid_while_capturing(const char* what) {
  if (streams_capturing.load() > 0)
    fail("%s while a stream is being captured into a CUDA graph", what);
}

void on_stream(cudaStream_t stream, std::function<void()> op) {
  CUgraph_st* graph = nullptr;
  if (stream != nullptr) {
    std::lock_guard lock(reg().mutex);
    graph = stream->capture;
  }
  if (graph == nullptr) {
    op();
    return;
  }
  graph->ops.push_back(std::move(op));
}

size_t max_dynamic_shared(const void* kernel_key) {
  std::lock_guard lock(reg().mutex);
  auto it = reg().dynamic_shared_limits.find(kernel_key);
  return it == reg().dynamic_shared_limits.end() ? shared_default_bytes : it->second;
}

}  // namespace emu

using emu::record;

// -- devices and errors --

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  *device = emu::current_device;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  if (device != 0) return record(cudaErrorInvalidDevice);
  emu::current_device = device;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (device != 0) return record(cudaErrorInvalidDevice);
  switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock:
      *value = 1024;
      return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlock:
      *value = static_cast<int>(emu::shared_default_bytes);
      return cudaSuccess;
    case cudaDevAttrWarpSize:
      *value = 32;
      return cudaSuccess;
    case cudaDevAttrMultiProcessorCount:
      *value = emu::num_sms;
      return cudaSuccess;
    case cudaDevAttrL2CacheSize:
      *value = 50 << 20;
      return cudaSuccess;
    case cudaDevAttrComputeCapabilityMajor:
      *value = 9;
      return cudaSuccess;
    case cudaDevAttrComputeCapabilityMinor:
      *value = 0;
      return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor:
      *value = 233472;
      return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin:
      *value = static_cast<int>(emu::shared_optin_bytes);
      return cudaSuccess;
  }
  emu::fail("cudaDeviceGetAttribute: attribute %d is not emulated", static_cast<int>(attr));
}

cudaError_t cudaDeviceSynchronize() {
  emu::forbid_while_capturing("cudaDeviceSynchronize");
  return cudaSuccess;
}

cudaError_t cudaGetLastError() {
  const cudaError_t e = emu::last_error;
  emu::last_error = cudaSuccess;
  return e;
}

cudaError_t cudaPeekAtLastError() {
  return emu::last_error;
}

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "cudaSuccess";
    case cudaErrorInvalidValue:
      return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation:
      return "cudaErrorMemoryAllocation";
    case cudaErrorInitializationError:
      return "cudaErrorInitializationError";
    case cudaErrorInvalidConfiguration:
      return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDeviceFunction:
      return "cudaErrorInvalidDeviceFunction";
    case cudaErrorNoDevice:
      return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice:
      return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle:
      return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady:
      return "cudaErrorNotReady";
    case cudaErrorLaunchOutOfResources:
      return "cudaErrorLaunchOutOfResources";
    case cudaErrorNotSupported:
      return "cudaErrorNotSupported";
    case cudaErrorStreamCaptureUnsupported:
      return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorIllegalState:
      return "cudaErrorIllegalState";
  }
  return "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "no error";
    case cudaErrorInvalidValue:
      return "invalid argument";
    case cudaErrorMemoryAllocation:
      return "out of memory";
    case cudaErrorInvalidConfiguration:
      return "invalid configuration argument";
    case cudaErrorInvalidDevice:
      return "invalid device ordinal";
    default:
      return "emulated CUDA error";
  }
}

// -- streams and events --

cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  return cudaStreamCreateWithFlags(stream, cudaStreamDefault);
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags) {
  *stream = new CUstream_st{flags};
  std::lock_guard lock(emu::reg().mutex);
  emu::reg().live_streams.insert(*stream);
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  std::lock_guard lock(emu::reg().mutex);
  if (emu::reg().live_streams.count(stream) != 0 && stream->capture != nullptr)
    emu::fail("cudaStreamDestroy(%p): the stream is being captured", (void*)stream);
  if (emu::reg().live_streams.erase(stream) == 0)
    emu::fail("cudaStreamDestroy(%p): not a live stream", (void*)stream);
  emu::reg().tombstones.push_back(stream);
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  emu::check_stream(stream, "cudaStreamSynchronize");
  if (emu::capturing(stream)) emu::fail("cudaStreamSynchronize on a stream being captured");
  return cudaSuccess;
}

cudaError_t cudaStreamQuery(cudaStream_t stream) {
  emu::check_stream(stream, "cudaStreamQuery");
  return cudaSuccess;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int) {
  emu::check_stream(stream, "cudaStreamWaitEvent");
  emu::check_event(event, "cudaStreamWaitEvent");
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  return cudaEventCreateWithFlags(event, cudaEventDefault);
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int flags) {
  *event = new CUevent_st{flags, false};
  std::lock_guard lock(emu::reg().mutex);
  emu::reg().live_events.insert(*event);
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  std::lock_guard lock(emu::reg().mutex);
  if (emu::reg().live_events.erase(event) == 0)
    emu::fail("cudaEventDestroy(%p): not a live event", (void*)event);
  emu::reg().tombstones.push_back(event);
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  emu::check_event(event, "cudaEventRecord");
  emu::check_stream(stream, "cudaEventRecord");
  event->recorded = true;
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  emu::check_event(event, "cudaEventSynchronize");
  return cudaSuccess;
}

cudaError_t cudaEventQuery(cudaEvent_t event) {
  emu::check_event(event, "cudaEventQuery");
  return cudaSuccess;
}

// No timing here: two recorded events are 0 ms apart.
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  emu::check_event(start, "cudaEventElapsedTime");
  emu::check_event(end, "cudaEventElapsedTime");
  if (!start->recorded || !end->recorded) return record(cudaErrorInvalidResourceHandle);
  *ms = 0.0f;
  return cudaSuccess;
}

// -- graphs --

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode) {
  if (stream == nullptr) return record(cudaErrorStreamCaptureUnsupported);  // the legacy stream
  emu::check_stream(stream, "cudaStreamBeginCapture");
  std::lock_guard lock(emu::reg().mutex);
  if (stream->capture != nullptr) return record(cudaErrorIllegalState);
  stream->capture = new CUgraph_st;
  ++emu::streams_capturing;
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  emu::check_stream(stream, "cudaStreamEndCapture");
  std::lock_guard lock(emu::reg().mutex);
  if (stream == nullptr || stream->capture == nullptr) return record(cudaErrorIllegalState);
  *graph = stream->capture;
  stream->capture = nullptr;
  --emu::streams_capturing;
  emu::reg().live_graphs.insert(*graph);
  return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status) {
  emu::check_stream(stream, "cudaStreamIsCapturing");
  *status = emu::capturing(stream) ? cudaStreamCaptureStatusActive : cudaStreamCaptureStatusNone;
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  emu::check_graph(graph, "cudaGraphInstantiate");
  *exec = new CUgraphExec_st{graph->ops};
  std::lock_guard lock(emu::reg().mutex);
  emu::reg().live_graphs.insert(*exec);
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  emu::check_graph(exec, "cudaGraphLaunch");
  emu::check_stream(stream, "cudaGraphLaunch");
  if (emu::capturing(stream)) emu::fail("cudaGraphLaunch: nested capture is not emulated");
  const cudaError_t earlier = emu::last_error;
  for (const auto& op : exec->ops) {
    emu::last_error = cudaSuccess;
    op();
    if (emu::last_error != cudaSuccess)
      emu::fail("cudaGraphLaunch: a captured operation failed on replay: %s",
                cudaGetErrorName(emu::last_error));
  }
  emu::last_error = earlier;
  return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  std::lock_guard lock(emu::reg().mutex);
  if (emu::reg().live_graphs.erase(graph) == 0)
    emu::fail("cudaGraphDestroy(%p): not a live graph", (void*)graph);
  delete graph;
  return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  std::lock_guard lock(emu::reg().mutex);
  if (emu::reg().live_graphs.erase(exec) == 0)
    emu::fail("cudaGraphExecDestroy(%p): not a live executable graph", (void*)exec);
  delete exec;
  return cudaSuccess;
}

// -- kernels --

cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
  if (func == nullptr) return record(cudaErrorInvalidDeviceFunction);
  if (attr == cudaFuncAttributePreferredSharedMemoryCarveout) return cudaSuccess;
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize)
    emu::fail("cudaFuncSetAttribute: attribute %d is not emulated", static_cast<int>(attr));
  if (value < 0 || static_cast<size_t>(value) > emu::shared_optin_bytes)
    return record(cudaErrorInvalidValue);
  std::lock_guard lock(emu::reg().mutex);
  emu::reg().dynamic_shared_limits[func] = static_cast<size_t>(value);
  return cudaSuccess;
}
