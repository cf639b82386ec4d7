// The tasktree dashboard: the live tree, a task's details, history with filters and pages.
// Live updates arrive over Server-Sent Events; each event refreshes the tree (debounced).

const text = {
  en: {
    tree: "Tree", history: "History", owner: "Owner", kind: "Kind", state: "State", started: "Started",
    duration: "Duration", retry: "Retry", reason: "Start reason", blocked: "Blocked on", ended: "Ended",
    stopReason: "Stop reason", search: "Search", anyKind: "any kind", anyState: "any state",
    stop: "Stop", restart: "Restart", live: "live", connecting: "connecting…", offline: "offline",
    confirmStop: "Stop task {id} ({owner}) and its children?", confirmRestart: "Restart task {id} ({owner})?",
    askReason: "Why? (recorded as the stop reason)", path: "Path", descriptions: "Descriptions", steps: "Steps",
    timings: "Timings", children: "Children", page: "page {page} of {pages} ({total} records)", total: "total",
    mean: "mean", none: "—", error: "Error",
  },
  zh: {
    tree: "任务树", history: "历史", owner: "类型", kind: "种类", state: "状态", started: "启动时间",
    duration: "持续时间", retry: "重试", reason: "启动原因", blocked: "阻塞于", ended: "结束时间",
    stopReason: "停止原因", search: "查询", anyKind: "任意种类", anyState: "任意状态",
    stop: "停止", restart: "重启", live: "实时", connecting: "连接中…", offline: "离线",
    confirmStop: "停止任务 {id}（{owner}）及其子任务？", confirmRestart: "重启任务 {id}（{owner}）？",
    askReason: "原因？（记录为停止原因）", path: "路径", descriptions: "描述", steps: "步骤",
    timings: "计时", children: "子任务", page: "第 {page} / {pages} 页（共 {total} 条）", total: "总数",
    mean: "平均", none: "—", error: "错误",
  },
};

let lang = localStorage.getItem("tasktree.lang") || (navigator.language.startsWith("zh") ? "zh" : "en");
const t = (key, vars = {}) => (text[lang][key] || key).replace(/\{(\w+)\}/g, (_, k) => vars[k] ?? "");
const token = new URLSearchParams(location.search).get("token");
const withToken = (url) => (token ? `${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}` : url);
const $ = (sel) => document.querySelector(sel);
let selected = null;
let historyPage = 0;

function translate() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((el) => (el.textContent = t(el.dataset.i18n)));
  document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => (el.placeholder = t(el.dataset.i18nPlaceholder)));
  $("#lang").textContent = lang === "zh" ? "English" : "中文";
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

const micros = (us) => {
  if (us == null) return t("none");
  if (us < 1000) return `${us} µs`;
  if (us < 1e6) return `${(us / 1000).toFixed(1)} ms`;
  return `${(us / 1e6).toFixed(1)} s`;
};
const time = (ms) => (ms ? new Date(ms).toLocaleTimeString() : t("none"));

async function api(url, options = {}) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const response = await fetch(url, { ...options, headers: { ...headers, ...(options.headers || {}) } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function rows(node, depth, out) {
  out.push([node, depth]);
  for (const child of node.children) rows(child, depth + 1, out);
  return out;
}

async function renderTree() {
  const root = await api("api/tasks/tree");
  const body = $("#tree tbody");
  body.replaceChildren(
    ...rows(root, 0, []).map(([n, depth]) => {
      const retry = n.maxRetries === 0 ? t("none") : `${n.retryCount}/${n.maxRetries ?? "∞"}`;
      const actions = n.kind === "root" ? "" : el("span", {},
        el("button", { class: "danger", "data-action": "stop", onclick: (e) => { e.stopPropagation(); stopTask(n); } }, t("stop")), " ",
        el("button", { "data-action": "restart", onclick: (e) => { e.stopPropagation(); restartTask(n); } }, t("restart")));
      return el("tr", { class: `row${selected === n.id ? " selected" : ""}`, "data-id": n.id, onclick: () => showDetail(n.id) },
        el("td", {}, el("span", { class: "indent", style: `width:${depth}em` }), n.owner, n.key ? ` [${n.key}]` : ""),
        el("td", {}, n.id),
        el("td", {}, el("span", { class: "tag" }, n.kind)),
        el("td", {}, el("span", { class: `tag ${n.state}` }, n.state)),
        el("td", {}, time(n.startedAtMs)),
        el("td", { class: "age", "data-since": Date.now() - n.ageUs / 1000 }, micros(n.ageUs)),
        el("td", {}, retry),
        el("td", {}, n.startReason),
        el("td", {}, n.blockedOn ? `${n.blockedOn} (${micros(n.blockedForUs)})` : ""),
        el("td", {}, actions));
    }));
}

async function showDetail(id) {
  selected = id;
  const aside = $("#detail");
  try {
    const d = await api(`api/tasks/${id}`);
    aside.replaceChildren(
      el("h2", {}, `${d.owner} #${d.id}`),
      el("dl", {},
        el("dt", {}, t("path")), el("dd", {}, d.path),
        el("dt", {}, t("state")), el("dd", {}, d.state),
        el("dt", {}, t("reason")), el("dd", {}, d.startReason),
        el("dt", {}, t("stopReason")), el("dd", {}, d.stopReason ?? t("none")),
        el("dt", {}, t("timings")), el("dd", {}, `start ${micros(d.startDurationUs)}, run ${micros(d.runDurationUs)}, age ${micros(d.ageUs)}`),
        el("dt", {}, t("children")), el("dd", {}, d.childIds.join(", ") || t("none"))),
      el("h2", {}, t("descriptions")), el("pre", {}, JSON.stringify(d.descriptions, null, 2)),
      el("h2", {}, t("steps")), el("pre", {}, d.steps.map((s) => `${time(s.atMs)} ${s.name}: ${s.detail}`).join("\n") || t("none")));
  } catch (e) {
    aside.replaceChildren(el("p", {}, `${t("error")}: ${e.message}`));
  }
  aside.hidden = false;
  document.querySelectorAll("tr.row").forEach((r) => r.classList.toggle("selected", r.dataset.id == id));
}

async function stopTask(n) {
  if (!confirm(t("confirmStop", { id: n.id, owner: n.owner }))) return;
  const reason = prompt(t("askReason"), "") ?? "";
  try {
    await api(`api/tasks/${n.id}/stop`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ reason }) });
  } catch (e) {
    alert(`${t("error")}: ${e.message}`);
  }
  refresh();
}

