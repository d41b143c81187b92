// Live updates for the reconciler UI: on each Server-Sent Event, fetch this page's <main>
// again and swap it in. No reload: scroll position and the filter forms (outside <main>) stay.
(function () {
  "use strict";
  var status = document.getElementById("live");
  function say(text) { if (status) { status.textContent = text; } }
  if (!window.EventSource || !window.fetch) { say("live updates: not supported"); return; }
  var busy = false, again = false, updates = 0;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(window.location.href, { headers: { "X-Fragment": "main" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.text(); })
      .then(function (html) {
        var main = document.getElementById("main");
        if (main && main.innerHTML !== html) {
          var x = window.scrollX, y = window.scrollY;
          main.innerHTML = html;
          window.scrollTo(x, y);
          updates += 1;
          document.body.setAttribute("data-updates", String(updates));
        }
        say("live updates: on (" + new Date().toLocaleTimeString() + ")");
      })
      .catch(function (err) { say("live updates: " + err.message); })
      .then(function () { busy = false; if (again) { again = false; refresh(); } });
  }
  var source = new EventSource("/ui/events");
  source.addEventListener("change", refresh);
  source.onopen = function () { say("live updates: on"); };
  source.onerror = function () { say("live updates: reconnecting"); };
  document.addEventListener("submit", function (ev) {
    var button = ev.submitter;
    if (button && button.getAttribute("data-confirm") && !window.confirm(button.textContent + "?")) {
      ev.preventDefault();
    }
  });
})();
