//! The HTTP service: the versioned JSON API, the embeddable widget, the
//! server-side fragment, the editor page and the operational endpoints,
//! over one [`Engine`].
//!
//! This is an edge crate: it alone knows HTTP. Every block it serves comes
//! from the engine's `related`, `for_user` and `trending`, the same calls
//! the CLI and the evaluation harness make.
#![warn(missing_docs)]

mod api;
mod auth;
mod config;
mod error;
mod limits;
mod metrics;
mod openapi;
mod ui;
mod writes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use readnext_recommend::Engine;

pub use config::{ClusterFile, Config, FileConfig, Overrides, Scope, parse_api_keys};
pub use error::ApiError;

/// Errors of the server crate.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// The cluster's write log could not be joined.
    #[error("cluster: {0}")]
    Cluster(String),
    /// The address could not be bound, or serving failed.
    #[error("{addr}: {source}")]
    Io {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// What every handler shares.
pub(crate) struct AppState {
    pub(crate) engine: Arc<Engine>,
    pub(crate) config: Config,
    pub(crate) metrics: metrics::Metrics,
    pub(crate) ip_limits: limits::RateLimiter,
    pub(crate) key_limits: limits::RateLimiter,
    pub(crate) started: Instant,
    /// In cluster mode, the log and this node's follower.
    pub(crate) cluster: Option<writes::ClusterNode>,
}

pub(crate) type Shared = Arc<AppState>;

/// The application: every route, with metrics, authentication, rate
/// limits, CORS and the body limit.
pub fn router(engine: Arc<Engine>, config: Config) -> Router {
    app(engine, config, None)
}

fn app(engine: Arc<Engine>, config: Config, cluster: Option<writes::ClusterNode>) -> Router {
    let state: Shared = Arc::new(AppState {
        engine,
        cluster,
        ip_limits: limits::RateLimiter::new(config.rate_limit_ip),
        key_limits: limits::RateLimiter::new(config.rate_limit_key),
        metrics: metrics::Metrics::default(),
        started: Instant::now(),
        config,
    });
    let cors = auth::cors(&state.config);
    let body_limit = state.config.max_body_bytes;
    api::routes()
        .merge(ui::routes())
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::guard))
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .layer(cors)
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Counts and times every request under its route pattern (not its URL,
/// which would make one series per article).
async fn observe(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let route =
        req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = req.method().to_string();
    let t = Instant::now();
    let resp = json_errors(next.run(req).await).await;
    state.metrics.observe(&method, &route, resp.status().as_u16(), t.elapsed().as_secs_f64());
    resp
}

/// Errors produced outside the handlers (an unknown route, a wrong method,
/// a path or query that does not decode) come as plain text from axum;
/// they are answered in the same JSON shape as every other error.
async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let code = match status.as_u16() {
        404 => "not_found",
        405 => "method_not_allowed",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        s if s >= 500 => "internal",
        _ => "bad_request",
    };
    let text = match axum::body::to_bytes(resp.into_body(), 64 * 1024).await {
        Ok(b) if !b.is_empty() => String::from_utf8_lossy(&b).into_owned(),
        _ => status.canonical_reason().unwrap_or("error").to_string(),
    };
    ApiError { status, code, message: text }.into_response()
}

