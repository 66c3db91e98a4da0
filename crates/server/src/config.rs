//! Server configuration: what `readnext serve` takes from its flags, the
//! environment and a TOML file (in that order of precedence; the binary
//! merges them, this module parses and validates).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use readnext_cluster::ClusterConfig;
use serde::Deserialize;

use crate::ServerError;

/// What an API key may do. Each scope includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Read articles, blocks, trending, reader blocks, metrics.
    Read,
    /// Also add, change and delete articles.
    Write,
    /// Also forget readers, edit rules, use the editor page.
    Admin,
}

impl std::str::FromStr for Scope {
    type Err = ServerError;
    fn from_str(s: &str) -> Result<Scope, ServerError> {
        match s.trim() {
            "read" => Ok(Scope::Read),
            "write" => Ok(Scope::Write),
            "admin" => Ok(Scope::Admin),
            other => Err(ServerError::Config(format!("unknown scope {other:?} (expected read, write or admin)"))),
        }
    }
}

/// Parses `key1=admin,key2=read`.
pub fn parse_api_keys(spec: &str) -> Result<HashMap<String, Scope>, ServerError> {
    let mut keys = HashMap::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((key, scope)) = item.split_once('=') else {
            return Err(ServerError::Config(
                "API keys: expected KEY=SCOPE items separated by commas (an item has no '=')".into(),
            ));
        };
        if key.trim().is_empty() {
            return Err(ServerError::Config("API keys: an empty key".into()));
        }
        keys.insert(key.trim().to_string(), scope.parse()?);
    }
    Ok(keys)
}

/// The server's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listening address.
    pub addr: SocketAddr,
    /// API keys and their scopes. Empty: every route is open (development).
    pub api_keys: HashMap<String, Scope>,
    /// Origins allowed to call the widget's endpoints from a browser
    /// (`*` for any).
    pub cors_origins: Vec<String>,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Requests per second allowed per client IP (0: no limit); bursts of
    /// twice that pass.
    pub rate_limit_ip: u32,
    /// Requests per second allowed per API key (0: no limit).
    pub rate_limit_key: u32,
    /// Folder of `readnext eval --report` output shown on the editor page.
    pub reports: Option<PathBuf>,
    /// Cluster mode: the NATS servers, the stream and this node's name.
    /// `None`: a single node, and nothing about NATS is needed.
    pub cluster: Option<ClusterConfig>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            api_keys: HashMap::new(),
            cors_origins: vec![],
            max_body_bytes: 10 * 1024 * 1024,
            rate_limit_ip: 100,
            rate_limit_key: 1000,
            reports: None,
            cluster: None,
        }
    }
}

/// The config file: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `addr = "127.0.0.1:8080"`
    pub addr: Option<String>,
    /// `api_keys = "key1=admin,key2=read"`
    pub api_keys: Option<String>,
    /// `cors_origins = ["https://news.example"]`
    pub cors_origins: Option<Vec<String>>,
    /// `max_body_bytes = 10485760`
    pub max_body_bytes: Option<usize>,
    /// `rate_limit_ip = 100`
    pub rate_limit_ip: Option<u32>,
    /// `rate_limit_key = 1000`
    pub rate_limit_key: Option<u32>,
    /// `reports = "eval-reports"`
    pub reports: Option<PathBuf>,
    /// `[cluster]`: cluster mode.
    pub cluster: Option<ClusterFile>,
}

/// The `[cluster]` section of the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterFile {
    /// `servers = "nats://127.0.0.1:4222,nats://127.0.0.1:4223"`
    pub servers: Option<String>,
    /// `node = "node-1"`: unique in the cluster.
    pub node: Option<String>,
    /// `stream = "READNEXT"`
    pub stream: Option<String>,
    /// `replicas = 3`
    pub replicas: Option<usize>,
    /// `ready_lag = 100`: writes behind the stream a ready node may be.
    pub ready_lag: Option<u64>,
    /// `read_your_writes = true`
    pub read_your_writes: Option<bool>,
}

impl FileConfig {
    /// Reads a TOML config file; the error names the file and the field.
    pub fn read(path: &std::path::Path) -> Result<FileConfig, ServerError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ServerError::Config(format!("config file {}: {e}", path.display())))?;
        toml::from_str(&text).map_err(|e| ServerError::Config(format!("config file {}: {e}", path.display())))
    }
}

/// Values given on the command line or in the environment (`None`: not given).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// Listening address.
    pub addr: Option<String>,
    /// API keys, `key=scope,...`.
    pub api_keys: Option<String>,
    /// Allowed origins, comma-separated.
    pub cors_origins: Option<String>,
    /// Largest body.
    pub max_body_bytes: Option<usize>,
    /// Per-IP rate.
    pub rate_limit_ip: Option<u32>,
    /// Per-key rate.
    pub rate_limit_key: Option<u32>,
    /// Reports folder.
    pub reports: Option<PathBuf>,
    /// NATS servers, `nats://HOST:PORT[,…]`: cluster mode.
    pub cluster: Option<String>,
    /// This node's name in the cluster.
    pub node: Option<String>,
    /// Do not wait for the local node to apply a write before answering.
    pub no_read_your_writes: bool,
}

