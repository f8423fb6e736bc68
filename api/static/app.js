// docserve's page: submit a document as a job, follow it page by page (long polling), draw every
// page's result on the image the pipeline analysed. Plain JS, no build step, nothing fetched but
// the gateway's own API.
"use strict";

const API = "/api/v1";
const WAIT_S = 20; // each long poll: the gateway answers at once when a page is done
const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

const state = { file: null, jobId: null, drawn: new Set(), pipelines: [] };

// -- the API ------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function authHeaders() {
  const key = $("api-key").value.trim();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function call(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
  } catch (error) {
    throw new ApiError("network_error", `the gateway cannot be reached (${error.message})`);
  }
  if (!response.ok) {
    let code = `http_${response.status}`, message = response.statusText;
    try {
      const body = await response.json();
      code = body.error.code;
      message = body.error.message;
    } catch (ignored) { /* not the gateway's error body */ }
    throw new ApiError(code, message);
  }
  return response;
}

// -- errors, as the API words them ----------------------------------------------------------------

function showError(error) {
  $("error-code").textContent = error.code || "error";
  $("error-message").textContent = error.message;
  $("error").hidden = false;
  if (error.code === "unauthorized" || error.code === "key_revoked") $("key-details").open = true;
}

function clearError() {
  $("error").hidden = true;
}

// -- pipelines ------------------------------------------------------------------------------------

async function loadPipelines() {
  const select = $("pipeline");
  try {
    state.pipelines = await (await call(`${API}/pipelines`)).json();
  } catch (error) {
    select.innerHTML = "<option value=''>no pipelines: see the error</option>";
    showError(error);
    return;
  }
  select.innerHTML = "";
  for (const pipeline of state.pipelines) {
    const option = new Option(pipeline.name, pipeline.name);
    option.title = pipeline.description;
    select.add(option);
  }
  const preferred = state.pipelines.find((p) => p.name === "document_full");
  if (preferred) select.value = preferred.name;
  describePipeline();
}

function describePipeline() {
  const chosen = state.pipelines.find((p) => p.name === $("pipeline").value);
  $("pipeline-description").textContent = chosen ? chosen.description : "";
}

// -- choosing a document --------------------------------------------------------------------------

function chooseFile(file) {
  state.file = file || null;
  $("file-name").textContent = file ? `${file.name} (${Math.ceil(file.size / 1024)} KB)` : "No file chosen.";
  if (file) $("location").value = "";
}

function wireDropZone() {
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    if (event.dataTransfer.files.length) chooseFile(event.dataTransfer.files[0]);
  });
  $("file").addEventListener("change", () => chooseFile($("file").files[0]));
  $("location").addEventListener("input", () => {
    if ($("location").value.trim() && state.file) {
      $("file").value = "";
      chooseFile(null);
    }
  });
}

// -- a job ----------------------------------------------------------------------------------------

function newRequestId() {
  const random = Math.random().toString(36).slice(2, 8);
  return `web-${Date.now().toString(36)}-${random}`;
}

async function submit(event) {
  event.preventDefault();
  clearError();
  const pipeline = $("pipeline").value;
  const location = $("location").value.trim();
  if (!pipeline) return showError(new ApiError("no_pipeline", "choose a pipeline first"));
  if (!state.file && !location) {
    return showError(new ApiError("no_document", "choose or drop a file, or type a location"));
  }
  const requestId = newRequestId();
  let request;
  if (state.file) {
    const form = new FormData();
    form.append("request_id", requestId);
    form.append("pipeline", pipeline);
    form.append("document", state.file, state.file.name);
    request = { method: "POST", body: form };
  } else {
    request = { method: "POST", headers: { "Content-Type": "application/json" },
                body: JSON.stringify({ request_id: requestId, pipeline, location }) };
  }
  $("analyse").disabled = true;
  try {
    const job = await (await call(`${API}/jobs`, request)).json();
    startJob(job);
    await follow(job);
  } catch (error) {
    showError(error);
  } finally {
    $("analyse").disabled = false;
  }
}

function startJob(job) {
  state.jobId = job.request_id;
  state.drawn = new Set();
  $("pages").replaceChildren();
  $("progress-log").replaceChildren();
  $("download").hidden = true;
  $("download-fields").hidden = true;
  $("job-id").textContent = job.request_id;
  $("job").hidden = false;
  showStatus(job);
}

