//! `readnext serve`: flags and environment, merged over an optional TOML
//! config file (flags > environment > file > defaults).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use readnext_server::{Config, FileConfig, Overrides};

#[derive(Args)]
pub struct ServeArgs {
    /// Listening address [default: 127.0.0.1:8080].
    #[arg(long, env = "READNEXT_ADDR")]
    addr: Option<String>,
    /// TOML config file with the same keys as these flags (snake_case).
    #[arg(long, env = "READNEXT_CONFIG")]
    config: Option<PathBuf>,
    /// API keys with scopes: `key1=admin,key2=read` (scopes read, write, admin).
    /// None configured: every route is open.
    #[arg(long, env = "READNEXT_API_KEYS", hide_env_values = true)]
    api_keys: Option<String>,
    /// Origins allowed to call the widget's endpoints, comma-separated (`*`: any).
    #[arg(long, env = "READNEXT_CORS_ORIGINS")]
    cors_origins: Option<String>,
    /// Largest request body in bytes [default: 10485760].
    #[arg(long, env = "READNEXT_MAX_BODY_BYTES")]
    max_body_bytes: Option<usize>,
    /// Requests per second per client IP, 0 for no limit [default: 100].
    #[arg(long, env = "READNEXT_RATE_LIMIT_IP")]
    rate_limit_ip: Option<u32>,
    /// Requests per second per API key, 0 for no limit [default: 1000].
    #[arg(long, env = "READNEXT_RATE_LIMIT_KEY")]
    rate_limit_key: Option<u32>,
    /// Folder of evaluation reports shown on the editor page.
    #[arg(long, env = "READNEXT_REPORTS")]
    reports: Option<PathBuf>,
    /// Cluster mode: the NATS servers of the write log,
    /// `nats://HOST:PORT[,nats://HOST:PORT…]`. Writes are published to the
    /// stream and every node applies it; without this, nothing about NATS
    /// is needed.
    #[arg(long, env = "READNEXT_CLUSTER", value_name = "URLS")]
    cluster: Option<String>,
    /// This node's name in the cluster, unique among its nodes
    /// [default: node-PORT].
    #[arg(long, env = "READNEXT_NODE")]
    node: Option<String>,
    /// Cluster mode: answer a write once the log has it, without waiting
    /// for this node to apply it (a GET right after may not see it yet).
    #[arg(long)]
    no_read_your_writes: bool,
}

pub fn run(store: &Path, model: &crate::ModelArgs, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let file = match &args.config {
        Some(p) => FileConfig::read(p)?,
        None => FileConfig::default(),
    };
    let config = Config::merge(
        Overrides {
            addr: args.addr,
            api_keys: args.api_keys,
            cors_origins: args.cors_origins,
            max_body_bytes: args.max_body_bytes,
            rate_limit_ip: args.rate_limit_ip,
            rate_limit_key: args.rate_limit_key,
            reports: args.reports,
            cluster: args.cluster,
            node: args.node,
            no_read_your_writes: args.no_read_your_writes,
        },
        file,
    )?;
    let engine = Arc::new(crate::open_with_model(store, model)?);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(readnext_server::serve(engine.clone(), config))?;
    engine.finish()?;
    Ok(ExitCode::SUCCESS)
}
