// Talking to the API: fetch wrappers, the API key for writes, and errors in plain words.
import { $, showDialog } from "./dom.js";

const API_KEY_KEY = "zhengce.apiKey";
export const STATUS_NAMES = { received: "已接收", parsed: "索引中", indexed: "已索引", failed: "失败" };

/** A document's status as the page names it, with what the indexer is doing now: "已接收 · OCR 3/10 页". */
export function statusText(doc) {
  const name = STATUS_NAMES[doc.status] || doc.status;
  return doc.progress ? name + " · " + doc.progress : name;
}

const keyUi = { dialog: $("key-dialog"), input: $("key-input"), message: $("key-message") };
const auth = {
  required: false,
  prompt: null, // the pending Promise of the key dialog, shared by concurrent writes
  sessionKey: "", // the key when localStorage cannot keep it
  refusal: "", // why the key dialog asks again
};

/** Plain-words message for a failed request: the API's `detail` (every error reply has one string). */
export function errorText(status, body) {
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

/** GET a JSON resource; throws an Error whose message says in plain words why it failed. */
export async function getJSON(url) {
  const response = await fetch(url);
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error(errorText(response.status, body));
  return { body, headers: response.headers };
}

/**
 * Send a request with a JSON body; resolve with {status, body}, never throw.
 * With `keyed`, the API key goes along (asked for when needed, and again after a 401);
 * `cancelled` is set when the user declined to give it.
 */
export async function requestJSON(method, url, body, keyed) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  for (;;) {
    if (keyed) {
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
    if (keyed && response.status === 401) {
      keyRefused(Boolean(headers["X-API-Key"]));
      continue;
    }
    return { status: response.status, body: parsed };
  }
}

/** POST one file to /api/documents with upload progress; resolve with {status, body}, never throw. */
export function postFile(file, key, onProgress) {
  return sendFile("POST", "/api/documents", file, key, onProgress);
}

/** PUT one file as the new version of a document; resolve with {status, body}, never throw. */
export function putFile(docId, file, key) {
  return sendFile("PUT", "/api/documents/" + encodeURIComponent(docId), file, key, () => {});
}

function sendFile(method, url, file, key, onProgress) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    if (key) xhr.setRequestHeader("X-API-Key", key);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
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
  auth.sessionKey = key;
}

/** A write answered 401: forget the key and say why when the dialog asks again. */
export function keyRefused(sentKey) {
  auth.required = true;
  keepKey("");
  auth.refusal = sentKey ? "API 密钥不正确，服务器拒绝了这次操作。请重新输入。" : "";
}

/** The key to send with a write: "" when none is needed, false when the user declined. */
export function writeKey() {
  if (!auth.required) return Promise.resolve("");
  const key = storedKey() || auth.sessionKey;
  if (key) return Promise.resolve(key);
  if (!auth.prompt) {
    auth.prompt = askForKey().finally(() => {
      auth.prompt = null;
    });
  }
  return auth.prompt;
}

async function askForKey() {
  const refused = auth.refusal;
  auth.refusal = "";
  keyUi.message.textContent = refused || "上传、修改、删除文档，查看文档历史和提交反馈需要管理员提供的 API 密钥。密钥只保存在本浏览器中。";
  keyUi.message.classList.toggle("error", Boolean(refused));
  keyUi.input.value = "";
  const opener = document.activeElement;
  const answer = await showDialog(keyUi.dialog, keyUi.input);
  const key = answer === "ok" ? keyUi.input.value.trim() : "";
  if (key) keepKey(key);
  if (opener && opener.isConnected) opener.focus();
  return key || false;
}

/** Learn from the server whether writes need the API key. */
export async function loadConfig() {
  try {
    const response = await fetch("/api/config");
    if (response.ok) {
      const body = await response.json();
      auth.required = Boolean(body && body.auth_required);
    }
  } catch (error) {
    // No config endpoint: writes go without a key until one answers 401.
  }
}
