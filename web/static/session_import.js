"use strict";
// The year's sessions from a table: the chosen file is checked by the API (nothing booked), the
// result shown, and the same file booked only when no line was refused; then the page reloads
// to show the calendar with them (the person asked for it: nothing reloads under their hands).
(() => {
  const T = JSON.parse(document.getElementById("import-texts").textContent);
  const form = document.getElementById("import-form");
  const input = document.getElementById("import-file");
  const out = document.getElementById("import-preview");
  const apply = document.getElementById("import-apply");
  const status = document.getElementById("import-status");
  let chosen = null;
  const { say } = window.TableImport;
  const send = (dryRun) =>
    window.TableImport.post(`/api/v1/imports/sessions${dryRun ? "?dry_run=true" : ""}`, chosen);
  const section = (id, title, lines) => window.TableImport.section(out, id, "h3", title, lines);

  function show(data) {
    out.replaceChildren();
    const refused = data.refused || [];
    section("import-refused", T.refused, refused.map((r) => `${say(T.line, r.line)} ${r.message}`));
    section("import-added", T.added, (data.added || []).map((s) => `${s.start.replace("T", " ")} ${s.title}`));
    if (data.unchanged) {
      const p = document.createElement("p");
      p.textContent = say(T.unchanged, data.unchanged);
      out.append(p);
    }
    out.hidden = false;
    return refused.length;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    chosen = input.files[0] || null;
    if (!chosen) return;
    apply.hidden = true;
    apply.disabled = true;
    status.textContent = T.checking;
    const [code, data] = await send(true);
    const refused = show(data);
    if (code !== 200 || refused) {
      status.textContent = T.refused_all;
    } else if (!(data.added || []).length) {
      status.textContent = T.nothing;
    } else {
      status.textContent = "";
      apply.hidden = false;
      apply.disabled = false;
    }
  });

  apply.addEventListener("click", async () => {
    apply.disabled = true;
    status.textContent = T.applying;
    const [code, data] = await send(false);
    if (code === 201) {
      apply.hidden = true;
      status.textContent = say(T.applied, (data.added || []).length);
    } else {
      show(data);
      status.textContent = T.failed;
    }
  });
})();
