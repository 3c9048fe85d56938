// Which documents may answer: the 筛选 controls (地区, 发文机关, 类型, 发布日期) filled from GET /api/facets,
// and the 仅限：《title》 chip that scopes questions to one document (在本文中提问 in the viewer).
import { getJSON } from "./api.js";
import { $, el, say } from "./dom.js";

const ui = {
  toggle: $("filter-toggle"), panel: $("filter-panel"), clear: $("filter-clear"), note: $("filter-note"),
  region: $("filter-region"), issuer: $("filter-issuer"), docType: $("filter-doc-type"),
  from: $("filter-from"), to: $("filter-to"),
  chip: $("scope-chip"), chipText: $("scope-text"), chipRemove: $("scope-remove"), question: $("question"),
};
// The select of each facet (GET /api/facets key), with what its empty option says.
const SELECTS = [
  { key: "region", node: ui.region, all: "全部地区" },
  { key: "issuer", node: ui.issuer, all: "全部发文机关" },
  { key: "doc_type", node: ui.docType, all: "全部类型" },
];
let scope = null; // {doc_id, title} while questions are limited to one document
let facetsAsked = 0; // the latest facets request: an older reply never overwrites a newer one

// ---------------------------------------------------------------- what is sent

/**
 * The filters as set now: `filters` for POST /api/ask (null when nothing is filtered) and `text`, the line
 * shown with an answer made under them ("筛选：重庆市 · 通知 · 仅限《…》", or "").
 */
export function activeFilters() {
  const filters = {};
  const parts = [];
  for (const { key, node } of SELECTS) {
    if (!node.value) continue;
    filters[key] = node.value;
    parts.push(node.value);
  }
  const from = ui.from.value;
  const to = ui.to.value;
  if (from) filters.published_from = from;
  if (to) filters.published_to = to;
  if (from || to) parts.push(from && to ? from + " 至 " + to : from ? from + " 起" : "截至 " + to);
  if (scope) {
    filters.doc_ids = [scope.doc_id];
    parts.push("仅限《" + scope.title + "》");
  }
  if (!parts.length) return { filters: null, text: "" };
  return { filters, text: "筛选：" + parts.join(" · ") };
}

function activeCount() {
  return SELECTS.filter(({ node }) => node.value).length + (ui.from.value ? 1 : 0) + (ui.to.value ? 1 : 0);
}

function showCount() {
  const n = activeCount();
  ui.toggle.textContent = n ? "筛选（" + n + "）" : "筛选";
  ui.toggle.classList.toggle("active", n > 0);
  ui.clear.disabled = n === 0;
  // An empty range would be refused by the server: keep the two dates in order while choosing.
  ui.from.max = ui.to.value;
  ui.to.min = ui.from.value;
}

// ---------------------------------------------------------------- facets

function fillSelect({ node, all }, values) {
  const chosen = node.value;
  const options = [el("option", "", all)];
  options[0].value = "";
  for (const { value, count } of values) {
    const option = el("option", "", value + " (" + count + ")");
    option.value = value;
    options.push(option);
  }
  // A chosen value no document holds any more stays chosen (with 0), never silently dropped.
  if (chosen && !values.some((v) => v.value === chosen)) {
    const gone = el("option", "", chosen + " (0)");
    gone.value = chosen;
    options.push(gone);
  }
  node.replaceChildren(...options);
  node.value = chosen;
}

/** Load the facet values and their document counts again (on page load and when the library changes). */
export async function refreshFacets() {
  const asked = ++facetsAsked;
  let facets;
  try {
    facets = (await getJSON("/api/facets")).body;
  } catch (error) {
    if (asked === facetsAsked) say(ui.note, "无法载入筛选选项。" + error.message, true);
    return;
  }
  if (asked !== facetsAsked) return;
  for (const select of SELECTS) fillSelect(select, facets[select.key] || []);
  say(ui.note, "");
  showCount();
}

// ---------------------------------------------------------------- 仅限本文

/** Limit the next questions to one document, shown as the chip 仅限：《title》 by the question box. */
export function scopeToDocument(docId, title) {
  scope = { doc_id: docId, title };
  ui.chipText.textContent = "仅限：《" + title + "》";
  ui.chipText.title = title;
  ui.chipRemove.setAttribute("aria-label", "取消仅限《" + title + "》，回到全部文档");
  ui.chip.hidden = false;
}

function unscope() {
  scope = null;
  ui.chip.hidden = true;
  ui.chipText.textContent = "";
  ui.question.focus();
}

// ---------------------------------------------------------------- wiring

function setOpen(open) {
  ui.panel.hidden = !open;
  ui.toggle.setAttribute("aria-expanded", String(open));
}

function clearFilters() {
  for (const { node } of SELECTS) node.value = "";
  ui.from.value = ui.to.value = "";
  showCount();
  ui.toggle.focus();
}

export function initFilters() {
  setOpen(false);
  ui.chip.hidden = true;
  ui.toggle.addEventListener("click", () => {
    setOpen(ui.panel.hidden);
    if (!ui.panel.hidden) ui.region.focus();
  });
  for (const node of [ui.region, ui.issuer, ui.docType, ui.from, ui.to]) node.addEventListener("change", showCount);
  ui.clear.addEventListener("click", clearFilters);
  ui.chipRemove.addEventListener("click", unscope);
  ui.panel.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    event.stopPropagation();
    setOpen(false);
    ui.toggle.focus();
  });
  showCount();
  refreshFacets();
}