async function follow(job) {
  const id = job.request_id;
  while (!["succeeded", "failed", "cancelled"].includes(job.status)) {
    const url = `${API}/jobs/${encodeURIComponent(id)}?wait=${WAIT_S}&include=partial`;
    job = await (await call(url)).json();
    if (state.jobId !== id) return; // another document was submitted meanwhile
    showStatus(job);
    for (const entry of job.partial || []) drawPage(job, entry);
  }
  for (const entry of (job.result && job.result.pages) || []) drawPage(job, entry);
  if (job.status === "failed" && job.error) showError(new ApiError(job.error.code, job.error.message));
  if (job.status === "succeeded") offerDownload(job);
}

let lastProgress = "";

function showStatus(job) {
  const { pages_total: total, pages_done: done } = job.progress;
  let text;
  if (job.status === "queued") text = job.attempts ? "Queued again: retrying after an error" : "Queued: waiting for a worker";
  else if (job.status === "processing" && total == null) text = "Processing: splitting the document into pages";
  else if (job.status === "processing") text = `Analysing page ${Math.min(done + 1, total)} of ${total} (${done} done)`;
  else if (job.status === "succeeded") text = `Done: ${done} of ${total} pages analysed`;
  else if (job.status === "failed") text = `Failed after ${done} of ${total ?? "?"} pages`;
  else text = job.status;
  $("status-text").textContent = text;
  $("progress").max = total || 1;
  $("progress").value = done;
  const key = `${job.status} ${done}/${total}`;
  if (key === lastProgress) return;
  lastProgress = key;
  const item = document.createElement("li");
  item.dataset.status = job.status;
  item.dataset.done = done;
  item.dataset.total = total ?? "";
  const time = new Date().toLocaleTimeString();
  item.textContent = total == null ? `${time} ${job.status}` : `${time} ${job.status}: ${done}/${total} pages`;
  $("progress-log").append(item);
}

function offerDownload(job) {
  const link = $("download");
  if (link.href) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([JSON.stringify(job, null, 2)], { type: "application/json" }));
  link.download = `${job.request_id}.json`;
  link.hidden = false;
  if (job.result.pages.some((entry) => entry.result.key_values)) offerFieldsDownload(job.request_id);
}

// The fields as CSV come from the gateway (GET .../fields.csv), fetched with the page's API key.
async function offerFieldsDownload(requestId) {
  const link = $("download-fields");
  try {
    const response = await call(`${API}/jobs/${encodeURIComponent(requestId)}/fields.csv`);
    if (link.href) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(await response.blob());
    link.download = `${requestId}-fields.csv`;
    link.hidden = false;
  } catch (error) {
    showError(error);
  }
}

// -- drawing a page -------------------------------------------------------------------------------

const pct = (value) => `${(value * 100).toFixed(1)}%`;

function svgElement(name, attributes) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  return element;
}

// One entry of a page's lists (its lines, checkboxes or signature): a button holding what was
// found and its confidence, which the page links to the mark drawn on the image.
function listEntry(list, found, confidence) {
  const button = document.createElement("button");
  button.type = "button";
  const score = document.createElement("span");
  score.className = "conf";
  score.textContent = confidence;
  button.append(found, score);
  const item = document.createElement("li");
  item.append(button);
  list.append(item);
  return button;
}

// One form field (key -> value pair) as a row of the page's Fields table; its key is the button
// the page links to the pair's marks (key, value, the link between them, checkbox options).
function fieldRow(body, pair) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = pair.key.text;
  const key = document.createElement("th");
  key.scope = "row";
  key.append(button);
  const value = document.createElement("td");
  value.className = `value kind-${pair.kind}`;
  value.append(...fieldValue(pair));
  const confidence = document.createElement("td");
  confidence.className = "conf";
  confidence.textContent = pct(pair.confidence);
  const row = document.createElement("tr");
  row.append(key, value, confidence);
  body.append(row);
  return button;
}

