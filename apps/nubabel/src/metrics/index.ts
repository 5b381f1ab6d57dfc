export { nubabelMetrics, type NubabelMetrics, type StateSources } from "./metrics.js";
export { observedGateway, observedProgress, runObserver, slackObserver } from "./observe.js";
export { instrumentHttp } from "./http.js";
