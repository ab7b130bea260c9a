#pragma once
// Weight matrices in their storage formats (backend::weight_format, held as weight_matrix =
// backend::weight_data): which GGUF types map to which format, and the conversions the loaders,
// --dtype and tensor-parallel slicing need. Every matrix is [rows][cols], row-major; a block
// format's row is cols / block_elements blocks.
//
// A random matrix (`random` set, --load-format dummy) holds no values: the backend generates
// them (runtime/backend/random_weight.hpp). The conversions keep it random: --dtype changes its
// format, a slice is a random matrix of the slice's shape with a seed of its own
// (random_slice_fill), and only matrix_to_f32 materializes its values.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "runtime/model/llama_weights.hpp"

namespace troupe::runtime {

// The format that keeps a GGUF tensor of ggml type `type` as it is stored: F32, F16, BF16, Q8_0,
// Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K; nullopt for the others (dequantized to f32 at load).
std::optional<backend::weight_format> weight_format_of_ggml(uint32_t type);

// The ggml type id of a format stored as ggml stores it (every format but w8a8 ones).
std::optional<uint32_t> ggml_type_of(backend::weight_format format);

// The f32 values of a [rows][cols] matrix: exact for dense formats, the dequantized values of
// blocks (runtime/formats/dequant), q * scale of the row for w8a8; a random matrix's generated
// values.
std::vector<float> matrix_to_f32(const weight_matrix& m, int64_t rows, int64_t cols);

// `values` stored as `format` (f32, bf16 or f16; rounded to nearest even, as a cast does).
weight_matrix dense_matrix(std::vector<float> values, backend::weight_format format);

// A random matrix of `format` (no data). requires: backend::is_random_format(format).
weight_matrix random_matrix(backend::weight_format format, const backend::random_fill& fill);

// Rows [begin, begin + count) of a [.][cols] matrix; rows past its end are zeros (a random
// matrix's are random: they are only the padding of the last vocab shard).
weight_matrix matrix_rows(const weight_matrix& m, int64_t cols, int64_t begin, int64_t count);

// Columns [begin, begin + count) of a [rows][cols] matrix, in the same format when the range
// falls on block boundaries, else as f32 (a block cannot be split).
weight_matrix matrix_cols(const weight_matrix& m, int64_t rows, int64_t cols, int64_t begin,
                          int64_t count);

// Whether `m` holds exactly a [rows][cols] matrix of its format (values, bytes and scales); a
// random matrix: no data, a format that can be generated and a positive finite bound.
bool has_shape(const weight_matrix& m, int64_t rows, int64_t cols);

// The bytes a [rows][cols] matrix takes in its format (its values or bytes, and its scales),
// held or, for a random matrix, once generated.
int64_t matrix_bytes(const weight_matrix& m, int64_t rows, int64_t cols);

}  // namespace troupe::runtime