/// Serves until Ctrl-C or SIGTERM, then finishes the requests in flight.
/// With [`Config::cluster`], the node first joins the cluster's write log
/// and starts applying it; writes then go through the log.
pub async fn serve(engine: Arc<Engine>, config: Config) -> Result<(), ServerError> {
    let addr = config.addr;
    if config.api_keys.is_empty() {
        tracing::warn!("no API keys configured: every route is open (set READNEXT_API_KEYS)");
    }
    let cluster = match &config.cluster {
        None => None,
        Some(c) => {
            let log = Arc::new(
                readnext_cluster::Log::connect(c.clone()).await.map_err(|e| ServerError::Cluster(e.to_string()))?,
            );
            // Nodes must serve the same blocks: what the statistics drifted
            // from is recomputed (see `Engine::set_drift_budget`).
            engine.set_drift_budget(CLUSTER_DRIFT_PER_SEC, CLUSTER_DRIFT_BURST);
            let target = Arc::new(writes::EngineApply(engine.clone()));
            let follower = readnext_cluster::Follower::start(log.clone(), target)
                .await
                .map_err(|e| ServerError::Cluster(e.to_string()))?;
            tracing::info!(node = %c.node, stream = %c.stream, applied = follower.applied(), "cluster mode");
            Some(writes::ClusterNode { log, follower })
        }
    };
    let follower = cluster.as_ref().map(|c| c.follower.clone());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let warmer = {
        let (engine, stop) = (engine.clone(), stop.clone());
        // A node catching up on the log would compute blocks that the
        // writes it replays drop at once: the warmer waits for it.
        let catching_up = cluster.as_ref().map(|c| (c.follower.clone(), c.log.config().ready_lag));
        std::thread::spawn(move || {
            warm(&engine, &stop, || catching_up.as_ref().is_some_and(|(f, lag)| f.lag().messages > *lag))
        })
    };
    let refresher = {
        let (engine, stop) = (engine.clone(), stop.clone());
        std::thread::spawn(move || refresh(&engine, &stop))
    };
    let app = app(engine, config, cluster);
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| ServerError::Io { addr, source })?;
    let local = listener.local_addr().map_err(|source| ServerError::Io { addr, source })?;
    tracing::info!(%local, "listening");
    // Scripts wait for this line (the port may have been 0).
    println!("readnext listening on http://{local}");
    let served = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|source| ServerError::Io { addr, source });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(f) = follower {
        f.stop();
    }
    let _ = warmer.join();
    let _ = refresher.join();
    served
}

/// Drifted blocks a cluster node's reads recompute per second, and at once.
const CLUSTER_DRIFT_PER_SEC: f64 = 20.0;
const CLUSTER_DRIFT_BURST: f64 = 200.0;

/// Blocks the warmer computes per step (it checks for stale blocks and the
/// stop flag between steps).
const WARM_STEP: usize = 32;

/// How long no clear of every block must last before the warmer walks
/// every id again.
const CLEAR_QUIET: std::time::Duration = std::time::Duration::from_secs(1);

/// The longest the warmer waits before walking every id again after a block
/// was dropped (the warm queue covers every drop it knows of).
const REWALK_SECS: u64 = 60;

