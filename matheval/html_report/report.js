// matheval report: renders the data embedded in this page; fetches nothing.
// Figures are read as the Python side computed them (summary.json, `matheval compare`): none is
// recomputed here except counts of the filtered sample list.
"use strict";
(() => {
  const DATA = JSON.parse(document.getElementById("report-data").textContent);
  const RUNS = DATA.runs;
  const $ = (id) => document.getElementById(id);
  const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ESC[c]);
  const pct = (v, d = 1) => (v == null ? "—" : (100 * v).toFixed(d));
  const pts = (v) => (v == null ? "—" : (v >= 0 ? "+" : "") + (100 * v).toFixed(1));
  const show = (v) => (typeof v === "string" ? v : JSON.stringify(v));
  const options = (sel, items, current) => {
    sel.innerHTML = items.map(([v, t]) => `<option value="${esc(v)}"${v === current ? " selected" : ""}>${esc(t)}</option>`).join("");
  };

  function metricKey(m) {
    if (m === "top1") return [0, 0, ""];
    const r = /^(maj|pass)@(\d+)$/.exec(m);
    return r ? [r[1] === "maj" ? 1 : 2, +r[2], ""] : [3, 0, m];
  }
  function byMetric(a, b) {
    const x = metricKey(a), y = metricKey(b);
    return x[0] - y[0] || x[1] - y[1] || (x[2] < y[2] ? -1 : x[2] > y[2] ? 1 : 0);
  }
  const metricsOf = (tasks) => [...new Set(tasks.flatMap((t) => Object.keys(t.metrics || {})))].sort(byMetric);

  // ------------------------------------------------------------ samples, decoded on first use
  // A run's list (one head per problem: its primary completion at index 0) is one gzipped blob;
  // every completion of a problem with several is in a detail blob of DATA.detail_chunk problems.
  // The blobs follow this script in the page, so the leaderboard is drawn before they are parsed.
  const parsed = new Promise((resolve) => {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", resolve);
    else resolve();
  });
  const decoded = new Map();
  function blob(id) {
    if (!decoded.has(id)) {
      decoded.set(id, (async () => {
        await parsed;
        const bin = atob(document.getElementById(id).textContent.trim());
        const bytes = new Uint8Array(bin.length);
        for (let j = 0; j < bin.length; j++) bytes[j] = bin.charCodeAt(j);
        const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
        return JSON.parse(await new Response(stream).text());
      })());
    }
    return decoded.get(id);
  }
  const lists = new Map();
  function samplesOf(r) {
    if (!lists.has(r)) {
      lists.set(r, blob(`samples-${r}`).then((list) => {
        list.forEach((s, pos) => { s._pos = pos; });
        return { list, index: new Map(list.map((s) => [`${s.t}\u0000${s.i}`, s])) };
      }));
    }
    return lists.get(r);
  }
  // Every completion of a problem: its detail (several completions), or its head (one).
  async function fullOf(r, s) {
    const id = `detail-${r}-${Math.floor(s._pos / DATA.detail_chunk)}`;
    await parsed;
    if (!document.getElementById(id)) return s;
    return (await blob(id))[s._pos % DATA.detail_chunk] || s;
  }
  const sampledIndex = (full, j) => full.k.slice(0, j).filter((c) => !c.gr).length;
  function outcome(s) {
    if (s.u) return "unscorable";
    if ("top1" in s.s) return s.s.top1 === 1 ? "correct" : "wrong";
    if (s.vt) return s.vt.correct ? "correct" : "wrong";
    const v = s.v[0];
    return v && v[0] ? "correct" : "wrong";
  }

  // ------------------------------------------------------------ leaderboard
  function fpLine(fp) {
    if (!fp) return "no fingerprint recorded";
    const dec = fp.sampled ? `n=${fp.sampled.n} T=${fp.sampled.temperature} top_p=${fp.sampled.top_p}` : "greedy";
    return [`prompt ${String(fp.prompt_sha256 || "").slice(0, 12)}`, `${fp.prompt_style}`, dec + (fp.sampled && fp.greedy ? " + greedy" : ""),
      `max_tokens ${fp.max_tokens}`, `dtype ${fp.dtype}`, `grader ${fp.grader_version}`, `backend ${fp.backend}`,
      fp.limit != null ? `limit ${fp.limit}` : "all problems"].join(" · ");
  }
  function fpMarker(task, i) {
    const diffs = (DATA.fp_diffs[task] || {})[String(i)];
    if (!diffs) return "";
    const blocking = diffs.some((d) => d.blocking);
    const lines = diffs.map((d) => `${d.key}: ${show(d.this)} (most of the column: ${show(d.majority)})`);
    const head = blocking ? "not run like most of this column:" : "only versions differ from most of this column:";
    return `<span class="fp-diff ${blocking ? "blocking" : "info"}" title="${esc([head, ...lines].join("\n"))}">${blocking ? "≠" : "~"}</span>`;
  }
  const HONEST = [["no_answer_rate", "no ans %", "rate"], ["unparsable_rate", "unpars %", "rate"], ["timeout_rate", "timeout %", "rate"],
    ["truncation_rate", "trunc %", "rate"], ["prompt_too_long", "too long", "count"], ["mean_output_tokens", "tokens", "tokens"],
    ["unscorable", "apart", "apart"]];

  function renderLeaderboard() {
    const metric = $("lb-metric").value;
    const honest = $("lb-honest").checked ? HONEST : [];
    const cols = DATA.columns;
    const per = 3 + honest.length;
    let h = `<thead><tr><th class="row" rowspan="2">model · run</th>${cols.map((t) => `<th class="task" colspan="${per}">${esc(t)}</th>`).join("")}</tr><tr>`;
    h += cols.map(() => `<th>${esc(metric)}</th><th>95% CI</th><th>n</th>${honest.map((c) => `<th>${c[1]}</th>`).join("")}`).join("") + "</tr></thead><tbody>";
    // Bold the column's best value, unless every run has it.
    const best = cols.map((t) => {
      const vals = RUNS.map((r) => r.tasks[t]?.metrics?.[metric]?.value).filter((v) => v != null);
      return vals.length > 1 && Math.max(...vals) > Math.min(...vals) ? Math.max(...vals) : null;
    });
    RUNS.forEach((run, i) => {
      h += `<tr><th class="row">${esc(run.label)}<br><small>${esc(run.id)}${run.profile ? " · " + esc(run.profile) : ""}${run.complete ? "" : " · incomplete"}</small></th>`;
      cols.forEach((task, c) => {
        const t = run.tasks[task];
        const m = t?.metrics?.[metric];
        if (!t) { h += "<td></td>".repeat(per); return; }
        if (!m) h += `<td class="lb-value" data-run="${i}" data-task="${esc(task)}" data-metric="${esc(metric)}" title="this run has no ${esc(metric)} for ${esc(task)}">—</td><td></td><td></td>`;
        else {
          h += `<td class="lb-value${m.value === best[c] ? " best" : ""}" data-run="${i}" data-task="${esc(task)}" data-metric="${esc(metric)}" data-value="${m.value}" title="${esc(fpLine(t.fingerprint))}">${pct(m.value)}${fpMarker(task, i)}</td>`;
          h += `<td class="lb-ci" data-lo="${m.ci_low}" data-hi="${m.ci_high}">${pct(m.ci_low)}–${pct(m.ci_high)}</td><td>${m.n}</td>`;
        }
        for (const [key, , kind] of honest) {
          const v = t[key];
          if (kind === "rate") h += `<td class="lb-${key}" data-value="${v}">${pct(v)}</td>`;
          else if (kind === "apart") {
            const ids = Object.entries(v || {});
            h += `<td class="lb-unscorable" title="${esc(ids.map(([id, why]) => `${id}: ${why}`).join("\n"))}">${ids.length}</td>`;
          } else h += `<td class="lb-${key}" data-value="${v}">${kind === "tokens" ? Number(v).toFixed(0) : v}</td>`;
        }
      });
      h += "</tr>";
    });
    $("lb").innerHTML = h + "</tbody>";
    const notes = [];
    RUNS.forEach((run) => {
      run.warnings.forEach((w) => notes.push(`${run.id}: ${w}`));
      if (!run.complete) notes.push(`${run.id}: the run did not finish (pending generations not graded)`);
      if (run.rescore) {
        const r = run.rescore;
        notes.push(`${run.id}: rescored from ${r.source}` + (r.labels_total ? `; agrees with the file's own labels on ${r.labels_agree}/${r.labels_total} completions` : ""));
      }
      Object.entries(run.tasks).forEach(([task, t]) => {
        const n = Object.keys(t.unscorable || {}).length;
        if (n) notes.push(`${run.id} · ${task}: ${n} problems reported apart, not scored (gold unreadable by the grader; hover the "apart" cell)`);
      });
    });
    $("lb-notes").innerHTML = notes.map((n) => `<div class="note">${esc(n)}</div>`).join("");
  }

  function renderFingerprints() {
    let h = "";
    for (const task of DATA.columns) {
      h += `<h3>${esc(task)}</h3><table class="grid"><tr><th class="row">run</th><th class="row">fingerprint</th><th class="row">differs from the column</th></tr>`;
      RUNS.forEach((run, i) => {
        const t = run.tasks[task];
        if (!t) return;
        const diffs = (DATA.fp_diffs[task] || {})[String(i)] || [];
        h += `<tr><th class="row">${esc(run.label)}</th><td style="text-align:left">${esc(fpLine(t.fingerprint))}</td><td style="text-align:left">${
          diffs.map((d) => `${esc(d.key)}: ${esc(show(d.this))} vs ${esc(show(d.majority))}${d.blocking ? "" : " (version)"}`).join("<br>") || "—"}</td></tr>`;
      });
      h += "</table>";
    }
    $("fp-body").innerHTML = h;
  }

  // ------------------------------------------------------------ per task
  function renderTask() {
    const task = $("t-task").value;
    const runs = RUNS.map((r, i) => [i, r, r.tasks[task]]).filter((x) => x[2]);
    const all = metricsOf(runs.map((x) => x[2]));
    if (!all.includes($("t-metric").value)) options($("t-metric"), all.map((m) => [m, m]), all[0]);
    const metric = $("t-metric").value;
    let h = `<h2>${esc(task)}: all metrics</h2><div class="scroll"><table class="grid"><tr><th class="row">run</th>${all.map((m) => `<th>${esc(m)}</th>`).join("")}<th>problems</th><th>samples</th></tr>`;
    for (const [i, run, t] of runs) {
      h += `<tr><th class="row">${esc(run.label)}</th>${all.map((m) => {
        const v = t.metrics[m];
        return v ? `<td class="t-metric" data-run="${i}" data-metric="${esc(m)}" data-value="${v.value}">${pct(v.value)} <small>${pct(v.ci_low)}–${pct(v.ci_high)}</small></td>` : "<td>—</td>";
      }).join("")}<td>${t.n_scored} of ${t.n_problems}</td><td>${t.n_samples}</td></tr>`;
    }
    h += "</table></div>";
    const figs = runs.filter((x) => x[2].curve_svg);
    if (figs.length) {
      h += `<h2>maj@k and pass@k over k (bands: 95% CI)</h2><div class="figs">${figs.map(([, run, t]) => `<figure>${t.curve_svg}<figcaption>${esc(run.label)}</figcaption></figure>`).join("")}</div>`;
    }
    const keys = [...new Set(runs.flatMap((x) => Object.keys(x[2].categories || {})))];
    for (const key of keys) {
      const values = [...new Set(runs.flatMap((x) => (x[2].categories[key] || []).map((c) => c.value)))];
      h += `<h2>${esc(metric)} by ${esc(key)}</h2><div class="scroll"><table class="grid cat" data-key="${esc(key)}"><tr><th class="row">${esc(key)}</th>${runs.map(([, run]) => `<th>${esc(run.label)}</th>`).join("")}</tr>`;
      for (const value of values) {
        h += `<tr><th class="row">${esc(value)}</th>${runs.map(([i, , t]) => {
          const c = (t.categories[key] || []).find((x) => x.value === value);
          const m = c?.metrics?.[metric];
          return m ? `<td class="cat-cell" data-run="${i}" data-category="${esc(value)}" data-value="${m.value}" title="no answer ${pct(c.no_answer_rate)}% · truncated ${pct(c.truncation_rate)}%">${pct(m.value)} <small>${pct(m.ci_low)}–${pct(m.ci_high)} · n=${m.n}</small></td>` : "<td>—</td>";
        }).join("")}</tr>`;
      }
      h += "</table></div>";
    }
    if (!keys.length) h += `<p class="muted">This task declares no categories (its YAML has no <code>categories:</code>), or its records carry none.</p>`;
    for (const [field, title] of [["statuses", "verdict status"], ["rules", "deciding rule"]]) {
      const names = [...new Set(runs.flatMap((x) => Object.keys(x[2][field] || {})))];
      h += `<h2>${title} (all completions)</h2><table class="grid ${field}"><tr><th class="row">${field === "rules" ? "rule" : "status"}</th>${runs.map(([, run]) => `<th>${esc(run.label)}</th>`).join("")}</tr>`;
      for (const name of names) h += `<tr><th class="row">${esc(name)}</th>${runs.map(([, , t]) => `<td>${(t[field] || {})[name] ?? 0}</td>`).join("")}</tr>`;
      h += "</table>";
    }
    $("task-body").innerHTML = h;
  }

  // ------------------------------------------------------------ one sample
  function marked(text, start, end) {
    const cps = /[\uD800-\uDFFF]/.test(text) ? Array.from(text) : null; // spans count code points, as Python does
    const len = cps ? cps.length : text.length;
    if (!(start >= 0 && end > start && end <= len)) return esc(text);
    const cut = (a, b) => (cps ? cps.slice(a, b).join("") : text.slice(a, b));
    return `${esc(cut(0, start))}<mark>${esc(cut(start, end))}</mark>${esc(cut(end, len))}`;
  }
  function verdictHtml(v) {
    if (!v) return "";
    return `<div class="kv"><b>verdict</b><span><span class="badge ${esc(v[1])}">${esc(v[1])}</span> rule <code>${esc(v[2])}</code></span>` +
      (v[5] ? `<b>detail</b><span>${esc(v[5])}</span>` : "") +
      `<b>gold (normalised)</b><code>${esc(v[3])}</code><b>answer (normalised)</b><code>${esc(v[4] ?? "—")}</code></div>`;
  }
  function completionHtml(s, j) {  // s: a problem's full completions (detail or head)
    const c = s.k[j], e = s.e[j], v = s.v[j];
    let h = `<div class="muted">${c.gr ? "greedy" : `sample ${sampledIndex(s, j) + 1}`} · ${c.n} tokens · finish ${esc(c.f)}${c.b ? " · " + esc(c.b) : ""}</div>`;
    h += c.x == null ? `<p class="muted">text not embedded (${c.l} characters; see samples.jsonl, or rebuild with a larger --sample-texts)</p>`
      : `<pre class="completion">${e ? marked(c.x, e[2], e[3]) : esc(c.x)}</pre>`;
    h += `<div class="kv"><b>extracted</b><span>${e ? `${e[0] ? `<code>${esc(e[0])}</code>` : "no answer"} by <code>${esc(e[1])}</code> (${esc(e[4])})${e[5].length > 1 ? ` · candidates ${e[5].map((a) => `<code>${esc(a)}</code>`).join(", ")}` : ""}` : "nothing found"}</span></div>`;
    h += verdictHtml(v);
    (c.r || []).forEach((r, q) => {
      h += `<div class="round"><div class="muted">code round ${q + 1} · ${esc(r.status)}${r.error ? " · " + esc(r.error) : ""}</div><pre>${esc(r.code ?? "")}</pre>${r.output ? `<div class="muted">output</div><pre>${esc(r.output)}</pre>` : ""}</div>`;
    });
    const p = s.pg && s.pg[j];
    if (p) h += `<div class="kv"><b>program answer</b><span><code>${esc(p[0] ?? "—")}</code> (${esc(p[1])}, ${p[2]} executed${p[3] ? ", " + esc(p[3]) : ""})${p[4] ? ` <span class="badge ${esc(p[4][1])}">${esc(p[4][1])}</span> rule <code>${esc(p[4][2])}</code>` : ""}</span></div>`;
    return h;
  }
  function sampleHtml(r, s, full) {
    const prefix = RUNS[r].tasks[s.t]?.prefix || "";
    const pi = full === s ? 0 : s.j;
    let h = `<div class="kv"><b>run</b><span>${esc(RUNS[r].label)}</span><b>problem</b><span>${esc(s.t)} · ${esc(s.i)}</span>` +
      `<b>gold</b><code>${esc(s.g)}</code>` +
      (s.c ? `<b>categories</b><span>${Object.entries(s.c).map(([k, v]) => `<span class="chip">${esc(k)}: ${esc(v)}</span>`).join("")}</span>` : "") +
      `<b>scores</b><span>${Object.entries(s.s).map(([k, v]) => `<span class="chip">${esc(k)} ${Number(v).toFixed(3).replace(/\.?0+$/, "")}</span>`).join("") || "—"}</span></div>`;
    if (s.u) h += `<div class="note">reported apart, not scored: ${esc(s.u)}</div>`;
    if (s.q) h += `<pre class="question">${esc(s.q)}</pre>`;
    h += !prefix && !s.p ? `<p class="muted">no prompt recorded (completions imported from another harness's file)</p>`
      : `<details><summary>prompt (${prefix.length + s.p.length} characters${prefix ? `, ${prefix.length} shared by every problem of the task` : ""})</summary>` +
        (prefix ? `<details><summary class="muted">shared prefix</summary><pre class="prefix">${esc(prefix)}</pre></details>` : "") + `<pre>${esc(s.p)}</pre></details>`;
    if (full.k.length) h += completionHtml(full, pi);
    if (s.vt) {
      const vt = s.vt;
      h += `<h3>vote over ${s.ns} samples: <code>${esc(vt.answer ?? "no winner")}</code> with ${vt.votes ?? 0} votes <span class="badge ${vt.correct ? "correct" : "incorrect"}">${vt.correct ? "correct" : "wrong"}</span>${vt.abstained ? ` · ${vt.abstained} without answer` : ""}</h3>`;
      h += `<table class="grid vote"><tr><th>class</th><th class="row">answer</th><th>size</th><th>correct</th></tr>${(vt.clusters || []).map((c, q) => `<tr><td>${q}</td><td style="text-align:left"><code>${esc(c.answer)}</code></td><td>${c.size}</td><td>${c.correct ? "✓" : "✗"}</td></tr>`).join("")}</table>`;
    }
    const others = full.k.map((c, j) => j).filter((j) => j !== pi);
    if (others.length) {
      const ids = s.vt?.cluster_ids || [];
      h += `<h3>other completions</h3>` + others.map((j) => {
        const e = full.e[j], v = full.v[j], cls = full.k[j].gr ? null : ids[sampledIndex(full, j)];
        return `<details class="lazy" data-run="${r}" data-task="${esc(s.t)}" data-id="${esc(s.i)}" data-j="${j}"><summary>${full.k[j].gr ? "greedy" : "sample"} #${j} · <code>${esc(e && e[0] ? e[0] : "—")}</code> · <span class="badge ${esc(v?.[1])}">${esc(v?.[1])}</span> ${esc(v?.[2] ?? "")}${cls != null ? ` · class ${cls}` : ""}</summary><div class="body"></div></details>`;
      }).join("");
    }
    return h;
  }
  function summaryLine(s) {
    const e = s.e[0], v = s.v[0], o = outcome(s);
    return `<span class="badge ${o === "correct" ? "correct" : o === "wrong" ? "incorrect" : ""}">${o === "unscorable" ? "apart" : o}</span> ` +
      `<b>${esc(s.t)}</b> · ${esc(s.i)} · gold <code>${esc(s.g)}</code> · answer <code>${esc(e && e[0] ? e[0] : "—")}</code> · ${esc(v?.[1] ?? "")} ${v?.[2] ? "(" + esc(v[2]) + ")" : ""}` +
      (s.vt ? ` · vote <code>${esc(s.vt.answer ?? "—")}</code> ${s.vt.votes ?? 0}/${s.ns}` : "");
  }
  // Lazy bodies: a details element is filled the first time it opens (toggle does not bubble: capture it).
  document.addEventListener("toggle", async (ev) => {
    const d = ev.target;
    if (!(d instanceof HTMLDetailsElement) || !d.open || d.dataset.filled) return;
    d.dataset.filled = "1";
    const body = d.querySelector(":scope > .body");
    const key = `${d.dataset.task}\u0000${d.dataset.id}`;
    const problem = async (r) => {
      const s = (await samplesOf(r)).index.get(key);
      return [s, await fullOf(r, s)];
    };
    if (d.classList.contains("lazy")) {
      const [, full] = await problem(+d.dataset.run);
      body.innerHTML = completionHtml(full, +d.dataset.j);
    } else if (d.classList.contains("sample")) {
      const [s, full] = await problem(+d.dataset.run);
      body.innerHTML = sampleHtml(+d.dataset.run, s, full);
    } else if (d.classList.contains("flip")) {
      const [a, b] = [+d.dataset.a, +d.dataset.b];
      const [[sa, fa], [sb, fb]] = await Promise.all([problem(a), problem(b)]);
      body.innerHTML = `<div class="two"><div class="side-a">${sampleHtml(a, sa, fa)}</div><div class="side-b">${sampleHtml(b, sb, fb)}</div></div>`;
    }
  }, true);

  // ------------------------------------------------------------ sample browser
  const PAGE = 100;
  let shown = PAGE, filtered = [];
  async function setupSamples() {
    const r = +$("s-run").value;
    const { list } = await samplesOf(r);
    const tasks = [...new Set(list.map((s) => s.t))];
    options($("s-task"), [["", `all (${tasks.length})`], ...tasks.map((t) => [t, t])], "");
    const count = (f) => { const m = new Map(); list.forEach((s) => f(s).forEach((x) => m.set(x, (m.get(x) || 0) + 1))); return [...m].sort((a, b) => b[1] - a[1]); };
    options($("s-status"), [["", "all"], ...count((s) => [s.v[0]?.[1]].filter(Boolean)).map(([v, n]) => [v, `${v} (${n})`])], "");
    options($("s-rule"), [["", "all"], ...count((s) => [s.v[0]?.[2]].filter(Boolean)).map(([v, n]) => [v, `${v} (${n})`])], "");
    options($("s-cat"), [["", "all"], ...count((s) => Object.entries(s.c || {}).map(([k, v]) => `${k}=${v}`)).sort().map(([v, n]) => [v, `${v} (${n})`])], "");
    await applyFilters();
  }
  async function applyFilters() {
    const r = +$("s-run").value;
    const { list } = await samplesOf(r);
    const task = $("s-task").value, want = $("s-correct").value, status = $("s-status").value, rule = $("s-rule").value, cat = $("s-cat").value;
    const needle = $("s-search").value.trim().toLowerCase();
    filtered = list.filter((s) => {
      const v = s.v[0];
      if (task && s.t !== task) return false;
      if (want && outcome(s) !== want) return false;
      if (status && v?.[1] !== status) return false;
      if (rule && v?.[2] !== rule) return false;
      if (cat) { const at = cat.indexOf("="); if ((s.c || {})[cat.slice(0, at)] !== cat.slice(at + 1)) return false; }
      if (needle) {
        if (s._hay === undefined) s._hay = [s.i, s.g, s.q || "", s.p, s.k[0]?.x || "", s.e[0]?.[0] || ""].join("\n").toLowerCase();
        if (!s._hay.includes(needle)) return false;
      }
      return true;
    });
    shown = PAGE;
    renderList(r);
  }
  function renderList(r) {
    $("s-count").textContent = `${filtered.length} of ${RUNS[r].n_records} problems`;
    $("s-list").innerHTML = filtered.slice(0, shown).map((s) => `<details class="sample" data-run="${r}" data-task="${esc(s.t)}" data-id="${esc(s.i)}"><summary>${summaryLine(s)}</summary><div class="body"></div></details>`).join("");
    $("s-more").hidden = filtered.length <= shown;
    $("s-more").textContent = `show ${Math.min(PAGE, filtered.length - shown)} more`;
  }

  // ------------------------------------------------------------ two runs side by side
  function renderCompare() {
    if (!DATA.pairs.length) {
      $("c-notes").innerHTML = `<p class="muted">${RUNS.length < 2 ? "One run: give two or more runs (or a results dir) to <code>matheval report</code> to compare them." : "No two of these runs scored a problem in common."}</p>` +
        DATA.pair_notes.map((n) => `<div class="note">${esc(n)}</div>`).join("");
      return;
    }
    const p = DATA.pairs[+$("c-pair").value];
    const A = RUNS[p.a], B = RUNS[p.b];
    $("c-notes").innerHTML = `<p>B − A on the problems both runs scored, with the paired 95% interval and two-sided p-value of <code>matheval compare ${esc(A.path)} ${esc(B.path)}</code> (McNemar for 0/1 metrics, sign-flip otherwise). A = <b>${esc(A.label)}</b>, B = <b>${esc(B.label)}</b>.</p>` +
      (DATA.pair_notes.length ? `<details><summary class="muted">${DATA.pair_notes.length} other pairs not compared</summary>${DATA.pair_notes.map((n) => `<div class="note">${esc(n)}</div>`).join("")}</details>` : "");
    let h = `<tr><th class="row">task</th><th class="row">metric</th><th>n</th><th>A</th><th>B</th><th>B − A</th><th>95% interval</th><th>p</th><th class="row">method</th><th>significant</th></tr>`;
    for (const row of p.rows) {
      const dir = row.diff > 0 ? "up" : row.diff < 0 ? "down" : "";
      h += `<tr class="c-row" data-task="${esc(row.task)}" data-metric="${esc(row.metric)}" data-diff="${row.diff}" data-lo="${row.lo}" data-hi="${row.hi}" data-p="${row.p_value}">` +
        `<th class="row">${esc(row.task)}</th><td style="text-align:left">${esc(row.metric)}</td><td>${row.n}</td><td>${pct(row.mean_a)}</td><td>${pct(row.mean_b)}</td>` +
        `<td class="${dir}">${pts(row.diff)}</td><td>[${pts(row.lo)}, ${pts(row.hi)}]</td><td>${Number(row.p_value).toPrecision(3)}</td><td style="text-align:left">${esc(row.method)}</td><td${row.significant ? ' class="sig">yes' : ">no"}</td></tr>`;
    }
    $("c-table").innerHTML = h;
    let f = "";
    const seen = new Set();
    for (const row of p.rows) {
      if (seen.has(row.task)) continue;
      seen.add(row.task);
      if (row.only_a || row.only_b) f += `<div class="note">${esc(row.task)}: ${row.only_a} problems only in A, ${row.only_b} only in B (excluded)</div>`;
    }
    for (const [task, fl] of Object.entries(p.flips)) {
      const lost = fl.items.filter((x) => x.b < x.a).length, gained = fl.items.length - lost;
      f += `<h2>${esc(task)}: ${fl.items.length} of ${fl.n} problems changed on ${esc(fl.metric)} (${lost} lost, ${gained} gained)</h2>`;
      f += fl.items.length ? fl.items.map((x) => `<details class="flip" data-a="${p.a}" data-b="${p.b}" data-task="${esc(task)}" data-id="${esc(x.id)}"><summary><span class="${x.b < x.a ? "down" : "up"}">${x.b < x.a ? "lost" : "gained"}</span> · ${esc(x.id)} · ${esc(fl.metric)} A ${+x.a.toFixed(3)} → B ${+x.b.toFixed(3)} · gold <code>${esc(x.gold)}</code> · A <code>${esc(x.answer_a ?? "—")}</code> · B <code>${esc(x.answer_b ?? "—")}</code></summary><div class="body"></div></details>`).join("")
        : `<p class="muted">no problem changed</p>`;
    }
    $("c-flips").innerHTML = f;
  }

  // ------------------------------------------------------------ wiring
  const VIEWS = ["leaderboard", "tasks", "samples", "compare"];
  const started = new Set();
  function route() {
    const view = VIEWS.includes(location.hash.slice(1)) ? location.hash.slice(1) : "leaderboard";
    VIEWS.forEach((v) => { $(`view-${v}`).hidden = v !== view; });
    document.querySelectorAll("#tabs a").forEach((a) => a.classList.toggle("active", a.dataset.view === view));
    if (view === "samples" && !started.has(view)) {
      started.add(view);
      setupSamples().then(() => { document.body.dataset.samplesReady = "1"; });
    }
  }
  const allMetrics = metricsOf(RUNS.flatMap((r) => Object.values(r.tasks)));
  options($("lb-metric"), allMetrics.map((m) => [m, m]), allMetrics.includes("top1") ? "top1" : allMetrics[0]);
  options($("t-task"), DATA.columns.map((t) => [t, t]), DATA.columns[0]);
  options($("s-run"), RUNS.map((r, i) => [String(i), r.label]), "0");
  options($("c-pair"), DATA.pairs.map((p, i) => [String(i), `A ${RUNS[p.a].label}  vs  B ${RUNS[p.b].label}`]), "0");
  $("meta").textContent = `${RUNS.length} run${RUNS.length > 1 ? "s" : ""} · matheval ${DATA.matheval_version} · generated ${DATA.generated} · offline`;
  $("lb-metric").addEventListener("change", renderLeaderboard);
  $("lb-honest").addEventListener("change", renderLeaderboard);
  $("t-task").addEventListener("change", renderTask);
  $("t-metric").addEventListener("change", renderTask);
  $("s-run").addEventListener("change", setupSamples);
  ["s-task", "s-correct", "s-status", "s-rule", "s-cat"].forEach((id) => $(id).addEventListener("change", applyFilters));
  let timer = 0;
  $("s-search").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(applyFilters, 150); });
  $("s-more").addEventListener("click", () => { shown += PAGE; renderList(+$("s-run").value); });
  $("c-pair").addEventListener("change", renderCompare);
  window.addEventListener("hashchange", route);
  renderLeaderboard();
  renderFingerprints();
  if (DATA.columns.length) renderTask();
  renderCompare();
  route();
  document.body.dataset.ready = "1";
})();
