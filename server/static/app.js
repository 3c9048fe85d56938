// The question page. Document text is only ever set with textContent, never parsed as HTML.
"use strict";

const form = document.getElementById("ask-form");
const questionBox = document.getElementById("question");
const button = document.getElementById("ask-button");
const statusLine = document.getElementById("status");
const result = document.getElementById("result");
const answerHeading = document.getElementById("answer-heading");
const answerText = document.getElementById("answer");
const sourcesHeading = document.getElementById("sources-heading");
const sources = document.getElementById("sources");

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function showStatus(message, isError) {
  statusLine.textContent = message;
  statusLine.classList.toggle("error", Boolean(isError));
}

function errorMessage(status, body) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((d) => d.msg).join("；");
  return "服务器出错（HTTP " + status + "），请稍后再试。";
}

function citationItem(citation) {
  const item = element("li");
  item.appendChild(element("span", "doc-title", "《" + citation.title + "》"));
  const meta = [citation.doc_number, citation.published].filter(Boolean).join(" · ");
  if (meta) item.appendChild(element("span", "doc-meta", " " + meta));
  item.appendChild(element("blockquote", "", citation.quote));
  return item;
}

function showAnswer(data) {
  const list = data.abstained ? data.related : data.citations;
  result.classList.toggle("abstained", data.abstained);
  answerHeading.textContent = data.abstained ? "未找到答案" : "答案";
  answerText.textContent = data.answer;
  sourcesHeading.textContent = data.abstained ? "相关段落（仅供参考，不构成答案）" : "出处";
  sourcesHeading.hidden = list.length === 0;
  sources.replaceChildren(...list.map(citationItem));
  result.hidden = false;
}

async function ask(question) {
  const response = await fetch("/api/ask", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ question: question }),
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error(errorMessage(response.status, body));
  return body;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  button.disabled = true;
  showStatus("正在检索……", false);
  try {
    showAnswer(await ask(questionBox.value));
    showStatus("", false);
  } catch (error) {
    result.hidden = true;
    showStatus(error.message, true);
  } finally {
    button.disabled = false;
  }
});
