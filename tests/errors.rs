//! Every bad input is a typed error naming the argument, never a panic.

use ito::{Backend, Error, LincombCoefs, Noise, NoiseKey, Problem, SegmentStats};

fn arg_of<T: std::fmt::Debug>(r: Result<T, Error>) -> (&'static str, Option<usize>, Problem) {
    match r {
        Err(Error::Argument(e)) => {
            assert!(!e.to_string().is_empty());
            (e.arg, e.index, e.problem)
        }
        other => panic!("expected an argument error, got {other:?}"),
    }
}

const KEY: NoiseKey = NoiseKey {
    seed: 1,
    stream: 0,
    step: 0,
};

#[test]
fn lincomb_rejects_bad_arguments() {
    let b = Backend::Scalar;
    let mut y = vec![0.0f32; 10];
    let short = vec![0.0f32; 9];
    let ok = vec![0.0f32; 10];
    let mut c = LincombCoefs::default();
    c.inputs[0] = 1.0;

    let (arg, idx, p) = arg_of(b.lincomb(
        y.as_mut_slice().into(),
        None,
        &[short.as_slice().into()],
        &c,
        None,
    ));
    assert_eq!(
        (arg, idx, p),
        (
            "inputs",
            Some(0),
            Problem::Length {
                expected: 10,
                found: 9
            }
        )
    );

    let mut y2 = vec![0.0f32; 3];
    let (arg, _, p) = arg_of(b.lincomb(
        y.as_mut_slice().into(),
        Some(y2.as_mut_slice().into()),
        &[ok.as_slice().into()],
        &c,
        None,
    ));
    assert_eq!(
        (arg, p),
        (
            "y2",
            Problem::Length {
                expected: 10,
                found: 3
            }
        )
    );

    let seven: Vec<ito::TensorRef> = (0..7).map(|_| ok.as_slice().into()).collect();
    let (arg, _, p) = arg_of(b.lincomb(y.as_mut_slice().into(), None, &seven, &c, None));
    assert_eq!((arg, p), ("inputs", Problem::TooMany { max: 6, found: 7 }));

    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut cc = c;
        cc.inputs[0] = bad;
        let (arg, idx, _) = arg_of(b.lincomb(
            y.as_mut_slice().into(),
            None,
            &[ok.as_slice().into()],
            &cc,
            None,
        ));
        assert_eq!((arg, idx), ("coefs.inputs", Some(0)));
        let mut cc = c;
        cc.y = bad;
        assert_eq!(
            arg_of(b.lincomb(
                y.as_mut_slice().into(),
                None,
                &[ok.as_slice().into()],
                &cc,
                None
            ))
            .0,
            "coefs.y"
        );
    }

    let mut cc = c;
    cc.inputs[3] = 0.5; // only one input given
    let (arg, idx, _) = arg_of(b.lincomb(
        y.as_mut_slice().into(),
        None,
        &[ok.as_slice().into()],
        &cc,
        None,
    ));
    assert_eq!((arg, idx), ("coefs.inputs", Some(3)));

    let mut cc = c;
    cc.noise = 0.1;
    assert_eq!(
        arg_of(b.lincomb(
            y.as_mut_slice().into(),
            None,
            &[ok.as_slice().into()],
            &cc,
            None
        ))
        .0,
        "noise"
    );

    let mut cc = c;
    cc.y2_inputs[0] = 0.1;
    assert_eq!(
        arg_of(b.lincomb(
            y.as_mut_slice().into(),
            None,
            &[ok.as_slice().into()],
            &cc,
            None
        ))
        .0,
        "y2"
    );

    let mut cc = c;
    cc.noise = 0.1;
    let far = Noise {
        key: KEY,
        offset: u64::MAX - 3,
    };
    assert_eq!(
        arg_of(b.lincomb(
            y.as_mut_slice().into(),
            None,
            &[ok.as_slice().into()],
            &cc,
            Some(far)
        ))
        .0,
        "noise.offset"
    );
}

