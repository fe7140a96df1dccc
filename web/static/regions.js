"use strict";
// A page whose state changes on its own (a recording being made or processed, an agent's
// queue) marks those parts with data-region and an id; this keeps them current by fetching the
// same page and swapping only those parts, so nothing a person is typing, choosing or reading
// elsewhere on the page is lost. A part holding the focus or a changed field waits for the next
// round. The page says how long to wait (meta name=poll); once a fetched page no longer says it,
// the work is done and polling stops.
(() => {
  const every = () => {
    const meta = document.querySelector('meta[name="poll"]');
    return meta ? Number(meta.content) * 1000 : 0;
  };
  const chosen = (select) => {
    // With no option marked selected, a single choice list starts on its first option.
    const marked = [...select.options].map((o) => o.defaultSelected);
    if (!select.multiple && select.options.length && !marked.some(Boolean)) marked[0] = true;
    return [...select.options].some((o, i) => o.selected !== marked[i]);
  };
  const changed = (el) =>
    [...el.querySelectorAll("input, select, textarea")].some((f) =>
      f.type === "checkbox" || f.type === "radio"
        ? f.checked !== f.defaultChecked
        : f.tagName === "SELECT"
          ? chosen(f)
          : f.value !== f.defaultValue,
    );
  const busy = (el) => el.contains(document.activeElement) || changed(el);
  async function round() {
    let fresh;
    try {
      const r = await fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (!r.ok || r.redirected) return schedule();
      fresh = new DOMParser().parseFromString(await r.text(), "text/html");
    } catch {
      return schedule(); // the portal is away for a moment: the page stays as it is
    }
    for (const el of document.querySelectorAll("[data-region][id]")) {
      const next = fresh.getElementById(el.id);
      if (next && next.innerHTML !== el.innerHTML && !busy(el)) el.innerHTML = next.innerHTML;
    }
    if (!fresh.querySelector('meta[name="poll"]')) {
      document.querySelector('meta[name="poll"]')?.remove();
    }
    schedule();
  }
  function schedule() {
    const ms = every();
    if (ms) setTimeout(round, ms);
  }
  schedule();
})();