function fieldValue(pair) {
  if (pair.kind === "checkbox") {  // the options, a space apart (as they are copied)
    return pair.options.flatMap((option, index) => {
      const span = document.createElement("span");
      span.className = `option state-${option.checked ? "checked" : "unchecked"}`;
      span.textContent = `${option.checked ? "☑" : "☐"} ${option.text ?? "(unnamed box)"}`;
      return index ? [" ", span] : [span];
    });
  }
  if (pair.kind === "signature") {
    return [`${pair.present ? "✍ signed" : "not signed"}${pair.date ? `, dated ${pair.date.text}` : ""}`];
  }
  return [pair.value ? pair.value.text : "(empty)"];
}

function centre(polygon) {
  const xs = polygon.map(([x]) => x);
  const ys = polygon.map(([, y]) => y);
  return [(Math.min(...xs) + Math.max(...xs)) / 2, (Math.min(...ys) + Math.max(...ys)) / 2];
}

// A pair's marks: its key and value outlined, the link between them drawn, each option outlined.
function pairMark(pair) {
  const group = svgElement("g", { class: `mark pair kind-${pair.kind}` });
  group.append(svgElement("polygon", { points: points(pair.key.polygon), class: "pair-key" }));
  const answer = pair.value || pair.date;
  if (answer) {
    const [x1, y1] = centre(pair.key.polygon);
    const [x2, y2] = centre(answer.polygon);
    group.append(svgElement("polygon", { points: points(answer.polygon), class: "pair-value" }),
                 svgElement("line", { x1, y1, x2, y2, class: "pair-link" }));
  }
  for (const option of pair.options) {
    group.append(svgElement("polygon", { points: points(option.polygon), class: "pair-option" }));
  }
  return group;
}

function describePair(pair) {
  const value = pair.kind === "checkbox" ? (pair.value ? pair.value.text : "nothing ticked")
    : pair.kind === "signature" ? (pair.present ? "signed" : "not signed")
    : (pair.value ? `“${pair.value.text}”` : "empty");
  return `${pair.key.text} → ${value} (${pair.kind}, confidence ${pct(pair.confidence)})`;
}

function points(polygon) {
  return polygon.map(([x, y]) => `${x},${y}`).join(" ");
}

function fact(list, label, value, className) {
  const item = document.createElement("li");
  item.innerHTML = `<span class="hint">${label}</span> `;
  const strong = document.createElement("strong");
  strong.textContent = value;
  if (className) strong.className = className;
  item.append(strong);
  list.append(item);
}

function facts(list, result) {
  if (result.document_type) {
    fact(list, "Type", `${result.document_type.label} (${pct(result.document_type.score)})`, "doc-type");
  }
  if (result.orientation) {
    fact(list, "Orientation", `${result.orientation.degrees}° (${pct(result.orientation.score)})`, "orientation");
  }
  if (result.skew) fact(list, "Skew", `${result.skew.degrees.toFixed(2)}°`, "skew");
  if (result.signature) {
    const signature = result.signature;
    fact(list, "Signature", `${signature.present ? "present" : "none"} (${pct(signature.score)})`, "signature-fact");
  }
  if (result.checkboxes) {
    const ticked = result.checkboxes.items.filter((box) => box.checked).length;
    fact(list, "Checkboxes", `${ticked} ticked of ${result.checkboxes.items.length}`, "boxes-fact");
  }
  fact(list, "Size", `${result.page.width}×${result.page.height} px`);
}

