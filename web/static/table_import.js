"use strict";
// What the pages that import a table share: the chosen file sent to the API, and a preview's
// sections (a heading with its count, a list of lines).
window.TableImport = {
  say: (text, n) => text.replace("{n}", String(n)),

  async post(url, file) {
    const body = new FormData();
    body.append("file", file);
    const r = await fetch(url, { method: "POST", body, credentials: "same-origin" });
    let data = {};
    try { data = await r.json(); } catch (e) { data = {}; }
    return [r.status, data];
  },

  section(out, id, heading, title, lines) {
    if (!lines.length) return;
    const h = document.createElement(heading);
    h.textContent = window.TableImport.say(title, lines.length);
    const ul = document.createElement("ul");
    ul.id = id;
    for (const text of lines) {
      const li = document.createElement("li");
      li.textContent = text;
      ul.append(li);
    }
    out.append(h, ul);
  },
};
