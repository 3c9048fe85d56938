// The library: the list of documents (a page at a time, filtered), each with 编辑, 替换, 历史 and 删除.
import { errorText, getJSON, keyRefused, putFile, requestJSON, statusText, writeKey } from "./api.js";
import { sourceLabel } from "./cite.js";
import { $, button, el, say, showDialog } from "./dom.js";
import { openEditor } from "./edit.js";
import { openHistory } from "./history.js";
import { updateUploadRows, uploadedIds } from "./upload.js";
import { forgetDocument, openViewer } from "./viewer.js";

const POLL_MS = 1500;
const DOC_PAGE = 50; // documents fetched per page of the library list

const ui = {
  libraryToggle: $("library-toggle"), libraryStatus: $("library-status"), documents: $("documents"),
  docCount: $("doc-count"), docFilter: $("doc-filter"), docMore: $("doc-more"),
  confirmDialog: $("confirm-dialog"), confirmMessage: $("confirm-message"),
};
const list = {
  docs: [], // the page of the library list shown
  total: 0, // how many documents match the filter
  limit: DOC_PAGE,
  pollTimer: 0,
  signature: null, // what the last refresh saw of the documents (their ids, states and metadata)
};
let changed = () => {}; // called when a refresh sees the documents changed (the filters' facets reload)

/** Call `fn` each time a refresh of the list finds documents added, indexed, corrected or deleted. */
export function whenDocumentsChange(fn) {
  changed = fn;
}

function noticeChange(docs) {
  const seen = docs.map((d) => [d.doc_id, d.status, d.title, d.issuer, d.doc_type, d.published, d.region]);
  const signature = JSON.stringify([list.total, seen]);
  if (list.signature !== null && signature !== list.signature) changed();
  list.signature = signature;
}

function anyInProgress(docs) {
  return docs.some((d) => d.status === "received" || d.status === "parsed" || d.progress);
}

async function fetchDocuments(params) {
  const { body, headers } = await getJSON("/api/documents?" + params.toString());
  return { docs: body, total: Number(headers.get("X-Total-Count") || body.length) };
}

/** Fetch the page of the list shown (and the uploads followed) again; poll while any is being indexed. */
export async function refreshDocuments() {
  clearTimeout(list.pollTimer);
  list.pollTimer = 0;
  const page = new URLSearchParams({ limit: String(list.limit) });
  if (ui.docFilter.value.trim()) page.set("q", ui.docFilter.value.trim());
  // The uploads listed above the library are followed by id: they need not be on the page shown.
  const ids = uploadedIds();
  const uploaded = new URLSearchParams({ limit: "500" });
  ids.forEach((id) => uploaded.append("doc_id", id));
  let mine;
  try {
    const [shown, followed] = await Promise.all([fetchDocuments(page), ids.length ? fetchDocuments(uploaded) : { docs: [] }]);
    list.docs = shown.docs;
    list.total = shown.total;
    mine = followed.docs;
  } catch (error) {
    say(ui.libraryStatus, "无法载入文档列表。" + error.message, true);
    list.pollTimer = setTimeout(refreshDocuments, POLL_MS * 4);
    return;
  }
  renderDocuments();
  updateUploadRows(mine);
  noticeChange([...list.docs, ...mine]);
  if (anyInProgress(list.docs) || anyInProgress(mine)) list.pollTimer = setTimeout(refreshDocuments, POLL_MS);
}

function renderDocuments() {
  ui.docCount.textContent = "（" + list.total + "）";
  ui.documents.replaceChildren(...list.docs.map(documentItem));
  ui.docMore.hidden = list.docs.length >= list.total;
}

function statusBadge(doc) {
  const badge = el("span", "badge status-" + doc.status, statusText(doc));
  if (doc.status === "received" || doc.status === "parsed") badge.classList.add("busy");
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
  const meta = [region, doc.issuer, sourceLabel(doc), doc.doc_number, doc.published, doc.n_chunks ? doc.n_chunks + " 个片段" : "", doc.filename].filter(Boolean);
  if (meta.length) main.appendChild(el("p", "meta", meta.join(" · ")));
  if (doc.error) main.appendChild(el("p", "doc-error", doc.error));
  main.appendChild(documentActions(doc, title));
  const side = el("div", "doc-side");
  side.appendChild(statusBadge(doc));
  item.append(main, side);
  return item;
}

