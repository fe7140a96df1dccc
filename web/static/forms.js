"use strict";
// Every form that posts, sent from the page: a refusal is shown on the form beside the field it
// is about, in the reader's language, and what was typed stays; a second press waits for the
// first; an upload shows its progress and can be cancelled; a form that asks (data-confirm) is
// confirmed first. Without scripts the same forms post as plain HTML and the portal answers
// with a page. Login and logout stay plain posts (data-native): the browser's password manager
// and the cookie they set follow a real navigation.
(() => {
  const T = (() => {
    const el = document.getElementById("form-texts");
    return el ? JSON.parse(el.textContent) : { failed: "Failed", cancel: "Cancel", offline: "Offline" };
  })();

  function clear(form) {
    for (const el of form.querySelectorAll(".field-error, .form-error, .upload-progress")) el.remove();
    for (const el of form.querySelectorAll("[aria-invalid]")) {
      el.removeAttribute("aria-invalid");
      el.removeAttribute("aria-describedby");
    }
  }

  function say(form, message, field) {
    const target = field && form.elements.namedItem(field);
    const p = document.createElement("p");
    p.setAttribute("role", "alert");
    p.textContent = message;
    if (target && target instanceof Element) {
      p.className = "field-error";
      p.id = `error-${field}-${Math.random().toString(36).slice(2, 8)}`;
      const where = target.closest("label") || target;
      where.after(p);
      target.setAttribute("aria-invalid", "true");
      target.setAttribute("aria-describedby", p.id);
      target.focus();
    } else {
      p.className = "form-error";
      form.prepend(p);
    }
  }

  function progress(form, xhr) {
    const box = document.createElement("div");
    box.className = "upload-progress";
    const bar = document.createElement("progress");
    bar.max = 1;
    bar.value = 0;
    const text = document.createElement("span");
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.textContent = T.cancel;
    cancel.addEventListener("click", () => xhr.abort());
    box.append(bar, text, cancel);
    form.append(box);
    xhr.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable) return;
      bar.value = e.loaded / e.total;
      text.textContent = ` ${Math.round((100 * e.loaded) / e.total)} % `;
    });
  }

  function showPage(html) {
    document.open();
    document.write(html);
    document.close();
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") return;
    if (form.hasAttribute("data-native") || form.hasAttribute("data-resumable")) return;
    const submitter = event.submitter;
    const ask = (submitter && submitter.dataset.confirm) || form.dataset.confirm;
    event.preventDefault();
    if (form.dataset.sending) return; // the first press is still on its way
    if (ask && !window.confirm(ask)) return;
    const body = new FormData(form, submitter || undefined);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-Form", "1");
    const buttons = [...form.querySelectorAll("button, input[type=submit]")];
    const done = () => {
      delete form.dataset.sending;
      for (const b of buttons) b.disabled = false;
    };
    form.dataset.sending = "1";
    for (const b of buttons) b.disabled = true;
    clear(form);
    const files = [...form.querySelectorAll("input[type=file]")].some((f) => f.files.length);
    if (files) progress(form, xhr);
    xhr.addEventListener("load", () => {
      const type = xhr.getResponseHeader("Content-Type") || "";
      if (!type.startsWith("application/json")) {
        showPage(xhr.responseText); // the form's page again, with what it says about the form
        return;
      }
      let said = {};
      try {
        said = JSON.parse(xhr.responseText);
      } catch {}
      if (said.redirect) {
        const next = new URL(said.redirect, location.href);
        if (next.pathname + next.search === location.pathname + location.search) {
          // Back to this page (its fragment aside): load it again, as the person asked.
          history.replaceState(null, "", next.href);
          location.reload();
        } else {
          location.assign(next.href);
        }
        return;
      }
      done();
      clear(form);
      say(form, xhr.status === 413 ? T.too_large : said.message || T.failed, said.field);
    });
    xhr.addEventListener("error", () => {
      done();
      clear(form);
      say(form, T.offline);
    });
    xhr.addEventListener("abort", () => {
      done();
      clear(form);
    });
    xhr.send(body);
  });
})();
