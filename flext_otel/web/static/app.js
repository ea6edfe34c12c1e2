// flext-otel live view: a dependency-free page over the JSON API under /api/.
//
// Everything shown here comes from telemetry, which is attacker-controlled (span
// names, attributes, log bodies). The DOM is therefore built with createElement
// and text nodes only: no HTML string is ever parsed, and the server's Content
// Security Policy forbids inline script as a second line of defence.
"use strict";

(() => {
  const POLL_MS = 2000;
  const LEVELS = ["trace", "debug", "info", "warning", "error", "critical"];

  const state = {
    view: null,
    generation: 0,
    timer: null,
    filters: {
      traces: { name: "", status: "", correlation_id: "" },
      logs: { min_level: "", q: "" },
    },
    cursors: { traces: [], logs: [] },
  };

  // -- credentials ---------------------------------------------------------------
  // The page never holds the token. The server exchanges /?token=... for an HttpOnly,
  // SameSite=Strict session cookie and redirects to the address without it; the token
  // field below does the same through POST /api/session. API calls carry the cookie.
  async function startSession(token) {
    const response = await fetch("/api/session", {
      method: "POST",
      headers: { Authorization: "Bearer " + token },
      cache: "no-store",
      credentials: "same-origin",
    });
    return response.ok;
  }

  // -- DOM helpers (text only) ------------------------------------------------
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    append(node, children);
    return node;
  }

  // Like replaceChildren, but skips null/false (replaceChildren would print "null").
  function fill(node, ...children) {
    node.replaceChildren();
    return append(node, children);
  }

  function append(node, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function traceHref(traceId, spanId) {
    const base = "#/traces/" + encodeURIComponent(traceId);
    return spanId ? base + "?span=" + encodeURIComponent(spanId) : base;
  }

  function debounce(fn, ms) {
    let timer = null;
    return () => {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  function activate(node, fn) {
    node.addEventListener("click", fn);
    node.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        fn(event);
      }
    });
  }

  // -- formatting --------------------------------------------------------------
  function fmtMs(ms) {
    if (typeof ms !== "number" || !Number.isFinite(ms)) return "–";
    if (ms < 1) return ms.toFixed(3) + " ms";
    if (ms < 10) return ms.toFixed(2) + " ms";
    if (ms < 1000) return ms.toFixed(1) + " ms";
    return (ms / 1000).toFixed(2) + " s";
  }

  function fmtClock(ns) {
    const date = new Date(Math.floor(Number(ns) / 1e6));
    if (Number.isNaN(date.getTime())) return "–";
    const pad = (n, w) => String(n).padStart(w, "0");
    return (
      pad(date.getHours(), 2) + ":" + pad(date.getMinutes(), 2) + ":" +
      pad(date.getSeconds(), 2) + "." + pad(date.getMilliseconds(), 3)
    );
  }

  function fmtNumber(value) {
    if (typeof value !== "number") return value === null || value === undefined ? "–" : String(value);
    if (Number.isInteger(value)) return value.toLocaleString("en-US");
    return value.toLocaleString("en-US", { maximumSignificantDigits: 6 });
  }

  function fmtValue(value) {
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function shortId(id) {
    return id ? id.slice(0, 8) + "…" : "–";
  }

  function badge(text, kind) {
    return h("span", { class: "badge badge-" + kind }, text);
  }

  function statusBadge(status) {
    const kinds = {
      error: "bad", unhealthy: "bad", ok: "good", healthy: "good",
      degraded: "warn", unset: "muted", unknown: "muted",
    };
    return badge(status, kinds[status] || "muted");
  }

  function kvTable(mapping, emptyText) {
    const entries = Object.entries(mapping || {});
    if (entries.length === 0) return h("p", { class: "muted" }, emptyText);
    return h(
      "table",
      { class: "kv" },
      h("tbody", null, entries.map(([key, value]) =>
        h("tr", null, h("th", { scope: "row" }, key), h("td", null, fmtValue(value))))),
    );
  }

  function chips(mapping) {
    const entries = Object.entries(mapping || {});
    if (entries.length === 0) return null;
    return h("span", { class: "chips" }, entries.map(([key, value]) =>
      h("span", { class: "chip" }, key + "=" + fmtValue(value))));
  }

  // -- API ---------------------------------------------------------------------
  class HttpError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, params) {
    const url = new URL(path, window.location.origin);
    for (const [key, value] of Object.entries(params || {})) {
      if (value !== "" && value !== null && value !== undefined) url.searchParams.set(key, value);
    }
    const headers = { Accept: "application/json" };
    const response = await fetch(url, { headers, cache: "no-store", credentials: "same-origin" });
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (!response.ok) {
      const message = body && typeof body.error === "string" ? body.error : "HTTP " + response.status;
      throw new HttpError(response.status, message);
    }
    return body;
  }

  // -- live indicator, token prompt ------------------------------------------
  function setLive(ok, text) {
    const live = document.getElementById("live");
    live.classList.toggle("is-error", !ok);
    document.getElementById("live-text").textContent = text;
  }

  function authPrompt() {
    const input = h("input", {
      type: "password", name: "token", autocomplete: "off", "aria-label": "Token",
      placeholder: "token",
    });
    const status = h("p", { class: "muted", role: "alert" });
    const use = async () => {
      const token = input.value;
      if (token === "") return;
      input.value = "";
      let ok = false;
      try {
        ok = await startSession(token);
      } catch (_) {
        ok = false;
      }
      if (ok) poll();
      else status.textContent = "That token was not accepted.";
    };
    input.addEventListener("keydown", (event) => { if (event.key === "Enter") use(); });
    return h("section", { class: "notice", id: "auth" },
      h("h2", null, "A token is required"),
      h("p", null, "Open the address the server printed (it ends in ?token=…), or paste the " +
        "token here. The server swaps it for a cookie this page cannot read; the token itself " +
        "is kept nowhere."),
      h("div", { class: "row" }, input, h("button", { type: "button", class: "btn", onclick: use }, "Use token")),
      status);
  }

  // -- pager -------------------------------------------------------------------
  function pager(key) {
    const stack = state.cursors[key];
    const label = h("span", { class: "muted" });
    const newest = h("button", { type: "button", class: "btn" }, "Newest");
    const older = h("button", { type: "button", class: "btn" }, "Older");
    let next = null;
    newest.addEventListener("click", () => { stack.length = 0; poll(); });
    older.addEventListener("click", () => { if (next) { stack.push(next); poll(); } });
    return {
      node: h("div", { class: "pager" }, label, newest, older),
      cursor: () => (stack.length ? stack[stack.length - 1] : ""),
      update(data, noun) {
        next = data.next_before;
        newest.disabled = stack.length === 0;
        older.disabled = !next;
        const page = stack.length ? " · page " + (stack.length + 1) + " (paused on older items)" : "";
        label.textContent = data.count + " " + noun + page;
      },
    };
  }

  // -- traces list ---------------------------------------------------------------
  function tracesView() {
    const filters = state.filters.traces;
    const paging = pager("traces");
    const reset = () => { state.cursors.traces.length = 0; poll(); };
    const field = (key, label, placeholder) => {
      const input = h("input", { type: "search", name: key, placeholder, "aria-label": label, value: filters[key] });
      input.addEventListener("input", debounce(() => { filters[key] = input.value.trim(); reset(); }, 250));
      return input;
    };
    const status = h("select", { name: "status", "aria-label": "Status" },
      h("option", { value: "" }, "any status"),
      h("option", { value: "error" }, "errors"),
      h("option", { value: "ok" }, "no errors"));
    status.value = filters.status;
    status.addEventListener("change", () => { filters.status = status.value; reset(); });
    const tbody = h("tbody");
    const root = h("section", { class: "view", "aria-labelledby": "traces-title" },
      h("div", { class: "view-head" },
        h("h1", { id: "traces-title" }, "Traces"),
        h("form", { class: "filters", role: "search", onsubmit: (e) => e.preventDefault() },
          field("name", "Span name", "span name contains…"),
          status,
          field("correlation_id", "Correlation ID", "correlation ID"))),
      h("table", { class: "grid traces" },
        h("thead", null, h("tr", null,
          h("th", null, "Trace"), h("th", null, "Service"), h("th", null, "Started"),
          h("th", { class: "num" }, "Duration"), h("th", { class: "num" }, "Spans"),
          h("th", null, "Status"), h("th", null, "Correlation ID"))),
        tbody),
      paging.node);

    return {
      tab: "traces",
      root,
      load: () => api("/api/traces", { ...filters, before: paging.cursor() }),
      render(data) {
        paging.update(data, data.count === 1 ? "trace" : "traces");
        if (data.traces.length === 0) {
          const filtered = filters.name || filters.status || filters.correlation_id;
          fill(tbody, h("tr", null, h("td", { colspan: 7, class: "empty" },
            filtered ? "No trace matches these filters." : "No traces yet.")));
          return;
        }
        const longest = Math.max(...data.traces.map((t) => t.duration_ms), 0.001);
        fill(tbody, ...data.traces.map((t) => {
          const open = () => { window.location.hash = traceHref(t.trace_id); };
          const row = h("tr", { "data-trace-id": t.trace_id, class: t.error ? "is-error" : null, tabindex: "0" },
            h("td", null,
              h("a", { href: traceHref(t.trace_id), class: "name" }, t.root_name),
              t.partial ? h("span", { class: "tag", title: "the root span is not in the store (yet)" }, "partial") : null,
              h("div", { class: "mono muted small" }, t.trace_id)),
            h("td", null, t.service || "–"),
            h("td", { class: "mono", title: t.start_time }, fmtClock(t.start_time_ns)),
            h("td", { class: "num" },
              h("span", { class: "dur" },
                h("span", { class: "dur-bar", style: null }),
                fmtMs(t.duration_ms))),
            h("td", { class: "num" }, t.span_count),
            h("td", null, statusBadge(t.status)),
            h("td", { class: "mono small" }, t.correlation_id || "–"));
          row.querySelector(".dur-bar").style.width = Math.max(2, (t.duration_ms / longest) * 100) + "%";
          activate(row, (event) => { if (!(event.target instanceof HTMLAnchorElement)) open(); });
          return row;
        }));
      },
    };
  }

  // -- one trace: the waterfall -------------------------------------------------
  function traceView(traceId, initialSpan) {
    let selected = initialSpan;
    let shown = null;
    let spans = [];
    const title = h("h1", { class: "name" }, "Trace");
    const meta = h("div", { class: "meta" });
    const axis = h("div", { class: "wf-axis" });
    const rows = h("div", { class: "wf-rows" });
    const details = h("aside", { class: "details", "aria-live": "polite" },
      h("p", { class: "muted" }, "Select a span to see its attributes and events."));
    const root = h("section", { class: "view" },
      h("div", { class: "view-head" },
        h("div", null, h("a", { href: "#/traces", class: "back" }, "← Traces"), title, meta)),
      h("div", { class: "trace-layout" },
        h("div", { class: "waterfall" },
          h("div", { class: "wf-head" }, h("div", { class: "wf-label" }, "Span"), axis),
          rows),
        details));

    function select(spanId) {
      selected = spanId;
      for (const row of rows.children) {
        row.classList.toggle("is-selected", row.dataset.row === spanId);
      }
      const url = traceHref(traceId, spanId);
      if (window.location.hash !== url) window.history.replaceState(window.history.state, "", url);
      if (shown === spanId) return;
      const span = spans.find((s) => s.span_id === spanId);
      fill(details, ...(span ? spanDetails(span) : []));
      shown = spanId;
    }

    function spanDetails(span) {
      return [
        h("h2", { class: "name" }, span.name),
        span.status === "error"
          ? h("p", { class: "error-text" }, "Error" + (span.status_description ? ": " + span.status_description : ""))
          : null,
        kvTable({
          "span id": span.span_id,
          parent: span.parent_span_id || "(root)",
          kind: span.kind,
          status: span.status,
          started: span.start_time,
          offset: fmtMs(span.offset_ms),
          duration: fmtMs(span.duration_ms),
          scope: span.scope,
        }, ""),
        h("h3", null, "Attributes"),
        kvTable(span.attributes, "No attributes."),
        h("h3", null, "Events"),
        span.events.length === 0
          ? h("p", { class: "muted" }, "No events.")
          : h("ol", { class: "events" }, span.events.map((event) =>
            h("li", null,
              h("span", { class: "mono muted" }, "+" + fmtMs(event.offset_ms)), " ",
              h("strong", null, event.name),
              kvTable(event.attributes, "")))),
        h("details", null, h("summary", null, "Resource"), kvTable(span.resource, "No resource attributes.")),
      ];
    }

    return {
      tab: "traces",
      root,
      load: () => api("/api/traces/" + encodeURIComponent(traceId)),
      fail(error) {
        if (error.status !== 404 && error.status !== 400) return false;
        title.textContent = error.status === 404 ? "Trace not found" : "Not a trace ID";
        fill(meta, h("p", { class: "muted" }, error.message));
        rows.replaceChildren();
        axis.replaceChildren();
        return true;
      },
      render(data) {
        const t = data.trace;
        spans = data.spans;
        title.textContent = t.root_name;
        fill(meta,
          statusBadge(t.status), " ",
          h("span", { class: "mono" }, t.trace_id),
          h("span", null, t.service || "–"),
          h("span", { title: t.start_time }, "started " + fmtClock(t.start_time_ns)),
          h("span", null, fmtMs(t.duration_ms)),
          h("span", null, t.span_count + (t.span_count === 1 ? " span" : " spans")),
          t.correlation_id ? h("span", { class: "mono" }, "correlation " + t.correlation_id) : null,
          h("a", { href: "#/logs?trace_id=" + encodeURIComponent(t.trace_id) }, "logs of this trace"));
        const total = t.duration_ms > 0 ? t.duration_ms : 1;
        fill(axis, ...[0, 0.25, 0.5, 0.75, 1].map((f) => {
          const tick = h("span", { class: "wf-tick" }, f === 0 ? "0" : fmtMs(total * f));
          tick.style.left = f * 100 + "%";
          return tick;
        }));
        fill(rows, ...spans.map((span) => {
          const left = (span.offset_ms / total) * 100;
          const width = Math.max((span.duration_ms / total) * 100, 0.3);
          const bar = h("div", {
            class: "wf-bar", "data-span-id": span.span_id,
            title: span.name + " · " + fmtMs(span.duration_ms),
          });
          bar.style.left = Math.min(left, 99.7) + "%";
          bar.style.width = Math.min(width, 100 - Math.min(left, 99.7)) + "%";
          const label = h("span", { class: "wf-dur" }, fmtMs(span.duration_ms));
          if (width >= 25) {
            label.classList.add("is-inside"); // wide bar: the duration sits inside its end
            label.style.right = Math.max(100 - left - width, 0) + "%";
          } else if (left + width > 75) {
            label.style.right = 100 - left + "%";
          } else {
            label.style.left = left + width + "%";
          }
          const events = span.events.map((event) => {
            const mark = h("span", {
              class: "wf-event" + (event.name === "exception" ? " is-exception" : ""),
              title: event.name + " at +" + fmtMs(event.offset_ms),
            });
            mark.style.left = Math.min((event.offset_ms / total) * 100, 100) + "%";
            return mark;
          });
          const name = h("div", { class: "wf-label", title: span.name },
            span.status === "error" ? h("span", { class: "error-mark", "aria-label": "error" }, "!") : null,
            h("span", { class: "name" }, span.name),
            h("span", { class: "muted small" }, " " + span.kind));
          name.style.paddingLeft = 0.5 + span.depth * 1.1 + "rem";
          const row = h("div", {
            class: "wf-row" + (span.status === "error" ? " is-error" : ""),
            "data-row": span.span_id, role: "button", tabindex: "0",
          }, name, h("div", { class: "wf-track" }, bar, label, events));
          activate(row, () => select(span.span_id));
          return row;
        }));
        shown = null;
        if (selected && spans.some((s) => s.span_id === selected)) select(selected);
      },
    };
  }

  // -- logs -----------------------------------------------------------------------
  function logsView(params) {
    const filters = state.filters.logs;
    const traceId = params.get("trace_id") || "";
    const paging = pager("logs");
    const reset = () => { state.cursors.logs.length = 0; poll(); };
    const level = h("select", { name: "min_level", "aria-label": "Minimum level" },
      h("option", { value: "" }, "any level"),
      LEVELS.map((name) => h("option", { value: name }, name + " and above")));
    level.value = filters.min_level;
    level.addEventListener("change", () => { filters.min_level = level.value; reset(); });
    const search = h("input", { type: "search", name: "q", placeholder: "message contains…", "aria-label": "Search", value: filters.q });
    search.addEventListener("input", debounce(() => { filters.q = search.value.trim(); reset(); }, 250));
    const traceChip = traceId
      ? h("span", { class: "chip" }, "trace " + shortId(traceId) + " ",
        h("a", { href: "#/logs", "aria-label": "Show all logs" }, "✕"))
      : null;
    const tbody = h("tbody");
    const root = h("section", { class: "view" },
      h("div", { class: "view-head" },
        h("h1", null, "Logs"),
        h("form", { class: "filters", role: "search", onsubmit: (e) => e.preventDefault() },
          level, search, traceChip)),
      h("table", { class: "grid logs" },
        h("thead", null, h("tr", null,
          h("th", null, "Time"), h("th", null, "Level"), h("th", null, "Message"),
          h("th", null, "Service"), h("th", null, "Trace"))),
        tbody),
      paging.node);

    return {
      tab: "logs",
      root,
      load: () => api("/api/logs", { ...filters, trace_id: traceId, before: paging.cursor() }),
      render(data) {
        paging.update(data, data.count === 1 ? "record" : "records");
        if (data.logs.length === 0) {
          fill(tbody, h("tr", null, h("td", { colspan: 5, class: "empty" }, "No log records.")));
          return;
        }
        fill(tbody, ...data.logs.map((log) => h("tr", {
          class: "level-" + log.level, "data-trace-id": log.trace_id || null,
        },
        h("td", { class: "mono", title: log.time }, fmtClock(log.timestamp_ns)),
        h("td", null, h("span", { class: "level" }, log.severity_text || log.level)),
        h("td", { class: "message" },
          h("div", { class: "body" }, fmtValue(log.body)),
          chips(log.attributes)),
        h("td", null, log.service || "–"),
        h("td", { class: "mono" }, log.trace_id
          ? h("a", { href: traceHref(log.trace_id, log.span_id), title: log.trace_id }, shortId(log.trace_id))
          : "–"))));
      },
    };
  }

  // -- metrics ------------------------------------------------------------------------
  function histogram(point) {
    const buckets = point.buckets || [];
    const most = Math.max(1, ...buckets.map(([, count]) => count));
    const total = point.count || 0;
    return h("div", { class: "hist", role: "img", "aria-label": "bucket counts" },
      buckets.map(([bound, count], index) => {
        const label = bound === "+Inf" ? "+Inf" : "≤ " + fmtNumber(bound);
        const bar = h("div", { class: "hist-bar" });
        bar.style.height = (count / most) * 100 + "%";
        const share = total ? " (" + Math.round((count / total) * 100) + "%)" : "";
        return h("div", { class: "hist-col", title: label + ": " + count + share, "data-bucket": index },
          h("span", { class: "hist-count" }, count ? fmtNumber(count) : ""),
          h("div", { class: "hist-area" }, bar),
          h("span", { class: "hist-label" }, label));
      }));
  }

  function metricsView() {
    const list = h("div", { class: "cards" });
    const root = h("section", { class: "view" },
      h("div", { class: "view-head" }, h("h1", null, "Metrics")), list);
    return {
      tab: "metrics",
      root,
      load: () => api("/api/metrics"),
      render(data) {
        if (data.metrics.length === 0) {
          fill(list, h("p", { class: "empty" }, "No metrics recorded yet."));
          return;
        }
        fill(list, ...data.metrics.map((metric) => {
          const head = h("header", null,
            h("h2", { class: "name" }, metric.name), " ",
            badge(metric.kind, "muted"), metric.unit ? h("span", { class: "muted" }, " " + metric.unit) : null);
          let body;
          if (metric.kind === "histogram") {
            body = metric.points.map((p) => h("div", { class: "hist-point" },
              h("div", { class: "hist-meta" },
                chips(p.attributes) || h("span", { class: "muted" }, "(no attributes)"),
                h("span", { class: "muted" },
                  "count " + fmtNumber(p.count) + " · sum " + fmtNumber(p.sum) +
                  (p.count ? " · avg " + fmtNumber(p.sum / p.count) : ""))),
              histogram(p)));
          } else {
            body = h("table", { class: "grid compact" },
              h("thead", null, h("tr", null, h("th", null, "Attributes"), h("th", { class: "num" }, "Value"))),
              h("tbody", null, metric.points.map((p) => h("tr", null,
                h("td", null, chips(p.attributes) || h("span", { class: "muted" }, "(none)")),
                h("td", { class: "num mono" }, fmtNumber(p.value))))));
          }
          return h("article", { class: "card", "data-metric": metric.name }, head, body);
        }));
      },
    };
  }

  // -- health and pipeline ---------------------------------------------------------------
  function healthView() {
    const summary = h("div", { class: "meta" });
    const components = h("div");
    const pipelines = h("div");
    const store = h("div");
    const root = h("section", { class: "view" },
      h("div", { class: "view-head" }, h("div", null, h("h1", null, "Health and pipeline"), summary)),
      h("h2", null, "Components"), components,
      h("h2", null, "Pipelines"), pipelines,
      h("h2", null, "In-memory store"), store);
    const table = (headers, bodyRows) => h("table", { class: "grid compact" },
      h("thead", null, h("tr", null, headers.map((name, i) =>
        h("th", { class: i > 0 && name !== "Status" && name !== "Message" && name !== "Last export" ? "num" : null }, name)))),
      h("tbody", null, bodyRows));
    return {
      tab: "health",
      root,
      load: () => api("/api/health"),
      render(data) {
        fill(summary,
          statusBadge(data.status), " ",
          h("span", null, "service " + (data.service || "–")), " ",
          h("span", { class: "muted", "data-instance": (data.instance || {})["service.instance.id"] || "" },
            "instance " + ((data.instance || {})["service.instance.id"] || "–") +
            ", pid " + ((data.instance || {})["process.pid"] || "–")),
          data.shutdown ? badge("shut down", "bad") : null);
        const comps = Object.entries(data.components || {});
        fill(components, comps.length === 0
          ? h("p", { class: "muted" }, "No health checks recorded.")
          : table(["Component", "Status", "Message", "Checked"], comps.map(([name, c]) =>
            h("tr", { "data-component": name },
              h("td", { class: "name" }, name), h("td", null, statusBadge(c.status)),
              h("td", null, c.message || ""), h("td", { class: "num mono" }, c.checked_at || "–")))));
        const pipes = Object.entries(data.pipelines || {});
        fill(pipelines, pipes.length === 0
          ? h("p", { class: "muted" }, "No pipelines.")
          : table(["Pipeline", "Accepted", "Exported", "Dropped", "Queue", "Last export"], pipes.map(([key, p]) => {
            const dropped = Object.values(p.dropped || {}).reduce((a, b) => a + b, 0);
            const reasons = Object.entries(p.dropped || {}).filter(([, n]) => n > 0)
              .map(([reason, n]) => reason + " " + n).join(", ");
            const last = p.last_export_ok === null ? "–" : p.last_export_ok ? "ok" : "failed: " + (p.last_error || "");
            return h("tr", { "data-pipeline": key, class: dropped ? "is-error" : null },
              h("td", { class: "name mono" }, key),
              h("td", { class: "num" }, fmtNumber(p.accepted)),
              h("td", { class: "num" }, fmtNumber(p.exported)),
              h("td", { class: "num", title: reasons || "nothing dropped" },
                fmtNumber(dropped), reasons ? h("div", { class: "muted small" }, reasons) : null),
              h("td", { class: "num" }, fmtNumber(p.queue_depth)),
              h("td", null, last));
          })));
        fill(store, table(["Signal", "Size", "Capacity", "Accepted", "Evicted"],
          Object.entries(data.store || {}).map(([signal, s]) => h("tr", null,
            h("td", { class: "name" }, signal),
            h("td", { class: "num" }, fmtNumber(s.size)),
            h("td", { class: "num" }, fmtNumber(s.capacity)),
            h("td", { class: "num" }, fmtNumber(s.accepted)),
            h("td", { class: "num" }, fmtNumber(s.evicted))))));
      },
    };
  }

  // -- instances: every process that sent telemetry (the hub shows many) ------------------
  function instancesView() {
    const list = h("div");
    const root = h("section", { class: "view" },
      h("div", { class: "view-head" }, h("h1", null, "Instances")), list);
    return {
      tab: "instances",
      root,
      load: () => api("/api/instances"),
      render(data) {
        if (data.instances.length === 0) {
          fill(list, h("p", { class: "empty" }, "No instance has reported yet."));
          return;
        }
        const now = Date.now() * 1e6;
        fill(list, h("table", { class: "grid compact" },
          h("thead", null, h("tr", null,
            ["Service", "Instance", "PID", "First seen", "Last seen", "Spans", "Logs", "Metric points"]
              .map((name, i) => h("th", { class: i > 1 ? "num" : null }, name)))),
          h("tbody", null, data.instances.map((row) => {
            const alive = now - Number(row.last_seen) < 15e9;
            return h("tr", { "data-instance": row.instance },
              h("td", { class: "name" }, row.service),
              h("td", { class: "mono", title: row.instance }, row.instance, " ",
                alive ? badge("alive", "good") : badge("silent", "muted")),
              h("td", { class: "num mono" }, row.pid === null ? "–" : String(row.pid)),
              h("td", { class: "num mono" }, fmtClock(row.first_seen)),
              h("td", { class: "num mono" }, fmtClock(row.last_seen)),
              h("td", { class: "num" }, fmtNumber(row.spans)),
              h("td", { class: "num" }, fmtNumber(row.logs)),
              h("td", { class: "num" }, fmtNumber(row.metric_points)));
          }))));
      },
    };
  }

  // -- routing and polling ----------------------------------------------------------------
  function parseHash() {
    const raw = window.location.hash.replace(/^#/, "") || "/traces";
    const mark = raw.indexOf("?");
    const path = mark < 0 ? raw : raw.slice(0, mark);
    const params = new URLSearchParams(mark < 0 ? "" : raw.slice(mark + 1));
    const parts = path.split("/").filter(Boolean).map((part) => {
      try {
        return decodeURIComponent(part);
      } catch (_) {
        return part;
      }
    });
    return { parts, params };
  }

  function route() {
    const { parts, params } = parseHash();
    let view;
    if (parts[0] === "traces" && parts.length > 1) view = traceView(parts[1], params.get("span"));
    else if (parts[0] === "logs") view = logsView(params);
    else if (parts[0] === "metrics") view = metricsView();
    else if (parts[0] === "health") view = healthView();
    else if (parts[0] === "instances") view = instancesView();
    else view = tracesView();
    for (const tab of document.querySelectorAll("[data-tab]")) {
      if (tab.dataset.tab === view.tab) tab.setAttribute("aria-current", "page");
      else tab.removeAttribute("aria-current");
    }
    state.view = view;
    document.getElementById("view").replaceChildren(view.root);
    poll();
  }

  async function poll() {
    clearTimeout(state.timer);
    const generation = ++state.generation;
    const view = state.view;
    try {
      const data = await view.load();
      if (generation !== state.generation) return;
      document.getElementById("auth")?.remove();
      const signature = JSON.stringify(data);
      if (signature !== view.signature) {
        view.signature = signature; // unchanged data keeps focus, scroll and open panels
        view.render(data);
      }
      setLive(true, "live · " + fmtClock(Date.now() * 1e6));
    } catch (error) {
      if (generation !== state.generation) return;
      if (error.status === 401) {
        if (!document.getElementById("auth")) view.root.prepend(authPrompt());
        setLive(false, "token required");
      } else if (view.fail && view.fail(error)) {
        view.signature = null;
        setLive(true, "live · " + fmtClock(Date.now() * 1e6));
      } else {
        setLive(false, error.status ? error.message : "server unreachable");
      }
    }
    if (generation === state.generation) state.timer = setTimeout(poll, POLL_MS);
  }

  window.addEventListener("hashchange", route);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });
  route();
})();
