import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";

/**
 * Which CUDA libraries node-llama-cpp's CUDA build needs and cannot find. Its prebuilt links
 * the CUDA runtime and cuBLAS dynamically without bundling them, and `gpu: "auto"` quietly
 * falls back to the CPU when one is missing, so the server names them instead.
 */
const NEEDED: { name: string; files: RegExp; hint: string }[] = [
  {
    name: "NVIDIA driver (libcuda.so.1)",
    files: /^libcuda\.so\.1$/,
    hint: "install the NVIDIA driver (nvidia-smi must work)",
  },
  {
    name: "CUDA runtime (libcudart.so.13 or .12)",
    files: /^libcudart\.so\.1[23]$/,
    hint: "install the CUDA toolkit or the cuda-cudart package",
  },
  {
    name: "cuBLAS (libcublas.so.13 or .12)",
    files: /^libcublas\.so\.1[23]$/,
    hint: "install libcublas (part of the CUDA toolkit)",
  },
  {
    name: "cuBLASLt (libcublasLt.so.13 or .12)",
    files: /^libcublasLt\.so\.1[23]$/,
    hint: "install libcublas (part of the CUDA toolkit)",
  },
];

function libraryNames(): Set<string> {
  const names = new Set<string>();
  try {
    const out = execFileSync("ldconfig", ["-p"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    for (const m of out.matchAll(/^\s*(\S+) \(/gm)) if (m[1]) names.add(m[1]);
  } catch {
    // no ldconfig: the folders below still count
  }
  const dirs = [
    ...(process.env.LD_LIBRARY_PATH ?? "").split(":"),
    "/usr/local/cuda/lib64",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib64",
  ];
  try {
    for (const d of readdirSync("/usr/local")) if (d.startsWith("cuda")) dirs.push(path.join("/usr/local", d, "lib64"));
  } catch {
    // no /usr/local
  }
  for (const dir of dirs) {
    if (dir === "" || !existsSync(dir)) continue;
    try {
      for (const f of readdirSync(dir)) names.add(f);
    } catch {
      // unreadable folder
    }
  }
  return names;
}

/** True when this machine seems to have an NVIDIA GPU at all. */
export function hasNvidiaGpu(): boolean {
  return existsSync("/proc/driver/nvidia/version") || existsSync("/dev/nvidia0");
}

/** The missing libraries, each with how to get it; empty when everything is there. */
export function missingCudaLibraries(): string[] {
  const names = libraryNames();
  return NEEDED.filter((n) => ![...names].some((f) => n.files.test(f))).map((n) => `${n.name}: ${n.hint}`);
}