function documentActions(doc, title) {
  const actions = el("div", "doc-actions");
  const edit = button("ghost small doc-edit", "编辑", "编辑《" + title + "》的信息");
  edit.addEventListener("click", () => openEditor(doc, edit, corrected));
  const replace = button("ghost small doc-replace", "替换", "替换《" + title + "》：上传它的新版本");
  replace.addEventListener("click", () => chooseNewVersion(doc, title, replace));
  const history = button("ghost small doc-history", "历史", "查看《" + title + "》的历史");
  history.addEventListener("click", () => openHistory(doc, title, history));
  const remove = button("ghost small danger-text", "删除", "删除《" + title + "》");
  remove.addEventListener("click", () => deleteDocument(doc, title, remove));
  actions.append(edit, replace, history, remove);
  return actions;
}

/** After a metadata correction: say so, show the list again, and keep focus on the document's 编辑. */
async function corrected(saved) {
  forgetDocument(saved.doc_id);
  say(ui.libraryStatus, "已保存《" + saved.title + "》的修改");
  await refreshDocuments();
  const edit = [...ui.documents.querySelectorAll("li.doc")].find((li) => li.dataset.docId === saved.doc_id);
  (edit ? edit.querySelector(".doc-edit") : ui.libraryToggle).focus();
}

/** Pick a file and send it as the document's new version: it replaces every chunk once indexed. */
function chooseNewVersion(doc, title, opener) {
  const input = el("input", "visually-hidden");
  input.type = "file";
  input.accept = ".txt,.md,.html,.htm,.pdf,.docx,.png,.jpg,.jpeg,.tif,.tiff";
  input.addEventListener("change", () => {
    if (input.files && input.files[0]) replaceDocument(doc, title, input.files[0]);
    input.remove();
    opener.focus();
  });
  document.body.appendChild(input);
  input.click();
}

async function replaceDocument(doc, title, file) {
  say(ui.libraryStatus, "正在上传《" + title + "》的新版本……");
  for (;;) {
    const key = await writeKey();
    if (key === false) {
      say(ui.libraryStatus, "未能替换《" + title + "》：需要 API 密钥", true);
      return;
    }
    const result = await putFile(doc.doc_id, file, key);
    if (result.status === 401) {
      keyRefused(Boolean(key));
      continue;
    }
    if (result.status === 202) {
      forgetDocument(doc.doc_id);
      say(ui.libraryStatus, "已收到《" + title + "》的新版本（" + file.name + "），索引后替换原有内容");
    } else {
      say(ui.libraryStatus, "未能替换《" + title + "》：" + errorText(result.status, result.body), true);
    }
    await refreshDocuments();
    return;
  }
}

function confirmDelete(title) {
  ui.confirmMessage.textContent = "删除《" + title + "》后，它将不再出现在任何答案中。此操作不能撤销。";
  return showDialog(ui.confirmDialog, ui.confirmDialog.querySelector("button[value=cancel]")).then((answer) => answer === "ok");
}

async function deleteDocument(doc, title, opener) {
  const confirmed = await confirmDelete(title);
  opener.focus();
  if (!confirmed) return;
  say(ui.libraryStatus, "正在删除《" + title + "》……");
  const result = await requestJSON("DELETE", "/api/documents/" + encodeURIComponent(doc.doc_id), undefined, true);
  if (result.status === 200 || result.status === 204) {
    forgetDocument(doc.doc_id);
    say(ui.libraryStatus, "已删除《" + title + "》");
    ui.libraryToggle.focus();
  } else {
    say(ui.libraryStatus, "未能删除《" + title + "》：" + (result.cancelled ? "需要 API 密钥" : errorText(result.status, result.body)), true);
  }
  await refreshDocuments();
}

/** Wire the filter and 显示更多. */
export function initLibrary() {
  let filterTimer = 0;
  ui.docFilter.addEventListener("input", () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => {
      list.limit = DOC_PAGE;
      refreshDocuments();
    }, 250);
  });
  ui.docMore.addEventListener("click", () => {
    list.limit += DOC_PAGE;
    refreshDocuments();
  });
}