async function restartTask(n) {
  if (!confirm(t("confirmRestart", { id: n.id, owner: n.owner }))) return;
  try {
    await api(`api/tasks/${n.id}/restart`, { method: "POST" });
  } catch (e) {
    alert(`${t("error")}: ${e.message}`);
  }
  refresh();
}

async function renderHistory() {
  const form = new FormData($("#filters"));
  const params = new URLSearchParams({ page: historyPage, size: 50 });
  for (const [k, v] of form.entries()) if (v) params.set(k, v);
  try {
    const page = await api(`api/tasks/history?${params}`);
    const stats = await api(`api/tasks/stats?${params}`);
    const pages = Math.max(1, Math.ceil(page.total / page.size));
    $("#pageinfo").textContent = t("page", { page: page.page + 1, pages, total: page.total });
    $("#prev").disabled = page.page === 0;
    $("#next").disabled = page.page + 1 >= pages;
    const h = stats.history;
    $("#stats").textContent = h ? `${t("total")} ${h.total} · ${t("mean")} ${micros(Math.round(h.meanUs))} · p50 ${micros(h.p50Us)} · p95 ${micros(h.p95Us)} · p99 ${micros(h.p99Us)}` : "";
    $("#history tbody").replaceChildren(...page.items.map((r) => el("tr", {},
      el("td", {}, r.owner), el("td", {}, r.taskId), el("td", {}, el("span", { class: "tag" }, r.kind)),
      el("td", {}, el("span", { class: `tag ${r.finalState}` }, r.finalState)), el("td", {}, time(r.endMs)),
      el("td", {}, micros(r.durationUs)), el("td", {}, r.stopReason))));
  } catch (e) {
    $("#stats").textContent = `${t("error")}: ${e.message}`;
  }
}

let pending = null;
function refresh() {
  clearTimeout(pending);
  pending = setTimeout(() => {
    renderTree().catch(() => {});
    if (selected) showDetail(selected);
  }, 100);
}

function connect() {
  const events = new EventSource(withToken("api/events"));
  const live = $("#live");
  events.onopen = () => { live.textContent = t("live"); live.classList.add("on"); };
  events.onerror = () => { live.textContent = t("offline"); live.classList.remove("on"); };
  for (const name of ["started", "stopping", "disposed", "retry", "described", "resync"]) events.addEventListener(name, refresh);
}

function show(view) {
  $("#view-tree").hidden = view !== "tree";
  $("#view-history").hidden = view !== "history";
  $("#tab-tree").classList.toggle("active", view === "tree");
  $("#tab-history").classList.toggle("active", view === "history");
  if (view === "history") renderHistory();
}

$("#tab-tree").onclick = () => show("tree");
$("#tab-history").onclick = () => show("history");
$("#filters").onsubmit = (e) => { e.preventDefault(); historyPage = 0; renderHistory(); };
$("#prev").onclick = () => { historyPage = Math.max(0, historyPage - 1); renderHistory(); };
$("#next").onclick = () => { historyPage += 1; renderHistory(); };
$("#lang").onclick = () => { lang = lang === "zh" ? "en" : "zh"; localStorage.setItem("tasktree.lang", lang); translate(); renderTree(); };
// Durations tick locally between pushed updates; nothing is polled from the server.
setInterval(() => {
  for (const cell of document.querySelectorAll("td.age")) cell.textContent = micros(Math.round((Date.now() - cell.dataset.since) * 1000));
}, 1000);

translate();
renderTree();
connect();

