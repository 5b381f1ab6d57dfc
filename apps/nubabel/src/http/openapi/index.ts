export { document, paths, UNDOCUMENTED, webhooks } from "./document.js";
export { renderPage } from "./page.js";
