// Practice Manager Assistant — maintainers' console.
//
// Same safety rule as the chat page: nothing from the server (titles, questions, users' comments) is ever
// parsed as HTML. Every node is built with createElement / textContent; never use innerHTML here.
// The admin token lives in sessionStorage (this tab only) and travels only in the Authorization header.
"use strict";

(() => {
  const TOKEN_STORAGE = "pma.adminToken";
  const POLL_MS = 700;
  const $ = (id) => document.getElementById(id);

  const state = {
    documents: [],
    sort: { key: "title", dir: 1 },
    answers: [],
    editing: null, // id of the approved answer being edited
    citations: [],
  };

  // ---------------------------------------------------------------- helpers

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function button(label, className, onClick) {
    const b = el("button", className || "btn btn-secondary", label);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }

  function token() {
    try {
      return sessionStorage.getItem(TOKEN_STORAGE) || "";
    } catch {
      return "";
    }
  }

  function authHeaders(json) {
    const h = { Authorization: `Bearer ${token()}` };
    if (json) h["Content-Type"] = "application/json";
    return h;
  }

  function showStatus(message) {
    $("status").textContent = message || "";
    $("status").hidden = !message;
  }

  function detailOf(body, status) {
    if (body && typeof body.detail === "string") return body.detail;
    if (body && Array.isArray(body.detail) && body.detail.length) {
      return body.detail
        .map((d) => {
          const where = Array.isArray(d.loc) ? d.loc.filter((p) => p !== "body").join(".") : "";
          return where ? `${where}: ${d.msg}` : d.msg || String(d);
        })
        .join("; ");
    }
    return `The server answered ${status}.`;
  }

  class HttpError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  async function api(method, path, body) {
    let response;
    try {
      response = await fetch(path, {
        method,
        headers: authHeaders(body !== undefined),
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new HttpError(0, "Can't reach the server. Check that it is running, then try again.");
    }
    let data = null;
    try {
      data = await response.json();
    } catch {
      /* no JSON body */
    }
    if (response.status === 401) {
      signOut("Your admin token was not accepted. Sign in again.");
    }
    if (!response.ok) throw new HttpError(response.status, detailOf(data, response.status));
    return data;
  }

  function formatDate(value) {
    if (!value) return "";
    const match = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}))?/.exec(String(value));
    if (!match) return String(value);
    const date = new Date(Date.UTC(+match[1], +match[2] - 1, +match[3]));
    const day = date.toLocaleDateString("en-GB", {
      day: "numeric",
      month: "short",
      year: "numeric",
      timeZone: "UTC",
    });
    return match[4] ? `${day} ${match[4]}:${match[5]}` : day;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // ---------------------------------------------------------------- sign in / tabs

  function signedIn() {
    $("sign-in").hidden = true;
    $("console").hidden = false;
    $("sign-out").hidden = false;
    const wanted = (location.hash || "").replace("#", "");
    openTab(["documents", "sources", "gaps", "answers"].includes(wanted) ? wanted : "documents", false);
  }

  function signOut(message) {
    try {
      sessionStorage.removeItem(TOKEN_STORAGE);
    } catch {
      /* storage blocked */
    }
    $("console").hidden = true;
    $("sign-out").hidden = true;
    $("sign-in").hidden = false;
    $("sign-in-error").textContent = message || "";
    $("token").value = "";
    $("token").focus();
  }

  $("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = $("token").value.trim();
    if (!value) {
      $("sign-in-error").textContent = "Enter the admin token.";
      return;
    }
    try {
      sessionStorage.setItem(TOKEN_STORAGE, value);
    } catch {
      $("sign-in-error").textContent = "This browser blocks session storage, so the console can't keep you signed in.";
      return;
    }
    try {
      await api("GET", "/v1/admin/documents");
      $("sign-in-error").textContent = "";
      signedIn();
    } catch (error) {
      if (error.status === 404) {
        signOut("Admin routes are switched off on this server: set PMA_API__ADMIN_TOKEN and restart it.");
      } else if (error.status !== 401) {
        signOut(error.message);
      }
    }
  });

  $("sign-out").addEventListener("click", () => signOut("Signed out."));

  const loaders = {
    documents: loadDocuments,
    sources: loadSources,
    gaps: loadGaps,
    answers: loadAnswers,
  };

  function openTab(name, focus = true) {
    for (const tab of document.querySelectorAll(".tab")) {
      const on = tab.dataset.tab === name;
      if (on) tab.setAttribute("aria-current", "page");
      else tab.removeAttribute("aria-current");
      $(`tab-${tab.dataset.tab}`).hidden = !on;
    }
    history.replaceState(null, "", `#${name}`);
    showStatus("");
    loaders[name]();
    if (focus) $(`${name}-heading`).focus();
  }

  for (const tab of document.querySelectorAll(".tab")) {
    tab.addEventListener("click", () => openTab(tab.dataset.tab));
  }

  // ---------------------------------------------------------------- documents

  async function loadDocuments() {
    try {
      state.documents = await api("GET", "/v1/admin/documents");
      renderDocuments();
      fillSourceOptions();
    } catch (error) {
      showStatus(error.message);
    }
  }

  function fillSourceOptions() {
    const list = $("source-options");
    list.replaceChildren();
    for (const doc of state.documents) {
      const option = el("option");
      option.value = doc.source;
      option.label = doc.title;
      list.appendChild(option);
    }
  }

  function renderDocuments() {
    const text = $("doc-filter").value.trim().toLowerCase();
    const flag = $("doc-flag").value;
    const { key, dir } = state.sort;
    const rows = state.documents
      .filter((d) => !flag || d[flag])
      .filter(
        (d) =>
          !text ||
          [d.title, d.topic, d.publisher, d.source].some((v) => String(v || "").toLowerCase().includes(text))
      )
      .sort((a, b) => {
        const x = a[key] ?? "";
        const y = b[key] ?? "";
        return (typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y))) * dir;
      });
    const body = $("documents-body");
    body.replaceChildren();
    for (const doc of rows) {
      const tr = el("tr");
      if (doc.review_due) tr.classList.add("review-due");
      if (doc.superseded) tr.classList.add("superseded");
      const title = el("td", "doc-title");
      if (doc.url && /^https?:\/\//.test(doc.url)) {
        const link = el("a", null, doc.title);
        link.href = doc.url;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        title.appendChild(link);
      } else {
        title.textContent = doc.title;
      }
      tr.appendChild(title);
      tr.appendChild(el("td", null, doc.topic || ""));
      tr.appendChild(el("td", null, doc.publisher || ""));
      tr.appendChild(el("td", "nowrap", formatDate(doc.published)));
      tr.appendChild(el("td", "nowrap", formatDate(doc.reviewed)));
      tr.appendChild(el("td", "doc-source", doc.source));
      tr.appendChild(el("td", "num", doc.chunks));
      tr.appendChild(el("td", "nowrap", formatDate(doc.last_synced)));
      const flags = el("td");
      if (doc.review_due) flags.appendChild(el("span", "badge badge-warn", "Review due"));
      if (doc.superseded) {
        const badge = el("span", "badge badge-muted", "Superseded");
        badge.title = `Replaced by ${doc.superseded_by}`;
        flags.appendChild(badge);
      }
      tr.appendChild(flags);
      const actions = el("td");
      const del = button("Delete", "btn btn-danger", () => deleteDocument(doc, del));
      del.setAttribute("aria-label", `Delete ${doc.title}`);
      actions.appendChild(del);
      tr.appendChild(actions);
      body.appendChild(tr);
    }
    $("doc-count").textContent = `${rows.length} of ${state.documents.length} documents`;
    for (const sort of document.querySelectorAll(".sort")) {
      const th = sort.parentElement;
      th.setAttribute("aria-sort", sort.dataset.key === key ? (dir > 0 ? "ascending" : "descending") : "none");
    }
  }

  async function deleteDocument(doc, trigger) {
    // Two presses, no modal: the first turns the button into "Confirm delete", leaving it resets it.
    if (trigger.dataset.armed !== "true") {
      trigger.dataset.armed = "true";
      trigger.textContent = "Confirm delete";
      trigger.setAttribute("aria-label", `Confirm: delete ${doc.title} from the index`);
      trigger.addEventListener(
        "blur",
        () => {
          trigger.dataset.armed = "false";
          trigger.textContent = "Delete";
          trigger.setAttribute("aria-label", `Delete ${doc.title}`);
        },
        { once: true }
      );
      return;
    }
    trigger.disabled = true;
    try {
      const result = await api("DELETE", `/v1/admin/documents/${doc.source.split("/").map(encodeURIComponent).join("/")}`);
      showStatus("");
      addUploadResult(doc.source, "ok", `Deleted ${doc.source} (${result.chunks_deleted} chunks).`);
      await loadDocuments();
      $("documents-heading").focus();
    } catch (error) {
      trigger.disabled = false;
      showStatus(error.message);
    }
  }

  $("doc-filter").addEventListener("input", renderDocuments);
  $("doc-flag").addEventListener("change", renderDocuments);
  for (const sort of document.querySelectorAll(".sort")) {
    sort.addEventListener("click", () => {
      const key = sort.dataset.key;
      state.sort = { key, dir: state.sort.key === key ? -state.sort.dir : 1 };
      renderDocuments();
    });
  }

  // --- upload: several files, progress, per-file result; synchronous (201) or background job (202)

  function addUploadResult(name, kind, text) {
    const item = el("li", `upload-result upload-${kind}`);
    item.appendChild(el("strong", null, name));
    item.appendChild(el("span", "upload-text", ` ${text}`));
    $("upload-results").prepend(item);
    return item;
  }

  function sendFile(file, onProgress) {
    // XMLHttpRequest, not fetch: only it reports upload progress.
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/v1/admin/documents");
      xhr.setRequestHeader("Authorization", `Bearer ${token()}`);
      xhr.upload.addEventListener("progress", (e) => {
        if (e.lengthComputable) onProgress(e.loaded / e.total);
      });
      xhr.addEventListener("load", () => {
        let body = null;
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          /* not JSON */
        }
        resolve({ status: xhr.status, body });
      });
      xhr.addEventListener("error", () => reject(new HttpError(0, "the upload was interrupted")));
      const form = new FormData();
      form.append("file", file, file.name);
      xhr.send(form);
    });
  }

  function describeReport(report) {
    if (!report) return "indexed.";
    const parts = [];
    if (report.added) parts.push("added");
    if (report.updated) parts.push("updated");
    if (!parts.length && report.skipped) parts.push("unchanged");
    const failed = (report.failed || []).map((f) => `${f.source}: ${f.error}`);
    if (failed.length) return `failed — ${failed.join("; ")}`;
    return `${parts.join(", ") || "indexed"}; the library now has ${report.documents} documents.`;
  }

  async function pollJob(jobId, progress) {
    for (;;) {
      const job = await api("GET", `/v1/admin/jobs/${encodeURIComponent(jobId)}`);
      const status = String(job.status || job.state || "").toLowerCase();
      if (typeof job.progress === "number") progress.value = job.progress;
      if (["done", "succeeded", "success", "completed", "finished"].includes(status)) return job;
      if (["failed", "error"].includes(status)) {
        throw new HttpError(422, job.error || job.detail || "the background job failed");
      }
      await sleep(POLL_MS);
    }
  }

  async function uploadOne(file) {
    const item = addUploadResult(file.name, "pending", "uploading…");
    const progress = el("progress");
    progress.max = 1;
    progress.value = 0;
    progress.setAttribute("aria-label", `Uploading ${file.name}`);
    item.appendChild(progress);
    const text = item.querySelector(".upload-text");
    try {
      const { status, body } = await sendFile(file, (p) => (progress.value = p));
      if (status === 202 && body && body.job_id) {
        text.textContent = " uploaded; indexing…";
        progress.removeAttribute("value");
        const job = await pollJob(body.job_id, progress);
        const result = job.result || job;
        item.className = "upload-result upload-ok";
        text.textContent = ` ${result.source || ""} ${describeReport(result.report || result)}`;
      } else if (status >= 200 && status < 300) {
        item.className = "upload-result upload-ok";
        text.textContent = ` ${body.source}: ${describeReport(body.report)}`;
      } else {
        throw new HttpError(status, detailOf(body, status));
      }
    } catch (error) {
      item.className = "upload-result upload-failed";
      text.textContent = ` failed: ${error.message}`;
    } finally {
      progress.remove();
    }
  }

  async function uploadFiles(files) {
    // One at a time: the server indexes uploads one after another anyway.
    for (const file of files) await uploadOne(file);
    await loadDocuments();
  }

  const drop = $("drop-zone");
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("dragging");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("dragging"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("dragging");
    if (event.dataTransfer && event.dataTransfer.files.length) uploadFiles([...event.dataTransfer.files]);
  });
  $("upload-input").addEventListener("change", () => {
    const files = [...$("upload-input").files];
    $("upload-input").value = "";
    if (files.length) uploadFiles(files);
  });

  // ---------------------------------------------------------------- sources

  async function loadSources() {
    const body = $("sources-body");
    try {
      const data = await api("GET", "/v1/admin/sources");
      const sources = (data && data.sources) || [];
      body.replaceChildren();
      if (!sources.length) {
        const tr = el("tr");
        const td = el("td", "muted", "No web sources are configured.");
        td.colSpan = 5;
        tr.appendChild(td);
        body.appendChild(tr);
      }
      for (const source of sources) {
        const tr = el("tr");
        tr.appendChild(el("td", "doc-source", source.source || source.url || ""));
        tr.appendChild(el("td", null, source.topic || (source.from_sitemap ? "(from a sitemap)" : "")));
        tr.appendChild(el("td", null, source.publisher || ""));
        tr.appendChild(el("td", "nowrap", formatDate(source.last_synced || "")));
        tr.appendChild(el("td", null, source.result || ""));
        body.appendChild(tr);
      }
    } catch (error) {
      showStatus(error.message);
    }
  }

  $("sync-now").addEventListener("click", async () => {
    const trigger = $("sync-now");
    const status = $("sync-status");
    const progress = $("sync-progress");
    trigger.disabled = true;
    progress.hidden = false;
    progress.removeAttribute("value");
    status.textContent = "Syncing…";
    try {
      let result = await api("POST", "/v1/admin/sources/sync");
      if (result && result.job_id) result = await pollJob(result.job_id, progress);
      const report = (result && (result.result || result.report)) || result || {};
      const counts = ["added", "updated", "not_modified", "skipped", "deleted"]
        .filter((k) => typeof report[k] === "number")
        .map((k) => `${report[k]} ${k.replace("_", " ")}`);
      const failed = (report.failed || []).map((f) => `${f.source}: ${f.error}`);
      status.textContent = `Sync finished${counts.length ? `: ${counts.join(", ")}` : ""}.${failed.length ? ` Failed: ${failed.join("; ")}` : ""}`;
      await loadSources();
    } catch (error) {
      status.textContent = `Sync did not run: ${error.message}`;
    } finally {
      trigger.disabled = false;
      progress.hidden = true;
    }
  });

  // ---------------------------------------------------------------- gaps

  async function loadGaps() {
    const list = $("gaps-list");
    try {
      const groups = await api("GET", "/v1/admin/gaps");
      list.replaceChildren();
      if (!groups.length) list.appendChild(el("li", "muted", "No gaps: every question so far was answered."));
      for (const group of groups) {
        const card = el("li", "card gap");
        const head = el("div", "card-head");
        head.appendChild(el("h3", "gap-question", group.question));
        head.appendChild(el("span", "badge", `asked ${group.count}×`));
        card.appendChild(head);
        const kinds = [];
        if (group.refused) kinds.push(`${group.refused} refused`);
        if (group.thumbs_down) kinds.push(`${group.thumbs_down} thumbs down`);
        card.appendChild(el("p", "muted", `${kinds.join(", ")} · last asked ${formatDate(group.last_asked)}`));
        const others = (group.examples || []).filter((e) => e !== group.question);
        if (others.length) {
          card.appendChild(el("p", "label", "Also asked as"));
          const ul = el("ul", "examples-list");
          others.forEach((e) => ul.appendChild(el("li", null, e)));
          card.appendChild(ul);
        }
        if ((group.answers_given || []).length) {
          card.appendChild(el("p", "label", "Answer given"));
          group.answers_given.forEach((a) => card.appendChild(el("blockquote", "given", a)));
        }
        if ((group.comments || []).length) {
          card.appendChild(el("p", "label", "Users' comments"));
          const ul = el("ul", "comments");
          group.comments.forEach((c) => ul.appendChild(el("li", null, c)));
          card.appendChild(ul);
        }
        const write = button("Write an approved answer", "btn btn-primary", () => {
          openTab("answers", false);
          openAnswerForm(null, { question: group.question, paraphrases: others });
        });
        write.setAttribute("aria-label", `Write an approved answer for: ${group.question}`);
        card.appendChild(write);
        list.appendChild(card);
      }
    } catch (error) {
      showStatus(error.message);
    }
  }

  $("refresh-gaps").addEventListener("click", loadGaps);

  // ---------------------------------------------------------------- approved answers

  async function loadAnswers() {
    if (!state.documents.length) await loadDocuments();
    const list = $("answers-list");
    try {
      state.answers = await api("GET", "/v1/admin/answers");
      list.replaceChildren();
      if (!state.answers.length) list.appendChild(el("li", "muted", "No approved answers yet."));
      for (const item of state.answers) list.appendChild(answerCard(item));
    } catch (error) {
      showStatus(error.message);
    }
  }

  function answerCard(item) {
    const card = el("li", "card answer");
    if (item.retired) card.classList.add("retired");
    const head = el("div", "card-head");
    head.appendChild(el("h3", "answer-question", item.question));
    if (item.retired) head.appendChild(el("span", "badge badge-muted", "Retired"));
    card.appendChild(head);
    if ((item.paraphrases || []).length) {
      card.appendChild(el("p", "label", "Also matches"));
      const ul = el("ul", "examples-list");
      item.paraphrases.forEach((p) => ul.appendChild(el("li", null, p)));
      card.appendChild(ul);
    }
    card.appendChild(el("blockquote", "given", item.answer));
    if ((item.sources || []).length) {
      const ol = el("ol", "citation-list");
      item.sources.forEach((s) => ol.appendChild(el("li", "doc-source", s)));
      card.appendChild(ol);
    }
    if ((item.missing_sources || []).length) {
      card.appendChild(
        el("p", "form-error", `Not served: ${item.missing_sources.join(", ")} no longer in the library.`)
      );
    }
    const review = item.review_date ? ` · review by ${formatDate(item.review_date)}` : "";
    card.appendChild(el("p", "muted", `Approved by ${item.approved_by} on ${formatDate(item.approved_at)}${review}`));
    const actions = el("div", "form-actions");
    const edit = button("Edit", "btn btn-secondary", () => openAnswerForm(item));
    edit.setAttribute("aria-label", `Edit approved answer: ${item.question}`);
    actions.appendChild(edit);
    if (item.retired) {
      const restore = button("Restore", "btn btn-secondary", () => saveAnswer(item.id, { ...editable(item), retired: false }));
      restore.setAttribute("aria-label", `Restore approved answer: ${item.question}`);
      actions.appendChild(restore);
    } else {
      const retire = button("Retire", "btn btn-danger", () => retireAnswer(item));
      retire.setAttribute("aria-label", `Retire approved answer: ${item.question}`);
      actions.appendChild(retire);
    }
    card.appendChild(actions);
    return card;
  }

  function editable(item) {
    return {
      question: item.question,
      paraphrases: item.paraphrases || [],
      answer: item.answer,
      sources: item.sources || [],
      approved_by: item.approved_by,
      review_date: item.review_date || null,
      retired: !!item.retired,
    };
  }

  function renderCitations() {
    const list = $("a-sources");
    list.replaceChildren();
    state.citations.forEach((source, i) => {
      const doc = state.documents.find((d) => d.source === source);
      const li = el("li");
      li.appendChild(el("span", "doc-source", `[${i + 1}] ${source}`));
      if (doc) li.appendChild(el("span", "muted", ` — ${doc.title}`));
      const remove = button("Remove", "btn btn-link", () => {
        state.citations.splice(i, 1);
        renderCitations();
        $("a-source-add").focus();
      });
      remove.setAttribute("aria-label", `Remove citation ${i + 1}: ${source}`);
      li.appendChild(remove);
      list.appendChild(li);
    });
  }

  function addCitation() {
    const input = $("a-source-add");
    const raw = input.value.trim();
    if (!raw) return;
    const doc =
      state.documents.find((d) => d.source === raw) ||
      state.documents.find((d) => d.title.toLowerCase() === raw.toLowerCase());
    if (!doc) {
      $("answer-error").textContent = `“${raw}” is not an indexed document. Pick one from the list.`;
      return;
    }
    if (!state.citations.includes(doc.source)) state.citations.push(doc.source);
    $("answer-error").textContent = "";
    input.value = "";
    renderCitations();
    input.focus();
  }

  $("add-source").addEventListener("click", addCitation);
  $("a-source-add").addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      addCitation();
    }
  });

  function openAnswerForm(item, prefill) {
    const form = $("answer-form");
    const data = item ? editable(item) : { question: "", paraphrases: [], answer: "", sources: [], ...prefill };
    state.editing = item ? item.id : null;
    state.citations = [...(data.sources || [])];
    $("answer-form-heading").textContent = item ? "Edit approved answer" : "New approved answer";
    $("a-question").value = data.question || "";
    $("a-paraphrases").value = (data.paraphrases || []).join("\n");
    $("a-answer").value = data.answer || "";
    $("a-approved-by").value = data.approved_by || "";
    $("a-review-date").value = data.review_date || "";
    $("answer-error").textContent = "";
    renderCitations();
    form.hidden = false;
    form.dataset.retired = item && item.retired ? "true" : "false";
    (data.question ? $("a-answer") : $("a-question")).focus();
  }

  function closeAnswerForm() {
    $("answer-form").hidden = true;
    state.editing = null;
    $("new-answer").focus();
  }

  async function saveAnswer(id, payload) {
    try {
      const saved = id
        ? await api("PUT", `/v1/admin/answers/${encodeURIComponent(id)}`, payload)
        : await api("POST", "/v1/admin/answers", payload);
      $("answer-form").hidden = true;
      state.editing = null;
      showStatus("");
      await loadAnswers();
      const cards = [...document.querySelectorAll("#answers-list .answer-question")];
      const card = cards.find((c) => c.textContent === saved.question);
      if (card) card.closest(".card").querySelector("button").focus();
      return true;
    } catch (error) {
      $("answer-error").textContent = error.message;
      if ($("answer-form").hidden) showStatus(error.message);
      return false;
    }
  }

  $("answer-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const payload = {
      question: $("a-question").value.trim(),
      answer: $("a-answer").value.trim(),
      paraphrases: $("a-paraphrases")
        .value.split("\n")
        .map((s) => s.trim())
        .filter(Boolean),
      sources: [...state.citations],
      retired: $("answer-form").dataset.retired === "true",
    };
    if (!payload.question || !payload.answer) {
      $("answer-error").textContent = "An approved answer needs a question and an answer.";
      (payload.question ? $("a-answer") : $("a-question")).focus();
      return;
    }
    const by = $("a-approved-by").value.trim();
    if (by) payload.approved_by = by;
    if ($("a-review-date").value) payload.review_date = $("a-review-date").value;
    saveAnswer(state.editing, payload);
  });

  async function retireAnswer(item) {
    try {
      await api("DELETE", `/v1/admin/answers/${encodeURIComponent(item.id)}`);
      await loadAnswers();
      $("answers-heading").focus();
    } catch (error) {
      showStatus(error.message);
    }
  }

  $("new-answer").addEventListener("click", () => openAnswerForm(null, {}));
  $("cancel-answer").addEventListener("click", closeAnswerForm);

  // ---------------------------------------------------------------- start

  if (token()) {
    api("GET", "/v1/admin/documents")
      .then(signedIn)
      .catch((error) => {
        if (error.status !== 401) signOut(error.message);
      });
  } else {
    $("token").focus();
  }
})();
