//! `ITO_BACKEND` is read once per process, so each case runs this test binary again as a
//! child process with the variable set, and reads what the child reports.

use std::process::Command;

/// In a child (ITO_TEST_CHILD set): print what `backend()` returns. Otherwise: nothing.
#[test]
fn child_reports_backend() {
    if std::env::var_os("ITO_TEST_CHILD").is_none() {
        return;
    }
    match ito::backend() {
        Ok(b) => println!("BACKEND={b}"),
        Err(e) => println!("ERROR={e:?}"),
    }
    let mut y = vec![0.0f32; 8];
    let noise = ito::Noise {
        key: ito::NoiseKey {
            seed: 1,
            stream: 0,
            step: 0,
        },
        offset: 0,
    };
    println!(
        "FILL_OK={}",
        ito::fill_normal(y.as_mut_slice().into(), 0.0, 1.0, noise).is_ok()
    );
}

/// The child's output; `None` (the case is skipped, with a message) where the test binary
/// cannot be executed again. Under cross-testing (CI runs the aarch64 tests in qemu-user),
/// the child is started through the same runner cargo used.
fn run_child(value: &str) -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let runner = std::env::var("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER")
        .ok()
        .filter(|_| cfg!(target_arch = "aarch64"));
    let mut cmd = match runner {
        Some(r) => {
            let mut parts = r.split_whitespace();
            let mut c = Command::new(parts.next()?);
            c.args(parts).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    let out = cmd
        .args([
            "--exact",
            "child_reports_backend",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ITO_TEST_CHILD", "1")
        .env("ITO_BACKEND", value)
        .output();
    match out {
        Ok(o) => Some(String::from_utf8_lossy(&o.stdout).into_owned()),
        Err(e) => {
            eprintln!("skipped: cannot re-run the test binary here ({e})");
            None
        }
    }
}

#[test]
fn env_var_forces_scalar() {
    let Some(out) = run_child("scalar") else {
        return;
    };
    assert!(
        out.contains("BACKEND=scalar") && out.contains("FILL_OK=true"),
        "{out}"
    );
}

#[test]
fn env_var_with_an_unknown_name_is_an_error() {
    let Some(out) = run_child("tpu") else { return };
    assert!(
        out.contains("ERROR=UnknownBackend") && out.contains("FILL_OK=false"),
        "{out}"
    );
}

#[test]
fn env_var_naming_a_missing_backend_is_an_error_not_a_fallback() {
    let Some(out) = run_child("cuda") else { return };
    if ito::Backend::Cuda.is_available() {
        // A GPU machine: the named backend is used (host slices staged through the device).
        assert!(
            out.contains("BACKEND=cuda") && out.contains("FILL_OK=true"),
            "{out}"
        );
        return;
    }
    assert!(
        out.contains("ERROR=BackendUnavailable") && out.contains("FILL_OK=false"),
        "{out}"
    );
}

#[test]
fn empty_env_var_means_the_best_backend() {
    let Some(out) = run_child("") else { return };
    let best = ito::runtime::backend::best_backend();
    assert!(out.contains(&format!("BACKEND={best}")), "{out}");
}
