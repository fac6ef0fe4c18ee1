//! Compiles the CUDA kernel sources in `cuda/` with the host C++ compiler, against
//! `cuda/host_emulation.h`, into a static library the tests link.

fn main() {
    let cuda = std::path::Path::new("..");
    let kernels = [
        "lincomb.cu",
        "fill_normal.cu",
        "reduce.cu",
        "brownian_tree.cu",
        "milstein.cu",
        "ou_bank.cu",
        "langevin.cu",
        "threshold.cu",
    ];
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .std("c++20")
        .include(cuda)
        // The device does IEEE float arithmetic with no contraction (PTX built with
        // --fmad=false); the host compiler must not fuse either.
        .flag("-ffp-contract=off")
        .flag("-fno-fast-math")
        .flag("-fno-strict-aliasing")
        .flag("-Wno-unknown-pragmas")
        .flag("-include")
        .flag(cuda.join("host_emulation.h").to_str().expect("utf-8 path"))
        .flag("-x")
        .flag("c++");
    for k in kernels {
        build.file(cuda.join(k));
    }
    build.file("launch.cpp");
    build.compile("ito_cuda_emulation");
    println!("cargo:rustc-link-lib=stdc++");
    for f in [
        "host_emulation.h",
        "philox.cuh",
        "normal.cuh",
        "storage.cuh",
        "kernel_args.cuh",
    ]
    .iter()
    .chain(kernels.iter())
    {
        println!("cargo:rerun-if-changed=../{f}");
    }
    println!("cargo:rerun-if-changed=launch.cpp");
}
