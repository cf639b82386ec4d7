//! The web API and live dashboard (cargo feature `web`, DESIGN §7): an actix-web `Scope` to
//! mount in your own `App`, and [`serve`], a ready server that lets the root own the signals.
//!
//! | method, path | answers |
//! |---|---|
//! | `GET /` | the dashboard page (HTML, CSS and JavaScript from the binary) |
//! | `GET /api/tasks/tree` | the live tree |
//! | `GET /api/tasks?kind=&state=&owner=` | the live tasks, flat |
//! | `GET /api/tasks/{id}` | one task, anywhere in the tree, with its children's ids |
//! | `POST /api/tasks/{id}/stop` `{"reason": "…"}` | stops it with `StopByUser(reason)` |
//! | `POST /api/tasks/{id}/restart` | restarts it through the retry path |
//! | `GET /api/tasks/history?…&page=&size=` | stored history, filtered and paged |
//! | `GET /api/tasks/stats` | live counts, and history stats when history is on |
//! | `GET /api/events` | Server-Sent Events: started, stopping, disposed, retry, described |
//! | `GET /metrics` | the Prometheus text format, when a renderer is given |
//!
//! Errors are JSON `{"error": "…", "code": "…"}` with a 4xx status. With a token set, `POST`s
//! and the event stream need it: `Authorization: Bearer …`, the cookie `tasktree_token`, or
//! `?token=` (for `EventSource`, which cannot send headers). [`serve`] refuses to bind beyond
//! loopback without a token.

mod api;
mod sse;

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::{web, App, HttpServer};
use tokio::sync::broadcast;

use crate::handle::TaskRef;
use crate::history::History;

/// Renders the metrics text for `/metrics`.
pub type MetricsRender = Arc<dyn Fn() -> String + Send + Sync>;

/// What the dashboard serves: a tree, and optionally its history, metrics and a token.
#[derive(Clone)]
pub struct Dashboard {
    root: TaskRef,
    history: Option<History>,
    metrics: Option<MetricsRender>,
    token: Option<String>,
    events: broadcast::Sender<Arc<str>>,
}

/// What every handler reads.
pub(crate) struct Shared {
    pub(crate) root: TaskRef,
    pub(crate) history: Option<History>,
    pub(crate) metrics: Option<MetricsRender>,
    pub(crate) token: Option<String>,
    pub(crate) events: broadcast::Sender<Arc<str>>,
}

impl Dashboard {
    /// A dashboard of `root`'s tree. It starts listening to the tree's events now.
    pub fn new(root: &TaskRef) -> Self {
        Self {
            root: root.clone(),
            history: None,
            metrics: None,
            token: None,
            events: sse::listen(root),
        }
    }

    /// Serves this history at `/api/tasks/history` and in `/api/tasks/stats`.
    pub fn with_history(mut self, history: History) -> Self {
        self.history = Some(history);
        self
    }

    /// Serves `render()` at `/metrics` (for example a Prometheus handle's `render`).
    pub fn with_metrics(mut self, render: MetricsRender) -> Self {
        self.metrics = Some(render);
        self
    }

    /// Requires `token` for the control endpoints and the event stream.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The routes, under `path` (`""` for the top), to mount in an `App`.
    pub fn scope(&self, path: &str) -> actix_web::Scope {
        api::scope(
            path,
            web::Data::new(Shared {
                root: self.root.clone(),
                history: self.history.clone(),
                metrics: self.metrics.clone(),
                token: self.token.clone(),
                events: self.events.clone(),
            }),
        )
    }
}

/// Why [`serve`] could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// Control endpoints beyond loopback need a token.
    #[error("binding {0} (beyond loopback) needs a token: Dashboard::with_token")]
    TokenRequired(SocketAddr),
    /// The socket could not be bound, or the server failed.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves `dashboard` at `addr` until `tree` (usually the root) is disposed: the root owns
/// the signals (the server's own handlers are off), so Ctrl-C disposes every task first, then
/// the server stops. Calls `bound` with the address actually bound (useful with port 0).
pub async fn serve(
    tree: &TaskRef,
    dashboard: Dashboard,
    addr: SocketAddr,
    bound: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    serve_with(tree, dashboard, "", |_| {}, addr, bound).await
}

/// [`serve`] with your own routes beside the dashboard, which is mounted at `prefix`
/// (`"/tasks"`, say): how a service exposes its own API and its task tree in one server.
pub async fn serve_with(
    tree: &TaskRef,
    dashboard: Dashboard,
    prefix: &'static str,
    routes: impl Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
    addr: SocketAddr,
    bound: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    if !addr.ip().is_loopback() && dashboard.token.is_none() {
        return Err(ServeError::TokenRequired(addr));
    }
    let server = HttpServer::new(move || {
        App::new()
            .configure(routes.clone())
            .service(dashboard.scope(prefix))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(2)
    .bind(addr)?;
    if let Some(first) = server.addrs().first() {
        bound(*first);
    }
    let server = server.run();
    let handle = server.handle();
    let tree = tree.clone();
    actix_rt::spawn(async move {
        tree.wait_stopped().await;
        handle.stop(true).await;
    });
    server.await?;
    Ok(())
}
