/* readnext widget: <div data-readnext-article="ID"></div> plus
   <script src="https://READNEXT/widget.js" async></script>.
   Optional attributes on the div: data-readnext-k (picks, default 8),
   data-readnext-reader (your own reader id), data-readnext-storage
   ("local", the default, or "cookie"; first-party only),
   data-readnext-story ("true": the story so far above the picks).
   No dependencies; every failure is silent so the host page never breaks. */
(function () {
  "use strict";
  try {
    var script = document.currentScript;
    var base = script && script.src ? new URL(script.src).origin : "";
    var KEY = "readnext_uid";

    function newId() {
      var a = new Uint8Array(12);
      (window.crypto || {}).getRandomValues ? window.crypto.getRandomValues(a) : a.forEach(function (_, i) { a[i] = Math.random() * 256; });
      return "anon-" + Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
    }
    function readerId(el) {
      var given = el.getAttribute("data-readnext-reader");
      if (given) return given;
      try {
        if (el.getAttribute("data-readnext-storage") === "cookie") {
          var m = document.cookie.match(/(?:^|; )readnext_uid=([^;]+)/);
          if (m) return decodeURIComponent(m[1]);
          var id = newId();
          document.cookie = KEY + "=" + encodeURIComponent(id) + "; path=/; max-age=31536000; SameSite=Lax";
          return id;
        }
        var v = window.localStorage.getItem(KEY);
        if (!v) { v = newId(); window.localStorage.setItem(KEY, v); }
        return v;
      } catch (e) { return newId(); }
    }
    function send(events) {
      try {
        var body = JSON.stringify(events);
        var url = base + "/v1/events";
        // text/plain: a simple request, no CORS preflight.
        if (navigator.sendBeacon && navigator.sendBeacon(url, new Blob([body], { type: "text/plain" }))) return;
        fetch(url, { method: "POST", body: body, keepalive: true, headers: { "Content-Type": "text/plain" } }).catch(function () {});
      } catch (e) { /* silent */ }
    }
    function text(tag, cls, s) {
      var n = document.createElement(tag);
      if (cls) n.className = cls;
      n.textContent = s; // never innerHTML: article text stays text
      return n;
    }
    function safe(u) { return typeof u === "string" && /^(https?:\/\/|\/)/i.test(u) ? u : null; }
    function story(box, st) {
      var sec = document.createElement("section");
      sec.className = "readnext-story";
      sec.appendChild(text("h2", "readnext-story-title", "The story so far: " + st.title));
      var ol = document.createElement("ol");
      ol.className = "readnext-timeline";
      (st.timeline || []).forEach(function (e) {
        var li = document.createElement("li");
        li.className = "readnext-entry";
        li.setAttribute("data-readnext-id", e.id);
        if (e.published) li.appendChild(text("time", "readnext-date", e.published + " "));
        var a = text("a", "readnext-title", e.title);
        a.href = safe(e.url) || "#";
        li.appendChild(a);
        if (e.copies && e.copies.length) li.appendChild(text("span", "readnext-copies", " +" + e.copies.length));
        ol.appendChild(li);
      });
      sec.appendChild(ol);
      box.appendChild(sec);
    }
    function render(el, block) {
      var user = readerId(el);
      var picks = block.picks || [];
      if (!picks.length && !block.story) return;
      var slate = picks.map(function (p) { return p.id; });
      var box = document.createElement("section");
      box.className = "readnext-block";
      if (block.story) story(box, block.story);
      box.appendChild(text("h2", "readnext-heading", block.story ? "Background" : "Recommended"));
      var ol = document.createElement("ol");
      ol.className = "readnext-picks";
      picks.forEach(function (p, i) {
        var li = document.createElement("li");
        li.className = "readnext-pick";
        li.setAttribute("data-readnext-id", p.id);
        if (p.why && p.why.summary) li.title = p.why.summary;
        var img = safe(p.image);
        if (img) { var im = document.createElement("img"); im.src = img; im.alt = ""; im.loading = "lazy"; im.className = "readnext-image"; li.appendChild(im); }
        var a = document.createElement("a");
        a.className = "readnext-title";
        a.href = safe(p.url) || "#";
        a.textContent = p.title;
        a.addEventListener("click", function () {
          send([{ user: user, article: p.id, type: "click", position: i, slate: slate }]);
        });
        li.appendChild(a);
        if (p.published) li.appendChild(text("time", "readnext-date", " " + p.published));
        ol.appendChild(li);
      });
      box.appendChild(ol);
      el.textContent = "";
      el.appendChild(box);
      if (picks.length) send(picks.map(function (p, i) { return { user: user, article: p.id, type: "impression", position: i, slate: slate }; }));
    }
    function load(el) {
      var id = el.getAttribute("data-readnext-article");
      if (!id || el.getAttribute("data-readnext-done")) return;
      el.setAttribute("data-readnext-done", "1");
      var k = parseInt(el.getAttribute("data-readnext-k") || "8", 10) || 8;
      var asStory = el.getAttribute("data-readnext-story") === "true" ? "&story=true" : "";
      fetch(base + "/v1/articles/" + encodeURIComponent(id) + "/related?k=" + k + asStory)
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (b) { if (b) render(el, b); })
        .catch(function () {});
    }
    function all() { Array.prototype.forEach.call(document.querySelectorAll("[data-readnext-article]"), load); }
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", all); else all();
  } catch (e) { /* never break the host page */ }
})();
