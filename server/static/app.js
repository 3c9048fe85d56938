// 政策问答: the page's entry module; it wires the modules together. Plain ES modules, no build step.
// Safety: every piece of text from the server or the user (questions, answers, quotes, titles,
// document text, errors) is set with textContent or createTextNode, never parsed as HTML.
import { loadConfig } from "./api.js";
import { initChat } from "./chat.js";
import { $ } from "./dom.js";
import { initEditor } from "./edit.js";
import { initFilters, refreshFacets, scopeToDocument } from "./filters.js";
import { initHistory } from "./history.js";
import { initLibrary, refreshDocuments, whenDocumentsChange } from "./library.js";
import { closeSide, isNarrow, isSideOpen, openSide, showTab, whenLibraryShown } from "./panel.js";
import { initUploads } from "./upload.js";
import { closeViewer, initViewer, isViewerOpen } from "./viewer.js";

const ui = {
  sideClose: $("side-close"), libraryToggle: $("library-toggle"), pickFiles: $("pick-files"),
  tabViewer: $("tab-viewer"), tabLibrary: $("tab-library"), viewer: $("viewer"), library: $("library"),
  question: $("question"),
};

function wireSide() {
  ui.libraryToggle.addEventListener("click", () => {
    if (isSideOpen() && isNarrow() && !ui.library.hidden) closeSide();
    else openSide("library");
    if (!ui.library.hidden) ui.pickFiles.focus();
  });
  ui.sideClose.addEventListener("click", () => {
    if (isViewerOpen() && !ui.viewer.hidden) {
      closeViewer();
      return;
    }
    closeSide();
    ui.libraryToggle.focus();
  });
  ui.tabLibrary.addEventListener("click", () => showTab("library"));
  ui.tabViewer.addEventListener("click", () => isViewerOpen() && showTab("viewer"));
  for (const tab of [ui.tabViewer, ui.tabLibrary]) {
    tab.addEventListener("keydown", (event) => {
      if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
      const other = tab === ui.tabViewer ? ui.tabLibrary : ui.tabViewer;
      if (other.hidden) return;
      other.click();
      other.focus();
    });
  }
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || document.querySelector("dialog[open]")) return;
    if (isViewerOpen()) {
      event.preventDefault();
      closeViewer();
    } else if (isSideOpen() && isNarrow()) {
      closeSide();
      ui.libraryToggle.focus();
    }
  });
}

whenLibraryShown(refreshDocuments);
whenDocumentsChange(refreshFacets);
wireSide();
initViewer((docId, title) => {
  scopeToDocument(docId, title);
  ui.question.focus();
});
initFilters();
initChat();
initLibrary();
initUploads(refreshDocuments);
initEditor();
initHistory();
loadConfig();
refreshDocuments();
