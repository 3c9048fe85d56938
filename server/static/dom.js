// Small DOM helpers shared by the page's modules.
// Safety: every piece of text from the server or the user is set with textContent or createTextNode,
// never parsed as HTML.

export const $ = (id) => document.getElementById(id);

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function button(className, text, label) {
  const node = el("button", className, text);
  node.type = "button";
  if (label) node.setAttribute("aria-label", label);
  return node;
}

export function say(node, message, isError) {
  node.textContent = message || "";
  node.classList.toggle("error", Boolean(isError));
}

export function newId() {
  return Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
}

/** Show a modal dialog; resolve with its returnValue once it closes (Escape gives ""). */
export function showDialog(dialog, focus) {
  return new Promise((resolve) => {
    dialog.returnValue = "";
    dialog.addEventListener("close", function done() {
      dialog.removeEventListener("close", done);
      resolve(dialog.returnValue);
    });
    dialog.showModal();
    if (focus) focus.focus();
  });
}
