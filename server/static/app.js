// 政策问答: the page. Plain JS, no build step.
// Safety: every piece of text from the server or the user (questions, answers, quotes, titles,
// document text, errors) is set with textContent or createTextNode, never parsed as HTML.
"use strict";

const STORE_KEY = "zhengce.conversation.v1";
const API_KEY_KEY = "zhengce.apiKey";
const MAX_TURNS = 50;
const POLL_MS = 1500;
const DOC_PAGE = 50; // documents fetched per page of the library list
const STATUS_NAMES = { received: "已接收", parsed: "索引中", indexed: "已索引", failed: "失败" };
const REASONS = ["数字错误", "引用不对", "应该拒答", "没找到答案", "其他"];
const ABSTAIN_HEADING = "未在已收录的文档中找到相关内容";
const CHECK_NOTE = "请核对原文";

const $ = (id) => document.getElementById(id);
const ui = {
  form: $("ask-form"), question: $("question"), askButton: $("ask-button"), status: $("status"),
  empty: $("empty"), conversation: $("conversation"), clear: $("clear-chat"),
  side: $("side"), sideClose: $("side-close"), libraryToggle: $("library-toggle"),
  tabViewer: $("tab-viewer"), tabLibrary: $("tab-library"), viewer: $("viewer"), library: $("library"),
  viewerTitle: $("viewer-title"), viewerMeta: $("viewer-meta"), viewerPos: $("viewer-pos"),
  viewerPrev: $("viewer-prev"), viewerNext: $("viewer-next"), viewerClose: $("viewer-close"),
  viewerNote: $("viewer-note"), viewerBody: $("viewer-body"),
  dropZone: $("drop-zone"), pickFiles: $("pick-files"), fileInput: $("file-input"), uploads: $("uploads"),
  libraryStatus: $("library-status"), documents: $("documents"), docCount: $("doc-count"),
  docFilter: $("doc-filter"), docMore: $("doc-more"),
  keyDialog: $("key-dialog"), keyInput: $("key-input"), keyMessage: $("key-message"),
  confirmDialog: $("confirm-dialog"), confirmMessage: $("confirm-message"),
};

const state = {
  turns: loadTurns(),
  asking: false,
  authRequired: false,
  docs: [], // the page of the library list shown
  docTotal: 0, // how many documents match the filter
  docLimit: DOC_PAGE,
  uploaded: [], // status rows of the documents uploaded from this page
  docCache: new Map(), // doc_id -> Promise<document JSON>
  pollTimer: 0,
  viewer: null, // {items, index, opener}
  keyPrompt: null, // the pending Promise of the key dialog, shared by concurrent writes
  sessionKey: "", // the key when localStorage cannot keep it
  keyRefusal: "", // why the key dialog asks again
};

// ---------------------------------------------------------------- small helpers

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function button(className, text, label) {
  const node = el("button", className, text);
  node.type = "button";
  if (label) node.setAttribute("aria-label", label);
  return node;
}

function say(node, message, isError) {
  node.textContent = message || "";
  node.classList.toggle("error", Boolean(isError));
}

function newId() {
  return Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
}

// The server's offsets count code points; JS strings count UTF-16 units. They differ only after a
// character outside the BMP, so map through code points when the text has any surrogate.
function utf16Span(text, start, end) {
  if (!/[\uD800-\uDFFF]/.test(text)) return start <= end && end <= text.length ? [start, end] : null;
  let unit = 0;
  let point = 0;
  let from = -1;
  for (;;) {
    if (point === start) from = unit;
    if (point === end) return from >= 0 ? [from, unit] : null;
    if (unit >= text.length) return null;
    unit += text.codePointAt(unit) > 0xffff ? 2 : 1;
    point += 1;
  }
}

function slicePoints(text, start, end) {
  return Array.from(text).slice(start, end).join("");
}

/** Plain-words message for a failed request: the API's `detail` (every error reply has one string). */
function errorText(status, body) {
  const detail = body && body.detail;
  const reason = typeof detail === "string" ? detail : "";
  const lead = {
    0: "无法连接服务器，请检查网络后重试。",
    401: "API 密钥不正确或缺失。",
    404: "没有找到。",
    409: "操作被拒绝。",
    413: "文件太大，服务器拒收。",
    415: "不支持的文件类型。",
    422: "请求内容有误。",
    503: "服务器正忙，请稍后再试。",
  }[status] || (status >= 500 ? "服务器出错，请稍后再试。" : "请求失败（HTTP " + status + "）。");
  return reason ? lead + "原因：" + reason : lead;
}

