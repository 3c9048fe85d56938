// Uploads: pick or drop files, send them one at a time with progress, and follow each until indexed.
import { STATUS_NAMES, errorText, keyRefused, postFile, statusText, writeKey } from "./api.js";
import { $, el } from "./dom.js";

const ui = { dropZone: $("drop-zone"), pickFiles: $("pick-files"), fileInput: $("file-input"), uploads: $("uploads") };
const queue = [];
let uploading = false;
let settled = () => {}; // called once the queue is empty (the library refreshes its list)

/** The doc_ids of the files uploaded from this page (they are followed until indexed). */
export function uploadedIds() {
  return [...ui.uploads.querySelectorAll("li[data-doc-id]")].map((row) => row.dataset.docId);
}

function queueFiles(files) {
  for (const file of files) queue.push({ file, row: uploadRow(file) });
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
  while (queue.length) {
    const { file, row } = queue.shift();
    await uploadFile(file, row);
  }
  uploading = false;
  settled();
}

async function uploadFile(file, row) {
  const progress = row.querySelector("progress");
  for (;;) {
    const key = await writeKey();
    if (key === false) {
      setUploadStatus(row, "未上传：需要 API 密钥", "failed");
      return;
    }
    setUploadStatus(row, "正在上传……", "sending");
    const result = await postFile(file, key, (done) => (progress.value = done));
    if (result.status === 401) {
      keyRefused(Boolean(key));
      setUploadStatus(row, "API 密钥不正确，等待重新输入", "failed");
      continue;
    }
    progress.value = 1;
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

/** Show where each followed upload is, from the documents just listed by id. */
export function updateUploadRows(docs) {
  for (const row of ui.uploads.querySelectorAll("li[data-doc-id]")) {
    const doc = docs.find((d) => d.doc_id === row.dataset.docId);
    if (!doc) {
      setUploadStatus(row, "已删除", "deleted");
      continue;
    }
    let text = doc.status === "failed" ? "失败：" + (doc.error || "") : statusText(doc);
    if (row.dataset.duplicate) text = "已收录过（相同文件）：" + text;
    setUploadStatus(row, text, doc.status);
  }
}

/** Wire the file picker and the drop zone; `onSettled` runs each time the queue is empty. */
export function initUploads(onSettled) {
  settled = onSettled;
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
