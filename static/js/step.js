/*
 * The step page: counts active time and reports it, keeps the page's
 * status in step with the server, relays a simulation's "done" message.
 *
 * Honest time: seconds are counted only while the page is visible and the
 * learner has been active recently (or a video is playing). A beat sends the
 * seconds actually counted since the previous beat, so time spent hidden is
 * never claimed; the server caps every beat by the wall-clock time since the
 * previous one anyway (progress/engine.py, record_active_time).
 *
 * Everything else on the page works without this file; only time needs it.
 * No inline script: settings and texts come from data-* attributes on #step-root.
 */
(function () {
  "use strict";

  var root = document.getElementById("step-root");
  if (!root) return;

  var IDLE_LIMIT_MS = 3 * 60 * 1000; // no input for this long: stop counting (unless a video plays)
  var MAX_TICK_MS = 2000; // a tick longer than this means the machine slept; do not count it

  var cfg = root.dataset;
  var heartbeatUrl = cfg.heartbeatUrl || "";
  var interval = Math.max(5, parseInt(cfg.interval, 10) || 15);
  var needed = cfg.needed ? parseInt(cfg.needed, 10) : null;
  var serverSeconds = parseInt(cfg.earned, 10) || 0;
  var done = cfg.done === "true";

  var counted = 0; // visible, active seconds not yet sent
  var stopped = !heartbeatUrl; // a teacher's preview, or the server said stop
  var inFlight = false;
  var lastTick = performance.now();
  var lastInput = Date.now();
  var video = root.querySelector("[data-video]");

  function $(selector) { return root.querySelector(selector); }
  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, key) { return values[key]; });
  }
  function clock(seconds) {
    seconds = Math.max(0, Math.ceil(seconds));
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return m + ":" + (s < 10 ? "0" : "") + s;
  }
  function visible() { return document.visibilityState === "visible"; }
  function videoPlaying() { return !!(video && !video.paused && !video.ended); }
  function active() { return visible() && (videoPlaying() || Date.now() - lastInput < IDLE_LIMIT_MS); }

  // --- what the page shows -------------------------------------------------

  function showCountdown() {
    var el = $("[data-countdown]");
    if (!el || needed === null || done) return;
    if (!visible() || stopped) {
      if (!stopped) el.textContent = cfg.msgPaused;
      return;
    }
    var left = needed - serverSeconds - counted;
    el.textContent = left > 0
      ? fill(cfg.msgLeft, { time: clock(left) })
      : fill(cfg.msgEarned, { have: clock(needed), needed: clock(needed) });
  }

  function showReason(text) {
    var el = $("[data-reason]");
    if (el && text) el.textContent = text.charAt(0).toUpperCase() + text.slice(1);
  }

  function showDone() {
    if (done) return;
    done = true;
    root.dataset.done = "true";
    var hide = ["[data-pending-block]", "[data-countdown]", "[data-next-locked]", "[data-status-badge]",
                "[data-report-form]"];
    var show = ["[data-done-block]", "[data-next-unlocked]", "[data-status-badge-done]"];
    hide.forEach(function (s) { var el = $(s); if (el) el.hidden = true; });
    show.forEach(function (s) { var el = $(s); if (el) el.hidden = false; });
    var bar = $("[data-step-progress]");
    if (bar) bar.value = 100;
  }

  // --- heartbeats ------------------------------------------------------------

  var watchedPercent = null; // how much of the video has really been played, 0-100 (video steps)

  function body(seconds) {
    var params = new URLSearchParams();
    params.set("seconds", seconds.toFixed(1));
    if (watchedPercent !== null) params.set("watched", String(watchedPercent));
    params.set("csrfmiddlewaretoken", cfg.csrfToken || "");
    return params;
  }

  function send(options) {
    var seconds = counted;
    if (stopped || seconds < 1) return;
    var keepalive = !!(options && options.keepalive);
    if (inFlight && !keepalive) return;
    counted = 0;
    inFlight = !keepalive;
    fetch(heartbeatUrl, {
      method: "POST",
      body: body(seconds),
      credentials: "same-origin",
      keepalive: keepalive,
      headers: { "X-CSRFToken": cfg.csrfToken || "", "Accept": "application/json" }
    }).then(function (response) {
      var json = (response.headers.get("Content-Type") || "").indexOf("application/json") === 0;
      if (response.redirected || !json) { stopped = true; return null; } // signed out
      if (response.status >= 500) throw new Error("server error");
      return response.json().then(function (data) { handle(response.status, data); });
    }).catch(function () {
      counted += seconds; // not saved: try again with the next beat (the server still caps it)
      showReason(cfg.msgOffline);
    }).then(function () { if (!keepalive) inFlight = false; });
  }

  function handle(status, data) {
    if (!data.ok) {
      // Locked, another tab opened another step, bad value: beating again would fail the same way.
      stopped = true;
      showReason(data.reason);
      return;
    }
    serverSeconds = data.active_seconds;
    if (data.needed !== null && data.needed !== undefined) needed = data.needed;
    var bar = $("[data-step-progress]");
    if (bar) bar.value = data.percentage;
    showReason(data.reason);
    if (data.completed) showDone();
    showCountdown();
  }

  function tick() {
    var now = performance.now();
    var delta = now - lastTick;
    lastTick = now;
    if (!stopped && active() && delta <= MAX_TICK_MS) counted += delta / 1000;
    showCountdown();
    var reached = needed !== null && !done && serverSeconds + counted >= needed;
    if (counted >= interval || (reached && counted >= 1)) send();
  }

  function flush() { if (counted >= 1) send({ keepalive: true }); }

  document.addEventListener("visibilitychange", function () {
    lastTick = performance.now(); // hidden time is never counted, before or after this moment
    if (visible()) {
      lastInput = Date.now();
    } else {
      tick();
      flush();
    }
    showCountdown();
  });
  window.addEventListener("pagehide", function () {
    if (counted >= 1 && !stopped && navigator.sendBeacon) {
      navigator.sendBeacon(heartbeatUrl, body(counted));
      counted = 0;
    }
  });
  ["pointerdown", "pointermove", "keydown", "scroll", "touchstart", "wheel"].forEach(function (name) {
    window.addEventListener(name, function () { lastInput = Date.now(); }, { passive: true });
  });

  if (heartbeatUrl) {
    setInterval(tick, 1000);
    showCountdown();
  }

  // --- video: how much was really played ---------------------------------------

  if (video) {
    var label = $("[data-video-progress]");
    var showWatched = function () {
      if (!video.duration || !isFinite(video.duration)) return;
      var played = 0;
      for (var i = 0; i < video.played.length; i++) played += video.played.end(i) - video.played.start(i);
      var percent = Math.min(100, Math.round(100 * played / video.duration));
      watchedPercent = percent; // saved with the next heartbeat
      if (label) label.textContent = fill(cfg.msgWatched, { percent: percent + "%" });
    };
    video.addEventListener("timeupdate", showWatched);
    video.addEventListener("ended", showWatched);
    video.addEventListener("play", function () { lastInput = Date.now(); });
  }

  // --- simulation: relay "mars-labs:complete" from the iframe --------------------

  var frame = root.querySelector("[data-simulation]");
  var reportForm = root.querySelector("[data-report-form]");
  if (frame && reportForm) {
    var expected = cfg.simulationOrigin || window.location.origin;
    window.addEventListener("message", function (event) {
      if (event.source !== frame.contentWindow || event.origin !== expected) return;
      var data = event.data;
      if (!data || typeof data !== "object" || data.type !== "mars-labs:complete" || done) return;
      // The score stays with the simulation's own API: from this page it would be the learner's word.
      flush();
      if (reportForm.requestSubmit) reportForm.requestSubmit(); else reportForm.submit();
    });
  }
})();
