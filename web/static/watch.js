// Watch progress: the stretches of the recording this page really played, reported every few
// seconds. A seek ends a stretch (skipped time is never reported); a hidden page reports nothing
// played while hidden; the server merges, checks the speed, and credits the recording.
(function () {
  "use strict";
  const T = JSON.parse(document.getElementById("texts").textContent);
  const video = document.getElementById("player");
  const out = document.getElementById("watch");
  const base = "/api/v1/recordings/" + video.dataset.recording;
  let view = null, maxSpeed = 2, from = null, last = 0, pending = [], stopped = false, timer = null;

  const fmt = (s) => Math.floor(s / 60) + ":" + String(Math.floor(s % 60)).padStart(2, "0");
  const say = (text) => { out.textContent = text; };
  function show(state) {
    let text = T.progress.replace("{watched}", fmt(state.watched_s)).replace("{required}", fmt(state.required_s));
    if (state.credited) text += " · " + T.credited;
    else if (!state.creditable) text += " · " + (state.attended ? T.attended : T.not_officer);
    say(text);
    out.dataset.watched = String(state.watched_s);
    out.dataset.credited = String(state.credited);
  }
  const counting = () => !video.paused && !video.seeking && !document.hidden && !stopped;
  function close(at) {  // end the open stretch at media time `at`
    if (from !== null && at > from) pending.push([from, at]);
    from = null;
  }
  function open() { if (counting()) from = video.currentTime; }

  async function flush(final) {
    if (!view || stopped) return;
    if (from !== null) { close(video.currentTime); open(); }
    // Stretches are only ever collected while the page is visible; the one closed as it went to
    // the background is still reported as visible.
    const visible = !document.hidden || pending.length > 0;
    const body = JSON.stringify({ played: pending, rate: video.playbackRate, visible });
    pending = [];
    const url = base + "/views/" + view + "/progress";
    if (final && navigator.sendBeacon) {  // the page is going away: fire and forget
      navigator.sendBeacon(url, new Blob([body], { type: "application/json" }));
      return;
    }
    const r = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body });
    const data = await r.json().catch(() => ({}));
    if (r.ok) { show(data); return; }
    const code = data.detail && data.detail.code;
    if (code === "superseded") { stopped = true; video.pause(); clearInterval(timer); say(T.superseded); }
    else if (code === "too_fast") say(T.too_fast);
    else say(T.error);
  }

  video.addEventListener("playing", open);
  video.addEventListener("timeupdate", () => { if (!video.seeking) last = video.currentTime; });
  video.addEventListener("pause", () => close(video.currentTime));
  video.addEventListener("ended", () => { close(video.currentTime); flush(false); });
  // `seeking` fires once currentTime is already the target: the stretch ended where we last were.
  video.addEventListener("seeking", () => close(last));
  video.addEventListener("seeked", () => { last = video.currentTime; open(); });
  video.addEventListener("ratechange", () => {
    if (video.playbackRate > maxSpeed) video.playbackRate = maxSpeed;
    close(video.currentTime); open();
  });
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) { close(video.currentTime); flush(false); say(T.hidden); }
    else open();
  });
  window.addEventListener("pagehide", () => flush(true));

  const speed = document.getElementById("speed");
  speed.addEventListener("change", () => { video.playbackRate = Number(speed.value); });
  // HLS (hls.js, bundled) where the track has a playlist, else the MP4 with byte ranges; if
  // hls.js gives up, the MP4 plays instead.
  function load(el, playlist, mp4) {
    const attachMp4 = () => { el.src = mp4; el.dataset.source = "mp4"; };
    if (!(playlist && window.Hls && window.Hls.isSupported())) { attachMp4(); return; }
    const hls = new window.Hls();
    hls.on(window.Hls.Events.ERROR, (_, data) => {
      if (!data.fatal) return;
      const at = el.currentTime;
      hls.destroy();
      attachMp4();
      el.addEventListener("loadedmetadata", () => { el.currentTime = at; }, { once: true });
    });
    hls.loadSource(playlist);
    hls.attachMedia(el);
    el.dataset.source = "hls";
  }
  load(video, video.dataset.hls, base + "/media");

  // The slides play beside the camera, muted, following it: one clock (the camera's, which
  // carries the sound and is what is reported), the slides pulled back to it when they drift.
  const slides = document.getElementById("slides");
  const box = document.getElementById("stage-box");
  if (slides) {
    load(slides, slides.dataset.hls, base + "/media?track=screen");
    const shown = () => box.dataset.layout !== "camera";
    const follow = () => {
      if (!shown()) { slides.pause(); return; }
      if (Math.abs(slides.currentTime - video.currentTime) > 0.3) slides.currentTime = video.currentTime;
      slides.playbackRate = video.playbackRate;
      if (video.paused !== slides.paused) (video.paused ? slides.pause() : slides.play().catch(() => {}));
    };
    ["play", "pause", "seeked", "ratechange"].forEach((e) => video.addEventListener(e, follow));
    setInterval(follow, 1000);
    slides.addEventListener("click", () => (video.paused ? video.play() : video.pause()));
    document.querySelectorAll("button.layout").forEach((b) => b.addEventListener("click", () => {
      box.dataset.layout = b.dataset.layout;
      document.querySelectorAll("button.layout").forEach((o) => o.setAttribute("aria-pressed", String(o === b)));
      follow();
    }));
  }

  // Chapters where the slides change: a strip of thumbnails with times; the one playing is
  // marked and kept in view; a click goes there.
  const chapters = document.getElementById("chapters");
  if (chapters) {
    fetch(base + "/chapters").then((r) => (r.ok ? r.json() : [])).then((list) => {
      list.forEach((c) => {
        const item = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.className = "chapter";
        button.dataset.start = String(c.start_s);
        const img = document.createElement("img");
        img.src = c.thumbnail; img.alt = ""; img.loading = "lazy";
        const label = document.createElement("span");
        label.textContent = fmt(c.start_s);
        button.append(img, label);
        button.addEventListener("click", () => { video.currentTime = c.start_s; video.play(); });
        item.append(button);
        chapters.append(item);
      });
      chapters.hidden = list.length === 0;
      mark();
    });
    let current = null;
    function mark() {
      const buttons = [...chapters.querySelectorAll("button.chapter")];
      const now = buttons.filter((b) => Number(b.dataset.start) <= video.currentTime + 0.05).pop() || buttons[0];
      if (!now || now === current) return;
      if (current) current.removeAttribute("aria-current");
      now.setAttribute("aria-current", "true");
      current = now;
      chapters.scrollLeft = Math.max(0, now.parentElement.offsetLeft - chapters.offsetLeft - 16);
    }
    video.addEventListener("timeupdate", mark);
    video.addEventListener("seeked", mark);
  }
  document.addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement) return;
    if (e.key === " " || e.key === "k") { e.preventDefault(); video.paused ? video.play() : video.pause(); }
    else if (e.key === "ArrowLeft") video.currentTime = Math.max(0, video.currentTime - 5);
    else if (e.key === "ArrowRight") video.currentTime = Math.min(video.duration || 0, video.currentTime + 5);
  });

  fetch(base + "/views", { method: "POST" }).then((r) => r.json().then((data) => {
    if (!r.ok) { say(T.error); return; }
    view = data.view_id; maxSpeed = data.max_speed;
    [...speed.options].forEach((o) => { o.disabled = Number(o.value) > maxSpeed; });
    show(data);
    timer = setInterval(() => flush(false), data.report_every_s * 1000);
  }));
})();
