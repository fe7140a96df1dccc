// Enrolment: 3–5 frames from this browser's camera (or photos chosen from disk), the consent,
// then one POST to the API; a refusal names the frame and says what to change.
(function () {
  "use strict";
  const T = JSON.parse(document.getElementById("texts").textContent);
  const $ = (id) => document.getElementById(id);
  const video = $("cam"), canvas = $("grab"), shots = [];
  navigator.mediaDevices && navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } })
    .then((s) => { video.srcObject = s; }).catch(() => { $("capture").disabled = true; });
  $("capture").addEventListener("click", () => {
    if (!video.videoWidth || shots.length >= 5) return;
    canvas.width = video.videoWidth; canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    canvas.toBlob((b) => {
      shots.push(b);
      $("count").textContent = String(shots.length);
      const img = document.createElement("img");
      img.src = URL.createObjectURL(b); img.width = 96;
      $("shots").appendChild(img);
    }, "image/jpeg", 0.92);
  });
  $("submit").addEventListener("click", async () => {
    const files = [...shots, ...$("files").files].slice(0, 5);
    if (!$("consent").checked) { $("result").textContent = T.consent_needed; return; }
    if (files.length < 3) { $("result").textContent = T.need; return; }
    const form = new FormData();
    files.forEach((f, i) => form.append("frames", f, "frame" + i + ".jpg"));
    form.append("consent", "true");
    const id = $("submit").dataset.person;
    const r = await fetch("/api/v1/people/" + id + "/face", { method: "POST", body: form });
    const body = await r.json();
    $("result").dataset.ok = r.ok ? "1" : "0";
    $("result").textContent = r.ok ? T.done
      : (body.detail && body.detail.message ? (body.detail.frame ? "#" + body.detail.frame + ": " : "") + body.detail.message : JSON.stringify(body.detail));
  });
})();
