//! The JSON API's handlers and their errors. Handlers only use handles and snapshots, never
//! task internals: every read is a snapshot, every control a handle call.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;

use super::{sse, Shared};
use crate::handle::TaskRef;
use crate::history::{HistoryError, HistoryFilter, PageRequest};
use crate::reason::ReasonKind;
use crate::reason::StopReason;
use crate::snapshot::TaskInfo;
use crate::state::{Kind, TaskId, TaskState};

/// The largest request body accepted (a stop reason).
const BODY_LIMIT: usize = 4 * 1024;

/// Why a request failed: each becomes `{"error": …, "code": …}` with its status.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WebError {
    #[error("task id must be a positive number, not {0:?}")]
    BadId(String),
    #[error("no live task has id {0}")]
    UnknownTask(u64),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    BadQuery(String),
    #[error("malformed JSON body: {0}")]
    BadJson(String),
    #[error("request body over {BODY_LIMIT} bytes")]
    TooLarge,
    #[error("missing or wrong token")]
    Unauthorized,
    #[error("{0} is not enabled on this dashboard")]
    NotEnabled(&'static str),
    #[error("{0}")]
    History(#[from] HistoryError),
}

impl WebError {
    fn code(&self) -> &'static str {
        match self {
            Self::BadId(_) => "bad_id",
            Self::UnknownTask(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::BadQuery(_) => "bad_query",
            Self::BadJson(_) => "bad_json",
            Self::TooLarge => "too_large",
            Self::Unauthorized => "unauthorized",
            Self::NotEnabled(_) => "not_enabled",
            Self::History(HistoryError::BadPageSize(_) | HistoryError::BadRange(_)) => "bad_query",
            Self::History(_) => "history_unavailable",
        }
    }
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadId(_) | Self::BadQuery(_) | Self::BadJson(_) => StatusCode::BAD_REQUEST,
            Self::UnknownTask(_) | Self::NotEnabled(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::History(HistoryError::BadPageSize(_) | HistoryError::BadRange(_)) => {
                StatusCode::BAD_REQUEST
            }
            Self::History(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(serde_json::json!({
            "error": self.to_string(),
            "code": self.code(),
        }))
    }
}

type Result<T> = std::result::Result<T, WebError>;

pub(crate) fn scope(path: &str, shared: web::Data<Shared>) -> actix_web::Scope {
    web::scope(path)
        .app_data(shared)
        .route("/", web::get().to(page))
        .route("/app.js", web::get().to(script))
        .route("/style.css", web::get().to(style))
        .route("/metrics", web::get().to(metrics))
        .route("/api/events", web::get().to(events))
        .route("/api/tasks", web::get().to(list))
        .route("/api/tasks/tree", web::get().to(tree))
        .route("/api/tasks/history", web::get().to(history))
        .route("/api/tasks/stats", web::get().to(stats))
        .route("/api/tasks/{id}", web::get().to(detail))
        .route("/api/tasks/{id}/stop", web::post().to(stop))
        .route("/api/tasks/{id}/restart", web::post().to(restart))
}

async fn page() -> HttpResponse {
    asset(
        "text/html; charset=utf-8",
        include_str!("assets/index.html"),
    )
}

async fn script() -> HttpResponse {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("assets/app.js"),
    )
}

async fn style() -> HttpResponse {
    asset("text/css; charset=utf-8", include_str!("assets/style.css"))
}

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

/// Whether the request carries the token, when one is set: bearer header, cookie or query.
fn authorize(req: &HttpRequest, shared: &Shared) -> Result<()> {
    let Some(token) = &shared.token else {
        return Ok(());
    };
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t == token);
    let cookie = req
        .cookie("tasktree_token")
        .is_some_and(|c| c.value() == token);
    let query = web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.get("token").cloned())
        .is_some_and(|t| &t == token);
    if bearer || cookie || query {
        Ok(())
    } else {
        Err(WebError::Unauthorized)
    }
}