impl Config {
    /// Flags and environment (`over`) win over the file, which wins over the defaults.
    pub fn merge(over: Overrides, file: FileConfig) -> Result<Config, ServerError> {
        let d = Config::default();
        let addr = match over.addr.or(file.addr) {
            Some(a) => a.parse().map_err(|e| ServerError::Config(format!("addr {a:?}: {e}")))?,
            None => d.addr,
        };
        let api_keys = match over.api_keys.or(file.api_keys) {
            Some(spec) => parse_api_keys(&spec)?,
            None => d.api_keys,
        };
        let cors_origins = match over.cors_origins {
            Some(list) => list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect(),
            None => file.cors_origins.unwrap_or(d.cors_origins),
        };
        Ok(Config {
            addr,
            api_keys,
            cors_origins,
            max_body_bytes: over.max_body_bytes.or(file.max_body_bytes).unwrap_or(d.max_body_bytes),
            rate_limit_ip: over.rate_limit_ip.or(file.rate_limit_ip).unwrap_or(d.rate_limit_ip),
            rate_limit_key: over.rate_limit_key.or(file.rate_limit_key).unwrap_or(d.rate_limit_key),
            reports: over.reports.or(file.reports),
            cluster: cluster_config(over.cluster, over.node, over.no_read_your_writes, file.cluster, addr)?,
        })
    }
}

/// The cluster section: flags over the file. A node's name defaults to
/// `node-PORT`, unique among nodes on one host.
fn cluster_config(
    servers: Option<String>,
    node: Option<String>,
    no_ryw: bool,
    file: Option<ClusterFile>,
    addr: SocketAddr,
) -> Result<Option<ClusterConfig>, ServerError> {
    let file = file.unwrap_or_default();
    let Some(servers) = servers.or(file.servers) else {
        if node.is_some() || file.node.is_some() {
            return Err(ServerError::Config("a node name is given without cluster servers (--cluster)".into()));
        }
        return Ok(None);
    };
    let servers = ClusterConfig::parse_servers(&servers).map_err(|e| ServerError::Config(e.to_string()))?;
    let node = node.or(file.node).unwrap_or_else(|| format!("node-{}", addr.port()));
    let mut c = ClusterConfig::new(servers, node);
    if let Some(s) = file.stream {
        c.stream = s;
    }
    if let Some(r) = file.replicas {
        c.replicas = r;
    }
    if let Some(l) = file.ready_lag {
        c.ready_lag = l;
    }
    c.read_your_writes = !no_ryw && file.read_your_writes.unwrap_or(true);
    c.validate().map_err(|e| ServerError::Config(e.to_string()))?;
    Ok(Some(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_and_bad_specs_are_named() {
        let k = parse_api_keys("a=admin, b=read ,c=write").unwrap();
        assert_eq!((k["a"], k["b"], k["c"]), (Scope::Admin, Scope::Read, Scope::Write));
        assert!(parse_api_keys("a").unwrap_err().to_string().contains("KEY=SCOPE"));
        assert!(parse_api_keys("a=root").unwrap_err().to_string().contains("root"));
        assert!(Scope::Admin > Scope::Write && Scope::Write > Scope::Read);
    }

    #[test]
    fn flags_win_over_the_file_which_wins_over_defaults() {
        let file: FileConfig =
            toml::from_str("addr = \"127.0.0.1:9000\"\nrate_limit_ip = 5\napi_keys = \"f=read\"").unwrap();
        let c = Config::merge(Overrides { addr: Some("127.0.0.1:9100".into()), ..Default::default() }, file).unwrap();
        assert_eq!(c.addr.port(), 9100);
        assert_eq!(c.rate_limit_ip, 5);
        assert_eq!(c.api_keys["f"], Scope::Read);
        assert_eq!(c.max_body_bytes, Config::default().max_body_bytes);
        assert!(toml::from_str::<FileConfig>("adr = 1").is_err(), "unknown keys are refused");
        assert!(c.cluster.is_none(), "a single node unless a cluster is given");
    }

    #[test]
    fn the_cluster_section_and_its_flags() {
        let file: FileConfig = toml::from_str(
            "addr = \"127.0.0.1:9000\"\n[cluster]\nservers = \"nats://127.0.0.1:4222\"\nreplicas = 1\nread_your_writes = false",
        )
        .unwrap();
        let c = Config::merge(Overrides::default(), file).unwrap().cluster.unwrap();
        assert_eq!(c.servers, vec!["nats://127.0.0.1:4222".to_string()]);
        assert_eq!((c.replicas, c.node.as_str(), c.read_your_writes), (1, "node-9000", false));
        let over = Overrides {
            cluster: Some("nats://127.0.0.1:5222,nats://127.0.0.1:5223".into()),
            node: Some("a".into()),
            ..Default::default()
        };
        let c = Config::merge(over, FileConfig::default()).unwrap().cluster.unwrap();
        assert_eq!((c.servers.len(), c.node.as_str(), c.replicas, c.read_your_writes), (2, "a", 3, true));
        let bad = Overrides { cluster: Some("nats://nowhere".into()), ..Default::default() };
        assert!(Config::merge(bad, FileConfig::default()).unwrap_err().to_string().contains("nats://nowhere"));
        let lone = Overrides { node: Some("a".into()), ..Default::default() };
        assert!(Config::merge(lone, FileConfig::default()).is_err(), "a node name needs servers");
        assert!(toml::from_str::<FileConfig>("[cluster]\nserver = \"x\"").is_err(), "unknown keys are refused");
    }
}
