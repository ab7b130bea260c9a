#include <cstdio>

int main(int argc, char** argv) {
  std::puts("troupe " TROUPE_VERSION);
  return 0;
}
