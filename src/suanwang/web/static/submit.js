// The submit form. It sends only the fields the user filled in: the rest come from the
// catalogue type named (or the server's defaults), so that prefilled values never override
// a type's own. Numbers are checked here first, each with its message next to its field.
// The task type field offers the live scenario's catalogue types (GET /v1/catalogue/types),
// read again each time it takes focus, so a newly loaded scenario's own types appear.

import { get, post } from "./api.js";

// Field: [the least allowed, whether that least is excluded, the message]. The server allows
// no core and no memory (an accelerator-only task), but no work or a zero budget is a mistake.
const NUMBERS = {
  work_gflop: [0, true, "must be more than 0"],
  cpu_cores: [0, false, "must be 0 or more"],
  mem_gib: [0, false, "must be 0 or more"],
  data_in_mb: [0, false, "must be 0 or more"],
  latency_budget_ms: [0, true, "must be more than 0"],
};

/** The body to send and the message per field that cannot be sent as it is. */
export function readForm(form) {
  const body = {};
  const errors = new Map();
  for (const field of form.querySelectorAll("[name]")) {
    const value = field.value.trim();
    const rule = NUMBERS[field.name];
    if (rule && field.validity.badInput) {
      errors.set(field.name, "is not a number");
      continue;
    }
    if (!value) continue; // left empty: the catalogue type's value or the server's default
    if (field.name === "accelerator") body.accelerator = { kind: value, count: 1 };
    else if (rule) {
      const number = Number(value);
      const [least, excluded, message] = rule;
      if (!Number.isFinite(number)) errors.set(field.name, "is not a number");
      else if (number < least || (excluded && number === least)) errors.set(field.name, message);
      else body[field.name] = number;
    } else body[field.name] = value;
  }
  if (!body.task_type && !errors.has("work_gflop") && body.work_gflop === undefined) {
    errors.set("work_gflop", "is needed unless a catalogue task type gives it");
  }
  return { body, errors };
}

function showErrors(form, errors) {
  for (const field of form.querySelectorAll("[name]")) {
    const message = errors.get(field.name);
    let note = field.parentElement.querySelector(".field-error");
    if (!note && message) {
      note = document.createElement("span");
      note.className = "field-error";
      note.id = `error-${field.name}`;
      field.setAttribute("aria-describedby", note.id);
      field.parentElement.append(note);
    }
    if (note) note.textContent = message ? `${field.labels[0]?.firstChild.textContent.trim()} ${message}` : "";
    field.toggleAttribute("aria-invalid", Boolean(message));
  }
}

/** Fill the type field's list with the live catalogue's types; left as it is on a refusal. */
export async function offerTypes(field) {
  const list = field?.list;
  if (!list) return;
  let catalogue;
  try {
    catalogue = await get("/v1/catalogue/types");
  } catch {
    return; // no token yet, or the server is away: the field still takes any name
  }
  list.replaceChildren(
    ...catalogue.types.map((type) => {
      const option = document.createElement("option");
      option.value = type.name;
      option.label = type.description ? `${type.name}: ${type.description}` : type.name;
      return option;
    }),
  );
}

/** Wire the form: ``onSubmitted(task)`` runs once the server has stored a task. */
export function initSubmit(form, out, onSubmitted) {
  const typeField = form.querySelector("[name=task_type]");
  typeField?.addEventListener("focus", () => offerTypes(typeField));
  offerTypes(typeField);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { body, errors } = readForm(form);
    showErrors(form, errors);
    out.className = "";
    if (errors.size) {
      out.className = "error";
      out.textContent = "Not sent: correct the fields marked.";
      form.querySelector("[aria-invalid]")?.focus();
      return;
    }
    try {
      const task = await post("/v1/tasks", body);
      out.textContent = `Task ${task.id}: ${task.state} — ${task.reason}`;
      await onSubmitted(task);
    } catch (error) {
      out.className = "error";
      out.textContent = `Refused: ${error.message}`;
    }
  });
}
