// Under each answer: 复制 (the answer and its sources as plain text), 👍 and 👎 with a reason.
import { errorText, requestJSON } from "./api.js";
import { plainText } from "./cite.js";
import { button, el, say } from "./dom.js";

const REASONS = ["数字错误", "引用不对", "应该拒答", "没找到答案", "其他"];

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

/** The row of actions under an answer; `save` keeps the turn once feedback is recorded. */
export function answerActions(turn, data, save) {
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
  const send = (feedback) => submitFeedback(turn, feedback, { note, votes: [up, down], save });
  copy.addEventListener("click", async () => say(note, (await copyText(plainText(turn, data))) ? "已复制" : "复制失败，请手动选择文字复制", false));
  up.addEventListener("click", async () => {
    up.disabled = down.disabled = true;
    await send({ rating: "up", reason: null, comment: "" });
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
    const ok = await send({ rating: "down", reason: reason.value, comment });
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

async function submitFeedback(turn, feedback, { note, votes, save }) {
  say(note, "正在提交……");
  const result = await requestJSON("POST", "/api/feedback", { ...feedback, answer: turn.response }, true);
  if (result.status === 201 || result.status === 200) {
    turn.feedback = feedback.rating;
    save();
    votes.forEach((b) => (b.disabled = true));
    say(note, "已记录，谢谢");
    return true;
  }
  votes.forEach((b) => (b.disabled = false));
  say(note, result.cancelled ? "未提交：需要 API 密钥" : errorText(result.status, result.body), true);
  return false;
}
