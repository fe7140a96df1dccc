"use strict";
// A page meant for paper: its print button appears when scripts run (Ctrl+P works regardless).
(() => {
  const button = document.getElementById("print");
  if (!button) return;
  button.hidden = false;
  button.addEventListener("click", () => window.print());
})();