async function requestJSON(method, url, body, write) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  for (;;) {
    if (write) {
      const key = await writeKey();
      if (key === false) return { status: 401, body: { detail: "未提供 API 密钥" }, cancelled: true };
      if (key) headers["X-API-Key"] = key;
    }
    let response;
    try {
      response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (error) {
      return { status: 0, body: null };
    }
    const parsed = await response.json().catch(() => null);
    if (write && response.status === 401) {
      keyRefused(Boolean(headers["X-API-Key"]));
      continue;
    }
    return { status: response.status, body: parsed };
  }
}

// ---------------------------------------------------------------- API key

function storedKey() {
  try {
    return localStorage.getItem(API_KEY_KEY) || "";
  } catch (error) {
    return "";
  }
}

function keepKey(key) {
  try {
    if (key) localStorage.setItem(API_KEY_KEY, key);
    else localStorage.removeItem(API_KEY_KEY);
  } catch (error) {
    // Private mode: the key lives only until the page closes.
  }
  state.sessionKey = key;
}

/** A write answered 401: forget the key and say why when the dialog asks again. */
function keyRefused(sentKey) {
  state.authRequired = true;
  keepKey("");
  state.keyRefusal = sentKey ? "API 密钥不正确，服务器拒绝了这次操作。请重新输入。" : "";
}

/** The key to send with a write: "" when none is needed, false when the user declined. */
function writeKey() {
  if (!state.authRequired) return Promise.resolve("");
  const key = storedKey() || state.sessionKey;
  if (key) return Promise.resolve(key);
  if (!state.keyPrompt) {
    state.keyPrompt = askForKey().finally(() => {
      state.keyPrompt = null;
    });
  }
  return state.keyPrompt;
}

function askForKey() {
  return new Promise((resolve) => {
    const refused = state.keyRefusal;
    state.keyRefusal = "";
    ui.keyMessage.textContent = refused || "上传、删除文档和提交反馈需要管理员提供的 API 密钥。密钥只保存在本浏览器中。";
    ui.keyMessage.classList.toggle("error", Boolean(refused));
    ui.keyInput.value = "";
    const opener = document.activeElement;
    ui.keyDialog.addEventListener("close", function done() {
      ui.keyDialog.removeEventListener("close", done);
      const key = ui.keyDialog.returnValue === "ok" ? ui.keyInput.value.trim() : "";
      if (key) keepKey(key);
      if (opener && opener.isConnected) opener.focus();
      resolve(key || false);
    });
    ui.keyDialog.returnValue = "";
    ui.keyDialog.showModal();
    ui.keyInput.focus();
  });
}

async function loadConfig() {
  try {
    const response = await fetch("/api/config");
    if (response.ok) {
      const body = await response.json();
      state.authRequired = Boolean(body && body.auth_required);
    }
  } catch (error) {
    // No config endpoint: writes go without a key until one answers 401.
  }
}

// ---------------------------------------------------------------- conversation storage

function loadTurns() {
  try {
    const turns = JSON.parse(localStorage.getItem(STORE_KEY) || "[]");
    return Array.isArray(turns) ? turns.filter((t) => t && typeof t.question === "string") : [];
  } catch (error) {
    return [];
  }
}

function saveTurns() {
  state.turns = state.turns.slice(-MAX_TURNS);
  try {
    localStorage.setItem(STORE_KEY, JSON.stringify(state.turns.filter((t) => !t.pending)));
  } catch (error) {
    // Storage full or disabled: the conversation is kept only until reload.
  }
}

// ---------------------------------------------------------------- answers

/** Which citations are parts of the answer text (they get [n] markers in it). */
function answerPartFlags(data) {
  const citations = data.citations || [];
  if (citations.some((c) => typeof c.answer_part === "boolean")) return citations.map((c) => c.answer_part === true);
  // Servers before `answer_part`: the leading citations whose quotes the answer is made of.
  const flags = [];
  let cursor = 0;
  let inAnswer = true;
  for (const c of citations) {
    const at = inAnswer ? (data.answer || "").indexOf(c.quote, cursor) : -1;
    inAnswer = at >= 0;
    if (inAnswer) cursor = at + c.quote.length;
    flags.push(inAnswer);
  }
  return flags;
}

/** [before, quote, after] of a citation's context sentence, split at exact offsets. */
function contextParts(c) {
  if (typeof c.context !== "string" || typeof c.context_start !== "number") return ["", c.quote, ""];
  const from = c.start - c.context_start;
  const to = from + (c.end - c.start);
  const mid = slicePoints(c.context, from, to);
  if (from < 0 || mid !== c.quote) return ["", c.quote, ""]; // never guess where a quote is
  return [slicePoints(c.context, 0, from), mid, slicePoints(c.context, to)];
}

