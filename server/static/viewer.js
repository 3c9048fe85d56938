// The source viewer: a document's whole text with the cited span marked and scrolled into view.
import { getJSON } from "./api.js";
import { citationMeta, pageLabel, quoteAt, sourceLabel } from "./cite.js";
import { $, el, say } from "./dom.js";
import { closeSide, isNarrow, openSide, showTab } from "./panel.js";

const ui = {
  tabViewer: $("tab-viewer"), viewerTitle: $("viewer-title"), viewerMeta: $("viewer-meta"),
  viewerPos: $("viewer-pos"), viewerPrev: $("viewer-prev"), viewerNext: $("viewer-next"),
  viewerClose: $("viewer-close"), viewerNote: $("viewer-note"), viewerBody: $("viewer-body"),
  viewerAsk: $("viewer-ask"),
};
const docCache = new Map(); // doc_id -> Promise<document JSON>
let current = null; // {items, index, opener, label} while the viewer is open
let askInDocument = () => {}; // 在本文中提问: given the open document's doc_id and title

export function isViewerOpen() {
  return current !== null;
}

/** Drop a document from the cache (it was deleted or corrected). */
export function forgetDocument(docId) {
  docCache.delete(docId);
}

function fetchDocument(docId, fresh) {
  if (fresh || !docCache.has(docId)) {
    const promise = getJSON("/api/documents/" + encodeURIComponent(docId)).then((reply) => reply.body);
    promise.catch(() => docCache.delete(docId));
    docCache.set(docId, promise);
  }
  return docCache.get(docId);
}

/**
 * Open the viewer on `items[index]`; Prev/Next step through `items`.
 * Items are citations ({doc_id, title, quote, start, end, …}) or whole documents ({doc_id, title}).
 */
export function openViewer(items, index, opener, label) {
  current = { items, index, opener, label };
  ui.tabViewer.hidden = false;
  openSide("viewer");
  showCitation();
  ui.viewerTitle.focus();
}

export function closeViewer() {
  const opener = current && current.opener;
  current = null;
  ui.tabViewer.hidden = true;
  if (isNarrow()) closeSide();
  showTab("library");
  if (opener && opener.isConnected) opener.focus();
}

async function showCitation() {
  const view = current;
  if (!view) return;
  const c = view.items[view.index];
  const many = view.items.length > 1;
  ui.viewerPrev.hidden = ui.viewerNext.hidden = !many;
  ui.viewerPrev.disabled = view.index === 0;
  ui.viewerNext.disabled = view.index === view.items.length - 1;
  ui.viewerPos.textContent = c.start === undefined ? "" : view.label + (many ? " " + (view.index + 1) + " / " + view.items.length : "");
  view.title = c.title;
  ui.viewerTitle.textContent = "《" + c.title + "》";
  ui.viewerMeta.textContent = citationMeta(c);
  say(ui.viewerNote, "正在载入原文……");
  ui.viewerBody.replaceChildren();
  let doc;
  try {
    doc = await fetchDocument(c.doc_id);
    if (c.start !== undefined && !quoteAt(doc.text, c)) doc = await fetchDocument(c.doc_id, true);
  } catch (error) {
    if (current === view) say(ui.viewerNote, "无法载入原文。" + error.message, true);
    return;
  }
  if (current !== view || view.items[view.index] !== c) return; // the reader moved on meanwhile
  renderDocument(doc, c);
}

function renderDocument(doc, c) {
  if (current) current.title = doc.title;
  const page = pageLabel(c);
  ui.viewerTitle.textContent = "《" + doc.title + "》";
  ui.viewerMeta.textContent = [doc.doc_number, doc.issuer, sourceLabel(doc), doc.published, page ? "引文在" + page : ""].filter(Boolean).join(" · ");
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
  const view = current;
  if (!view) return;
  const next = view.index + delta;
  if (next < 0 || next >= view.items.length) return;
  view.index = next;
  showCitation();
  // Keep keyboard focus on a usable button at either end of the list.
  if (document.activeElement && document.activeElement.disabled) (delta < 0 ? ui.viewerNext : ui.viewerPrev).focus();
}

/** 在本文中提问: hand the open document to `askInDocument`; on a phone, close the viewer to show the question box. */
function scopeToOpen() {
  const view = current;
  if (!view) return;
  const docId = view.items[view.index].doc_id;
  if (isNarrow()) closeViewer();
  askInDocument(docId, view.title);
}

/** Wire the viewer's buttons; `onAskInDocument(docId, title)` is what 在本文中提问 does. */
export function initViewer(onAskInDocument) {
  askInDocument = onAskInDocument;
  ui.tabViewer.hidden = true;
  ui.viewerAsk.addEventListener("click", scopeToOpen);
  ui.viewerPrev.addEventListener("click", () => stepViewer(-1));
  ui.viewerNext.addEventListener("click", () => stepViewer(1));
  ui.viewerClose.addEventListener("click", closeViewer);
}
