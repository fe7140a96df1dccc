"use strict";
// Courseware goes up in 4 MiB chunks, each appended where the portal says the file stands: a cut
// connection waits and goes on from there, and so does the same file chosen again after a
// reload (its upload's id is kept per file in this browser). Progress shows with a cancel.
// Without scripts the form posts the file whole.
(() => {
  const CHUNK = 4 * 1024 * 1024;
  const T = JSON.parse(document.getElementById("form-texts").textContent);
  const json = (r) => r.json().catch(() => ({}));
  const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

  function say(form, text) {
    for (const el of form.querySelectorAll(".field-error")) el.remove();
    const input = form.querySelector("input[type=file]");
    const p = document.createElement("p");
    p.className = "field-error";
    p.setAttribute("role", "alert");
    p.id = "error-file";
    p.textContent = text;
    input.closest("label").after(p);
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", p.id);
  }

  function refusal(form, status, detail) {
    if (status === 413) return T.too_large;
    if (status === 415) return form.dataset.refusedKind;
    if (detail && detail.code === "courseware_duplicate") return form.dataset.duplicate.replace("{name}", detail.name);
    return T.failed;
  }

  async function send(form, file, box) {
    const key = `upload:${form.dataset.resumable}:${file.name}:${file.size}:${file.lastModified}`;
    let id = localStorage.getItem(key);
    let offset = 0;
    if (id) {
      const r = await fetch(`/api/v1/uploads/${id}`);
      if (r.ok) offset = (await json(r)).offset;
      else id = null;
    }
    if (!id) {
      const session = form.dataset.session ? Number(form.dataset.session) : null;
      const r = await fetch(form.dataset.resumable, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ filename: file.name, size: file.size, session_id: session }),
      });
      const said = await json(r);
      if (!r.ok) return refusal(form, r.status, said.detail);
      id = said.id;
      localStorage.setItem(key, id);
    }
    box.show(offset / file.size);
    let wait = 1000;
    while (offset < file.size) {
      if (box.cancelled) break;
      let r;
      try {
        r = await fetch(`/api/v1/uploads/${id}?offset=${offset}`, {
          method: "PUT", body: file.slice(offset, offset + CHUNK), signal: box.signal,
        });
      } catch {
        if (box.cancelled) break;
        box.note(T.offline);  // the network went: wait, then ask where it stands
        await sleep(wait);
        wait = Math.min(wait * 2, 15000);
        try { offset = (await json(await fetch(`/api/v1/uploads/${id}`))).offset ?? offset; } catch {}
        continue;
      }
      const said = await json(r);
      if (r.status === 409 && said.detail && Number.isInteger(said.detail.offset)) { offset = said.detail.offset; continue; }
      if (!r.ok) return refusal(form, r.status, said.detail);
      wait = 1000;
      offset = said.offset;
      box.note("");
      box.show(offset / file.size);
    }
    if (box.cancelled) {
      fetch(`/api/v1/uploads/${id}`, { method: "DELETE" }).catch(() => {});
      localStorage.removeItem(key);
      return null;
    }
    const r = await fetch(`/api/v1/uploads/${id}/finish`, { method: "POST" });
    localStorage.removeItem(key);  // finished or refused, the partial file is gone
    if (r.status === 201) return "done";
    return refusal(form, r.status, (await json(r)).detail);
  }

  function progress(form) {
    const div = document.createElement("div");
    div.className = "upload-progress";
    const bar = document.createElement("progress");
    bar.max = 1;
    const text = document.createElement("span");
    const note = document.createElement("span");
    note.className = "muted";
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.textContent = T.cancel;
    const controller = new AbortController();
    div.append(bar, text, cancel, note);
    form.append(div);
    const box = {
      cancelled: false,
      signal: controller.signal,
      show(share) { bar.value = share; text.textContent = ` ${Math.floor(100 * share)} % `; },
      note(words) { note.textContent = words ? ` ${words}` : ""; },
      remove() { div.remove(); },
    };
    cancel.addEventListener("click", () => { box.cancelled = true; controller.abort(); });
    return box;
  }

  for (const form of document.querySelectorAll("form[data-resumable]")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (form.dataset.sending) return;
      const input = form.querySelector("input[type=file]");
      const file = input.files[0];
      if (!file) return;
      form.dataset.sending = "1";
      const buttons = [...form.querySelectorAll("button[type=submit]")];
      buttons.forEach((b) => { b.disabled = true; });
      for (const el of form.querySelectorAll(".field-error")) el.remove();
      input.removeAttribute("aria-invalid");
      const box = progress(form);
      let outcome;
      try {
        outcome = await send(form, file, box);
      } catch {
        outcome = T.failed;
      }
      if (outcome === "done") {
        location.reload();  // the list of files, with this one in it
        return;
      }
      box.remove();
      delete form.dataset.sending;
      buttons.forEach((b) => { b.disabled = false; });
      if (outcome) say(form, outcome);
    });
  }
})();