function citationMeta(c) {
  const parts = [];
  if (c.doc_number) parts.push(c.doc_number);
  if (c.published) parts.push(c.published);
  if (c.page !== null && c.page !== undefined) parts.push("第" + c.page + "页");
  return parts.join(" · ");
}

function answerText(data, flags, open) {
  const p = el("p", "answer-text");
  const answer = data.answer || "";
  let cursor = 0;
  const unplaced = [];
  data.citations.forEach((c, i) => {
    if (!flags[i]) return;
    const at = answer.indexOf(c.quote, cursor);
    if (at < 0) {
      unplaced.push(i);
      return;
    }
    p.appendChild(document.createTextNode(answer.slice(cursor, at + c.quote.length)));
    p.appendChild(marker(c, i, open));
    cursor = at + c.quote.length;
  });
  p.appendChild(document.createTextNode(answer.slice(cursor)));
  for (const i of unplaced) p.appendChild(marker(data.citations[i], i, open));
  return p;
}

function marker(c, i, open) {
  const node = button("marker", "[" + (i + 1) + "]", "出处 [" + (i + 1) + "]：《" + c.title + "》");
  node.dataset.index = String(i);
  node.addEventListener("click", () => open(i, node));
  return node;
}

function citationCard(c, i, numbered, open) {
  const item = el("li", "citation");
  item.dataset.index = String(i);
  const body = el("div", "citation-body");
  if (numbered) body.appendChild(el("span", "citation-num", "[" + (i + 1) + "]"));
  const [before, quote, after] = contextParts(c);
  const context = el("blockquote", "citation-context");
  context.appendChild(document.createTextNode(before));
  context.appendChild(el("mark", "", quote));
  context.appendChild(document.createTextNode(after));
  const main = el("div", "citation-main");
  main.appendChild(context);
  const source = el("p", "citation-source");
  const title = button("citation-title", "《" + c.title + "》");
  title.setAttribute("aria-label", "查看原文：《" + c.title + "》");
  source.appendChild(title);
  const meta = citationMeta(c);
  if (meta) source.appendChild(el("span", "meta", meta));
  main.appendChild(source);
  body.appendChild(main);
  item.appendChild(body);
  title.addEventListener("click", () => open(i, title));
  item.addEventListener("click", (event) => {
    if (event.target.closest("button") || String(window.getSelection())) return;
    open(i, title);
  });
  return item;
}

function renderAnswer(turn, data) {
  const abstained = Boolean(data.abstained);
  const card = el("article", abstained ? "answer abstained" : "answer");
  const items = abstained ? data.related || [] : data.citations || [];
  const open = (i, opener) => openViewer(items, i, opener, abstained ? "可能相关" : "出处");
  if (abstained) {
    card.appendChild(el("h3", "abstain-heading", ABSTAIN_HEADING));
    card.appendChild(el("p", "abstain-note", "已收录的文档不足以回答这个问题，因此不给出答案。"));
    if (items.length) {
      card.appendChild(el("h4", "sources-heading", "可能相关"));
      const list = el("ul", "citations related");
      items.forEach((c, i) => list.appendChild(citationCard(c, i, false, open)));
      card.appendChild(list);
    }
  } else {
    card.appendChild(el("h3", "visually-hidden", "答案"));
    if (data.confidence_level === "check") {
      card.classList.add("check");
      card.appendChild(el("p", "check-note", CHECK_NOTE + "：文档中找到了这段内容，但证据不够充分，请点击出处核对。"));
    }
    const flags = answerPartFlags(data);
    card.appendChild(answerText(data, flags, open));
    if (items.length) {
      card.appendChild(el("h4", "sources-heading", "出处"));
      const list = el("ol", "citations");
      items.forEach((c, i) => {
        const item = citationCard(c, i, true, open);
        if (!flags[i]) item.classList.add("supporting");
        list.appendChild(item);
      });
      card.appendChild(list);
    }
  }
  card.appendChild(answerActions(turn, data));
  return card;
}

function renderTurn(turn) {
  const item = el("li", "turn");
  item.dataset.turn = turn.id;
  const q = el("p", "question-bubble");
  q.appendChild(el("span", "visually-hidden", "问："));
  q.appendChild(document.createTextNode(turn.question));
  item.appendChild(q);
  if (turn.pending) {
    item.appendChild(el("p", "answer pending", "正在检索……"));
  } else if (turn.error) {
    const error = el("p", "answer failed", turn.error);
    error.setAttribute("role", "alert");
    item.appendChild(error);
  } else {
    item.appendChild(renderAnswer(turn, turn.response));
  }
  return item;
}

