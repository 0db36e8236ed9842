// A little plain JS: confirmations, live refresh of counts, and purge with progress.
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  // Refresh the page's live parts (elements with an id and data-refresh) every 2 s by fetching
  // the page again and swapping them in; the insert form is never inside them.
  // The badge says "live" only while refreshes succeed, and "stale" (with the reason on hover) when
  // one fails, so numbers left on screen during an outage are not taken for current ones.
  var live = document.querySelectorAll("[data-refresh][id]");
  var badge = document.getElementById("live");
  function showLive(ok, why) {
    badge.textContent = ok ? "live" : "stale";
    badge.classList.toggle("stale", !ok);
    badge.title = ok ? "Refreshed every 2 s" : "Not refreshing: " + why;
  }
  if (live.length) {
    badge.hidden = false;
    setInterval(function () {
      fetch(window.location.href, {headers: {"X-Requested-With": "refresh"}})
        .then(function (r) {
          if (!r.ok) throw new Error("the server answered " + r.status);
          return r.text();
        })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          live.forEach(function (el) {
            var fresh = el.id && doc.getElementById(el.id);
            if (fresh) el.innerHTML = fresh.innerHTML;
          });
          showLive(true);
        })
        .catch(function (err) { showLive(false, err.message || "the server did not answer"); });
    }, 2000);
  }

  // Delegated, since the refresh replaces the button.
  document.addEventListener("click", function (event) {
    var purge = event.target.closest ? event.target.closest("#purge") : null;
    if (purge) {
      var total = purge.getAttribute("data-total");
      if (!window.confirm("Delete all " + total + " tasks of this queue for good?")) return;
      var url = "/admin/v1/projects/" + encodeURIComponent(purge.dataset.project) + "/queues/" +
        encodeURIComponent(purge.dataset.queue) + "/purge?limit=2000&api=" + encodeURIComponent(purge.dataset.api);
      var progress = document.getElementById("purge-progress");
      var deleted = 0;
      purge.disabled = true;
      (function step() {
        fetch(url, {method: "POST"}).then(function (r) { return r.json(); }).then(function (body) {
          if (body.error) { progress.textContent = body.error.message; purge.disabled = false; return; }
          deleted += body.deleted;
          progress.textContent = "Purged " + deleted + ", " + body.remaining + " left";
          if (body.remaining > 0 && body.deleted > 0) step();
          else window.location.search = "?msg=" + encodeURIComponent("Purged " + deleted + " tasks.");
        }).catch(function (err) {
          progress.textContent = "Purge stopped after " + deleted + " tasks: " + err;
          purge.disabled = false;
        });
      })();
    }
  });
})();
