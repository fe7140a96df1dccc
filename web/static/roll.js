"use strict";
// The roll: a button that ticks everyone (most of a squad is there), and the count kept in step
// with the ticks. Without scripts the form works the same, one tick at a time.
(() => {
  const form = document.getElementById("roll-form");
  if (!form) return;
  const T = JSON.parse(document.getElementById("roll-texts").textContent);
  const all = document.getElementById("roll-all");
  const count = document.getElementById("roll-count");
  const boxes = [...form.querySelectorAll('input[name="present"]')];
  const show = () => {
    const n = boxes.filter((b) => b.checked).length;
    count.textContent = T.count.replace("{n}", String(n)).replace("{total}", String(boxes.length));
    for (const b of boxes) b.closest("li").classList.toggle("present", b.checked);
  };
  for (const b of boxes) b.addEventListener("change", show);
  all.hidden = false;
  all.addEventListener("click", () => {
    for (const b of boxes) if (!b.disabled) b.checked = true;
    show();
  });
})();
