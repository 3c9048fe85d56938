// The conversation: asking (with the active filters and the previous questions, so a follow-up such as
// 那江西呢 is read against them), rendering answers with their [n] markers and citation cards, and keeping
// the conversation in localStorage.
import { errorText, requestJSON } from "./api.js";
import { ABSTAIN_HEADING, CHECK_NOTE, answerPartFlags, citationMeta, contextParts } from "./cite.js";
import { $, button, el, newId, say } from "./dom.js";
import { answerActions } from "./feedback.js";
import { activeFilters } from "./filters.js";
import { openViewer } from "./viewer.js";

const STORE_KEY = "zhengce.conversation.v1";
const MAX_TURNS = 50;
const MAX_HISTORY = 10; // previous questions sent with a new one; the server reads no further back

const ui = {
  form: $("ask-form"), question: $("question"), askButton: $("ask-button"), status: $("status"),
  empty: $("empty"), conversation: $("conversation"), clear: $("clear-chat"),
};
const chat = { turns: loadTurns(), asking: false };

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
  chat.turns = chat.turns.slice(-MAX_TURNS);
  try {
    localStorage.setItem(STORE_KEY, JSON.stringify(chat.turns.filter((t) => !t.pending)));
  } catch (error) {
    // Storage full or disabled: the conversation is kept only until reload.
  }
}

// ---------------------------------------------------------------- answers

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

function abstention(card, data, items, open) {
  card.appendChild(el("h3", "abstain-heading", ABSTAIN_HEADING));
  // The server says why when it is not the usual reason (no document passes the filters).
  const said = (data.answer || "").trim();
  const usual = !said || said.replace(/。$/, "") === ABSTAIN_HEADING;
  card.appendChild(el("p", "abstain-note", usual ? "已收录的文档不足以回答这个问题，因此不给出答案。" : said));
  if (!items.length) return;
  card.appendChild(el("h4", "sources-heading", "可能相关"));
  const list = el("ul", "citations related");
  items.forEach((c, i) => list.appendChild(citationCard(c, i, false, open)));
  card.appendChild(list);
}

function answered(card, data, items, open) {
  card.appendChild(el("h3", "visually-hidden", "答案"));
  if (data.confidence_level === "check") {
    card.classList.add("check");
    card.appendChild(el("p", "check-note", CHECK_NOTE + "：文档中找到了这段内容，但证据不够充分，请点击出处核对。"));
  }
  const flags = answerPartFlags(data);
  card.appendChild(answerText(data, flags, open));
  if (!items.length) return;
  card.appendChild(el("h4", "sources-heading", "出处"));
  const list = el("ol", "citations");
  items.forEach((c, i) => {
    const item = citationCard(c, i, true, open);
    if (!flags[i]) item.classList.add("supporting");
    list.appendChild(item);
  });
  card.appendChild(list);
}

function renderAnswer(turn, data) {
  const abstained = Boolean(data.abstained);
  const card = el("article", abstained ? "answer abstained" : "answer");
  const items = abstained ? data.related || [] : data.citations || [];
  const open = (i, opener) => openViewer(items, i, opener, abstained ? "可能相关" : "出处");
  if (abstained) abstention(card, data, items, open);
  else answered(card, data, items, open);
  card.appendChild(answerActions(turn, data, saveTurns));
  return card;
}

function renderTurn(turn) {
  const item = el("li", "turn");
  item.dataset.turn = turn.id;
  const q = el("p", "question-bubble");
  q.appendChild(el("span", "visually-hidden", "问："));
  q.appendChild(document.createTextNode(turn.question));
  item.appendChild(q);
  const reading = turn.response ? readingLine(turn) : null;
  if (reading) item.appendChild(reading);
  if (turn.filterText) item.appendChild(el("p", "filter-line", turn.filterText));
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
  ui.conversation.replaceChildren(...chat.turns.map(renderTurn));
  ui.empty.hidden = chat.turns.length > 0;
  ui.clear.disabled = chat.turns.length === 0;
}

/** 理解为：… under a follow-up that the server read as another question, or null when it read it as asked. */
function readingLine(turn) {
  const data = turn.response;
  const resolved = data.resolved_question;
  if (!resolved || resolved === data.question) return null;
  const line = el("p", "reading");
  const text = button("reading-text link", resolved);
  text.title = "放入提问框，修改后再问";
  text.addEventListener("click", () => {
    ui.question.value = resolved;
    ui.question.focus();
  });
  const alone = button("ghost small reading-alone", "不对，单独提问");
  alone.title = "不结合前面的问题，重新提问";
  alone.addEventListener("click", () => ask(turn.question, turn));
  line.append(el("span", "reading-label", "理解为："), text, alone);
  return line;
}

/** The questions a new one is read against, as asked, oldest first: those since one asked on its own. */
function conversationHistory() {
  const answered = chat.turns.filter((t) => t.response);
  const start = answered.findLastIndex((t) => t.alone);
  return answered.slice(Math.max(start, 0)).map((t) => t.question).slice(-MAX_HISTORY);
}

/**
 * Ask `question` under the active filters, as a follow-up of the conversation; or, given `retry` (the turn
 * 不对，单独提问 asks again), on its own, without the previous questions, under the filters it was asked with.
 */
async function ask(question, retry) {
  question = question.trim();
  if (!question || chat.asking) return;
  chat.asking = true;
  ui.askButton.disabled = true;
  const { filters, text } = retry ? { filters: retry.filters || null, text: retry.filterText || "" } : activeFilters();
  const history = retry ? [] : conversationHistory();
  const body = { question };
  if (filters) body.filters = filters;
  if (history.length) body.history = history;
  const turn = { id: newId(), question, pending: true, alone: Boolean(retry), filters, filterText: text };
  chat.turns.push(turn);
  renderConversation();
  say(ui.status, "正在检索……");
  const result = await requestJSON("POST", "/api/ask", body);
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
  chat.asking = false;
  ui.askButton.disabled = false;
  const shown = ui.conversation.lastElementChild;
  if (shown) shown.scrollIntoView({ block: "nearest" });
}

// ---------------------------------------------------------------- wiring

export function initChat() {
  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const question = ui.question.value;
    if (chat.asking) return;
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
    chat.turns = chat.turns.filter((t) => t.pending);
    saveTurns();
    renderConversation();
    say(ui.status, "对话已清空");
    ui.question.focus();
  });
  renderConversation();
}