fn parse_id(raw: &str) -> Result<TaskId> {
    raw.parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .map(TaskId::from_u64)
        .ok_or_else(|| WebError::BadId(raw.to_owned()))
}

fn find(shared: &Shared, raw: &str) -> Result<TaskRef> {
    let id = parse_id(raw)?;
    shared.root.find(id).ok_or(WebError::UnknownTask(id.get()))
}

/// For a control on an id not in the tree: a task that was disposed is a conflict (it
/// existed), an id never issued is unknown.
fn find_live(shared: &Shared, raw: &str) -> Result<TaskRef> {
    let id = parse_id(raw)?;
    match shared.root.find(id) {
        Some(task) => Ok(task),
        None if id.was_issued() => Err(WebError::Conflict(format!(
            "task {id} was already disposed"
        ))),
        None => Err(WebError::UnknownTask(id.get())),
    }
}

async fn tree(shared: web::Data<Shared>) -> HttpResponse {
    HttpResponse::Ok().json(shared.root.snapshot())
}

/// Every live task, depth first from the root.
fn flatten(root: &TaskRef) -> Vec<TaskRef> {
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(task) = stack.pop() {
        let mut children = task.children();
        children.sort_by_key(|c| std::cmp::Reverse(c.id()));
        stack.extend(children);
        out.push(task);
    }
    out
}

fn query_map(req: &HttpRequest) -> Result<HashMap<String, String>> {
    web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| WebError::BadQuery(e.to_string()))
}

fn one_of(q: &HashMap<String, String>, key: &str, allowed: &[&str]) -> Result<Option<String>> {
    match q.get(key) {
        None => Ok(None),
        Some(v) if allowed.contains(&v.as_str()) => Ok(Some(v.clone())),
        Some(v) => Err(WebError::BadQuery(format!(
            "{key}={v:?} is not one of {allowed:?}"
        ))),
    }
}

fn number<T: FromStr>(q: &HashMap<String, String>, key: &str) -> Result<Option<T>> {
    q.get(key)
        .map(|v| {
            v.parse::<T>()
                .map_err(|_| WebError::BadQuery(format!("{key}={v:?} is not a number")))
        })
        .transpose()
}

async fn list(req: HttpRequest, shared: web::Data<Shared>) -> Result<HttpResponse> {
    let q = query_map(&req)?;
    let kind = one_of(&q, "kind", &Kind::ALL.map(Kind::as_str))?;
    let state = one_of(&q, "state", &TaskState::ALL.map(TaskState::as_str))?;
    let owner = q.get("owner");
    let tasks: Vec<TaskInfo> = flatten(&shared.root)
        .iter()
        .map(TaskRef::info)
        .filter(|t| kind.as_deref().is_none_or(|k| t.kind.as_str() == k))
        .filter(|t| state.as_deref().is_none_or(|s| t.state.as_str() == s))
        .filter(|t| owner.is_none_or(|o| t.owner == o))
        .collect();
    Ok(HttpResponse::Ok().json(tasks))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Detail {
    #[serde(flatten)]
    info: TaskInfo,
    child_ids: Vec<TaskId>,
}

async fn detail(path: web::Path<String>, shared: web::Data<Shared>) -> Result<HttpResponse> {
    let task = find(&shared, &path)?;
    let mut child_ids: Vec<TaskId> = task.children().iter().map(TaskRef::id).collect();
    child_ids.sort();
    Ok(HttpResponse::Ok().json(Detail {
        info: task.info(),
        child_ids,
    }))
}

/// Reads a body of at most [`BODY_LIMIT`] bytes.
async fn read_body(mut payload: web::Payload) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = std::future::poll_fn(|cx| {
        futures_core::Stream::poll_next(std::pin::Pin::new(&mut payload), cx)
    })
    .await
    {
        let chunk = chunk.map_err(|e| WebError::BadJson(e.to_string()))?;
        if body.len() + chunk.len() > BODY_LIMIT {
            return Err(WebError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StopBody {
    #[serde(default)]
    reason: String,
}

async fn stop(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    shared: web::Data<Shared>,
) -> Result<HttpResponse> {
    authorize(&req, &shared)?;
    let body = read_body(payload).await?;
    let StopBody { reason } = if body.iter().all(u8::is_ascii_whitespace) {
        StopBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| WebError::BadJson(e.to_string()))?
    };
    let task = find_live(&shared, &path)?;
    if !task.stop(StopReason::StopByUser(reason.clone())) {
        return Err(WebError::Conflict(format!(
            "task {} is already stopping",
            task.id()
        )));
    }
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({ "id": task.id(), "stopping": true, "reason": reason })))
}

async fn restart(
    req: HttpRequest,
    path: web::Path<String>,
    shared: web::Data<Shared>,
) -> Result<HttpResponse> {
    authorize(&req, &shared)?;
    let task = find_live(&shared, &path)?;
    if !task.restart() {
        return Err(WebError::Conflict(format!(
            "task {} cannot restart now (stopping, already restarting, or the root)",
            task.id()
        )));
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "id": task.id(), "restarting": true })))
}

