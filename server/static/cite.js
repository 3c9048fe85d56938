// Pure helpers about answers and citations: no DOM, no requests.

export const ABSTAIN_HEADING = "未在已收录的文档中找到相关内容";
export const CHECK_NOTE = "请核对原文";

// The server's offsets count code points; JS strings count UTF-16 units. They differ only after a
// character outside the BMP, so map through code points when the text has any surrogate.
export function utf16Span(text, start, end) {
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

/** The UTF-16 span of a citation's quote in a document's text, or null when it is not there. */
export function quoteAt(text, c) {
  const span = utf16Span(text || "", c.start, c.end);
  return span && text.slice(span[0], span[1]) === c.quote ? span : null;
}

/** Which citations are parts of the answer text (they get [n] markers in it). */
export function answerPartFlags(data) {
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
export function contextParts(c) {
  if (typeof c.context !== "string" || typeof c.context_start !== "number") return ["", c.quote, ""];
  const from = c.start - c.context_start;
  const to = from + (c.end - c.start);
  const mid = slicePoints(c.context, from, to);
  if (from < 0 || mid !== c.quote) return ["", c.quote, ""]; // never guess where a quote is
  return [slicePoints(c.context, 0, from), mid, slicePoints(c.context, to)];
}

/** "第N页", "第N页 · OCR" when the quote was read by OCR from a scanned page, or "". */
export function pageLabel(c) {
  const page = c.page !== null && c.page !== undefined ? "第" + c.page + "页" : "";
  return c.ocr === true ? [page, "OCR"].filter(Boolean).join(" · ") : page;
}

/** "来源：重庆日报" when a document's byline names a source other than its issuer, else "". */
export function sourceLabel(doc) {
  return doc.source && doc.source !== doc.issuer ? "来源：" + doc.source : "";
}

export function citationMeta(c) {
  return [c.doc_number, c.published, pageLabel(c)].filter(Boolean).join(" · ");
}

/** A turn as plain text for the clipboard: the question, the answer and its sources. */
export function plainText(turn, data) {
  const lines = ["问：" + turn.question];
  const describe = (c) => ["《" + c.title + "》", c.doc_number, c.published, pageLabel(c)].filter(Boolean).join(" ");
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
