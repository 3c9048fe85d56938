// The metadata-correction form: a document's title, issuer, 文号, date and region, sent with PATCH.
import { errorText, requestJSON } from "./api.js";
import { $, say, showDialog } from "./dom.js";

/** What each metadata field is called on the page. */
export const FIELD_NAMES = {
  title: "标题", issuer: "发文机关", doc_number: "文号", published: "发布日期", region: "地区", filename: "文件名",
};
const FIELDS = ["title", "issuer", "doc_number", "published", "region"];
const DATE_ERRORS = new Set(["date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact", "date_type"]);

const ui = {
  dialog: $("edit-dialog"), form: $("edit-form"), file: $("edit-file"), message: $("edit-message"),
  save: $("edit-save"), cancel: $("edit-cancel"),
  inputs: { title: $("edit-title"), issuer: $("edit-issuer"), doc_number: $("edit-doc-number"),
    published: $("edit-published"), region: $("edit-region") },
};
let editing = null; // {doc, onSaved} while the form is open

/** A region as typed: names from the province down, split at spaces or list punctuation. */
function regionNames(text) {
  return text.split(/[\s,，、;；/]+/).filter(Boolean);
}

function shownValues(doc) {
  return {
    title: doc.title || "", issuer: doc.issuer || "", doc_number: doc.doc_number || "",
    published: doc.published || "", region: (doc.region || []).join(" "),
  };
}

/** The fields changed in the form, as PATCH takes them: a field emptied is null (cleared). */
function changedFields(doc) {
  const before = shownValues(doc);
  const changes = {};
  for (const name of FIELDS) {
    const value = ui.inputs[name].value.trim();
    if (name === "region") {
      const names = regionNames(value);
      if (names.join(" ") !== before.region) changes.region = names;
    } else if (value !== before[name]) {
      changes[name] = value || null;
    }
  }
  return changes;
}

/** Open the form on `doc`; `onSaved(summary)` runs after the server took a correction. */
export function openEditor(doc, opener, onSaved) {
  editing = { doc, onSaved };
  const values = shownValues(doc);
  for (const name of FIELDS) {
    ui.inputs[name].value = values[name];
    ui.inputs[name].removeAttribute("aria-invalid");
  }
  ui.file.textContent = doc.filename ? "文件：" + doc.filename : "";
  say(ui.message, "只发送改动过的项；清空一项即删除它（标题除外）。");
  ui.save.disabled = false;
  showDialog(ui.dialog, ui.inputs.title).then(() => {
    editing = null;
    if (opener.isConnected) opener.focus();
  });
}

function fieldError(error) {
  const name = (error.loc || []).find((part) => FIELDS.includes(part));
  if (!name) return null;
  const reason = String(error.msg || "").replace(/^Value error, /, "");
  const plain = DATE_ERRORS.has(error.type) ? "不是有效的日期，请写成 2024-01-31 这样的格式（" + reason + "）" : reason;
  return { name, text: FIELD_NAMES[name] + "：" + plain };
}

function showRefusal(result) {
  if (result.cancelled) {
    say(ui.message, "未保存：需要 API 密钥。", true);
    return;
  }
  const errors = result.status === 422 && result.body && Array.isArray(result.body.errors) ? result.body.errors : [];
  const fields = errors.map(fieldError).filter(Boolean);
  if (!fields.length) {
    say(ui.message, "未保存：" + errorText(result.status, result.body), true);
    return;
  }
  for (const { name } of fields) ui.inputs[name].setAttribute("aria-invalid", "true");
  say(ui.message, "未保存，请改正后再试。" + fields.map((f) => f.text).join("；"), true);
  ui.inputs[fields[0].name].focus();
}

async function save(event) {
  event.preventDefault();
  const session = editing;
  if (!session) return;
  for (const name of FIELDS) ui.inputs[name].removeAttribute("aria-invalid");
  const changes = changedFields(session.doc);
  if ("title" in changes && !changes.title) {
    ui.inputs.title.setAttribute("aria-invalid", "true");
    say(ui.message, "标题不能为空。", true);
    ui.inputs.title.focus();
    return;
  }
  if (!Object.keys(changes).length) {
    say(ui.message, "没有改动，无需保存。");
    return;
  }
  ui.save.disabled = true;
  say(ui.message, "正在保存……");
  const url = "/api/documents/" + encodeURIComponent(session.doc.doc_id);
  const result = await requestJSON("PATCH", url, changes, true);
  ui.save.disabled = false;
  if (result.status === 200 && result.body) {
    if (editing === session) ui.dialog.close("saved");
    await session.onSaved(result.body);
  } else if (editing === session) {
    showRefusal(result);
  }
}

export function initEditor() {
  ui.form.addEventListener("submit", save);
  ui.cancel.addEventListener("click", () => ui.dialog.close("cancel"));
}
