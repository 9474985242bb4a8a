/* Allixios first-party beacon: page views, engaged time, scroll depth, outbound/affiliate clicks.
   No cookies, no storage; sends nothing when Do-Not-Track or Global Privacy Control is on.
   The visitor id is made by the collector (daily salt + IP + user agent), never here. */
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || navigator.doNotTrack === "1" || window.doNotTrack === "1" || navigator.globalPrivacyControl) return;
  var key = me.getAttribute("data-site"), endpoint = me.getAttribute("data-collect");
  if (!key || !endpoint) return;
  var view = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()).replace(/-/g, "");
  var seq = 0, engaged = 0, since = document.visibilityState === "visible" ? Date.now() : 0, depth = 0;

  function send(type, extra) {
    var ev = {k: key, t: type, v: view, n: seq++, u: location.pathname, ts: new Date().toISOString(),
              wd: navigator.webdriver === true};
    for (var p in extra) ev[p] = extra[p];
    var body = JSON.stringify(ev);
    // text/plain keeps it a simple request (no CORS preflight); the collector reads the JSON anyway
    if (!(navigator.sendBeacon && navigator.sendBeacon(endpoint, new Blob([body], {type: "text/plain"})))) {
      fetch(endpoint, {method: "POST", body: body, keepalive: true, credentials: "omit",
                       headers: {"Content-Type": "text/plain"}}).catch(function () {});
    }
  }
  function seconds() {
    return Math.round((engaged + (since ? Date.now() - since : 0)) / 100) / 10;
  }
  function scrolled() {
    var doc = document.documentElement, seen = window.scrollY + window.innerHeight;
    var d = doc.scrollHeight > 0 ? Math.min(1, seen / doc.scrollHeight) : 1;
    if (d > depth) depth = Math.round(d * 1000) / 1000;
  }
  function engagement() {
    send("engage", {e: seconds(), s: depth});
  }
  send("view", {r: document.referrer || null});
  scrolled();
  window.addEventListener("scroll", scrolled, {passive: true});
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      if (since) { engaged += Date.now() - since; since = 0; }
      engagement();
    } else {
      since = Date.now();
    }
  });
  window.addEventListener("pagehide", function () { if (since) engagement(); });
  document.addEventListener("click", function (e) {
    var a = e.target && e.target.closest ? e.target.closest("a[href]") : null;
    if (!a) return;
    var out = a.host && a.host !== location.host;
    var aff = /\bsponsored\b/.test(a.rel || "") || a.hasAttribute("data-affiliate") || /[?&](aff|aff_id|affid|affiliate|tag|ref)=/.test(a.search);
    if (out || aff) send("click", {h: a.href, a: aff});
  }, true);
  window.allixiosBeacon = {flush: engagement};  // lets a page (or a test) report engagement now
})();
