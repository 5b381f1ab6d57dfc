export { document, paths, UNDOCUMENTED } from "./document.js";
export { renderPage } from "./page.js";
