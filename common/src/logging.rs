//! Tracing setup shared by the binaries: `RUST_LOG` filters, to stderr.

/// For daemons: `info` unless `RUST_LOG` says otherwise. Later calls are no-ops.
pub fn init() {
    init_with_default("info");
}

/// For command-line tools: warnings only unless `RUST_LOG` says otherwise.
pub fn init_quiet() {
    init_with_default("warn");
}

fn init_with_default(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
