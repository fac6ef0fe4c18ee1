"""The PTX audit's instruction check (cuda/audit-ptx.sh): nothing in the PTX may break bit
identity with the scalar definition.

Every floating-point add, sub, mul, fma, div, sqrt and rcp must carry .rn (so ptxas can
neither fuse nor approximate it); nothing may be .approx or .ftz; no mad on floats; none of
the approximate-only instructions (ex2, lg2, sin, cos, rsqrt, tanh); no f64 arithmetic
outside the Langevin step size and thresholding (which compute in f64 with the host's
operations, all correctly rounded).

usage: audit_ptx.py FILE.ptx ...   (exit 1 with the offending lines on failure)
"""
import collections
import re
import sys

FLOAT_TYPES = {"f32", "f64", "f16", "f16x2", "bf16", "bf16x2"}
NEEDS_RN = {"add", "sub", "mul", "fma", "div", "sqrt", "rcp"}
APPROX_ONLY = {"ex2", "lg2", "sin", "cos", "rsqrt", "tanh"}
# The kernels that compute in f64 exactly as the host does: the Langevin step size, and
# thresholding's quantile, clamp and division.
F64_ALLOWED = ("langevin.ptx", "threshold.ptx")


def audit(path: str) -> tuple[list[str], collections.Counter]:
    problems: list[str] = []
    counts: collections.Counter = collections.Counter()
    for number, line in enumerate(open(path, encoding="ascii"), 1):
        code = line.split("//")[0].strip()
        if not code or code.startswith((".", "}", "{")) or code.endswith(":"):
            continue
        if code.startswith("@"):  # predicated: drop the guard
            code = code.split(None, 1)[1]
        mnemonic = code.split()[0].rstrip(";")
        parts = mnemonic.split(".")
        opcode, modifiers = parts[0], set(parts[1:])
        where = f"{path}:{number}: {code}"
        if "approx" in modifiers or "ftz" in modifiers:
            problems.append(f"{where}  (.approx/.ftz)")
        if not modifiers & FLOAT_TYPES:
            continue
        counts[mnemonic] += 1
        if opcode in APPROX_ONLY:
            problems.append(f"{where}  (approximate-only instruction)")
        elif opcode == "mad":
            problems.append(f"{where}  (mad on floats: use fma.rn)")
        elif opcode in NEEDS_RN and "rn" not in modifiers:
            problems.append(f"{where}  (needs .rn)")
        if "f64" in modifiers and opcode in NEEDS_RN and not path.endswith(F64_ALLOWED):
            problems.append(f"{where}  (f64 arithmetic)")
    return problems, counts


def main() -> None:
    failed = False
    for path in sys.argv[1:]:
        problems, counts = audit(path)
        arithmetic = {m: n for m, n in counts.items() if m.split(".")[0] in NEEDS_RN}
        print(f"{path}: " + ", ".join(f"{n} {m}" for m, n in sorted(arithmetic.items())))
        for p in problems:
            print(p)
        failed |= bool(problems)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
