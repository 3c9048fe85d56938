// The side panel: its two tabs (原文, 文档库) and, on narrow screens, the panel as an overlay.
import { $ } from "./dom.js";

const ui = {
  tabViewer: $("tab-viewer"), tabLibrary: $("tab-library"), viewer: $("viewer"), library: $("library"),
  libraryToggle: $("library-toggle"),
};
let libraryShown = () => {};

/** Call `fn` each time the library tab is shown (it refreshes the list). */
export function whenLibraryShown(fn) {
  libraryShown = fn;
}

export function isNarrow() {
  return window.matchMedia("(max-width: 899px)").matches;
}

export function showTab(name) {
  const viewer = name === "viewer";
  ui.viewer.hidden = !viewer;
  ui.library.hidden = viewer;
  ui.tabViewer.setAttribute("aria-selected", String(viewer));
  ui.tabLibrary.setAttribute("aria-selected", String(!viewer));
  ui.tabViewer.tabIndex = viewer ? 0 : -1;
  ui.tabLibrary.tabIndex = viewer ? -1 : 0;
  if (!viewer) libraryShown();
}

export function openSide(name) {
  showTab(name);
  document.body.classList.add("side-open");
  ui.libraryToggle.setAttribute("aria-expanded", "true");
}

export function closeSide() {
  document.body.classList.remove("side-open");
  ui.libraryToggle.setAttribute("aria-expanded", "false");
}

export function isSideOpen() {
  return document.body.classList.contains("side-open");
}
