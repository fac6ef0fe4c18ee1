//! The checked-in header `include/ito.h` equals what cbindgen generates from the sources now
//! (CI fails when a change to the C API did not regenerate it). Regenerate with
//! `ITO_BLESS=1 cargo test -p ito-capi --test header`.

use std::path::Path;

#[test]
fn header_is_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(root)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let path = root.join("include/ito.h");
    if std::env::var_os("ITO_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write include/ito.h");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "capi/include/ito.h is stale: run `ITO_BLESS=1 cargo test -p ito-capi --test header` and commit it"
    );
}
