// A little plain JS: confirmations, live refresh of counts, and purge with progress.
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  // Refresh the page's live parts (elements with an id and data-refresh) every 2 s by fetching
  // the page again and swapping them in; the insert form is never inside them.
  var live = document.querySelectorAll("[data-refresh][id]");
  if (live.length) {
    document.getElementById("live").hidden = false;
    setInterval(function () {
      fetch(window.location.href, {headers: {"X-Requested-With": "refresh"}})
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) return;
          var doc = new DOMParser().parseFromString(html, "text/html");
          live.forEach(function (el) {
            var fresh = el.id && doc.getElementById(el.id);
            if (fresh) el.innerHTML = fresh.innerHTML;
          });
        })
        .catch(function () {});
    }, 2000);
  }

  // Delegated, since the refresh replaces the button.
  document.addEventListener("click", function (event) {
    var purge = event.target.closest ? event.target.closest("#purge") : null;
    if (purge) {
      var total = purge.getAttribute("data-total");
      if (!window.confirm("Delete all " + total + " tasks of this queue for good?")) return;
      var url = "/admin/v1/projects/" + encodeURIComponent(purge.dataset.project) + "/queues/" +
        encodeURIComponent(purge.dataset.queue) + "/purge?limit=2000";
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
        });
      })();
    }
  });
})();