function renderConversation() {
  ui.conversation.replaceChildren(...state.turns.map(renderTurn));
  ui.empty.hidden = state.turns.length > 0;
  ui.clear.disabled = state.turns.length === 0;
}

async function ask(question) {
  question = question.trim();
  if (!question || state.asking) return;
  state.asking = true;
  ui.askButton.disabled = true;
  const turn = { id: newId(), question, pending: true };
  state.turns.push(turn);
  renderConversation();
  say(ui.status, "正在检索……");
  const result = await requestJSON("POST", "/api/ask", { question });
  delete turn.pending;
  if (result.status === 200 && result.body) {
    turn.response = result.body;
    say(ui.status, result.body.abstained ? ABSTAIN_HEADING : "已回答，共 " + result.body.citations.length + " 处出处");
  } else {
    turn.error = errorText(result.status, result.body);
    say(ui.status, turn.error, true);
  }
  saveTurns();
  renderConversation();
  state.asking = false;
  ui.askButton.disabled = false;
  const shown = ui.conversation.lastElementChild;
  if (shown) shown.scrollIntoView({ block: "nearest" });
}

// ---------------------------------------------------------------- copy and feedback

function plainText(turn, data) {
  const lines = ["问：" + turn.question];
  const describe = (c) =>
    ["《" + c.title + "》", c.doc_number, c.published, c.page != null ? "第" + c.page + "页" : ""].filter(Boolean).join(" ");
  if (data.abstained) {
    lines.push("答：" + ABSTAIN_HEADING + "。");
    if ((data.related || []).length) lines.push("可能相关：");
    for (const c of data.related || []) lines.push("- " + describe(c), "  “" + c.quote + "”");
  } else {
    lines.push("答：" + data.answer + (data.confidence_level === "check" ? "（" + CHECK_NOTE + "）" : ""), "出处：");
    data.citations.forEach((c, i) => lines.push("[" + (i + 1) + "] " + describe(c), "    “" + c.quote + "”"));
  }
  return lines.join("\n");
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (error) {
    const area = el("textarea", "offscreen");
    area.value = text;
    area.setAttribute("readonly", "");
    document.body.appendChild(area);
    area.select();
    let done = false;
    try {
      done = document.execCommand("copy");
    } catch (ignored) {
      done = false;
    }
    area.remove();
    return done;
  }
}

