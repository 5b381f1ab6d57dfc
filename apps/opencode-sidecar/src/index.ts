export { startSidecar, type Sidecar } from "./main.js";