#[test]
fn fill_normal_rejects_bad_arguments() {
    let b = Backend::Scalar;
    let mut y = vec![0.0f32; 10];
    let nz = Noise {
        key: KEY,
        offset: 0,
    };
    assert_eq!(
        arg_of(b.fill_normal(y.as_mut_slice().into(), f32::NAN, 1.0, nz)).0,
        "mean"
    );
    assert_eq!(
        arg_of(b.fill_normal(y.as_mut_slice().into(), 0.0, f32::INFINITY, nz)).0,
        "std"
    );
    assert_eq!(
        arg_of(b.fill_normal(y.as_mut_slice().into(), 0.0, -1.0, nz)).0,
        "std"
    );
    let far = Noise {
        key: KEY,
        offset: u64::MAX,
    };
    assert_eq!(
        arg_of(b.fill_normal(y.as_mut_slice().into(), 0.0, 1.0, far)).0,
        "noise.offset"
    );
}

#[test]
fn reduce_rejects_bad_arguments() {
    let b = Backend::Scalar;
    let x = vec![0.0f32; 10];
    let y = vec![0.0f32; 8];
    let mut out = vec![SegmentStats::default(); 2];
    assert_eq!(
        arg_of(b.reduce(x.as_slice().into(), None, 0, &mut out)).0,
        "segment_len"
    );
    assert_eq!(
        arg_of(b.reduce(x.as_slice().into(), None, 3, &mut out)).0,
        "x"
    );
    assert_eq!(
        arg_of(b.reduce(x.as_slice().into(), Some(y.as_slice().into()), 5, &mut out)).0,
        "y"
    );
    let (arg, _, p) = arg_of(b.reduce(x.as_slice().into(), None, 2, &mut out));
    assert_eq!(
        (arg, p),
        (
            "out",
            Problem::Length {
                expected: 5,
                found: 2
            }
        )
    );
}

#[test]
fn unavailable_or_unknown_backends_are_errors() {
    let mut y = vec![0.0f32; 4];
    let r = Backend::Cuda.fill_normal(
        y.as_mut_slice().into(),
        0.0,
        1.0,
        Noise {
            key: KEY,
            offset: 0,
        },
    );
    assert!(
        matches!(
            r,
            Err(Error::BackendUnavailable {
                backend: Backend::Cuda,
                ..
            })
        ),
        "{r:?}"
    );
    assert!(ito::set_backend(Backend::Cuda).is_err());
    let missing = if cfg!(target_arch = "x86_64") {
        Backend::Neon
    } else {
        Backend::Avx2
    };
    assert!(matches!(
        ito::set_backend(missing),
        Err(Error::BackendUnavailable { .. })
    ));
    assert!(matches!(
        "gpu".parse::<Backend>(),
        Err(Error::UnknownBackend { .. })
    ));
    assert_eq!("AVX2".parse::<Backend>().unwrap(), Backend::Avx2);
    assert!(ito::available_backends().contains(&Backend::Scalar));
}

/// An error equals itself, a NaN coefficient's too (found by the drivers fuzz target, which
/// compares the errors of two backends); different values, arguments or problems differ.
#[test]
fn errors_are_equal_to_themselves_even_for_nan() {
    let mut c = LincombCoefs {
        y: 1.0,
        noise: f32::NAN,
        ..Default::default()
    };
    let mut y = vec![0.0f32; 4];
    let noise = Some(Noise {
        key: KEY,
        offset: 0,
    });
    let e = Backend::Scalar
        .lincomb(y.as_mut_slice().into(), None, &[], &c, noise)
        .unwrap_err();
    assert_eq!(e, e.clone());
    let again = Backend::Scalar
        .lincomb(y.as_mut_slice().into(), None, &[], &c, noise)
        .unwrap_err();
    assert_eq!(e, again);
    c.noise = f32::INFINITY;
    let inf = Backend::Scalar
        .lincomb(y.as_mut_slice().into(), None, &[], &c, noise)
        .unwrap_err();
    assert_ne!(e, inf);
    let nan = Problem::NonFinite { value: f32::NAN };
    assert_eq!(nan, nan);
    assert_ne!(nan, Problem::NonFinite { value: 1.0 });
    assert_ne!(
        Problem::Length {
            expected: 1,
            found: 2
        },
        Problem::Length {
            expected: 2,
            found: 1
        }
    );
    assert_ne!(nan, Problem::OutOfRange { expected: "x" });
}