function answerActions(turn, data) {
  const box = el("div", "answer-foot");
  const row = el("div", "answer-actions");
  const copy = button("ghost small", "复制", "复制答案和出处");
  const up = button("ghost small vote", "👍 有用", "有用");
  const down = button("ghost small vote", "👎 有问题", "有问题");
  const note = el("span", "action-status");
  note.setAttribute("role", "status");
  row.append(copy, up, down, note);
  box.appendChild(row);
  const form = feedbackForm(turn);
  box.appendChild(form);
  if (turn.feedback) {
    (turn.feedback === "up" ? up : down).setAttribute("aria-pressed", "true");
    up.disabled = down.disabled = true;
    say(note, "已记录，谢谢");
  }
  copy.addEventListener("click", async () => say(note, (await copyText(plainText(turn, data))) ? "已复制" : "复制失败，请手动选择文字复制", false));
  up.addEventListener("click", async () => {
    up.disabled = down.disabled = true;
    await submitFeedback(turn, { rating: "up", reason: null, comment: "" }, note, [up, down]);
  });
  down.addEventListener("click", () => {
    form.hidden = !form.hidden;
    down.setAttribute("aria-expanded", String(!form.hidden));
    if (!form.hidden) {
      form.scrollIntoView({ block: "nearest" });
      form.querySelector("input").focus({ preventScroll: true });
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const reason = form.querySelector("input[type=radio]:checked");
    if (!reason) {
      say(note, "请选择一个原因", true);
      return;
    }
    const comment = form.querySelector("textarea").value.trim();
    form.querySelector("button[type=submit]").disabled = true;
    const ok = await submitFeedback(turn, { rating: "down", reason: reason.value, comment }, note, [up, down]);
    form.querySelector("button[type=submit]").disabled = false;
    if (ok) {
      form.hidden = true;
      down.setAttribute("aria-pressed", "true");
    }
  });
  down.setAttribute("aria-expanded", "false");
  return box;
}

function feedbackForm(turn) {
  const form = el("form", "feedback-form");
  form.hidden = true;
  const set = el("fieldset");
  set.appendChild(el("legend", "", "哪里不对？"));
  const choices = el("div", "reasons");
  for (const reason of REASONS) {
    const label = el("label", "reason");
    const input = el("input");
    input.type = "radio";
    input.name = "reason-" + turn.id;
    input.value = reason;
    label.append(input, document.createTextNode(reason));
    choices.appendChild(label);
  }
  set.appendChild(choices);
  form.appendChild(set);
  const commentId = "comment-" + turn.id;
  const label = el("label", "comment-label", "补充说明（可选）");
  label.htmlFor = commentId;
  const comment = el("textarea");
  comment.id = commentId;
  comment.rows = 2;
  comment.maxLength = 2000;
  const submit = el("button", "primary small", "提交");
  submit.type = "submit";
  form.append(label, comment, submit);
  return form;
}

async function submitFeedback(turn, feedback, note, votes) {
  say(note, "正在提交……");
  const result = await requestJSON("POST", "/api/feedback", { ...feedback, answer: turn.response }, true);
  if (result.status === 201 || result.status === 200) {
    turn.feedback = feedback.rating;
    saveTurns();
    votes.forEach((b) => (b.disabled = true));
    say(note, "已记录，谢谢");
    return true;
  }
  votes.forEach((b) => (b.disabled = false));
  say(note, result.cancelled ? "未提交：需要 API 密钥" : errorText(result.status, result.body), true);
  return false;
}

// ---------------------------------------------------------------- side panel: tabs

function isNarrow() {
  return window.matchMedia("(max-width: 899px)").matches;
}

function showTab(name) {
  const viewer = name === "viewer";
  ui.viewer.hidden = !viewer;
  ui.library.hidden = viewer;
  ui.tabViewer.setAttribute("aria-selected", String(viewer));
  ui.tabLibrary.setAttribute("aria-selected", String(!viewer));
  ui.tabViewer.tabIndex = viewer ? 0 : -1;
  ui.tabLibrary.tabIndex = viewer ? -1 : 0;
  if (!viewer) refreshDocuments();
}

function openSide(name) {
  showTab(name);
  document.body.classList.add("side-open");
  ui.libraryToggle.setAttribute("aria-expanded", "true");
}

function closeSide() {
  document.body.classList.remove("side-open");
  ui.libraryToggle.setAttribute("aria-expanded", "false");
}

// ---------------------------------------------------------------- source viewer

function fetchDocument(docId, fresh) {
  if (fresh || !state.docCache.has(docId)) {
    const promise = fetch("/api/documents/" + encodeURIComponent(docId)).then(async (response) => {
      const body = await response.json().catch(() => null);
      if (!response.ok) throw new Error(errorText(response.status, body));
      return body;
    });
    promise.catch(() => state.docCache.delete(docId));
    state.docCache.set(docId, promise);
  }
  return state.docCache.get(docId);
}

function openViewer(items, index, opener, label) {
  state.viewer = { items, index, opener, label };
  ui.tabViewer.hidden = false;
  openSide("viewer");
  showCitation();
  ui.viewerTitle.focus();
}

function closeViewer() {
  const opener = state.viewer && state.viewer.opener;
  state.viewer = null;
  ui.tabViewer.hidden = true;
  if (isNarrow()) closeSide();
  showTab("library");
  if (opener && opener.isConnected) opener.focus();
}

async function showCitation() {
  const view = state.viewer;
  if (!view) return;
  const c = view.items[view.index];
  const many = view.items.length > 1;
  ui.viewerPrev.hidden = ui.viewerNext.hidden = !many;
  ui.viewerPrev.disabled = view.index === 0;
  ui.viewerNext.disabled = view.index === view.items.length - 1;
  ui.viewerPos.textContent = c.start === undefined ? "" : view.label + (many ? " " + (view.index + 1) + " / " + view.items.length : "");
  ui.viewerTitle.textContent = "《" + c.title + "》";
  ui.viewerMeta.textContent = citationMeta(c);
  say(ui.viewerNote, "正在载入原文……");
  ui.viewerBody.replaceChildren();
  let doc;
  try {
    doc = await fetchDocument(c.doc_id);
    if (c.start !== undefined && !quoteAt(doc.text, c)) doc = await fetchDocument(c.doc_id, true);
  } catch (error) {
    if (state.viewer === view) say(ui.viewerNote, "无法载入原文。" + error.message, true);
    return;
  }
  if (state.viewer !== view || view.items[view.index] !== c) return; // the reader moved on meanwhile
  renderDocument(doc, c);
}

function quoteAt(text, c) {
  const span = utf16Span(text || "", c.start, c.end);
  return span && text.slice(span[0], span[1]) === c.quote ? span : null;
}

function renderDocument(doc, c) {
  ui.viewerTitle.textContent = "《" + doc.title + "》";
  ui.viewerMeta.textContent = [doc.doc_number, doc.issuer, doc.published, c.page != null ? "引文在第" + c.page + "页" : ""]
    .filter(Boolean).join(" · ");
  const text = doc.text || "";
  if (!text) {
    say(ui.viewerNote, "这份文档还没有完成索引，暂无正文。");
    return;
  }
  const span = c.start === undefined ? null : quoteAt(text, c);
  if (!span) {
    ui.viewerBody.appendChild(document.createTextNode(text));
    const note = c.start === undefined ? "" : "原文已更新，这处引文的位置已不在当前版本中，请重新提问。";
    say(ui.viewerNote, note, Boolean(note));
    ui.viewerBody.scrollTop = 0;
    return;
  }
  say(ui.viewerNote, "");
  const mark = el("mark", "cited", text.slice(span[0], span[1]));
  mark.id = "cited-span";
  ui.viewerBody.append(document.createTextNode(text.slice(0, span[0])), mark, document.createTextNode(text.slice(span[1])));
  requestAnimationFrame(() => {
    const body = ui.viewerBody;
    const offset = mark.getBoundingClientRect().top - body.getBoundingClientRect().top + body.scrollTop;
    body.scrollTop = Math.max(0, offset - body.clientHeight / 3);
  });
}

function stepViewer(delta) {
  const view = state.viewer;
  if (!view) return;
  const next = view.index + delta;
  if (next < 0 || next >= view.items.length) return;
  view.index = next;
  showCitation();
  // Keep keyboard focus on a usable button at either end of the list.
  if (document.activeElement && document.activeElement.disabled) (delta < 0 ? ui.viewerNext : ui.viewerPrev).focus();
}

// ---------------------------------------------------------------- library

function anyInProgress(docs) {
  return docs.some((d) => d.status === "received" || d.status === "parsed");
}

async function fetchDocuments(params) {
  const response = await fetch("/api/documents?" + params.toString());
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error(errorText(response.status, body));
  return { docs: body, total: Number(response.headers.get("X-Total-Count") || body.length) };
}

async function refreshDocuments() {
  clearTimeout(state.pollTimer);
  state.pollTimer = 0;
  const page = new URLSearchParams({ limit: String(state.docLimit) });
  if (ui.docFilter.value.trim()) page.set("q", ui.docFilter.value.trim());
  // The uploads listed above the library are followed by id: they need not be on the page shown.
  const ids = [...ui.uploads.querySelectorAll("li[data-doc-id]")].map((row) => row.dataset.docId);
  const uploaded = new URLSearchParams({ limit: "500" });
  ids.forEach((id) => uploaded.append("doc_id", id));
  try {
    const [shown, mine] = await Promise.all([fetchDocuments(page), ids.length ? fetchDocuments(uploaded) : { docs: [] }]);
    state.docs = shown.docs;
    state.docTotal = shown.total;
    state.uploaded = mine.docs;
  } catch (error) {
    say(ui.libraryStatus, "无法载入文档列表。" + error.message, true);
    state.pollTimer = setTimeout(refreshDocuments, POLL_MS * 4);
    return;
  }
  renderDocuments();
  updateUploadRows();
  if (anyInProgress(state.docs) || anyInProgress(state.uploaded)) state.pollTimer = setTimeout(refreshDocuments, POLL_MS);
}

function renderDocuments() {
  ui.docCount.textContent = "（" + state.docTotal + "）";
  ui.documents.replaceChildren(...state.docs.map(documentItem));
  ui.docMore.hidden = state.docs.length >= state.docTotal;
}

function statusBadge(status) {
  const badge = el("span", "badge status-" + status, STATUS_NAMES[status] || status);
  if (status === "received" || status === "parsed") badge.classList.add("busy");
  return badge;
}

function documentItem(doc) {
  const item = el("li", "doc");
  item.dataset.docId = doc.doc_id;
  item.dataset.status = doc.status;
  const main = el("div", "doc-main");
  const title = doc.title || doc.filename || doc.doc_id;
  if (doc.status === "indexed") {
    const open = button("doc-title link", title, "查看原文：" + title);
    open.addEventListener("click", () => openViewer([{ doc_id: doc.doc_id, title }], 0, open, "全文"));
    main.appendChild(open);
  } else {
    main.appendChild(el("p", "doc-title", title));
  }
  const region = (doc.region || []).join(""); // "江西省九江市": where the document is from, right under its title
  const meta = [region, doc.issuer, doc.doc_number, doc.published, doc.n_chunks ? doc.n_chunks + " 个片段" : "", doc.filename].filter(Boolean);
  if (meta.length) main.appendChild(el("p", "meta", meta.join(" · ")));
  if (doc.error) main.appendChild(el("p", "doc-error", doc.error));
  const side = el("div", "doc-side");
  side.appendChild(statusBadge(doc.status));
  const remove = button("ghost small danger-text", "删除", "删除《" + title + "》");
  remove.addEventListener("click", () => deleteDocument(doc, title, remove));
  side.appendChild(remove);
  item.append(main, side);
  return item;
}

function confirmDelete(title) {
  return new Promise((resolve) => {
    ui.confirmMessage.textContent = "删除《" + title + "》后，它将不再出现在任何答案中。此操作不能撤销。";
    ui.confirmDialog.returnValue = "";
    ui.confirmDialog.addEventListener("close", function done() {
      ui.confirmDialog.removeEventListener("close", done);
      resolve(ui.confirmDialog.returnValue === "ok");
    });
    ui.confirmDialog.showModal();
    ui.confirmDialog.querySelector("button[value=cancel]").focus();
  });
}

async function deleteDocument(doc, title, opener) {
  const confirmed = await confirmDelete(title);
  opener.focus();
  if (!confirmed) return;
  say(ui.libraryStatus, "正在删除《" + title + "》……");
  const result = await requestJSON("DELETE", "/api/documents/" + encodeURIComponent(doc.doc_id), undefined, true);
  if (result.status === 200 || result.status === 204) {
    state.docCache.delete(doc.doc_id);
    say(ui.libraryStatus, "已删除《" + title + "》");
    ui.libraryToggle.focus();
  } else {
    say(ui.libraryStatus, "未能删除《" + title + "》：" + (result.cancelled ? "需要 API 密钥" : errorText(result.status, result.body)), true);
  }
  await refreshDocuments();
}

// ---------------------------------------------------------------- uploads

const uploadQueue = [];
let uploading = false;

function queueFiles(files) {
  for (const file of files) uploadQueue.push({ file, row: uploadRow(file) });
  if (!uploading) drainUploads();
}

function uploadRow(file) {
  const row = el("li", "upload");
  row.dataset.name = file.name;
  const name = el("span", "upload-name", file.name);
  const progress = el("progress");
  progress.max = 1;
  progress.value = 0;
  progress.setAttribute("aria-label", "上传进度：" + file.name);
  const status = el("span", "upload-status", "等待上传");
  row.append(name, progress, status);
  ui.uploads.prepend(row);
  return row;
}

function setUploadStatus(row, text, kind) {
  const status = row.querySelector(".upload-status");
  status.textContent = text;
  row.dataset.state = kind;
}

async function drainUploads() {
  uploading = true;
  while (uploadQueue.length) {
    const { file, row } = uploadQueue.shift();
    await uploadFile(file, row);
  }
  uploading = false;
  refreshDocuments();
}

function sendFile(file, row, key) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    const progress = row.querySelector("progress");
    xhr.open("POST", "/api/documents");
    if (key) xhr.setRequestHeader("X-API-Key", key);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) progress.value = event.loaded / event.total;
    });
    xhr.addEventListener("load", () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch (error) {
        body = null;
      }
      resolve({ status: xhr.status, body });
    });
    xhr.addEventListener("error", () => resolve({ status: 0, body: null }));
    const form = new FormData();
    form.append("files", file, file.name);
    xhr.send(form);
  });
}

