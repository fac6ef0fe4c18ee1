// Only the dependency graph matters here (see Cargo.toml).
