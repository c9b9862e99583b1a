// Practice Manager Assistant — web chat.
//
// Safety rule for this file: text from the server (answers, corpus passages, titles) is never parsed as
// HTML. Every node is built with createElement / textContent, so a document containing "<script>" or
// "<img onerror=…>" shows those characters and nothing runs. Never use innerHTML here.
"use strict";

(() => {
  const API_KEY_STORAGE = "pma.apiKey";
  const MAX_CHARS = 2000;

  const $ = (id) => document.getElementById(id);
  const els = {
    form: $("ask-form"),
    question: $("question"),
    send: $("send"),
    charCount: $("char-count"),
    messages: $("messages"),
    scroll: $("messages-scroll"),
    welcome: $("welcome"),
    topic: $("topic"),
    newConversation: $("new-conversation"),
    status: $("status"),
    panel: $("sources-panel"),
    panelHeading: $("sources-heading"),
    sourcesList: $("sources-list"),
    sourcesEmpty: $("sources-empty"),
    closeSources: $("close-sources"),
    settingsButton: $("settings-button"),
    settingsDialog: $("settings-dialog"),
    settingsReason: $("settings-reason"),
    apiKey: $("api-key"),
  };

  const state = {
    conversationId: null,
    busy: false,
    answers: new Map(), // local id -> answer payload, for the sources panel
    nextLocalId: 1,
    shownAnswer: null,
  };

  // ---------------------------------------------------------------- helpers

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function storedKey() {
    try {
      return localStorage.getItem(API_KEY_STORAGE) || "";
    } catch {
      return "";
    }
  }

  function headers(json) {
    const h = { "X-PMA-Client": "web" };
    if (json) h["Content-Type"] = "application/json";
    const key = storedKey();
    if (key) h["X-API-Key"] = key;
    return h;
  }

  function showStatus(message) {
    els.status.textContent = message;
    els.status.hidden = !message;
  }

  const UNREACHABLE =
    "Can't reach the assistant right now. Check your connection or that the server is running, then try again.";

  class HttpError extends Error {
    constructor(status, detail, retryAfter) {
      super(detail);
      this.status = status;
      this.retryAfter = retryAfter;
    }
  }

  async function errorFrom(response) {
    let detail = `The server answered ${response.status}.`;
    try {
      const body = await response.json();
      if (typeof body.detail === "string") detail = body.detail;
      else if (Array.isArray(body.detail) && body.detail.length) {
        detail = body.detail.map((d) => d.msg || String(d)).join(" ");
      }
    } catch {
      /* not JSON: keep the generic message */
    }
    return new HttpError(response.status, detail, response.headers.get("Retry-After"));
  }

  function showKeyButton() {
    els.settingsButton.hidden = false;
  }

  function explain(error) {
    if (error instanceof HttpError) {
      if (error.status === 401) {
        showKeyButton();
        openSettings("This server needs an API key. Enter the key you were given.");
        return "This server needs an API key: add it with the “API key” button, then ask again.";
      }
      if (error.status === 429) {
        const wait = error.retryAfter ? ` in ${error.retryAfter} seconds` : " shortly";
        return `Too many questions in a short time. Please try again${wait}.`;
      }
      return error.message;
    }
    return UNREACHABLE;
  }

  function safeUrl(raw) {
    if (!raw) return null;
    try {
      const url = new URL(raw, window.location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch {
      return null;
    }
  }

  function formatDate(value) {
    if (!value) return "";
    const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(value);
    if (!match) return String(value);
    const date = new Date(Date.UTC(+match[1], +match[2] - 1, +match[3]));
    return date
      .toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" })
      .replace(/ /g, "\u00a0"); // keep "12 Jun 2023" on one line
  }

  function topicLabel(slug) {
    if (!slug) return "";
    if (/^[a-z]{2,4}$/.test(slug)) return slug.toUpperCase(); // igpm, pcn
    const words = slug.replace(/[-_]+/g, " ");
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  // ------------------------------------------------------- tiny markdown renderer
  // Paragraphs, "- " / "1. " lists, **bold**, *italic* and [n] citations. Everything else stays literal.

  // **bold**, *italic* (asterisks hugging the text, so "2 * 3 * 4" stays literal), [n] / [n, m] citations.
  const INLINE_SOURCE = /\*\*([^*]+?)\*\*|\*(?=\S)([^*]+?)(?<=\S)\*|\[(\d+(?:\s*,\s*\d+)*)\]/.source;

  function renderInline(parent, text, cite) {
    // A fresh regex per call: bold text recurses, and a shared /g regex would lose its place.
    const inline = new RegExp(INLINE_SOURCE, "g");
    let last = 0;
    for (let m = inline.exec(text); m; m = inline.exec(text)) {
      if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      if (m[1] !== undefined || m[2] !== undefined) {
        const emphasis = el(m[1] !== undefined ? "strong" : "em");
        renderInline(emphasis, m[1] !== undefined ? m[1] : m[2], cite);
        parent.appendChild(emphasis);
      } else {
        const numbers = m[3].split(",").map((n) => parseInt(n.trim(), 10));
        numbers.forEach((n) => parent.appendChild(cite(n)));
      }
      last = inline.lastIndex;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function renderMarkdown(text, cite) {
    const fragment = document.createDocumentFragment();
    const lines = String(text || "").replace(/\r\n?/g, "\n").split("\n");
    let paragraph = [];
    let list = null;

    const flushParagraph = () => {
      if (!paragraph.length) return;
      const p = el("p");
      renderInline(p, paragraph.join(" "), cite);
      fragment.appendChild(p);
      paragraph = [];
    };
    const flushList = () => {
      if (list) fragment.appendChild(list);
      list = null;
    };

    for (const rawLine of lines) {
      const line = rawLine.trim();
      const bullet = /^[-*•]\s+(.*)$/.exec(line);
      const numbered = /^(\d+)[.)]\s+(.*)$/.exec(line);
      const heading = /^#{1,6}\s+(.*)$/.exec(line);
      if (!line) {
        flushParagraph();
        flushList();
      } else if (bullet || numbered) {
        flushParagraph();
        const tag = bullet ? "ul" : "ol";
        if (!list || list.tagName.toLowerCase() !== tag) {
          flushList();
          list = el(tag);
          if (numbered && numbered[1] !== "1") list.start = parseInt(numbered[1], 10);
        }
        const li = el("li");
        renderInline(li, bullet ? bullet[1] : numbered[2], cite);
        list.appendChild(li);
      } else if (heading) {
        flushParagraph();
        flushList();
        const p = el("p", "md-heading");
        const strong = el("strong");
        renderInline(strong, heading[1], cite);
        p.appendChild(strong);
        fragment.appendChild(p);
      } else {
        flushList();
        paragraph.push(line);
      }
    }
    flushParagraph();
    flushList();
    return fragment;
  }

  // ---------------------------------------------------------------- sources panel

  function sourceAnchor(localId, n) {
    return `source-${localId}-${n}`;
  }

  function isNarrow() {
    return window.matchMedia("(max-width: 899px)").matches;
  }

  function renderSources(localId) {
    const answer = state.answers.get(localId);
    state.shownAnswer = localId;
    els.sourcesList.replaceChildren();
    const sources = (answer && answer.sources) || [];
    els.sourcesEmpty.hidden = sources.length > 0;
    if (!sources.length) {
      els.sourcesEmpty.textContent = answer
        ? "This answer has no sources."
        : "The passages behind an answer appear here. Select a numbered citation to jump to the passage it came from.";
    }
    for (const source of sources) {
      const item = el("li", "source");
      item.id = sourceAnchor(localId, source.n);
      item.tabIndex = -1;

      const head = el("div", "source-head");
      head.appendChild(el("span", "source-n", source.n));
      const titleBox = el("div", "source-title-box");
      const href = safeUrl(source.url);
      const title = source.title || source.source || "Untitled";
      if (href) {
        const link = el("a", "source-title", title);
        link.href = href;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        link.appendChild(el("span", "visually-hidden", " (opens in a new tab)"));
        titleBox.appendChild(link);
      } else {
        titleBox.appendChild(el("span", "source-title", title));
      }
      const meta = [];
      if (source.section) meta.push(source.section);
      if (source.publisher) meta.push(source.publisher);
      if (source.published) meta.push(`Published ${formatDate(source.published)}`);
      if (source.fetched_at) meta.push(`fetched ${formatDate(source.fetched_at)}`);
      if (meta.length) titleBox.appendChild(el("p", "source-meta", meta.join(" · ")));
      head.appendChild(titleBox);
      item.appendChild(head);

      const passage = el("blockquote", "passage");
      String(source.text || "")
        .split(/\n{2,}/)
        .filter((part) => part.trim())
        .forEach((part) => passage.appendChild(el("p", null, part.trim())));
      item.appendChild(passage);
      if (source.source) item.appendChild(el("p", "source-file", source.source));
      els.sourcesList.appendChild(item);
    }
  }

  function openSources(localId, n) {
    if (state.shownAnswer !== localId) renderSources(localId);
    els.panel.classList.add("open");
    document.body.classList.add("sources-open");
    for (const node of els.sourcesList.querySelectorAll(".source.highlight")) node.classList.remove("highlight");
    const target = n ? document.getElementById(sourceAnchor(localId, n)) : null;
    if (target) {
      target.classList.add("highlight");
      target.scrollIntoView({ block: "start", behavior: "smooth" });
      target.focus({ preventScroll: true });
    } else {
      els.panelHeading.focus();
    }
  }

  function closeSources() {
    els.panel.classList.remove("open");
    document.body.classList.remove("sources-open");
  }

  // ---------------------------------------------------------------- messages

  function scrollToBottom() {
    els.scroll.scrollTop = els.scroll.scrollHeight;
  }

  function addUserMessage(text) {
    els.welcome.hidden = true;
    const item = el("li", "msg msg-user");
    item.appendChild(el("span", "visually-hidden", "You asked: "));
    const bubble = el("div", "bubble");
    bubble.appendChild(el("p", null, text));
    item.appendChild(bubble);
    els.messages.appendChild(item);
    scrollToBottom();
  }

  function addAssistantMessage() {
    const localId = state.nextLocalId++;
    const item = el("li", "msg msg-assistant streaming");
    item.setAttribute("aria-busy", "true");
    item.appendChild(el("span", "visually-hidden", "Assistant: "));
    const bubble = el("div", "bubble");
    const body = el("div", "answer-body");
    body.appendChild(el("p", "thinking", "Looking through the library…"));
    bubble.appendChild(body);
    item.appendChild(bubble);
    els.messages.appendChild(item);
    scrollToBottom();
    return { localId, item, bubble, body, text: "" };
  }

  function citationFactory(localId, sources) {
    const byNumber = new Map((sources || []).map((s) => [s.n, s]));
    return (n) => {
      const source = byNumber.get(n);
      if (!source) return el("span", "cite cite-pending", n);
      const link = el("a", "cite", n);
      link.href = `#${sourceAnchor(localId, n)}`;
      link.setAttribute("aria-label", `Source ${n}: ${source.title || source.source}`);
      link.title = source.title || source.source || "";
      link.addEventListener("click", (event) => {
        event.preventDefault();
        openSources(localId, n);
      });
      return link;
    };
  }

  function renderDelta(message) {
    message.body.replaceChildren(renderMarkdown(message.text, (n) => el("span", "cite cite-pending", n)));
    scrollToBottom();
  }

  function renderFinal(message, answer) {
    const { localId, item, bubble, body } = message;
    state.answers.set(localId, answer);
    item.classList.remove("streaming");
    item.removeAttribute("aria-busy");
    body.replaceChildren();

    const personal = answer.personal_data || [];
    const cite = citationFactory(localId, answer.sources);
    if (personal.length) {
      // The service's text explains what to do; frame it as a warning with what was found.
      item.classList.add("msg-warning");
      const warning = el("div", "callout callout-warning");
      warning.setAttribute("role", "note");
      warning.appendChild(el("strong", "callout-title", `Personal data found: ${personal.join(", ")}`));
      warning.appendChild(renderMarkdown(answer.answer, cite));
      body.appendChild(warning);
    } else {
      if (!answer.grounded) item.classList.add("msg-refusal");
      if (answer.composer === "approved") {
        // A maintainer wrote and approved this answer; the note below says who and when.
        item.classList.add("msg-approved");
        body.appendChild(el("p", "approved-badge", "Approved answer"));
      }
      body.appendChild(renderMarkdown(answer.answer, cite));
    }

    if (!answer.grounded && !personal.length && (answer.nearest_topics || []).length) {
      // Nearby subjects the library does cover: one click puts a question about it in the box to edit.
      const topics = el("div", "nearest-topics");
      topics.setAttribute("role", "group");
      topics.setAttribute("aria-label", "Try asking about");
      topics.appendChild(el("span", "muted", "Try asking about:"));
      for (const topic of answer.nearest_topics) {
        const chip = el("button", "chip", topic);
        chip.type = "button";
        chip.addEventListener("click", () => {
          els.question.value = `Tell me about ${topic}`;
          updateCount();
          els.question.focus();
        });
        topics.appendChild(chip);
      }
      body.appendChild(topics);
    }

    for (const note of answer.notes || []) {
      const callout = el("div", "callout callout-note");
      callout.setAttribute("role", "note");
      callout.appendChild(el("strong", "callout-title", "Note"));
      callout.appendChild(renderMarkdown(note, cite));
      body.appendChild(callout);
    }

    const footer = el("div", "answer-footer");
    const sources = answer.sources || [];
    if (sources.length) {
      const button = el("button", "btn btn-link", `${sources.length} source${sources.length === 1 ? "" : "s"}`);
      button.type = "button";
      button.addEventListener("click", () => openSources(localId, null));
      footer.appendChild(button);
    }
    if (answer.message_id) footer.appendChild(feedbackControls(answer.message_id));
    if (footer.childNodes.length) bubble.appendChild(footer);

    // Keep the panel on the latest answer that has sources (a refusal or warning has none to show).
    if (sources.length && !isNarrow()) renderSources(localId);
    scrollToBottom();
  }

  function renderError(message, text) {
    message.item.classList.remove("streaming");
    message.item.removeAttribute("aria-busy");
    message.item.classList.add("msg-error");
    const callout = el("div", "callout callout-error");
    callout.appendChild(el("p", null, text));
    message.body.replaceChildren(callout);
  }

  // Thumbs as inline SVG (Feather icons, MIT) rather than 👍/👎 emoji: they render the same on machines
  // without an emoji font. Built with createElementNS from constants, like everything else here.
  const THUMB_PATHS = {
    up: "M14 9V5a3 3 0 0 0-3-3l-4 9v11h11.28a2 2 0 0 0 2-1.7l1.38-9a2 2 0 0 0-2-2.3zM7 22H4a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2h3",
    down: "M10 15v4a3 3 0 0 0 3 3l4-9V2H5.72a2 2 0 0 0-2 1.7l-1.38 9a2 2 0 0 0 2 2.3zm7-13h2.67A2.31 2.31 0 0 1 22 4v7a2.31 2.31 0 0 1-2.33 2H17",
  };

  function thumbIcon(rating) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "18");
    svg.setAttribute("height", "18");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", THUMB_PATHS[rating]);
    svg.appendChild(path);
    return svg;
  }

  function feedbackControls(messageId) {
    const box = el("div", "feedback");
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", "Was this answer helpful?");
    box.appendChild(el("span", "feedback-label", "Helpful?"));
    const status = el("span", "feedback-status");
    status.setAttribute("role", "status");
    const buttons = [];
    for (const [rating, label] of [
      ["up", "Yes, helpful"],
      ["down", "No, not helpful"],
    ]) {
      const button = el("button", "btn btn-icon feedback-button");
      button.appendChild(thumbIcon(rating));
      button.type = "button";
      button.title = label;
      button.dataset.rating = rating;
      button.setAttribute("aria-label", label);
      button.setAttribute("aria-pressed", "false");
      button.addEventListener("click", async () => {
        buttons.forEach((b) => (b.disabled = true));
        status.textContent = "Saving…";
        try {
          const response = await fetch("/v1/feedback", {
            method: "POST",
            credentials: "same-origin",
            headers: headers(true),
            body: JSON.stringify({ message_id: messageId, rating }),
          });
          if (!response.ok) throw await errorFrom(response);
          button.setAttribute("aria-pressed", "true");
          button.classList.add("chosen");
          status.textContent = "Thanks — feedback recorded.";
          box.classList.add("recorded");
        } catch (error) {
          buttons.forEach((b) => (b.disabled = false));
          status.textContent = explain(error);
        }
      });
      buttons.push(button);
      box.appendChild(button);
    }
    box.appendChild(status);
    return box;
  }

  // ---------------------------------------------------------------- streaming

  async function* readEvents(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    const parse = (raw) => {
      let type = "message";
      const data = [];
      for (const line of raw.split("\n")) {
        if (!line || line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "event") type = value;
        else if (field === "data") data.push(value);
      }
      if (!data.length) return null;
      return { type, data: JSON.parse(data.join("\n")) };
    };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let end = buffer.indexOf("\n\n");
      while (end >= 0) {
        const event = parse(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (event) yield event;
        end = buffer.indexOf("\n\n");
      }
    }
    const tail = parse(buffer.trim());
    if (tail) yield tail;
  }

  async function ask(question) {
    if (state.busy) return;
    state.busy = true;
    els.send.disabled = true;
    showStatus("");
    addUserMessage(question);
    const message = addAssistantMessage();
    const body = { question };
    if (state.conversationId) body.conversation_id = state.conversationId;
    if (els.topic.value) body.filters = { topic: els.topic.value };

    let finished = false;
    try {
      // The session cookie (HttpOnly, set by the server) is what makes this conversation ours.
      const response = await fetch("/v1/ask/stream", {
        method: "POST",
        credentials: "same-origin",
        headers: { ...headers(true), Accept: "text/event-stream" },
        body: JSON.stringify(body),
      });
      if (!response.ok) throw await errorFrom(response);
      for await (const event of readEvents(response)) {
        if (event.type === "delta") {
          message.text += event.data.text || "";
          renderDelta(message);
        } else if (event.type === "final") {
          if (event.data.conversation_id) state.conversationId = event.data.conversation_id;
          renderFinal(message, event.data);
          finished = true;
        } else if (event.type === "error") {
          throw new HttpError(500, event.data.detail || "The answer could not be completed.");
        }
      }
      if (!finished) throw new TypeError("stream ended early");
    } catch (error) {
      const text = explain(error);
      renderError(message, text);
      if (!(error instanceof HttpError)) showStatus(UNREACHABLE);
    } finally {
      state.busy = false;
      els.send.disabled = false;
    }
  }

  // ---------------------------------------------------------------- topics, settings, wiring

  async function loadTopics() {
    try {
      const response = await fetch("/v1/documents", {
        credentials: "same-origin",
        headers: headers(false),
      });
      if (!response.ok) throw await errorFrom(response);
      const documents = await response.json();
      const counts = new Map();
      for (const doc of documents) {
        if (doc.topic) counts.set(doc.topic, (counts.get(doc.topic) || 0) + 1);
      }
      const selected = els.topic.value;
      els.topic.replaceChildren(el("option", null, "All topics"));
      els.topic.firstChild.value = "";
      for (const topic of [...counts.keys()].sort()) {
        const option = el("option", null, `${topicLabel(topic)} (${counts.get(topic)})`);
        option.value = topic;
        els.topic.appendChild(option);
      }
      els.topic.value = selected;
      showStatus("");
    } catch (error) {
      if (error instanceof HttpError) {
        if (error.status === 401) {
          showKeyButton();
          showStatus("This server needs an API key: add it with the “API key” button.");
        }
      } else {
        showStatus(UNREACHABLE);
      }
    }
  }

  function openSettings(reason) {
    els.settingsReason.textContent =
      reason ||
      "Only needed when this server has been set up with API keys. The key is kept in this browser only.";
    els.apiKey.value = storedKey();
    if (!els.settingsDialog.open) els.settingsDialog.showModal();
    els.apiKey.focus();
  }

  els.settingsDialog.addEventListener("close", () => {
    const choice = els.settingsDialog.returnValue;
    try {
      if (choice === "save") localStorage.setItem(API_KEY_STORAGE, els.apiKey.value.trim());
      if (choice === "clear") localStorage.removeItem(API_KEY_STORAGE);
    } catch {
      /* storage blocked: the key lasts until the page reloads */
    }
    if (choice === "save" || choice === "clear") loadTopics();
    els.settingsButton.focus();
  });

  function newConversation() {
    state.conversationId = null;
    state.answers.clear();
    state.shownAnswer = null;
    els.messages.replaceChildren();
    els.welcome.hidden = false;
    renderSources(null);
    closeSources();
    els.question.value = "";
    updateCount();
    els.question.focus();
  }


  function updateCount() {
    els.charCount.textContent = String(els.question.value.length);
  }

  function submit() {
    const question = els.question.value.trim();
    if (!question || state.busy) {
      els.question.focus();
      return;
    }
    if (question.length > MAX_CHARS) {
      showStatus(`Questions can be up to ${MAX_CHARS} characters.`);
      return;
    }
    els.question.value = "";
    updateCount();
    ask(question);
  }

  els.form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  els.question.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  els.question.addEventListener("input", updateCount);
  els.newConversation.addEventListener("click", newConversation);
  els.settingsButton.addEventListener("click", () => openSettings());
  els.closeSources.addEventListener("click", () => {
    closeSources();
    els.question.focus();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && els.panel.classList.contains("open") && isNarrow()) closeSources();
  });
  for (const example of document.querySelectorAll(".example")) {
    example.addEventListener("click", () => ask(example.textContent.trim()));
  }

  if (storedKey()) showKeyButton();
  loadTopics();
  // On phones, focusing at load would pop the keyboard over the welcome text.
  if (!isNarrow()) els.question.focus();
})();
