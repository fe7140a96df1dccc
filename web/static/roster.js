"use strict";
// The roster page: the chosen file is previewed by the API (nothing changes), the preview shown
// section by section, and the same file applied only when nothing in it was refused.
(() => {
  const T = JSON.parse(document.getElementById("roster-texts").textContent);
  const form = document.getElementById("roster-form");
  const input = document.getElementById("roster-file");
  const full = document.getElementById("roster-full");
  const out = document.getElementById("roster-preview");
  const apply = document.getElementById("roster-apply");
  const status = document.getElementById("roster-status");
  let chosen = null;

  const { say } = window.TableImport;
  const send = (what) =>
    window.TableImport.post(`/api/v1/roster/${what}${full.checked ? "?full=true" : ""}`, chosen);
  const section = (id, title, lines) => window.TableImport.section(out, id, "h2", title, lines);

  const where = (line) => (line ? say(T.line, line) + " " : "");

  function show(data) {
    out.replaceChildren();
    const refused = data.refused || (data.errors || []).map((e) => ({ line: e.line, message: e.message }));
    section("roster-refused", T.refused, refused.map((r) => `${where(r.line)}${r.message}`));
    section("roster-added", T.added, (data.added || []).map((p) => `${p.badge_no} ${p.name}`));
    section("roster-changed", T.changed, (data.changed || []).map((c) =>
      `${c.badge_no}: ` + Object.entries(c.fields).map(([k, v]) => `${k} ${v[0] ?? "—"} → ${v[1] ?? "—"}`).join("; ")));
    section("roster-left", T.left, (data.left || []).map((p) => `${p.badge_no} ${p.name}`));
    section("roster-units", T.units_added, data.units_added || []);
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
    const [code, data] = await send("preview");
    const refused = show(data);
    const changes = (data.added || []).length + (data.changed || []).length + (data.left || []).length;
    if (code !== 200 || refused) {
      status.textContent = T.refused_all;
    } else if (!changes) {
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
    const [code, data] = await send("apply");
    if (code === 201) {
      apply.hidden = true;
      status.textContent = say(T.applied, (data.added || []).length + (data.changed || []).length + (data.left || []).length);
    } else {
      show(data);
      status.textContent = T.failed;
    }
  });
})();