fn history_filter(q: &HashMap<String, String>) -> Result<HistoryFilter> {
    Ok(HistoryFilter {
        owner: q.get("owner").cloned(),
        kind: one_of(q, "kind", &Kind::ALL.map(Kind::as_str))?,
        parent_id: number(q, "parent")?,
        session: q.get("session").cloned(),
        reason_kind: one_of(q, "reason", &ReasonKind::ALL.map(ReasonKind::as_str))?,
        final_state: one_of(q, "state", &["disposed", "retry"])?,
        started_from: number(q, "startFrom")?,
        started_to: number(q, "startTo")?,
        ended_from: number(q, "endFrom")?,
        ended_to: number(q, "endTo")?,
    })
}

async fn history(req: HttpRequest, shared: web::Data<Shared>) -> Result<HttpResponse> {
    let history = shared
        .history
        .as_ref()
        .ok_or(WebError::NotEnabled("history"))?;
    let q = query_map(&req)?;
    let filter = history_filter(&q)?;
    let page = PageRequest::new(
        number(&q, "page")?.unwrap_or(0),
        number(&q, "size")?.unwrap_or(50),
    )?;
    Ok(HttpResponse::Ok().json(history.store().query(&filter, page).await?))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LiveStats {
    total: u64,
    by_kind: BTreeMap<String, u64>,
    by_state: BTreeMap<String, u64>,
}

async fn stats(req: HttpRequest, shared: web::Data<Shared>) -> Result<HttpResponse> {
    let mut live = LiveStats {
        total: 0,
        by_kind: BTreeMap::new(),
        by_state: BTreeMap::new(),
    };
    for task in flatten(&shared.root) {
        let info = task.info();
        live.total += 1;
        *live
            .by_kind
            .entry(info.kind.as_str().to_owned())
            .or_default() += 1;
        *live
            .by_state
            .entry(info.state.as_str().to_owned())
            .or_default() += 1;
    }
    let history = match &shared.history {
        Some(history) => {
            let q = query_map(&req)?;
            Some(history.store().stats(&history_filter(&q)?).await?)
        }
        None => None,
    };
    Ok(HttpResponse::Ok().json(serde_json::json!({ "live": live, "history": history })))
}

async fn events(req: HttpRequest, shared: web::Data<Shared>) -> Result<HttpResponse> {
    authorize(&req, &shared)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .streaming(sse::stream(&shared.root, &shared.events)))
}

async fn metrics(shared: web::Data<Shared>) -> Result<HttpResponse> {
    let render = shared
        .metrics
        .as_ref()
        .ok_or(WebError::NotEnabled("metrics"))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain; version=0.0.4"))
        .body(render()))
}
