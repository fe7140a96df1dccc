// The live page: WebRTC through the portal's WHEP endpoint (the classroom's agent relays its one
// encode), and HLS (hls.js, bundled) when WebRTC is missing or cannot connect in time. The page
// says which one plays. A viewer who leaves ends their WHEP resource (DELETE).
(() => {
  "use strict";
  const video = document.getElementById("live");
  const screenVideo = document.getElementById("live-screen"); // the slides, where there are
  const mode = document.getElementById("live-mode");
  const texts = JSON.parse(document.getElementById("live-texts").textContent);
  const api = `/api/v1/sessions/${video.dataset.session}/live`;
  let pc = null;
  let resource = null;
  let hls = null;

  function say(key) {
    mode.textContent = texts[key];
    mode.dataset.mode = key;
  }

  function within(ms, promise, what) {
    let timer;
    const late = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
    });
    return Promise.race([promise, late]).finally(() => clearTimeout(timer));
  }

  // aiortc does not trickle ICE, and neither does WHEP here: the offer carries its candidates.
  function gathered(peer) {
    if (peer.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      peer.addEventListener("icegatheringstatechange", () => {
        if (peer.iceGatheringState === "complete") resolve();
      });
    });
  }

  function connected(peer) {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (peer.connectionState === "connected") resolve();
        if (peer.connectionState === "failed" || peer.connectionState === "closed") {
          reject(new Error(`WebRTC ${peer.connectionState}`));
        }
      };
      peer.addEventListener("connectionstatechange", check);
      check();
    });
  }

  function preferH264(transceiver) {
    // The agent sends the recorder's H.264 as it is: ask for it first.
    if (!transceiver.setCodecPreferences || !RTCRtpReceiver.getCapabilities) return;
    const codecs = RTCRtpReceiver.getCapabilities("video").codecs;
    const h264 = codecs.filter((c) => c.mimeType === "video/H264");
    if (h264.length) {
      transceiver.setCodecPreferences([...h264, ...codecs.filter((c) => c.mimeType !== "video/H264")]);
    }
  }

  async function playWebRTC(info) {
    if (typeof RTCPeerConnection !== "function") throw new Error("this browser has no WebRTC");
    pc = new RTCPeerConnection({ iceServers: info.ice_servers });
    window.livePeer = pc; // for diagnostics: getStats() in the console
    preferH264(pc.addTransceiver("video", { direction: "recvonly" }));
    pc.addTransceiver("audio", { direction: "recvonly" });
    // A second video asks for the screen; a classroom without one leaves it inactive.
    const slides = screenVideo ? pc.addTransceiver("video", { direction: "recvonly" }) : null;
    if (slides) preferH264(slides);
    const stream = new MediaStream();
    pc.addEventListener("track", (e) => {
      if (slides && e.transceiver === slides) {
        screenVideo.srcObject = new MediaStream([e.track]);
        screenVideo.hidden = false;
        screenVideo.play().catch(() => {});
        return;
      }
      stream.addTrack(e.track);
      video.srcObject = stream;
    });
    await pc.setLocalDescription(await pc.createOffer());
    await within(3000, gathered(pc), "ICE gathering").catch(() => {}); // send what there is
    const r = await fetch(info.whep, {
      method: "POST",
      headers: { "Content-Type": "application/sdp" },
      body: pc.localDescription.sdp,
      credentials: "same-origin",
    });
    if (r.status !== 201) {
      const why = new Error(`WHEP answered ${r.status}`);
      // The classroom relays to as many viewers as it can spare: the rest watch HLS, told so.
      const detail = (await r.json().catch(() => ({}))).detail;
      why.full = Boolean(detail && detail.code === "viewers_full");
      throw why;
    }
    resource = r.headers.get("Location");
    await pc.setRemoteDescription({ type: "answer", sdp: await r.text() });
    await within(info.webrtc_timeout_s * 1000, connected(pc), "WebRTC");
    say("webrtc");
    const peer = pc;
    peer.addEventListener("connectionstatechange", () => {
      if (peer === pc && peer.connectionState === "failed") fallBack(info, "connection failed");
    });
    video.play().catch(() => {});
  }

  function leave() {
    if (resource) {
      // keepalive: the request outlives a closing page.
      fetch(resource, { method: "DELETE", credentials: "same-origin", keepalive: true }).catch(() => {});
    }
    resource = null;
    if (pc) pc.close();
    pc = null;
    video.srcObject = null; // it would take precedence over the HLS source
    if (screenVideo) {
      screenVideo.srcObject = null;
      screenVideo.hidden = true;
    }
    window.livePeer = null;
  }

  function playHLS(info, key = "hls") {
    if (window.Hls && window.Hls.isSupported()) {
      hls = new window.Hls({ liveSyncDurationCount: 2, manifestLoadingMaxRetry: 30 });
      window.liveHls = hls;
      hls.on(window.Hls.Events.ERROR, async (_, data) => {
        if (!data.fatal) return;
        // The playlist may not be published yet, or a segment went missing: start again,
        // unless the session is no longer live.
        hls.destroy();
        if (await stillLive()) setTimeout(() => playHLS(info, key), 2000);
        else say("ended");
      });
      hls.loadSource(info.hls);
      hls.attachMedia(video);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = info.hls; // Safari plays HLS itself
    } else {
      say("unsupported");
      return;
    }
    say(key);
    video.play().catch(() => {});
  }

  async function stillLive() {
    try {
      return (await (await fetch(api, { credentials: "same-origin" })).json()).live === true;
    } catch {
      return true; // the portal did not answer: keep trying the stream
    }
  }

  async function fallBack(info, why, key = "hls") {
    leave();
    if (!(await stillLive())) {
      say("ended");
      return;
    }
    console.warn("WebRTC did not work, playing HLS:", why);
    playHLS(info, key);
  }

  async function start() {
    const r = await fetch(api, { credentials: "same-origin" });
    const info = await r.json();
    if (!r.ok || !info.live) {
      say(r.ok ? "offline" : "unsupported");
      if (r.ok) setTimeout(start, 5000);
      return;
    }
    say("connecting");
    try {
      await playWebRTC(info);
    } catch (err) {
      fallBack(info, err.message, err.full ? "hls_full" : "hls");
    }
  }

  // Browsers only start a stream by itself muted: say so, and one press turns the sound on.
  const unmute = document.getElementById("unmute");
  const offerSound = () => { unmute.hidden = !video.muted || video.paused; };
  ["playing", "pause", "volumechange"].forEach((e) => video.addEventListener(e, offerSound));
  unmute.addEventListener("click", () => { video.muted = false; video.play().catch(() => {}); });

  // Once playing, ask every 2 s whether the session is still live: when it stops, the picture
  // is let go and the page says so, instead of holding the last frame as if live.
  let watching = null;
  function watchForEnd() {
    if (watching) return;
    watching = setInterval(async () => {
      if (await stillLive()) return;
      clearInterval(watching);
      leave();
      if (hls) { hls.destroy(); hls = null; }
      video.removeAttribute("src");
      video.load();
      unmute.hidden = true;
      document.getElementById("live-badge").hidden = true;
      say("ended");
    }, 2000);
  }
  video.addEventListener("playing", watchForEnd);

  window.addEventListener("pagehide", leave);
  start();
})();