async function uploadFile(file, row) {
  for (;;) {
    const key = await writeKey();
    if (key === false) {
      setUploadStatus(row, "未上传：需要 API 密钥", "failed");
      return;
    }
    setUploadStatus(row, "正在上传……", "sending");
    const result = await sendFile(file, row, key);
    if (result.status === 401) {
      keyRefused(Boolean(key));
      setUploadStatus(row, "API 密钥不正确，等待重新输入", "failed");
      continue;
    }
    row.querySelector("progress").value = 1;
    showUploadResult(row, result);
    return;
  }
}

function showUploadResult(row, result) {
  const outcome = result.status === 202 && Array.isArray(result.body) ? result.body[0] : null;
  if (!outcome) {
    const why = result.status === 0 ? "上传中断：文件可能太大，或网络连接中断。" : errorText(result.status, result.body);
    setUploadStatus(row, "失败：" + why, "failed");
    return;
  }
  if (outcome.status === "failed" || !outcome.doc_id) {
    setUploadStatus(row, "失败：" + (outcome.error || "无法读取这个文件"), "failed");
    return;
  }
  row.dataset.docId = outcome.doc_id;
  if (outcome.duplicate) row.dataset.duplicate = "true";
  const name = STATUS_NAMES[outcome.status] || outcome.status;
  setUploadStatus(row, outcome.duplicate ? "已收录过（相同文件）：" + name : name, outcome.status);
}

