#pragma once
// Paths of test inputs: the repository's own tests/data, the shared conformance data
// (../shared/testdata, absent on a fresh clone elsewhere: tests skip), and the default model.
#include <string>

namespace troupe::testing {

std::string source_dir();
std::string repo_testdata(const std::string& relative);  // tests/data/<relative>
// ../shared/testdata/<relative>, or "" when the shared data is absent.
std::string shared_testdata(const std::string& relative);
// The default model's GGUF in the setup script's cache, or "" when it has not been fetched.
std::string default_model_gguf();

}  // namespace troupe::testing
