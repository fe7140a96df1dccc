// The kiosk: camera frames to the portal over a WebSocket, card numbers from a keyboard-wedge
// reader, and what the portal answers shown large. The token comes once in the URL fragment
// (#token=…), is kept in this browser, and is removed from the address bar.
(function () {
  "use strict";
  const T = JSON.parse(document.getElementById("texts").textContent);
  const $ = (id) => document.getElementById(id);
  const status = $("status"), detail = $("detail"), video = $("cam"), canvas = $("grab");
  const hash = new URLSearchParams(location.hash.slice(1));
  let token = hash.get("token") || localStorage.getItem("kioskToken");
  if (hash.get("token")) {
    localStorage.setItem("kioskToken", token);
    history.replaceState(null, "", location.pathname);
  }
  let ws = null, lastState = "", holdUntil = 0, twoFactor = false, noCamera = false;
  // One frame at a time: the next goes when the portal has answered this one (or after a
  // second: some frames get no answer, as in the cool-down), so a slow portal judges the newest
  // frame instead of working through a queue of old ones.
  let waiting = false, sentAt = 0;

  function show(state, extra) {
    extra = extra || {};
    // Results stay up for a moment; the stream of "idle" frames must not wipe them at once.
    const result = ["checked_in", "already", "checked_out", "liveness_failed", "unknown",
                    "unknown_card", "no_session", "not_an_officer", "not_checked_in",
                    "mismatch", "card_ok", "saved_offline"].includes(state);
    const now = performance.now();
    if (!result && now < holdUntil) return;
    if (result) holdUntil = now + 3000;
    let key = state === "challenge" ? "challenge_" + extra.direction : state;
    if (noCamera && (key === "ready" || key === "idle")) key = "card_only";
    let text = T[key] || T.error;
    text = text.replace("{name}", extra.name || "");
    status.textContent = text;
    status.dataset.state = key;
    detail.textContent = extra.at ? new Date(extra.at).toLocaleTimeString() + " · " + (extra.session || "") : "";
    lastState = key;
  }

  async function start() {
    if (!token) { show("no_token"); return; }
    let r;
    try {
      r = await fetch("/api/v1/kiosk/state", { headers: { Authorization: "Bearer " + token } });
    } catch (e) { show("offline"); setTimeout(start, 3000); return; }
    if (r.status === 401 || r.status === 403) { show("refused"); return; }
    const st = await r.json();
    twoFactor = st.two_factor;
    $("room").textContent = st.classroom;
    $("session").textContent = st.session ? st.session.title : T.no_session;
    show("ready");
    connect();
    camera();
  }

  function connect() {
    ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/v1/kiosk/ws");
    ws.binaryType = "arraybuffer";
    ws.onopen = () => ws.send(JSON.stringify({ token: token }));
    ws.onmessage = (e) => {
      waiting = false;
      const m = JSON.parse(e.data);
      show(m.state === "ready" ? "ready" : m.state, m);
    };
    ws.onclose = (e) => {
      if (e.code === 4401) { show("refused"); ws = null; return; }
      setTimeout(connect, 2000);
    };
  }

  async function camera() {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
      video.srcObject = stream;
      await video.play();
    } catch (e) {
      // No camera (or none allowed): said where no status replaces it, and the empty picture
      // is hidden; cards still work.
      noCamera = true;
      video.hidden = true;
      const missing = $("camera-missing");
      missing.textContent = T.no_camera;
      missing.hidden = false;
      show("ready");
      return;
    }
    setInterval(sendFrame, 200);
  }

  function sendFrame() {
    if (!ws || ws.readyState !== 1 || !video.videoWidth || ws.bufferedAmount > 200000) return;
    if (waiting && performance.now() - sentAt < 1000) return;
    canvas.width = 480;
    canvas.height = Math.round(video.videoHeight * 480 / video.videoWidth);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    waiting = true;
    sentAt = performance.now();
    canvas.toBlob((b) => { if (b && ws && ws.readyState === 1) ws.send(b); }, "image/jpeg", 0.85);
  }

  // A keyboard-wedge reader types the card number and Enter in one burst.
  let buf = "", first = 0, last = 0;
  document.addEventListener("keydown", (e) => {
    const now = performance.now();
    if (e.key === "Enter") {
      if (buf.length >= 4 && now - first < 1500) card(buf);
      buf = "";
      return;
    }
    if (/^[0-9A-Za-z]$/.test(e.key)) {
      if (now - last > 300) { buf = ""; first = now; }
      buf += e.key;
      last = now;
    }
  });

  // Card taps are kept in this browser (with their event ids and times) until the portal has
  // answered them: a tap made while the portal is unreachable is saved, said so, and delivered
  // when it answers again — once, since the portal stores each event id once.
  const OUTBOX = "kioskOutbox";
  const outbox = () => JSON.parse(localStorage.getItem(OUTBOX) || "[]");
  const keep = (taps) => localStorage.setItem(OUTBOX, JSON.stringify(taps));
  let flushing = false;

  function showPending() {
    const n = outbox().length;
    $("pending").textContent = n ? T.pending.replace("{n}", String(n)) : "";
  }

  // One tap to the portal: its answer (JSON and status), or null while the portal is unreachable
  // or failing (the tap stays kept).
  async function deliver(tap) {
    let r;
    try {
      r = await fetch("/api/v1/kiosk/card", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: "Bearer " + token },
        body: JSON.stringify(tap),
      });
    } catch (e) { return null; }
    if (r.status >= 500) return null;
    keep(outbox().filter((t) => t.event_uid !== tap.event_uid));
    showPending();
    let m = {};
    try { m = await r.json(); } catch (e) { m = {}; }
    return [r.ok, m];
  }

  async function flush() {
    if (flushing || !token) return;
    flushing = true;
    try {
      for (const tap of outbox()) {
        if ((await deliver(tap)) === null) break;  // still unreachable: the rest wait too
      }
    } finally { flushing = false; }
  }

  async function card(number) {
    if (twoFactor) {  // the card opens the face check: both go through the socket
      if (ws && ws.readyState === 1) ws.send(JSON.stringify({ card_no: number }));
      else show("offline");  // not lost in silence: the officer taps again
      return;
    }
    const tap = { card_no: number, event_uid: crypto.randomUUID(), at: new Date().toISOString() };
    keep([...outbox(), tap]);
    showPending();
    if (outbox().length > 1) {  // older taps go first, in the order they were made
      show("saved_offline");
      flush();
      return;
    }
    const answer = await deliver(tap);
    if (answer === null) { show("saved_offline"); return; }
    const [ok, m] = answer;
    if (ok) show(m.result === "already" ? "already" : "checked_in", { name: m.name, at: m.at, session: m.session });
    else show((m.detail && m.detail.code) || "error");
  }

  window.addEventListener("online", flush);
  setInterval(flush, 5000);
  showPending();

  start();
})();
