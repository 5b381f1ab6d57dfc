import type { oas31 } from "zod-openapi";

/**
 * The reference page, rendered on the server from the OpenAPI document itself, so the page and
 * `/openapi.json` cannot disagree. Plain HTML and inline CSS: no script, no CDN, readable offline
 * and in a terminal browser; `<details>` folds the long schemas without JavaScript.
 */

type Doc = oas31.OpenAPIObject;
type Ref = oas31.ReferenceObject;

const METHODS = ["get", "post", "put", "patch", "delete"] as const;

const CSS = `
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}
code,pre{font:13px/1.4 ui-monospace,monospace}pre{background:#f5f5f7;padding:.6rem;overflow-x:auto;border-radius:4px}
.m{display:inline-block;min-width:4.2rem;font:bold 13px ui-monospace,monospace;text-transform:uppercase}
.get{color:#0a7d33}.post{color:#0b5cad}.patch{color:#8a5a00}.delete{color:#b3261e}
section.op{border-top:1px solid #ddd;padding-top:.5rem;margin-top:1.5rem}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}
summary{cursor:pointer}.auth{color:#555}`;

/** The whole page for `doc`. */
export function renderPage(doc: Doc): string {
  const ops = operations(doc);
  const tags = doc.tags ?? [];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(doc.info.title)} reference</title><style>${CSS}</style></head><body>
<h1>${esc(doc.info.title)} <small>${esc(doc.info.version)}</small></h1>
${prose(doc.info.description ?? "")}
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${esc(doc.openapi)}).</p>
<h2 id="routes">Routes</h2>
${tags
  .map((tag) => {
    const items = ops.filter((o) => o.tag === tag.name);
    return `<h3>${esc(tag.name)}</h3>${prose(tag.description ?? "")}<ul class="routes">${items
      .map((o) => `<li><a href="#${o.anchor}"><span class="m ${o.method}">${o.method}</span> <code>${esc(o.path)}</code></a> ${esc(o.op.summary ?? "")}</li>`)
      .join("")}</ul>`;
  })
  .join("\n")}
<h2>Operations</h2>
${ops.map((o) => operation(doc, o)).join("\n")}
<h2 id="auth">Authentication</h2>
${securitySchemes(doc)}
<h2 id="schemas">Schemas</h2>
${Object.entries(doc.components?.schemas ?? {})
  .map(([name, schema]) => `<section id="schema-${esc(name)}"><h3>${esc(name)}</h3>${schemaBlock(schema, true)}</section>`)
  .join("\n")}
</body></html>`;
}

interface Op {
  method: (typeof METHODS)[number];
  path: string;
  tag: string;
  anchor: string;
  op: oas31.OperationObject;
}

function operations(doc: Doc): Op[] {
  const out: Op[] = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (op) out.push({ method, path, tag: op.tags?.[0] ?? "other", anchor: op.operationId ?? `${method}-${path}`, op });
    }
  }
  return out;
}

function operation(doc: Doc, { method, path, anchor, op }: Op): string {
  const params = (op.parameters ?? []).map((p) => resolve<oas31.ParameterObject>(doc, p));
  const body = op.requestBody ? resolve<oas31.RequestBodyObject>(doc, op.requestBody) : undefined;
  return `<section class="op" id="${esc(anchor)}">
<h3><span class="m ${method}">${method}</span> <code>${esc(path)}</code></h3>
<p><strong>${esc(op.summary ?? "")}</strong></p>${prose(op.description ?? "")}
<p class="auth">Auth: ${auth(doc, op.security ?? doc.security ?? [])}</p>
${params.length ? `<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>required</th><th>schema</th><th>description</th></tr>${params.map(param).join("")}</table>` : ""}
${body ? `<h4>Request body${body.required ? " (required)" : ""}</h4>${content(body.content)}` : ""}
<h4>Responses</h4>
${Object.entries(op.responses ?? {})
  .map(([status, r]) => {
    const res = resolve<oas31.ResponseObject>(doc, r as oas31.ResponseObject | Ref);
    const headers = Object.keys(res.headers ?? {}).map((name) => `<code>${esc(name)}</code>`);
    return `<h5>${esc(status)}</h5>${prose(res.description ?? "")}${headers.length ? `<p>Headers: ${headers.join(", ")}</p>` : ""}${res.content ? content(res.content) : ""}`;
  })
  .join("\n")}