function drawPage(job, entry) {
  if (state.drawn.has(entry.page)) return;
  state.drawn.add(entry.page);
  const result = entry.result;
  const page = $("page-template").content.firstElementChild.cloneNode(true);
  page.id = `page-${entry.page}`;
  page.dataset.page = entry.page;
  const total = job.progress.pages_total;
  page.querySelector(".page-title").textContent = `Page ${entry.page}${total ? ` (${entry.page} of ${job.result ? job.result.page_count : total})` : ""}`;
  facts(page.querySelector(".facts"), result);

  const { width, height } = result.page;
  const svg = page.querySelector(".overlay");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const image = page.querySelector("img");
  image.alt = `Page ${entry.page} as analysed, ${width} by ${height} pixels`;
  image.width = width;
  image.height = height;
  loadImage(job.request_id, entry.page, image);

  const caption = page.querySelector(".selection");
  const select = (mark, button, words) => {
    page.querySelectorAll(".selected").forEach((element) => element.classList.remove("selected"));
    mark.classList.add("selected");
    button.classList.add("selected");
    caption.textContent = words;
  };
  const link = (mark, button, words) => {
    const title = svgElement("title", {});
    title.textContent = words;
    mark.append(title);
    mark.addEventListener("click", () => { select(mark, button, words); button.focus(); });
    button.addEventListener("click", () => select(mark, button, words));
    button.addEventListener("focus", () => select(mark, button, words));
  };

  const pairs = result.key_values;
  const fields = page.querySelector(".fields tbody");
  (pairs || []).forEach((pair) => {
    const mark = pairMark(pair);
    svg.append(mark);
    link(mark, fieldRow(fields, pair), describePair(pair));
  });
  page.querySelector(".fields-count").textContent = pairs ? `(${pairs.length})` : "(not run)";
  page.querySelector(".fields").hidden = !pairs || pairs.length === 0;

  const text = result.text;
  const lines = page.querySelector(".lines");
  if (text && text.skipped) {
    const skipped = page.querySelector(".skipped");
    skipped.hidden = false;
    skipped.textContent = `OCR skipped: ${text.skipped.reason}` +
      (text.skipped.document_type ? ` (${text.skipped.document_type})` : "");
  }
  (text ? text.lines : []).forEach((line, index) => {
    const mark = svgElement("polygon", { points: points(line.polygon), class: "mark line" });
    svg.append(mark);
    const button = listEntry(lines, line.text || "(empty)", pct(line.confidence));
    link(mark, button, `Line ${index + 1}: “${line.text}”, confidence ${pct(line.confidence)}`);
  });
  page.querySelector(".lines-count").textContent = text ? `(${text.lines.length})` : "(not run)";

  const boxes = page.querySelector(".boxes");
  const items = result.checkboxes ? result.checkboxes.items : [];
  items.forEach((box, index) => {
    const stateName = box.checked ? "checked" : "unchecked";
    const mark = svgElement("polygon", { points: points(box.polygon), class: `mark checkbox ${stateName}` });
    // The score under the box: beside it is the box's own label, above it the question.
    const label = svgElement("text", { x: box.box[0], y: box.box[3] + 15, class: `score ${stateName}` });
    label.textContent = box.score.toFixed(2);
    svg.append(mark, label);
    const state = document.createElement("span");
    state.className = `state-${stateName}`;
    state.textContent = box.checked ? "☑ ticked" : "☐ empty";
    const button = listEntry(boxes, state, pct(box.score));
    link(mark, button, `Checkbox ${index + 1}: ${box.checked ? "ticked" : "empty"}, score ${pct(box.score)}`);
  });
  page.querySelector(".boxes-count").textContent = result.checkboxes ? `(${items.length})` : "(not run)";

  const signature = result.signature;
  page.querySelector(".signature-count").textContent =
    signature ? (signature.present ? "" : "(none found)") : "(not run)";
  if (signature && signature.present && signature.box) {
    const [x0, y0, x1, y1] = signature.box;
    const mark = svgElement("rect", { x: x0, y: y0, width: x1 - x0, height: y1 - y0, class: "mark signature" });
    const label = svgElement("text", { x: x0, y: Math.max(20, y0 - 6), class: "score signature" });
    label.textContent = `signature ${signature.score.toFixed(2)}`;
    svg.append(mark, label);
    const button = listEntry(page.querySelector(".signature-entry"), "Present", pct(signature.score));
    link(mark, button, `Signature, score ${pct(signature.score)}`);
  }

  const pages = $("pages");
  const after = [...pages.children].find((other) => Number(other.dataset.page) > entry.page);
  pages.insertBefore(page, after || null);
}

async function loadImage(requestId, number, image) {
  try {
    const response = await call(`${API}/jobs/${encodeURIComponent(requestId)}/pages/${number}/image`);
    image.src = URL.createObjectURL(await response.blob());
    image.dataset.loaded = "true";
  } catch (error) {
    showError(error);
  }
}

// -- start ----------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  const savedKey = sessionStorage.getItem("docserve-api-key");
  if (savedKey) $("api-key").value = savedKey;
  $("api-key").addEventListener("change", () => {
    sessionStorage.setItem("docserve-api-key", $("api-key").value.trim());
    loadPipelines();
  });
  $("pipeline").addEventListener("change", describePipeline);
  $("document-form").addEventListener("submit", submit);
  wireDropZone();
  loadPipelines();
});
