"""Compiles one cuda/*.cu file to PTX with NVRTC (through ctypes), for cuda/build-ptx.sh.

usage: nvrtc_compile.py LIBNVRTC SOURCE.cu OUT.ptx
The options are fixed here: they are part of what makes the PTX bit-identical to the scalar
definition (--fmad=false: no contraction of a·b + c; correctly rounded / and √; no ftz).
"""
import ctypes
import pathlib
import sys

OPTIONS = [
    b"--gpu-architecture=compute_70",
    b"--fmad=false",
    b"--prec-div=true",
    b"--prec-sqrt=true",
    b"--ftz=false",
    b"--std=c++17",
]


def main() -> None:
    lib_path, source_path, out_path = sys.argv[1:4]
    nvrtc = ctypes.CDLL(lib_path)
    nvrtc.nvrtcGetErrorString.restype = ctypes.c_char_p
    source = pathlib.Path(source_path)

    def check(status: int, what: str) -> None:
        if status != 0:
            raise SystemExit(f"{what}: {nvrtc.nvrtcGetErrorString(status).decode()}")

    prog = ctypes.c_void_p()
    check(
        nvrtc.nvrtcCreateProgram(
            ctypes.byref(prog), source.read_bytes(), source.name.encode(), 0, None, None
        ),
        "nvrtcCreateProgram",
    )
    options = OPTIONS + [b"--include-path=" + str(source.parent.resolve()).encode()]
    argv = (ctypes.c_char_p * len(options))(*options)
    status = nvrtc.nvrtcCompileProgram(prog, len(options), argv)
    log_size = ctypes.c_size_t()
    nvrtc.nvrtcGetProgramLogSize(prog, ctypes.byref(log_size))
    log = ctypes.create_string_buffer(log_size.value)
    nvrtc.nvrtcGetProgramLog(prog, log)
    if log.value.strip():
        sys.stderr.write(log.value.decode())
    check(status, f"compiling {source}")
    size = ctypes.c_size_t()
    check(nvrtc.nvrtcGetPTXSize(prog, ctypes.byref(size)), "nvrtcGetPTXSize")
    ptx = ctypes.create_string_buffer(size.value)
    check(nvrtc.nvrtcGetPTX(prog, ptx), "nvrtcGetPTX")
    nvrtc.nvrtcDestroyProgram(ctypes.byref(prog))
    pathlib.Path(out_path).write_bytes(ptx.value)


if __name__ == "__main__":
    main()