</section>`;
}

function param(p: oas31.ParameterObject): string {
  const schema = p.schema as oas31.SchemaObject | undefined;
  return `<tr><td><code>${esc(p.name)}</code></td><td>${esc(p.in)}</td><td>${p.required ? "yes" : "no"}</td><td><code>${esc(brief(schema))}</code></td><td>${inline(p.description ?? schema?.description ?? "")}</td></tr>`;
}

function content(c: oas31.ContentObject): string {
  return Object.entries(c)
    .map(([type, media]) => {
      const example = media.example === undefined ? "" : `<details open><summary>Example</summary><pre>${esc(JSON.stringify(media.example, null, 2))}</pre></details>`;
      return `<p><code>${esc(type)}</code></p>${media.schema ? schemaBlock(media.schema, false) : ""}${example}`;
    })
    .join("");
}

/** A schema: a link when it is a named component, else its JSON Schema folded. */
function schemaBlock(schema: oas31.SchemaObject | Ref, open: boolean): string {
  if ("$ref" in schema) return `<p>Schema: ${refLink(schema.$ref ?? "")}</p>`;
  const json = esc(JSON.stringify(schema, null, 2)).replace(/&quot;\$ref&quot;: &quot;(#\/components\/schemas\/[^&]+)&quot;/g, (_m, ref: string) => `"$ref": ${refLink(ref)}`);
  return `<details${open ? " open" : ""}><summary>Schema</summary><pre>${json}</pre></details>`;
}

function refLink(ref: string): string {
  const name = ref.split("/").pop() ?? ref;
  return `<a href="#schema-${esc(name)}">${esc(name)}</a>`;
}

/** One-line type of a parameter's schema. */
function brief(schema: oas31.SchemaObject | undefined): string {
  if (!schema) return "";
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  return `${String(schema.type ?? "any")}${schema.pattern ? ` /${schema.pattern}/` : ""}`;
}

function auth(doc: Doc, security: oas31.SecurityRequirementObject[]): string {
  if (!security.length) return "none (public)";
  const schemes = doc.components?.securitySchemes ?? {};
  const describe = (name: string) => {
    const s = schemes[name] as oas31.SecuritySchemeObject | undefined;
    const how = s?.type === "http" ? `Authorization: ${s.scheme === "bearer" ? "Bearer" : s.scheme} ${s.bearerFormat ?? ""}`.trim() : s?.type === "apiKey" ? `${s.in} ${s.name}` : "";
    return `<a href="#auth-${esc(name)}">${esc(name)}</a>${how ? ` (<code>${esc(how)}</code>)` : ""}`;
  };
  return security.map((req) => Object.keys(req).map(describe).join(" and ")).join(" or ");
}

function securitySchemes(doc: Doc): string {
  return `<dl>${Object.entries(doc.components?.securitySchemes ?? {})
    .map(([name, s]) => `<dt id="auth-${esc(name)}"><code>${esc(name)}</code></dt><dd>${inline((s as oas31.SecuritySchemeObject).description ?? "")}</dd>`)
    .join("")}</dl>`;
}

function resolve<T>(doc: Doc, value: T | Ref): T {
  if (value && typeof value === "object" && "$ref" in value) {
    const [, , kind, name] = value.$ref.split("/");
    const components = doc.components as Record<string, Record<string, unknown>> | undefined;
    return components?.[kind!]?.[name!] as T;
  }
  return value;
}

/** Paragraphs of the document's descriptions (a little Markdown: `code`, **bold**, *emphasis*). */
function prose(text: string): string {
  return text
    .split(/\n\s*\n/)
    .filter((p) => p.trim())
    .map((p) => `<p>${inline(p)}</p>`)
    .join("");
}

function inline(text: string): string {
  return esc(text)
    .replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
    .replace(/\*([^*\s][^*]*)\*/g, "<em>$1</em>");
}

function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}
