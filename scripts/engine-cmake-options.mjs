// The CMake options the local engine build uses (scripts/build-engine.mjs) and the runtime asks
// node-llama-cpp for (LlamaEngine: it names build folders after their CMake options, so both
// must be the same object). One source for both.
//
// - GGML_OPENMP=OFF: the persistent thread pool our patch attaches is what runs.
// - x64: AMX off. `-march=native` turns on ggml's AMX kernels on Sapphire/Emerald Rapids, and
//   on such a KVM guest (Xeon model 207, 2 vCPUs) the first Q8_0 matmul died of SIGILL at
//   `tilezero` in the local build; the prebuilt binaries ran. GCC keeps an explicit -mno-* over
//   what -march=native enables, so AVX-512 stays on. The flags go in the Release flags (with
//   CMake's own -O3 -DNDEBUG): cmake-js sets CMAKE_CXX_FLAGS itself, after custom options.
import process from "node:process";

const RELEASE_NO_AMX = "-O3 -DNDEBUG -mno-amx-tile -mno-amx-int8 -mno-amx-bf16";

/** @returns {Record<string, string>} */
export function engineCmakeOptions(arch = process.arch) {
  return arch === "x64"
    ? { GGML_OPENMP: "OFF", CMAKE_C_FLAGS_RELEASE: RELEASE_NO_AMX, CMAKE_CXX_FLAGS_RELEASE: RELEASE_NO_AMX }
    : { GGML_OPENMP: "OFF" };
}
