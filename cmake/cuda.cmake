# TROUPE_CUDA=AUTO|ON|OFF decides whether kernels/cuda is compiled with nvcc.
# Sets TROUPE_HAVE_CUDA. The CPU build never depends on it.
set(TROUPE_HAVE_CUDA OFF)
if(NOT TROUPE_CUDA STREQUAL "OFF")
  if(NOT DEFINED CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 90)  # H100/H200; "native" fails without a GPU
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(TROUPE_HAVE_CUDA ON)
    # The CUDA backend is a plugin (libtroupe_cuda.so) that carries the libraries it uses, so
    # they are compiled position-independent; -fno-semantic-interposition keeps GCC inlining
    # and calling them as directly as in an executable.
    set(CMAKE_POSITION_INDEPENDENT_CODE ON)
    add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fno-semantic-interposition>)
  elseif(TROUPE_CUDA STREQUAL "ON")
    message(FATAL_ERROR "TROUPE_CUDA=ON but no CUDA compiler (nvcc) was found")
  endif()
endif()
message(STATUS "troupe: CUDA backend ${TROUPE_HAVE_CUDA}")
