// A document's history: who uploaded, replaced, corrected or deleted it, from GET /api/audit.
import { errorText, requestJSON } from "./api.js";
import { $, el, say, showDialog } from "./dom.js";
import { FIELD_NAMES } from "./edit.js";

const ACTIONS = { upload: "上传", replace: "替换", update: "修改", delete: "删除" };

const ui = {
  dialog: $("history-dialog"), heading: $("history-heading"), status: $("history-status"),
  records: $("history-records"), more: $("history-more"), close: $("history-close"),
};
let session = null; // {doc, before} while the dialog is open

function two(n) {
  return String(n).padStart(2, "0");
}

/** A record's time in the reader's time zone, "2026-01-31 09:05:00"; the raw value when it is no time. */
function localTime(raw) {
  const date = typeof raw === "number" ? new Date(raw < 1e12 ? raw * 1000 : raw) : new Date(raw);
  if (Number.isNaN(date.getTime())) return String(raw ?? "");
  const day = [date.getFullYear(), two(date.getMonth() + 1), two(date.getDate())].join("-");
  return day + " " + [date.getHours(), date.getMinutes(), date.getSeconds()].map(two).join(":");
}

function describeValue(field, value) {
  if (value === null || value === undefined || value === "") return "（清空）";
  if (Array.isArray(value)) {
    // [old, new] of a field, or a region's names from the province down.
    if (field === "region" && value.every((v) => typeof v === "string")) return value.join("") || "（全国）";
    if (value.length === 2) return describeValue(field, value[0]) + " → " + describeValue(field, value[1]);
    return value.join("、");
  }
  if (typeof value === "object") {
    const from = value.old ?? value.from ?? value.before;
    const to = value.new ?? value.to ?? value.after;
    return describeValue(field, from) + " → " + describeValue(field, to);
  }
  return String(value);
}

/** The changed fields of an update in words: "标题：新标题；发布日期：2024-01-31". */
export function describeChanges(detail) {
  if (detail === null || detail === undefined || detail === "") return "";
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return "改动了" + detail.map((f) => FIELD_NAMES[f] || f).join("、");
  const inner = detail.changes || detail.fields || detail.changed;
  if (inner && typeof inner === "object") return describeChanges(inner);
  return Object.entries(detail).map(([field, value]) => (FIELD_NAMES[field] || field) + "：" + describeValue(field, value)).join("；");
}

function recordItem(record) {
  const item = el("li", "record");
  item.dataset.action = record.action;
  const head = el("p", "record-head");
  head.appendChild(el("span", "record-action action-" + record.action, ACTIONS[record.action] || record.action));
  const time = el("time", "record-time", localTime(record.time));
  if (typeof record.time === "string") time.dateTime = record.time;
  head.appendChild(time);
  item.appendChild(head);
  const facts = [
    record.key_name ? "密钥：" + record.key_name : "未用密钥",
    record.sha256 ? "SHA-256 " + String(record.sha256).slice(0, 12) : "",
    record.filename && record.action !== "update" ? "文件：" + record.filename : "",
  ].filter(Boolean);
  item.appendChild(el("p", "meta", facts.join(" · ")));
  const detail = recordDetail(record);
  if (detail) item.appendChild(el("p", "record-detail", detail));
  return item;
}

/** What the record's `detail` adds: an update's changed fields, a replaced version, a deleted title. */
function recordDetail(record) {
  const detail = record.detail;
  if (record.action === "update") return describeChanges(detail);
  if (!detail || typeof detail !== "object") return typeof detail === "string" ? detail : "";
  if (detail.previous_sha256) return "替换前的版本：SHA-256 " + String(detail.previous_sha256).slice(0, 12);
  if (detail.cancelled_sha256) return "重新发送了当前版本";
  if (detail.title) return "标题：" + detail.title;
  return "";
}

function refusal(result) {
  if (result.cancelled) return "需要 API 密钥才能查看历史。";
  // A server without the audit log answers Starlette's own 404.
  if (result.status === 404 && result.body && result.body.detail === "Not Found") return "这个服务器还没有文档历史功能。";
  return "无法载入历史。" + errorText(result.status, result.body);
}

async function loadRecords() {
  const view = session;
  const params = new URLSearchParams({ doc_id: view.doc.doc_id });
  if (view.before) params.set("before", String(view.before));
  ui.more.hidden = true;
  say(ui.status, "正在载入……");
  const result = await requestJSON("GET", "/api/audit?" + params.toString(), undefined, true);
  if (session !== view) return; // closed or opened on another document meanwhile
  if (result.status !== 200 || !result.body || !Array.isArray(result.body.records)) {
    say(ui.status, refusal(result), true);
    return;
  }
  ui.records.append(...result.body.records.map(recordItem));
  view.before = result.body.next_before ?? null;
  ui.more.hidden = view.before === null;
  const shown = ui.records.children.length;
  say(ui.status, shown ? "共 " + shown + " 条记录" + (view.before === null ? "" : "，还有更早的") : "还没有记录。");
}

/** Open the history of `doc` (newest first, a page at a time). */
export function openHistory(doc, title, opener) {
  session = { doc, before: null };
  ui.heading.textContent = "《" + title + "》的历史";
  ui.records.replaceChildren();
  showDialog(ui.dialog, ui.close).then(() => {
    session = null;
    if (opener.isConnected) opener.focus();
  });
  loadRecords();
}

export function initHistory() {
  ui.more.addEventListener("click", () => session && loadRecords());
  ui.close.addEventListener("click", () => ui.dialog.close());
}
