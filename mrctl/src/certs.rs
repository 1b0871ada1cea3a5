//! `mrctl admin certs --ca-dir DIR --host H... [--out DIR]`: TLS files for a deployed
//! cluster: the CA in DIR (made on first use, reused after) signs a certificate for a host.

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct Certs {
    /// The CA's directory: `ca.pem` (give it to every node and client) and `ca-key.pem`
    /// (keep it here); made when absent.
    #[arg(long)]
    ca_dir: PathBuf,
    /// Names and addresses the host is dialled by (the first names the files); repeat for
    /// several, e.g. `--host 10.0.0.3 --host node3.example`.
    #[arg(long, required = true)]
    host: Vec<String>,
    /// Where the host's `host-<first>.pem` and `host-<first>-key.pem` go (default: the CA's
    /// directory).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: Certs) -> anyhow::Result<ExitCode> {
    let ca = common::tls_certs::ensure_ca(&args.ca_dir)?;
    let out = args.out.unwrap_or_else(|| args.ca_dir.clone());
    let name = format!("host-{}", args.host[0]);
    let (cert, key) = ca.issue(&out, &name, &args.host)?;
    outln!("[security]");
    outln!("tls_cert = {:?}", cert.display().to_string());
    outln!("tls_key = {:?}", key.display().to_string());
    outln!("tls_ca = {:?}", ca.cert_path.display().to_string());
    Ok(ExitCode::SUCCESS)
}