function updateUploadRows() {
  for (const row of ui.uploads.querySelectorAll("li[data-doc-id]")) {
    const doc = state.uploaded.find((d) => d.doc_id === row.dataset.docId);
    if (!doc) {
      setUploadStatus(row, "已删除", "deleted");
      continue;
    }
    let text = doc.status === "failed" ? "失败：" + (doc.error || "") : STATUS_NAMES[doc.status] || doc.status;
    if (row.dataset.duplicate) text = "已收录过（相同文件）：" + text;
    setUploadStatus(row, text, doc.status);
  }
}

// ---------------------------------------------------------------- wiring

function wire() {
  let filterTimer = 0;
  ui.docFilter.addEventListener("input", () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => {
      state.docLimit = DOC_PAGE;
      refreshDocuments();
    }, 250);
  });
  ui.docMore.addEventListener("click", () => {
    state.docLimit += DOC_PAGE;
    refreshDocuments();
  });
  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const question = ui.question.value;
    if (state.asking) return;
    if (!question.trim()) {
      say(ui.status, "请先输入问题", true);
      return;
    }
    ui.question.value = "";
    ask(question);
  });
  ui.question.addEventListener("keydown", (event) => {
    // Enter sends; Shift+Enter is a newline; Enter that confirms an IME candidate does neither.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      ui.form.requestSubmit();
    }
  });
  for (const example of document.querySelectorAll(".example")) {
    example.addEventListener("click", () => {
      ask(example.textContent);
      ui.question.focus();
    });
  }
  ui.clear.addEventListener("click", () => {
    state.turns = state.turns.filter((t) => t.pending);
    saveTurns();
    renderConversation();
    say(ui.status, "对话已清空");
    ui.question.focus();
  });
  ui.libraryToggle.addEventListener("click", () => {
    if (document.body.classList.contains("side-open") && isNarrow() && !ui.library.hidden) closeSide();
    else openSide("library");
    if (!ui.library.hidden) ui.pickFiles.focus();
  });
  ui.sideClose.addEventListener("click", () => {
    if (state.viewer && !ui.viewer.hidden) {
      closeViewer();
      return;
    }
    closeSide();
    ui.libraryToggle.focus();
  });
  ui.tabLibrary.addEventListener("click", () => showTab("library"));
  ui.tabViewer.addEventListener("click", () => state.viewer && showTab("viewer"));
  for (const tab of [ui.tabViewer, ui.tabLibrary]) {
    tab.addEventListener("keydown", (event) => {
      if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
      const other = tab === ui.tabViewer ? ui.tabLibrary : ui.tabViewer;
      if (other.hidden) return;
      other.click();
      other.focus();
    });
  }
  ui.viewerPrev.addEventListener("click", () => stepViewer(-1));
  ui.viewerNext.addEventListener("click", () => stepViewer(1));
  ui.viewerClose.addEventListener("click", closeViewer);
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || document.querySelector("dialog[open]")) return;
    if (state.viewer) {
      event.preventDefault();
      closeViewer();
    } else if (document.body.classList.contains("side-open") && isNarrow()) {
      closeSide();
      ui.libraryToggle.focus();
    }
  });
  ui.pickFiles.addEventListener("click", () => ui.fileInput.click());
  ui.fileInput.addEventListener("change", () => {
    queueFiles(Array.from(ui.fileInput.files));
    ui.fileInput.value = "";
  });
  ui.dropZone.addEventListener("dragover", (event) => {
    event.preventDefault();
    ui.dropZone.classList.add("dragging");
  });
  ui.dropZone.addEventListener("dragleave", () => ui.dropZone.classList.remove("dragging"));
  ui.dropZone.addEventListener("drop", (event) => {
    event.preventDefault();
    ui.dropZone.classList.remove("dragging");
    queueFiles(Array.from(event.dataTransfer.files));
  });
  // A file dropped outside the zone would navigate away from the page.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());
}

wire();
ui.tabViewer.hidden = true;
renderConversation();
loadConfig();
refreshDocuments();