/// Commits deferred article writes to the BM25 index (every
/// `COMMIT_INTERVAL_MS` at most), and recomputes the stale blocks (a write
/// made a new article a candidate for them; reads are served the stale
/// block until this replaces it, within the freshness that `readnext bench
/// live` measures). A thread of its own, apart from the warmer: on a store
/// too large for every block to be cached, the warmer's pass and the reads
/// compete for the cores for a long time, and a commit or a refresh must
/// not wait for them. Runs until `stop`.
fn refresh(engine: &Engine, stop: &std::sync::atomic::AtomicBool) {
    use std::sync::atomic::Ordering::Relaxed;
    while !stop.load(Relaxed) {
        if let Err(e) = engine.commit_pending() {
            tracing::warn!("committing the index: {e}");
        }
        match engine.refresh_stale(WARM_STEP) {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!("refreshing stale blocks: {e}"),
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Keeps blocks computed, so that reads find them: every stored article's
/// default block (`?k=8`, no filter). A first walk over every id computes
/// them all; after it, the warmer computes what writes queue (the blocks
/// they dropped, and new articles once searchable), and walks every id again
/// only when every block went at once, or, as a safety net for a block a
/// write's race kept out of the cache, at most every [`REWALK_SECS`] when a
/// block was dropped since the last walk. Waits while `catching_up` (a
/// cluster node replaying the log). Runs until `stop`.
fn warm(engine: &Engine, stop: &std::sync::atomic::AtomicBool, catching_up: impl Fn() -> bool) {
    use std::sync::atomic::Ordering::Relaxed;
    let opts = readnext_recommend::RelatedOptions { k: 8, ..Default::default() };
    let mut after: Option<String> = None;
    let started = Instant::now();
    let mut first_pass = true;
    let mut walking = true;
    let mut next_walk = Instant::now();
    // The cache's epoch and clears when the last complete walk started.
    let (mut walked_at, mut walk_epoch) = (None::<(u64, u64)>, (0, 0));
    // The cache's clears as last seen, and when they last changed.
    let (mut seen_clears, mut cleared_at) =
        (engine.blocks_clears(), Instant::now().checked_sub(CLEAR_QUIET).unwrap_or_else(Instant::now));
    // Not before the node caught up: built then, once, instead of moved by
    // every replayed article.
    while catching_up() && !stop.load(Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // The stories first: same-story marks and the story endpoints need
    // them, and they cost a second or two on a large store.
    match engine.build_stories() {
        Ok(n) => tracing::info!(stories = n, secs = started.elapsed().as_secs_f64(), "stories built"),
        Err(e) => tracing::warn!("building stories: {e}"),
    }
    while !stop.load(Relaxed) {
        if catching_up() {
            std::thread::sleep(std::time::Duration::from_millis(100));
            continue;
        }
        if !walking {
            match engine.warm_queued(WARM_STEP, &opts) {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!("warming queued blocks: {e}"),
            }
            let now = (engine.blocks_epoch(), engine.blocks_clears());
            let cleared = walked_at.is_some_and(|(_, c)| c != now.1);
            let dropped = walked_at.is_some_and(|(e, _)| e != now.0);
            if cleared || (dropped && Instant::now() >= next_walk) {
                walking = true;
            } else {
                if let Err(e) = engine.refresh_stories_when_due() {
                    tracing::warn!("assigning stories again: {e}");
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
                continue;
            }
        }
        // Every block going at once is a bulk load in progress, most often:
        // a walk waits until a second has passed without one, and one that
        // a clear overtook starts again, since what it computed is gone.
        let clears = engine.blocks_clears();
        if clears != seen_clears {
            seen_clears = clears;
            cleared_at = Instant::now();
        }
        if cleared_at.elapsed() < CLEAR_QUIET {
            std::thread::sleep(std::time::Duration::from_millis(100));
            continue;
        }
        if after.is_some() && walk_epoch.1 != clears {
            after = None;
        }
        if after.is_none() {
            walk_epoch = (engine.blocks_epoch(), engine.blocks_clears());
        }
        match engine.warm(after.as_deref(), WARM_STEP, &opts) {
            Ok((_, Some(next))) => after = Some(next),
            Ok((_, None)) => {
                if first_pass {
                    engine.set_warm();
                    tracing::info!(
                        blocks = engine.cached_blocks(),
                        secs = started.elapsed().as_secs_f64(),
                        "blocks warmed"
                    );
                    first_pass = false;
                }
                after = None;
                walking = false;
                walked_at = Some(walk_epoch);
                next_walk = Instant::now() + std::time::Duration::from_secs(REWALK_SECS);
            }
            Err(e) => {
                tracing::warn!("warming blocks: {e}");
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        }
    }
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// The client's IP, for rate limits.
pub(crate) fn client_ip(req: &Request) -> String {
    req.extensions().get::<ConnectInfo<SocketAddr>>().map_or_else(|| "unknown".into(), |c| c.0.ip().to_string())
}

/// Runs blocking engine work off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(ApiError::internal)?
}

/// A response with a content type.
pub(crate) fn typed(content_type: &'static str, body: impl Into<axum::body::Body>) -> Response {
    ([(axum::http::header::CONTENT_TYPE, content_type)], body.into()).into_response()
}
