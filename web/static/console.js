// The trainer's console: state, viewers, microphone level and alerts every two seconds; start,
// stop and PTZ presets through the API (the live picture and the Q&A come from live.js, qa.js).
(() => {
  "use strict";
  const root = document.getElementById("console");
  const texts = JSON.parse(document.getElementById("console-texts").textContent);
  const base = `/api/v1/sessions/${root.dataset.session}`;
  // A manager's or admin's override of the session's window, carried by every call of the page.
  const query = root.dataset.override === "true" ? "?override=true" : "";
  const $ = (id) => document.getElementById(id);

  async function refresh() {
    try {
      const r = await fetch(`${base}/console${query}`, { credentials: "same-origin" });
      if (!r.ok) return;
      const c = await r.json();
      const state = c.paused ? "paused" : c.recording_state || "none";
      $("c-state").textContent = texts[state] || state;
      $("c-state").dataset.state = state;
      $("c-viewers").textContent = String(c.viewers);
      const level = c.audio_peak_dbfs;
      $("c-audio").value = level === null ? -60 : Math.max(-60, level);
      $("c-audio-db").textContent = level === null ? "—" : `${level.toFixed(1)} dBFS`;
      $("c-agent").textContent = c.agent_online ? texts.online : texts.offline;
      $("c-alerts").textContent = c.alerts.join(" · ");
      $("c-ptz").hidden = !c.ptz;
      $("c-start").disabled = c.recording_state === "recording" || c.recording_state === "pending";
      $("c-stop").disabled = !(c.recording_state === "recording" || c.recording_state === "pending");
    } finally {
      setTimeout(refresh, 2000);
    }
  }

  async function act(path, done) {
    const r = await fetch(`${base}/${path}${query}`, { method: "POST", credentials: "same-origin" });
    let detail = "";
    if (!r.ok) {
      try {
        const body = await r.json();
        detail = typeof body.detail === "string" ? body.detail : body.detail.message;
      } catch {
        detail = String(r.status);
      }
    }
    $("c-message").textContent = r.ok ? done : `${texts.failed_action}: ${detail}`;
  }

  $("c-start").addEventListener("click", () => act("recording/start", ""));
  $("c-stop").addEventListener("click", () => act("recording/stop", ""));
  document.querySelectorAll("button.ptz").forEach((b) => {
    b.addEventListener("click", () => act(`ptz/${b.dataset.preset}`, `${texts.ptz_moved} ${b.dataset.preset}`));
  });
  refresh();
})();
