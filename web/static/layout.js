"use strict";
// A table wider than a narrow screen scrolls inside its own box instead of widening the page,
// and can be scrolled from the keyboard too, and says what it is.
(() => {
  const mark = () => {
    for (const table of document.querySelectorAll("main table")) {
      table.classList.remove("scrolls");
      const box = table.parentElement, style = getComputedStyle(box);
      // The parent's content box: its clientWidth counts its padding too.
      const room = box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      if (table.scrollWidth <= room + 1) continue;
      // Wider than the screen: it scrolls in its own box, reachable from the keyboard, named.
      table.classList.add("scrolls");
      table.tabIndex = 0;
      const heading = table.closest("section, main")?.querySelector("h1, h2");
      if (heading && !table.hasAttribute("aria-label")) table.setAttribute("aria-label", heading.textContent.trim());
    }
  };
  mark();
  // Again once fonts and pictures are in (they change widths), and on every resize.
  window.addEventListener("load", mark);
  document.fonts?.ready.then(mark);
  window.addEventListener("resize", mark);
})();
